"""Schema versions and the migration runner.

The database records one integer, its schema version, in ``mlt_schema``. Each :class:`Migration`
moves a database from ``version - 1`` to ``version``; DDL is issued through Alembic's
``Operations`` so that dialect quirks (SQLite's limited ALTER TABLE) are handled for us.

On open (:func:`prepare_schema`), inside one write transaction:

* same version as the library: nothing to do (found by a read transaction first, so that opening
  an up-to-date database never waits for the write lock);
* older (or empty): apply the missing migrations in order and record the new version — all or
  nothing; with ``migrate=False`` an existing older database is refused instead; a migration
  that fails is rolled back and reported as :class:`~mltrail.errors.FailedPreconditionError`;
* newer: refuse with :class:`~mltrail.errors.SchemaVersionError` naming both versions; the database
  is not touched.

Where schema changes are not transactional (MySQL/MariaDB: each CREATE/ALTER commits at once),
"all or nothing" cannot hold. There the dialect serializes migrators with a lock instead, and an
upgrade first records a mark (the row ``-target`` in ``mlt_schema``), committed by the first schema
change: a migration that fails after a schema change leaves the database marked as partly
migrated, and every later open refuses it (:class:`~mltrail.errors.FailedPreconditionError`) until
it is restored from a backup. A migration that fails before its first schema change is rolled
back completely, mark included.

A new SQLite store is not built step by step: the steps run once per process in a private
in-memory database, and what SQLite recorded of them (its ``sqlite_master`` statements, and the
rows the steps wrote) is replayed into each new database, with a new identity for the store's
own site. Tests compare the two ways, statement for statement.

Alembic is imported only when a migration runs (creating a new store is one): opening an
up-to-date database reads its version with a plain query and never loads the migration
machinery. Migration modules are imported on every open, to learn the library's version, so they
import Alembic for type checking only (``if TYPE_CHECKING:``); their ``upgrade`` receives the
``Operations`` object and needs nothing else from it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, insert, inspect, select
from sqlalchemy.exc import DBAPIError

from mltrail.backends.sql import schema
from mltrail.backends.sql.database import Database
from mltrail.backends.sql.dialects import dialect_for
from mltrail.backends.sql.dialects.base import Failure
from mltrail.errors import FailedPreconditionError, MltrailError, SchemaVersionError

if TYPE_CHECKING:
    from alembic.operations import Operations


@dataclass(frozen=True)
class Migration:
    """One step of the schema history: ``upgrade`` turns ``version - 1`` into ``version``."""

    version: int
    summary: str
    upgrade: Callable[[Operations], None]


def table_options(op: Operations) -> dict[str, Any]:
    """Keyword options for a table a migration creates, for the database being migrated (on
    MySQL/MariaDB: InnoDB, utf8mb4 and a case-sensitive binary collation); pass them to every
    ``op.create_table``."""
    bind = op.get_bind()
    return dialect_for(bind.dialect.name).table_options(bind.dialect)


def text_index(op: Operations, columns: list[str]) -> tuple[list[str], dict[str, Any]]:
    """The columns and options of an index whose last column holds text of any length, for
    the database being migrated (see :meth:`Dialect.text_index`)."""
    return dialect_for(op.get_bind().dialect.name).text_index(columns)


def builtin_migrations() -> tuple[Migration, ...]:
    from mltrail.backends.sql.migrations import v0001_initial, v0002_paging_indexes, v0003_sync

    return (v0001_initial.MIGRATION, v0002_paging_indexes.MIGRATION, v0003_sync.MIGRATION)


def library_schema_version() -> int:
    """The schema version this library writes and expects."""
    return builtin_migrations()[-1].version


def read_schema_version(conn: Connection) -> int:
    """The database's schema version; 0 for a database without mltrail tables."""
    return _read_state(conn)[0]


def _read_state(conn: Connection) -> tuple[int, int | None]:
    """The schema version, and the version a failed non-transactional migration was heading
    for (``None`` when no migration was interrupted).

    A database without mltrail's tables but with others is not mltrail's: refused with
    :class:`~mltrail.errors.FailedPreconditionError`, so that nothing is ever added to it.
    """
    if not _has_version_table(conn):
        foreign = sorted(t for t in inspect(conn).get_table_names() if not t.startswith("mlt_"))
        if foreign:
            raise _ForeignDatabase(foreign)
        return 0, None
    rows = [int(v) for v in conn.execute(select(schema.schema_version.c.version)).scalars()]
    version = max((v for v in rows if v >= 0), default=0)
    interrupted = max((-v for v in rows if v < 0), default=None)
    return version, interrupted


