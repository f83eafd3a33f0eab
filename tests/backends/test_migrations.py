"""The schema version and the migration runner, on every backend: SQLite in memory and in a file,
PostgreSQL and MySQL/MariaDB.

Test-only migrations (defined here, appended to the library's own) stand in for the next schema
versions, so that upgrades, refusals and failures can be exercised before the library has them.

SQLite and PostgreSQL change the schema inside the migration transaction: a failed migration rolls
back completely. MySQL/MariaDB commit each schema change at once; what is guaranteed there instead
(a lock around the whole migration, a partly migrated database marked and refused) is tested in
test_migrations_mysql.py.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import pprint
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations

import mltrail
from _servers import SERVERS, Server, need
from mltrail import MetadataStore, errors
from mltrail.backends.sql import migrations, schema
from mltrail.backends.sql.database import Database
from mltrail.backends.sql.dialects.mysql import migration_lock_name
from mltrail.backends.sql.migrations import (
    Migration,
    builtin_migrations,
    library_schema_version,
    prepare_schema,
    v0001_initial,
)

LIBRARY = library_schema_version()
NEXT = LIBRARY + 1


# ------------------------------------------------------------------------------ test migrations


def add_note(op: Operations) -> None:
    """The next version as a test imagines it: a new column and an index on it (with names no
    real migration will use)."""
    op.add_column("mlt_artifact", sa.Column("test_note", sa.String(64), nullable=True))
    op.create_index("ix_mlt_artifact_test_note", "mlt_artifact", ["test_note"])


ADD_NOTE = Migration(version=NEXT, summary="test: artifact notes", upgrade=add_note)


def with_extra(*extra: Migration) -> tuple[Migration, ...]:
    return builtin_migrations() + extra


class Recorder:
    """Wraps a migration to record each run and whether it ran guarded: inside the migration
    transaction (SQLite, PostgreSQL) or holding the migration lock (MySQL/MariaDB, whose schema
    changes commit at once)."""

    def __init__(self, upgrade: Any) -> None:
        self.upgrade = upgrade
        self.runs: list[tuple[bool, bool]] = []

    def __call__(self, op: Operations) -> None:
        before = _guarded(op)
        try:
            self.upgrade(op)
        finally:
            self.runs.append((before, _guarded(op)))


def _guarded(op: Operations) -> bool:
    bind = op.get_bind()
    raw: Any = bind.connection.dbapi_connection
    assert raw is not None
    if bind.dialect.name == "sqlite":
        return bool(raw.in_transaction)
    if bind.dialect.name == "postgresql":
        return bool(raw.info.transaction_status != 0)  # not IDLE
    name = migration_lock_name(bind.engine.url.database or "")
    cursor = raw.cursor()
    cursor.execute(f"SELECT IS_USED_LOCK('{name}') = CONNECTION_ID()")
    held = cursor.fetchone()[0]
    cursor.close()
    return bool(held)


# ------------------------------------------------------------------------------ databases


class Target:
    """A database the tests open again and again: SQLite in memory (kept open) or in a file, or
    a database on a server (emptied of every table before and after the test)."""

    def __init__(
        self, kind: str, tmp_path: Path, server: Server | None = None, url: str | None = None
    ) -> None:
        self.kind = kind
        self.path = tmp_path / "ml.db"
        self.server = server
        self._url = url
        self._memory: Database | None = None

    @property
    def is_file(self) -> bool:
        return self.kind == "file"

    @property
    def is_server(self) -> bool:
        return self.server is not None

    @property
    def transactional(self) -> bool:
        """Whether schema changes roll back with the migration transaction."""
        return self.kind != "mysql"

    @property
    def url(self) -> str:
        if self._url is not None:
            return self._url
        return f"sqlite:///{self.path}" if self.is_file else "sqlite://"

    @property
    def connectable(self) -> bool:
        """Whether mltrail.connect(url) reaches this database (not a private in-memory one)."""
        return self.kind != "memory"

    @contextlib.contextmanager
    def open(self) -> Iterator[Database]:
        """The database, unprepared: a new engine, or the one in-memory database."""
        if self.kind == "memory":
            if self._memory is None:
                self._memory = Database(self.url)
            yield self._memory
            return
        db = Database(self.url)
        try:
            yield db
        finally:
            db.close()

    def reset(self) -> None:
        if self.server is not None:
            self.server.drop_everything(self.url)

    def close(self) -> None:
        if self._memory is not None:
            self._memory.close()
        self.reset()


def make_target(
    kind: str, tmp_path: Path, servers: dict[str, Server], purpose: str | None = None
) -> Target:
    """A target of ``kind``: on a server, the session's database (or a new one for
    ``purpose``), emptied of every table."""
    if kind not in SERVERS:
        return Target(kind, tmp_path)
    server = servers[kind]
    need(server)
    url = server.new_database(purpose) if purpose else server.run_database()
    target = Target(kind, tmp_path, server, url)
    target.reset()
    return target


KINDS = ["memory", "file", *SERVERS]
CONNECTABLE = ["file", *SERVERS]


@pytest.fixture(params=KINDS)
def target(
    request: pytest.FixtureRequest, tmp_path: Path, servers: dict[str, Server]
) -> Iterator[Target]:
    t = make_target(str(request.param), tmp_path, servers)
    yield t
    t.close()


@pytest.fixture(params=CONNECTABLE)
def connectable(
    request: pytest.FixtureRequest, tmp_path: Path, servers: dict[str, Server]
) -> Iterator[Target]:
    """A target that mltrail.connect can open by URL (a file or a server database)."""
    t = make_target(str(request.param), tmp_path, servers)
    yield t
    t.close()


def populate(store: MetadataStore) -> None:
    """Types, artifacts, executions, contexts, events and every kind of edge."""
    p = mltrail.PropertyType
    dataset = store.put_artifact_type(
        mltrail.ArtifactType(name="Dataset", properties={"rows": p.INT, "split": p.STRING})
    )
    trainer = store.put_execution_type(
        mltrail.ExecutionType(name="Trainer", version="2", properties={"lr": p.DOUBLE})
    )
    pipeline = store.put_context_type(mltrail.ContextType(name="Pipeline"))
    [root] = store.put_contexts([mltrail.Context(type_id=pipeline, name="root")])
    previous: int | None = None
    for i in range(3):
        items: list[tuple[Any, ...]] = [
            (
                mltrail.Artifact(
                    type_id=dataset,
                    uri=f"/data/{i}",
                    name=f"data-{i}",
                    state=mltrail.ArtifactState.LIVE,
                    properties={"rows": 10 * i, "split": "train"},
                    custom_properties={"meta": {"seen": [i, True]}},
                ),
                mltrail.Event(type=mltrail.EventType.OUTPUT, path=["out", i]),
            )
        ]
        if previous is not None:
            items.append((None, mltrail.Event(type=mltrail.EventType.INPUT, artifact_id=previous)))
        _, [previous, *_], [ctx] = store.put_execution(
            mltrail.Execution(
                type_id=trainer,
                name=f"run-{i}",
                last_known_state=mltrail.ExecutionState.COMPLETE,
                properties={"lr": 0.5 / (i + 1)},
            ),
            items,
            [mltrail.Context(type_id=pipeline, name=f"step-{i}")],
        )
        store.put_parent_contexts([mltrail.ParentContext(child_id=ctx, parent_id=root)])


def view(store: MetadataStore) -> dict[str, Any]:
    """Everything :func:`populate` wrote, read back through the public API."""
    artifacts = list(store.get_artifacts())
    executions = list(store.get_executions())
    contexts = list(store.get_contexts())
    return {
        "artifact_types": store.get_artifact_types(),
        "execution_types": store.get_execution_types(),
        "context_types": store.get_context_types(),
        "artifacts": artifacts,
        "executions": executions,
        "contexts": contexts,
        "events": store.get_events_by_execution_ids([e.id for e in executions if e.id]),
        "attributions": {
            c.id: [a.id for a in store.get_artifacts_by_context(c.id)] for c in contexts if c.id
        },
        "associations": {
            c.id: [e.id for e in store.get_executions_by_context(c.id)] for c in contexts if c.id
        },
        "parents": {
            c.id: [p.id for p in store.get_parent_contexts_by_context(c.id)]
            for c in contexts
            if c.id
        },
    }


def make_v1(target: Target) -> dict[str, Any]:
    """Create the database at the library's version, fill it, and return its public view."""
    with target.open() as db:
        version = prepare_schema(db)
        store = MetadataStore(db, version)
        populate(store)
        seen = view(store)
    assert len(seen["artifacts"]) == 3 and len(seen["events"]) == 5
    return seen