def _has_version_table(conn: Connection) -> bool:
    """Whether the schema-version table exists. On PostgreSQL one query of ``pg_class`` (a table
    of that name in the session's search path): SQLAlchemy's ``has_table`` took 7 of the 20 ms
    of opening a store. Not ``to_regclass``: it answers from the session's name cache, which
    still says "missing" after waiting for the migration lock while its holder created the
    table, so the waiter would create the schema a second time."""
    name = schema.schema_version.name
    if conn.dialect.name == "postgresql":
        found = conn.exec_driver_sql(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c"
            " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            f" WHERE c.relname = '{name}' AND n.nspname = ANY (current_schemas(false)))"
        ).scalar()
        return bool(found)
    return bool(inspect(conn).has_table(name))


#: Tables that mark an ML Metadata (MLMD) database; MLMDEnv alone, or the three node tables.
MLMD_MARKERS = ({"mlmdenv"}, {"type", "artifact", "execution"})


def pending(db: Database) -> tuple[int, tuple[Migration, ...]]:
    """The database's schema version and the library's migrations it lacks, read without
    changing anything (refused as :func:`prepare_schema` refuses: another application's
    database, a newer schema, a migration interrupted halfway)."""
    steps = builtin_migrations()
    target = steps[-1].version
    try:
        current, interrupted = db.run(_read_state, write=False)
    except _ForeignDatabase as foreign:
        raise FailedPreconditionError(_foreign_message(db.description, foreign.tables)) from None
    if interrupted is not None:
        raise FailedPreconditionError(_interrupted_message(db, current, interrupted))
    if current > target:
        raise _newer(db, current, target)
    return current, tuple(step for step in steps if step.version > current)


def _newer(db: Database, current: int, target: int) -> SchemaVersionError:
    """The refusal of a database whose schema is newer than this library's."""
    return SchemaVersionError(
        f"{db.description} has schema version {current}, newer than version {target} "
        "that this mltrail library supports; upgrade mltrail (pip install -U mltrail). "
        "The database was not changed.",
        database_version=current,
        library_version=target,
    )


class _ForeignDatabase(Exception):
    """The database holds tables, none of them mltrail's; carries their names."""

    def __init__(self, tables: list[str]) -> None:
        super().__init__(", ".join(tables))
        self.tables = tables


def _foreign_message(where: str, tables: list[str]) -> str:
    names = {t.lower() for t in tables}
    shown = ", ".join(tables[:5]) + (f" and {len(tables) - 5} more" if len(tables) > 5 else "")
    if any(marker <= names for marker in MLMD_MARKERS):
        return (
            f"{where} is an ML Metadata (MLMD) database (tables {shown}), not an mltrail store; "
            "mltrail cannot open it directly, and importing MLMD databases is not available in "
            "this version. Nothing was changed: open a new store (a new file or an empty "
            "database) for mltrail"
        )
    return (
        f"{where} holds tables that are not mltrail's ({shown}); mltrail does not add its "
        "tables to another application's database. Nothing was changed: use a new file or an "
        "empty database for the store"
    )


class _MigrationFailed(Exception):
    """A migration step failed; carries where, from which version, and the cause."""

    def __init__(self, where: str, current: int, cause: Exception) -> None:
        super().__init__(where)
        self.where = where
        self.current = current
        self.cause = cause