def make_old(target: Target, version: int) -> dict[str, Any]:
    """Create the database at the older schema ``version`` holding :func:`populate`'s data, and
    return its public view.

    This library writes only the newest schema, so the data is written to a scratch store and
    copied into the old database, each table's rows with the old version's columns (ids kept).
    """
    scratch = Database("sqlite://")
    try:
        populate(MetadataStore(scratch, prepare_schema(scratch)))
        with target.open() as db:
            assert prepare_schema(db, migrations=builtin_migrations()[:version]) == version
            with scratch.connection() as source, db.engine.begin() as conn:
                old = sa.MetaData()
                old.reflect(conn)
                for table in old.sorted_tables:
                    if table.name == "mlt_schema":
                        continue
                    declared = schema.metadata.tables[table.name]
                    names = [c.name for c in table.c]
                    rows = source.execute(sa.select(*[declared.c[n] for n in names])).all()
                    if rows:
                        conn.execute(sa.insert(table), [dict(zip(names, row)) for row in rows])
                    if conn.dialect.name == "postgresql" and "id" in table.c:
                        conn.exec_driver_sql(  # the ids were given: new rows get the next ones
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table.name}), false)"
                        )
            return view(MetadataStore(db, version))
    finally:
        scratch.close()


def read_view(target: Target, version: int) -> dict[str, Any]:
    with target.open() as db:
        return view(MetadataStore(db, version))