def prepare_schema(
    db: Database, *, migrate: bool = True, migrations: Sequence[Migration] | None = None
) -> int:
    """Bring ``db`` to the newest version of ``migrations`` (default: the library's own).

    Returns the schema version the database has afterwards.
    """
    steps = tuple(migrations) if migrations is not None else builtin_migrations()
    _check_sequence(steps)
    target = steps[-1].version

    def apply(conn: Connection) -> int:
        with db.dialect.migration_lock(conn):
            current, interrupted = _read_state(conn)
            if interrupted is not None:
                raise FailedPreconditionError(_interrupted_message(db, current, interrupted))
            if current == target:
                return current
            if current > target:
                raise _newer(db, current, target)
            if current > 0 and not migrate:
                raise SchemaVersionError(
                    f"{db.description} has schema version {current}, older than this library's "
                    f"version {target}, and migration was disabled (migrate=False); open it with "
                    "migrate=True to upgrade it (back it up first). The database was not changed.",
                    database_version=current,
                    library_version=target,
                )
            if not db.dialect.transactional_ddl and current > 0:
                # Each schema change commits at once: mark the database as being migrated (the
                # first change commits the mark), so that a migration failing halfway leaves a
                # database that refuses to open instead of one that looks like the old version.
                conn.execute(insert(schema.schema_version).values(version=-target))
            where = ""
            try:
                if current == 0 and migrations is None and db.dialect.name == "sqlite":
                    where = "when creating the schema"
                    _create_sqlite_store(conn)
                else:
                    ops = _operations(conn)
                    for step in steps:
                        if step.version > current:
                            where = f"in step {step.version} ({step.summary})"
                            step.upgrade(ops)
                where = "when checking the migrated database"
                db.dialect.check_schema_change(conn)
            except Exception as exc:
                if isinstance(exc, DBAPIError) and db.dialect.classify(exc) is Failure.RETRY:
                    raise  # a busy or deadlocked database: the runner tries the whole call again
                # Anything else is a failed migration, not a conflict of the caller's: say so
                # (the runner would report an IntegrityError as a duplicate) and roll back.
                raise _MigrationFailed(where, current, exc) from exc
            conn.execute(delete(schema.schema_version))
            conn.execute(insert(schema.schema_version).values(version=target))
            return target

    # Opening a database that is up to date must not wait for (or block) writers: look first in
    # a read transaction; every other case is decided again, and acted on, in the write one.
    try:
        state = db.run(_read_state, write=False)
        if state == (target, None):
            return target
        if db.dialect.read_only:
            _refuse_read_only(db, *state, target)
        return db.run(apply, write=True, schema_change=True)
    except _ForeignDatabase as foreign:
        raise FailedPreconditionError(_foreign_message(db.description, foreign.tables)) from None
    except _MigrationFailed as failed:
        outcome = _outcome(db, failed.current, target)
        raise FailedPreconditionError(
            f"migrating {db.description} from schema version {failed.current} to {target} "
            f"failed {failed.where}: {_describe(failed.cause)}. {outcome}"
        ) from failed.cause


@dataclass(frozen=True)
class _SqliteTemplate:
    """What the library's migrations make of an empty SQLite database: its schema, as the
    statements SQLite recorded (tables, then indexes, triggers and views), and its rows."""

    statements: tuple[str, ...]
    rows: tuple[tuple[str, tuple[Any, ...]], ...]


_sqlite_template: _SqliteTemplate | None = None

#: The template as data (package data, written by ``python -m mltrail.backends.sql.migrations``),
#: so that a process creating its first SQLite store neither imports Alembic nor runs the steps.
TEMPLATE_FILE = Path(__file__).with_name("sqlite_template.json")
#: The sources the template is made from: a change to any of them makes the file stale (it is
#: then ignored, and tests/backends/test_migrations.py fails until it is written again).
_TEMPLATE_SOURCES = ("schema.py",)


def template_key() -> str | None:
    """The SHA-256 of what the template depends on: SQLAlchemy's version and the sources of the
    migrations and of the schema (None when a source cannot be read)."""
    import hashlib

    import sqlalchemy

    digest = hashlib.sha256(sqlalchemy.__version__.encode())
    here = Path(__file__).parent
    files = sorted(p for p in here.glob("*.py") if p.name != "__main__.py")
    files += [here.parent / name for name in _TEMPLATE_SOURCES]
    try:
        for file in files:
            digest.update(file.name.encode() + b"\0" + file.read_bytes())
    except OSError:
        return None
    return digest.hexdigest()