@dataclass(frozen=True)
class Snapshot:
    """Schema and data of a database: compare two to prove that nothing changed."""

    versions: list[tuple[Any, ...]]
    # SQLite: type, name, table, rootpage and sql of every schema object. Servers: every table,
    # index, unique constraint, foreign key and primary key, as reflected.
    master: list[tuple[Any, ...]]
    columns: dict[str, list[tuple[Any, ...]]]  # (position, name, type, ...) of each column
    content: dict[str, list[tuple[Any, ...]]]
    sqlite: bool = True

    @property
    def tables(self) -> list[str]:
        return sorted(self.columns)

    def shape(self) -> list[tuple[Any, ...]]:
        """The schema without storage details (rootpage), to compare different databases."""
        if not self.sqlite:
            return self.master
        return [(kind, name, table, sql) for kind, name, table, _, sql in self.master]


def snapshot(target: Target) -> Snapshot:
    if target.is_server:
        return _server_snapshot(target)
    with target.open() as db, db.connection() as conn:

        def rows(sql: str) -> list[tuple[Any, ...]]:
            return [tuple(row) for row in conn.exec_driver_sql(sql)]

        master = rows(
            "SELECT type, name, tbl_name, rootpage, sql FROM sqlite_master ORDER BY type, name"
        )
        tables = [name for kind, name, *_ in master if kind == "table"]
        columns = {t: rows(f'PRAGMA table_info("{t}")') for t in tables}
        content = {t: sorted(rows(f'SELECT * FROM "{t}"'), key=repr) for t in tables}
    return Snapshot(content.get("mlt_schema", []), master, columns, content)


def _server_snapshot(target: Target) -> Snapshot:
    assert target.server is not None
    with target.server.engine(target.url).connect() as conn:
        inspector = sa.inspect(conn)
        tables = sorted(inspector.get_table_names())
        master: list[tuple[Any, ...]] = []
        columns: dict[str, list[tuple[Any, ...]]] = {}
        content: dict[str, list[tuple[Any, ...]]] = {}
        for t in tables:
            master.append(("table", t))
            for ix in inspector.get_indexes(t):
                options = tuple(sorted((ix.get("dialect_options") or {}).items()))
                master.append(
                    ("index", ix["name"], t, tuple(ix["column_names"]), ix["unique"], options)
                )
            for uq in inspector.get_unique_constraints(t):
                master.append(("unique", uq["name"], t, tuple(uq["column_names"])))
            for fk in inspector.get_foreign_keys(t):
                master.append(
                    ("fk", fk["name"], t, tuple(fk["constrained_columns"]), fk["referred_table"])
                )
            pk = inspector.get_pk_constraint(t)
            master.append(("pk", t, tuple(pk["constrained_columns"])))
            columns[t] = [
                (i, c["name"], _type_name(c["type"]), c["nullable"], c.get("default"))
                for i, c in enumerate(inspector.get_columns(t))
            ]
            quoted = conn.dialect.identifier_preparer.quote(t)
            content[t] = sorted(
                (tuple(row) for row in conn.exec_driver_sql(f"SELECT * FROM {quoted}")), key=repr
            )
    return Snapshot(
        content.get("mlt_schema", []), sorted(master, key=repr), columns, content, sqlite=False
    )


def _type_name(type_: Any) -> str:
    """A reflected column type as SQL, without its collation (VARCHAR(2048), BIGINT...)."""
    if getattr(type_, "collation", None) is not None:
        type_ = type_.copy()
        type_.collation = None
    return str(type_.compile())


def file_bytes(target: Target) -> bytes | None:
    return target.path.read_bytes() if target.is_file else None


# ------------------------------------------------------------------------------ fresh databases


def test_library_version_is_the_last_migration() -> None:
    steps = builtin_migrations()
    assert [s.version for s in steps] == list(range(1, len(steps) + 1))
    assert LIBRARY == steps[-1].version >= 1


def test_a_fresh_database_is_created_at_the_library_version(target: Target) -> None:
    if target.connectable:
        assert not target.is_file or not target.path.exists()
        assert snapshot(target).master == []
        with mltrail.connect(target.url) as store:
            assert store.schema_version == LIBRARY
        assert not target.is_file or target.path.exists()
        created = snapshot(target)
        with mltrail.connect(target.url) as again:  # and opening it again changes nothing
            assert again.schema_version == LIBRARY
        assert snapshot(target) == created
    else:
        with target.open() as db:
            assert prepare_schema(db) == LIBRARY
            assert MetadataStore(db, LIBRARY).schema_version == LIBRARY
            assert prepare_schema(db) == LIBRARY
    taken = snapshot(target)
    assert taken.versions == [(LIBRARY,)]
    assert {t.name for t in schema.metadata.sorted_tables} == set(taken.tables)
    with target.open() as db:
        assert db.run(migrations.read_schema_version, write=False) == LIBRARY


def test_connect_reports_the_version_of_an_in_memory_store() -> None:
    with mltrail.connect() as store:
        assert store.schema_version == LIBRARY
        assert store.database.run(migrations.read_schema_version, write=False) == LIBRARY


def test_migrate_false_still_creates_an_empty_database(target: Target) -> None:
    with target.open() as db:
        assert prepare_schema(db, migrate=False) == LIBRARY
    assert snapshot(target).versions == [(LIBRARY,)]


def _sqlite_contents(db: Database) -> tuple[list[tuple[Any, ...]], dict[str, list[Any]]]:
    """A SQLite database's recorded schema and every table's rows (the site's uuid apart)."""
    with db.connection() as conn:
        master = conn.exec_driver_sql(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
        ).all()
        tables = [name for kind, name, _, _ in master if kind == "table"]
        rows = {t: sorted(conn.exec_driver_sql(f'SELECT * FROM "{t}"').all()) for t in tables}
        uuids = rows.pop("mlt_site")
    return [tuple(row) for row in master], {**rows, "mlt_site": [r[:1] + r[2:] for r in uuids]}


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_a_new_sqlite_store_is_what_the_migrations_build(kind: str, tmp_path: Path) -> None:
    built, replayed, again = (Target(kind, tmp_path / name) for name in ("a", "b", "c"))
    for target in (built, replayed, again):
        target.path.parent.mkdir()
    with built.open() as by_steps, replayed.open() as fast, again.open() as other:
        prepare_schema(by_steps, migrations=builtin_migrations())  # every step, through Alembic
        prepare_schema(fast)  # the steps' result replayed
        prepare_schema(other)
        assert _sqlite_contents(fast) == _sqlite_contents(by_steps)
        assert _drift(fast, schema.metadata) == []
        uuids = {
            db.run(
                lambda c: c.exec_driver_sql("SELECT uuid FROM mlt_site").scalar_one(),
                write=False,
            )
            for db in (by_steps, fast, other)
        }
    for target in (built, replayed, again):
        target.close()
    assert len(uuids) == 3, "each new store is a site of its own"


def test_the_shipped_sqlite_template_is_what_the_migrations_build(tmp_path: Path) -> None:
    from mltrail.backends.sql.migrations import TEMPLATE_FILE, template_key, write_sqlite_template

    def without_site_uuid(document: dict[str, Any]) -> dict[str, Any]:
        rows = [
            [t, [v for v in row if not (isinstance(v, str) and len(v) == 36)]]
            for t, row in document["rows"]
        ]
        return {**document, "rows": rows}

    fresh = tmp_path / "template.json"
    write_sqlite_template(fresh)
    shipped = json.loads(TEMPLATE_FILE.read_text(encoding="utf-8"))
    assert shipped["key"] == template_key(), (
        "the schema or a migration changed: run python -m mltrail.backends.sql.migrations"
    )
    assert without_site_uuid(shipped) == without_site_uuid(json.loads(fresh.read_text())), (
        "run python -m mltrail.backends.sql.migrations"
    )


# ------------------------------------------------------------------------------ drift


def _drift(db: Database, metadata: sa.MetaData) -> list[Any]:
    with db.connection() as conn:
        dialect = conn.dialect.name

        def declared_here(obj: Any, _name: Any, _kind: str, reflected: bool, _other: Any) -> bool:
            # An index declared for other databases only (ddl_if) is not expected here.
            condition = getattr(obj, "_ddl_if", None)
            if reflected or condition is None or condition.dialect is None:
                return True
            names = condition.dialect
            return dialect in ((names,) if isinstance(names, str) else tuple(names))

        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": declared_here}
        )
        return list(compare_metadata(context, metadata))


def test_migrations_cannot_drift_from_the_declared_schema(target: Target) -> None:
    with target.open() as db:
        prepare_schema(db)
        diff = _drift(db, schema.metadata)
    assert diff == [], (
        "the schema built by the migrations differs from schema.py; add a migration (or fix "
        "schema.py) so that both describe the same schema:\n" + pprint.pformat(diff, width=100)
    )