def _load_sqlite_template() -> _SqliteTemplate | None:
    """The template of :data:`TEMPLATE_FILE`, or None when it is missing or stale."""
    key = template_key()
    try:
        data = json.loads(TEMPLATE_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if key is None or not isinstance(data, dict) or data.get("key") != key:
        return None
    statements = tuple(str(sql) for sql in data["statements"])
    rows = tuple((str(table), tuple(row)) for table, row in data["rows"])
    return _SqliteTemplate(statements, rows)


def write_sqlite_template(path: Path = TEMPLATE_FILE) -> None:
    """Build the template by running every migration step, and write it to ``path``."""
    template = _build_sqlite_template()
    document = {
        "key": template_key(),
        "statements": list(template.statements),
        "rows": [[table, list(row)] for table, row in template.rows],
    }
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")


def _create_sqlite_store(conn: Connection) -> None:
    """Create the newest schema in an empty SQLite database as the migrations would, from the
    template of what they build (:data:`TEMPLATE_FILE`; when it is stale, the migrations run
    once in this process in a private in-memory database to make it): replaying every step
    (tables rebuilt, columns added) takes ~50 ms and imports Alembic, running the recorded
    statements ~1 ms. The store's own site gets a new identity, as the migration gives it."""
    global _sqlite_template
    template = _sqlite_template
    if template is None:
        template = _load_sqlite_template() or _build_sqlite_template()
        _sqlite_template = template
    # On the driver's cursor, in the call's transaction: each statement through SQLAlchemy
    # cost more than SQLite spends running it.
    driver: Any = conn.connection.driver_connection
    cursor = driver.cursor()
    try:
        for statement in template.statements:
            cursor.execute(statement)
        for table, row in template.rows:
            cursor.execute(f'INSERT INTO "{table}" VALUES ({", ".join("?" * len(row))})', row)
        cursor.execute("UPDATE mlt_site SET uuid = ? WHERE id = ?", (str(uuid.uuid4()), 1))
    finally:
        cursor.close()


def _build_sqlite_template() -> _SqliteTemplate:
    private = Database("sqlite://")
    try:
        prepare_schema(private, migrations=builtin_migrations())
        with private.connection() as conn:
            recorded = conn.exec_driver_sql(
                "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL "
                "AND name NOT LIKE 'sqlite%' ORDER BY type <> 'table', rowid"
            ).all()
            rows = [
                (str(name), tuple(row))
                for kind, name, _ in recorded
                if kind == "table" and name != schema.schema_version.name
                for row in conn.exec_driver_sql(f'SELECT * FROM "{name}"')
            ]
    finally:
        private.close()
    return _SqliteTemplate(tuple(str(sql) for _, _, sql in recorded), tuple(rows))


def _operations(conn: Connection) -> Operations:
    """Alembic's schema operations on ``conn``; the only place Alembic is imported."""
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    return Operations(MigrationContext.configure(connection=conn))


def _refuse_read_only(db: Database, current: int, interrupted: int | None, target: int) -> None:
    """A read-only store is never migrated: say why a database that is not up to date cannot
    be opened read-only."""
    if interrupted is not None:
        raise FailedPreconditionError(_interrupted_message(db, current, interrupted))
    if current == 0:
        raise FailedPreconditionError(
            f"{db.description} holds no mltrail store (it is empty), and it was opened "
            "read-only; open it without read_only to create the store, or check the URL"
        )
    newer = current > target
    raise SchemaVersionError(
        f"{db.description} has schema version {current}, "
        + (
            f"newer than version {target} that this mltrail library supports; upgrade mltrail "
            "(pip install -U mltrail)"
            if newer
            else f"older than this library's version {target}, and it was opened read-only, "
            "so it cannot be migrated: open it once without read_only to upgrade it (back it "
            "up first)"
        )
        + ". The database was not changed.",
        database_version=current,
        library_version=target,
    )


def _outcome(db: Database, current: int, target: int) -> str:
    """What a failed migration left behind, for its error message."""
    if db.dialect.transactional_ddl:
        return f"The migration was rolled back; the database is unchanged at version {current}."
    version, interrupted = db.run(_read_state, write=False)
    if interrupted is not None:
        return (
            "This database commits each schema change at once (MySQL/MariaDB), so the changes "
            "made before the failure were kept: the database is now partly migrated, marked as "
            "such, and will not open until it is restored from the backup taken before the "
            "upgrade (see docs/backends.md)."
        )
    if current == 0 and _mltrail_tables(db):
        return (
            "This database commits each schema change at once (MySQL/MariaDB), so the tables "
            "created before the failure were kept: drop the mlt_* tables (or use a new, empty "
            "database) and open it again."
        )
    return f"The migration was rolled back; the database is unchanged at version {version}."


def _mltrail_tables(db: Database) -> list[str]:
    """The names of mltrail's tables (``mlt_*``) in ``db``."""
    with db.connection() as conn:
        return [t for t in inspect(conn).get_table_names() if t.startswith("mlt_")]


def _interrupted_message(db: Database, current: int, interrupted: int) -> str:
    return (
        f"{db.description} is partly migrated: a migration from schema version {current} to "
        f"{interrupted} failed halfway, and this database (MySQL/MariaDB) cannot roll schema "
        "changes back. Restore it from the backup taken before the upgrade, then open it with "
        "this mltrail again (see docs/backends.md). The database was not changed."
    )


def _describe(exc: Exception) -> str:
    if isinstance(exc, DBAPIError):
        return str(exc.orig)
    if isinstance(exc, MltrailError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _check_sequence(steps: Sequence[Migration]) -> None:
    if not steps:
        raise ValueError("no migrations given; the first one must have version 1")
    expected = list(range(1, len(steps) + 1))
    if [s.version for s in steps] != expected:
        raise ValueError(
            f"migrations must be numbered {expected}, got {[s.version for s in steps]}"
        )