def _kinds(diff: list[Any]) -> set[str]:
    out: set[str] = set()
    for entry in diff:
        if isinstance(entry, list):
            out |= _kinds(entry)
        else:
            out.add(entry[0])
    return out


def test_the_drift_check_sees_columns_indexes_and_types(target: Target) -> None:
    changed = sa.MetaData(naming_convention=schema.NAMING_CONVENTION)
    for table in schema.metadata.sorted_tables:
        table.to_metadata(changed)
    artifact = changed.tables["mlt_artifact"]
    artifact.append_column(sa.Column("test_note", sa.String(64), nullable=True))
    sa.Index("ix_mlt_artifact_test_note", artifact.c.test_note)
    changed.tables["mlt_event"].c.path.type = sa.Integer()
    changed.tables["mlt_context"].c.external_id.nullable = False
    with target.open() as db:
        prepare_schema(db)
        diff = _drift(db, changed)
    assert {"add_column", "add_index", "modify_type", "modify_nullable"} <= _kinds(diff), diff


# ------------------------------------------------------------------------------ upgrades


def test_an_older_database_is_upgraded_in_one_transaction(target: Target) -> None:
    before = make_v1(target)
    old = snapshot(target)
    events: list[str] = []

    def upgrade(op: Operations) -> None:
        events.append("step")
        add_note(op)

    step = Recorder(upgrade)
    listeners = {
        name: (lambda *_, name=name: events.append(name))
        for name in ("begin", "commit", "rollback")
    }
    with target.open() as db:
        for name, listener in listeners.items():
            sa.event.listen(db.engine, name, listener)
        extended = with_extra(Migration(NEXT, "test: artifact notes", step))
        assert prepare_schema(db, migrations=extended) == NEXT
        for name, listener in listeners.items():
            sa.event.remove(db.engine, name, listener)
    # Ran once, guarded from start to end: inside the transaction (SQLite, PostgreSQL) or
    # holding the migration lock (MySQL/MariaDB).
    assert step.runs == [(True, True)]
    # The version check before it, the step and the new version: one transaction, one commit.
    assert events[-3:] == ["begin", "step", "commit"], events
    assert events.count("step") == 1 and "rollback" not in events, events
    new = snapshot(target)
    assert new.versions == [(NEXT,)]
    assert "test_note" in [column[1] for column in new.columns["mlt_artifact"]]
    assert ("index", "ix_mlt_artifact_test_note") in [row[:2] for row in new.master]
    # Existing rows are untouched (the new column is NULL in each) and readable as before.
    for table in old.tables:
        if table == "mlt_schema":
            continue
        if table == "mlt_artifact":
            assert [row[:-1] for row in new.content[table]] == old.content[table]
            assert {row[-1] for row in new.content[table]} == {None}
        else:
            assert new.content[table] == old.content[table], table
    assert read_view(target, NEXT) == before
    with target.open() as db:  # opening it again with the same migrations changes nothing
        assert prepare_schema(db, migrations=with_extra(ADD_NOTE)) == NEXT
    assert snapshot(target) == new


def test_only_missing_steps_run_and_an_empty_database_gets_all(target: Target) -> None:
    first = Recorder(add_note)
    second = Recorder(lambda op: op.create_table("mlt_test_extra", sa.Column("id", sa.Integer)))
    steps = with_extra(Migration(NEXT, "a", first), Migration(NEXT + 1, "b", second))
    with target.open() as db:
        assert prepare_schema(db, migrations=steps[:-1]) == NEXT
        assert (len(first.runs), len(second.runs)) == (1, 0)
        assert prepare_schema(db, migrations=steps) == NEXT + 1
        assert (len(first.runs), len(second.runs)) == (1, 1)
    assert snapshot(target).versions == [(NEXT + 1,)]


def test_migrate_false_refuses_an_older_database_and_changes_nothing(target: Target) -> None:
    before = make_v1(target)
    old, old_bytes = snapshot(target), file_bytes(target)
    step = Recorder(add_note)
    with target.open() as db, pytest.raises(errors.SchemaVersionError) as raised:
        prepare_schema(db, migrate=False, migrations=with_extra(Migration(NEXT, "x", step)))
    error = raised.value
    assert (error.database_version, error.library_version) == (LIBRARY, NEXT)
    assert f"schema version {LIBRARY}," in str(error)
    assert f"version {NEXT}" in str(error)
    assert "migrate=False" in str(error) and "not changed" in str(error)
    assert isinstance(error, errors.FailedPreconditionError) and error.http_status == 412
    assert step.runs == []
    assert snapshot(target) == old
    assert file_bytes(target) == old_bytes
    assert read_view(target, LIBRARY) == before


def test_connect_upgrades_or_refuses_through_the_public_api(
    connectable: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    file_target = connectable
    before = make_v1(file_target)
    old, old_bytes = snapshot(file_target), file_bytes(file_target)
    extended = with_extra(ADD_NOTE)
    monkeypatch.setattr(migrations, "builtin_migrations", lambda: extended)
    with pytest.raises(errors.SchemaVersionError) as raised:
        mltrail.connect(file_target.url, migrate=False)
    assert (raised.value.database_version, raised.value.library_version) == (LIBRARY, NEXT)
    assert snapshot(file_target) == old and file_bytes(file_target) == old_bytes
    with mltrail.connect(file_target.url) as store:
        assert store.schema_version == NEXT
        assert view(store) == before
    assert snapshot(file_target).versions == [(NEXT,)]


def test_a_rebuilt_table_keeps_its_rows_and_the_references_to_it(target: Target) -> None:
    """SQLite cannot alter a column in place: Alembic's batch mode copies the table, drops the
    original and renames the copy. That must work for a table other tables reference (on the
    servers, batch mode alters the table in place)."""

    def rebuild(op: Operations) -> None:
        with op.batch_alter_table("mlt_artifact") as batch:
            batch.alter_column("uri", existing_type=sa.Text(), type_=sa.String(2048))
            batch.add_column(sa.Column("test_note", sa.String(64), nullable=True))

    before = make_v1(target)
    with target.open() as db:
        assert prepare_schema(db, migrations=with_extra(Migration(NEXT, "rebuild", rebuild)))
        if not target.is_server:
            with db.connection() as conn:
                assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
                # Foreign keys are enforced again once the migration is over.
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    after = snapshot(target)
    assert [c[1:3] for c in after.columns["mlt_artifact"] if c[1] == "uri"] == [
        ("uri", "VARCHAR(2048)")
    ]
    assert read_view(target, NEXT) == before


# ------------------------------------------------------------------------------ failures


def _create_and_alter(op: Operations) -> None:
    op.create_table(
        "mlt_test_half", sa.Column("id", sa.Integer, primary_key=True), sa.Column("v", sa.Text)
    )
    op.execute("INSERT INTO mlt_test_half (id, v) VALUES (1, 'half')")
    op.add_column("mlt_artifact", sa.Column("test_note", sa.String(64), nullable=True))
    op.create_index("ix_mlt_artifact_test_note", "mlt_artifact", ["test_note"])
    op.execute("UPDATE mlt_artifact SET uri = 'changed', test_note = 'x'")
    op.drop_index("ix_mlt_event_execution_id", table_name="mlt_event")


def fails_in_python(op: Operations) -> None:
    _create_and_alter(op)
    raise RuntimeError("boom halfway")


def fails_in_the_database(op: Operations) -> None:
    _create_and_alter(op)
    # Every type again: violates the unique (kind, name, version) constraint.
    op.execute(
        "INSERT INTO mlt_type (kind, name, version) SELECT kind, name, version FROM mlt_type"
    )


def breaks_references(op: Operations) -> None:
    _create_and_alter(op)
    op.execute("DELETE FROM mlt_artifact")  # events and attributions now point nowhere


FAILURES = {
    "python error": (fails_in_python, "RuntimeError: boom halfway"),
    "database error": (fails_in_the_database, "unique"),
    "broken references": (breaks_references, "reference"),
}
#: What the database says about the failure, where it says it in its own words.
REASONS = {
    ("database error", "memory"): "UNIQUE constraint failed",
    ("database error", "file"): "UNIQUE constraint failed",
    ("database error", "postgresql"): "duplicate key value violates unique constraint",
    ("broken references", "memory"): "reference missing rows",
    ("broken references", "file"): "reference missing rows",
    ("broken references", "postgresql"): "violates foreign key constraint",
}


@pytest.fixture(params=["memory", "file", "postgresql"])
def transactional(
    request: pytest.FixtureRequest, tmp_path: Path, servers: dict[str, Server]
) -> Iterator[Target]:
    """A target whose schema changes roll back with the migration transaction."""
    t = make_target(str(request.param), tmp_path, servers)
    yield t
    t.close()


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_a_failing_migration_rolls_back_completely(transactional: Target, failure: str) -> None:
    target = transactional
    upgrade, _ = FAILURES[failure]
    reason = REASONS.get((failure, target.kind), FAILURES[failure][1])
    before = make_v1(target)
    old, old_bytes = snapshot(target), file_bytes(target)
    step = Recorder(upgrade)
    with target.open() as db, pytest.raises(errors.FailedPreconditionError) as raised:
        prepare_schema(db, migrations=with_extra(Migration(NEXT, "half", step)))
    message = str(raised.value)
    assert not isinstance(raised.value, errors.SchemaVersionError)
    assert reason in message, message
    assert f"from schema version {LIBRARY} to {NEXT}" in message
    assert f"unchanged at version {LIBRARY}" in message
    assert raised.value.__cause__ is not None
    assert len(step.runs) == 1  # a broken migration is not retried
    after = snapshot(target)
    assert after.versions == old.versions == [(LIBRARY,)]
    assert after.tables == old.tables
    assert after.columns == old.columns
    assert after.master == old.master
    assert after == old
    assert file_bytes(target) == old_bytes
    # The database still opens and works normally.
    if target.connectable:
        with mltrail.connect(target.url) as store:
            assert store.schema_version == LIBRARY
            assert view(store) == before
            store.put_artifacts([mltrail.Artifact(type="Dataset", uri="/after")])
            assert len(store.get_artifacts()) == 4
    else:
        with target.open() as db:
            assert prepare_schema(db) == LIBRARY
            store = MetadataStore(db, LIBRARY)
            assert view(store) == before
            store.put_artifacts([mltrail.Artifact(type="Dataset", uri="/after")])
            assert len(store.get_artifacts()) == 4


def test_a_newer_database_is_refused_and_left_unchanged(target: Target) -> None:
    before = make_v1(target)
    with target.open() as db:
        assert prepare_schema(db, migrations=with_extra(ADD_NOTE)) == NEXT
    old, old_bytes = snapshot(target), file_bytes(target)
    for migrate in (True, False):
        with pytest.raises(errors.SchemaVersionError) as raised:
            if target.connectable:
                mltrail.connect(target.url, migrate=migrate)
            else:
                with target.open() as db:
                    prepare_schema(db, migrate=migrate)
        error = raised.value
        assert (error.database_version, error.library_version) == (NEXT, LIBRARY)
        assert f"schema version {NEXT}, newer than version {LIBRARY}" in str(error)
        assert "upgrade mltrail" in str(error) and "not changed" in str(error)
        assert snapshot(target) == old
        assert file_bytes(target) == old_bytes
    assert read_view(target, NEXT) == before


# ------------------------------------------------------------------------------ numbering


@pytest.mark.parametrize(
    "versions", [[1, 3], [1, 1], [2], [2, 1], []], ids=["gap", "twice", "start", "order", "none"]
)
def test_migrations_must_be_numbered_from_one_without_gaps(
    target: Target, versions: list[int]
) -> None:
    steps = [Migration(v, f"v{v}", v0001_initial.upgrade) for v in versions]
    with target.open() as db, pytest.raises(ValueError, match="migrations"):
        prepare_schema(db, migrations=steps)
    assert snapshot(target).master == []  # refused before the database was touched


# ------------------------------------------------------------------------------ racing openers


def open_in_rounds(
    rounds: Sequence[tuple[str, bool]], barrier: Any, results: Any, worker: int
) -> None:
    """Worker process: open each database as soon as every worker is ready for it."""
    try:
        versions = []
        for url, extended in rounds:
            barrier.wait(timeout=60)
            if extended:
                db = Database(url)
                try:
                    versions.append(prepare_schema(db, migrations=with_extra(ADD_NOTE)))
                finally:
                    db.close()
            else:
                with mltrail.connect(url) as store:
                    versions.append(store.schema_version)
        results.put((worker, "ok", versions))
    except BaseException:
        results.put((worker, "error", traceback.format_exc()))


@pytest.mark.parametrize("kind", CONNECTABLE)
def test_processes_opening_one_new_database_at_once_all_succeed(
    kind: str, tmp_path: Path, servers: dict[str, Server]
) -> None:
    def fresh(name: str) -> Target:
        if kind != "file":
            return make_target(kind, tmp_path, servers, purpose=name)
        t = Target("file", tmp_path / name)
        t.path.parent.mkdir()
        return t

    # On a server, "missing" and "empty" are both a new database without tables.
    missing, empty, older = fresh("a"), fresh("b"), fresh("c")
    if kind == "file":
        empty.path.touch()
    before = make_v1(older)
    rounds = [(missing.url, False), (empty.url, False), (older.url, True)]
    ctx = multiprocessing.get_context("spawn")
    workers = 4
    barrier, results = ctx.Barrier(workers), ctx.Queue()
    processes = [
        ctx.Process(target=open_in_rounds, args=(rounds, barrier, results, n))
        for n in range(workers)
    ]
    for process in processes:
        process.start()
    try:
        outcomes = sorted(results.get(timeout=120) for _ in processes)
    finally:
        for process in processes:
            process.join(timeout=60)
    failures = [text for _, status, text in outcomes if status != "ok"]
    assert not failures, "\n".join(failures)
    assert [versions for _, _, versions in outcomes] == [[LIBRARY, LIBRARY, NEXT]] * workers
    assert [p.exitcode for p in processes] == [0] * workers
    # Each database ends with one version row and the same schema as one opened alone.
    reference = fresh("reference")
    make_v1(reference)
    expected = snapshot(reference).shape()
    for t in (missing, empty):
        taken = snapshot(t)
        assert taken.versions == [(LIBRARY,)]
        assert taken.shape() == expected
    with reference.open() as db:
        prepare_schema(db, migrations=with_extra(ADD_NOTE))
    upgraded = snapshot(older)
    assert upgraded.versions == [(NEXT,)]
    assert upgraded.shape() == snapshot(reference).shape()
    assert read_view(older, NEXT) == before


def _waiting_for_migration_lock(conn: sa.Connection, kind: str) -> int:
    """How many sessions of this database wait for its migration lock."""
    if kind == "postgresql":
        query = (
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
            "WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()"
        )
    else:
        name = migration_lock_name(conn.engine.url.database or "")
        query = (
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
            "WHERE STATE = 'User lock' AND INFO LIKE :pattern"
        )
        return int(conn.execute(sa.text(query), {"pattern": f"%{name}%"}).scalar() or 0)
    return int(conn.exec_driver_sql(query).scalar() or 0)


@pytest.mark.parametrize("kind", SERVERS)
def test_an_opener_that_waited_for_the_migration_lock_sees_what_its_holder_committed(
    kind: str, tmp_path: Path, servers: dict[str, Server]
) -> None:
    # The second opener finds no tables, then waits while the holder of the lock creates the
    # schema-version table at the library's version (the smallest schema change that makes a
    # store current). Once it holds the lock it must see that table: a name cache kept from
    # before the wait (PostgreSQL's to_regclass answers from one) would say it is still
    # missing, and the opener would try to create the schema again.
    target = make_target(kind, tmp_path, servers, purpose="waited")
    held, go = threading.Event(), threading.Event()
    opened: list[int] = []
    failed: list[BaseException] = []

    def holder(conn: sa.Connection) -> None:
        with holding.dialect.migration_lock(conn):
            held.set()
            assert go.wait(timeout=60), "the second opener never waited for the lock"
            schema.schema_version.create(conn)
            conn.execute(sa.insert(schema.schema_version).values(version=LIBRARY))

    def second() -> None:
        try:
            with target.open() as db:
                opened.append(prepare_schema(db))
        except BaseException as exc:
            failed.append(exc)

    with target.open() as holding, target.open() as watching:
        first = threading.Thread(
            target=holding.run, args=(holder,), kwargs={"write": True, "schema_change": True}
        )
        first.start()
        assert held.wait(timeout=60)
        opener = threading.Thread(target=second)
        opener.start()
        with watching.engine.connect() as conn:
            deadline = time.monotonic() + 60
            while not _waiting_for_migration_lock(conn, kind):
                assert time.monotonic() < deadline and opener.is_alive(), failed
                time.sleep(0.02)
                conn.rollback()
        go.set()
        first.join(timeout=60)
        opener.join(timeout=60)
    assert not failed, failed
    assert opened == [LIBRARY]
    assert snapshot(target).versions == [(LIBRARY,)]


# ------------------------------------------------------------------------------ version 2


def test_a_version_1_database_is_migrated_to_the_current_schema_with_its_data(
    target: Target,
) -> None:
    before = make_old(target, 1)
    with target.open() as db:
        assert prepare_schema(db) == LIBRARY
        store = MetadataStore(db, LIBRARY)
        assert view(store) == before
        # The rebuilt tables still enforce what version 1 enforced.
        artifact = store.get_artifacts()[0]
        clash = mltrail.Artifact(type_id=artifact.type_id, name=artifact.name, uri="/other")
        if artifact.name:
            with pytest.raises(errors.AlreadyExistsError):
                store.put_artifacts([clash])
        assert view(store) == before
        assert _drift(db, schema.metadata) == []


def test_sqlite_keeps_property_and_membership_rows_in_their_key_and_indexes_partial(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'v2.db'}"
    with mltrail.connect(url) as store, store.database.connection() as conn:
        rows = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL")
        sql = dict(rows.tuples().all())
    for table in ("mlt_artifact_property", "mlt_attribution", "mlt_association"):
        assert sql[table].rstrip().endswith("WITHOUT ROWID"), sql[table]
    for index in (
        "uq_mlt_artifact_external_id",
        "uq_mlt_artifact_type_id_name",
        "ix_mlt_execution_name",
        "ix_mlt_artifact_property_int_value",
        "ix_mlt_context_property_string_value",
    ):
        assert "WHERE" in sql[index] and "IS NOT NULL" in sql[index], sql[index]
    # Listings in time order page through these instead of sorting every row.
    assert "WHERE" not in sql["ix_mlt_artifact_create_time_since_epoch"]
    assert "WHERE" not in sql["ix_mlt_execution_last_update_time_since_epoch"]
