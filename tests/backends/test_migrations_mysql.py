"""Migrations on MySQL/MariaDB, where each CREATE/ALTER/DROP commits at once.

A migration cannot be all or nothing there. What holds instead: migrators are serialized by a lock
(test_migrations.py checks that a step runs holding it, and that racing openers all succeed); a
failure before the first schema change rolls back completely; a failure after one leaves the
database marked as partly migrated, with the schema changes made so far, but with the data changes
since the last schema change rolled back, and the old version number; every later open refuses it
until it is restored.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.operations import Operations
from test_migrations import (
    ADD_NOTE,
    LIBRARY,
    NEXT,
    Recorder,
    Target,
    make_target,
    make_v1,
    snapshot,
    view,
    with_extra,
)

import mltrail
from _servers import Server
from mltrail import errors
from mltrail.backends.sql.migrations import Migration, prepare_schema


@pytest.fixture
def mysql(tmp_path: Path, servers: dict[str, Server]) -> Iterator[Target]:
    t = make_target("mysql", tmp_path, servers)
    yield t
    t.close()


def adds_a_column_then_fails(op: Operations) -> None:
    op.add_column("mlt_artifact", sa.Column("test_note", sa.String(64), nullable=True))
    op.execute("UPDATE mlt_artifact SET uri = 'changed', test_note = 'x'")
    raise RuntimeError("boom halfway")


def test_mysql_a_migration_failing_after_a_schema_change_is_marked_and_refused(
    mysql: Target,
) -> None:
    before = make_v1(mysql)
    old = snapshot(mysql)
    step = Recorder(adds_a_column_then_fails)
    with mysql.open() as db, pytest.raises(errors.FailedPreconditionError) as raised:
        prepare_schema(db, migrations=with_extra(Migration(NEXT, "half", step)))
    message = str(raised.value)
    assert "RuntimeError: boom halfway" in message
    assert f"from schema version {LIBRARY} to {NEXT}" in message
    assert "partly migrated" in message and "restored from the backup" in message
    assert "unchanged" not in message
    assert len(step.runs) == 1 and step.runs[0][0]  # ran once, holding the lock
    after = snapshot(mysql)
    # The version is still the old one, next to the mark of the interrupted migration.
    assert sorted(after.versions) == [(-NEXT,), (LIBRARY,)]
    # The schema change was kept; the data change after it was rolled back.
    assert "test_note" in [c[1] for c in after.columns["mlt_artifact"]]
    assert [row[:-1] for row in after.content["mlt_artifact"]] == old.content["mlt_artifact"]
    assert {row[-1] for row in after.content["mlt_artifact"]} == {None}
    for table in old.tables:
        if table not in ("mlt_schema", "mlt_artifact"):
            assert after.content[table] == old.content[table], table

    # Every later open refuses the database, whatever it is asked, and changes nothing.
    for attempt in (
        lambda: mltrail.connect(mysql.url),
        lambda: mltrail.connect(mysql.url, migrate=False),
    ):
        with pytest.raises(errors.FailedPreconditionError) as refused:
            attempt()
        assert not isinstance(refused.value, errors.SchemaVersionError)
        assert "partly migrated" in str(refused.value)
        assert f"from schema version {LIBRARY} to {NEXT}" in str(refused.value)
    with mysql.open() as db, pytest.raises(errors.FailedPreconditionError):
        prepare_schema(db, migrations=with_extra(ADD_NOTE))
    assert snapshot(mysql) == after

    # Restored (here: the column dropped and the mark removed), it opens as before.
    assert mysql.server is not None
    with mysql.server.engine(mysql.url).begin() as conn:
        conn.exec_driver_sql("ALTER TABLE mlt_artifact DROP COLUMN test_note")
        conn.exec_driver_sql("DELETE FROM mlt_schema WHERE version < 0")
    assert snapshot(mysql) == old
    with mltrail.connect(mysql.url) as store:
        assert store.schema_version == LIBRARY
        assert view(store) == before


def changes_data_then_fails(op: Operations) -> None:
    op.execute("UPDATE mlt_artifact SET uri = 'changed'")
    # Every type again: violates the unique (kind, name, version) constraint.
    op.execute(
        "INSERT INTO mlt_type (kind, name, version) SELECT kind, name, version FROM mlt_type"
    )


def test_mysql_a_migration_failing_before_any_schema_change_rolls_back(mysql: Target) -> None:
    before = make_v1(mysql)
    old = snapshot(mysql)
    with mysql.open() as db, pytest.raises(errors.FailedPreconditionError) as raised:
        prepare_schema(db, migrations=with_extra(Migration(NEXT, "data", changes_data_then_fails)))
    message = str(raised.value)
    assert "Duplicate entry" in message
    assert f"rolled back; the database is unchanged at version {LIBRARY}" in message
    assert snapshot(mysql) == old  # no mark either
    with mltrail.connect(mysql.url) as store:
        assert store.schema_version == LIBRARY
        assert view(store) == before


def test_mysql_creating_a_database_that_fails_halfway_says_what_to_drop(mysql: Target) -> None:
    steps = with_extra(Migration(NEXT, "fails", adds_a_column_then_fails))
    with mysql.open() as db, pytest.raises(errors.FailedPreconditionError) as raised:
        prepare_schema(db, migrations=steps)
    assert "drop the mlt_* tables" in str(raised.value), raised.value
    created = snapshot(mysql)
    assert created.versions == []  # the tables exist, no version was ever recorded
    with pytest.raises(errors.FailedPreconditionError) as again:
        mltrail.connect(mysql.url)
    assert "already exists" in str(again.value) and "drop the mlt_* tables" in str(again.value)
    assert snapshot(mysql) == created


# ------------------------------------------------------------------------------ statistics

_STATISTICS = (
    "SELECT t.table_name, t.table_rows, MAX(s.cardinality), t.create_options "
    "FROM information_schema.tables t JOIN information_schema.statistics s "
    "ON s.table_schema = t.table_schema AND s.table_name = t.table_name "
    "AND s.index_name = 'PRIMARY' WHERE t.table_schema = DATABASE() "
    "GROUP BY t.table_name, t.table_rows, t.create_options"
)


def test_mysql_statistics_follow_a_store_that_grows_from_empty(mysql: Target) -> None:
    with mltrail.connect(mysql.url) as store:
        data = store.put_artifact_type(mltrail.ArtifactType(name="Data"))
        step = store.put_execution_type(mltrail.ExecutionType(name="Step"))
        run = store.put_context_type(mltrail.ContextType(name="Run"))
        for r in range(12):
            store.put_lineage_subgraph(
                [mltrail.Execution(type_id=step)],
                [mltrail.Artifact(type_id=data, uri=f"/{r}/{i}") for i in range(250)],
                [mltrail.Context(type_id=run, name=f"run-{r}")],
                [],
            )
        context = store.get_context_by_type_and_name("Run", "run-4")
        assert context is not None
        with store.database.connection() as conn:
            rows = conn.exec_driver_sql(_STATISTICS).all()
            counted = {
                name: int(conn.exec_driver_sql(f"SELECT COUNT(*) FROM {name}").scalar_one())
                for name in ("mlt_artifact", "mlt_attribution")
            }
            # The optimizer's view of a context's artifacts: through the context's links.
            plan = conn.exec_driver_sql(
                "EXPLAIN SELECT a.id FROM mlt_artifact a JOIN mlt_type t ON t.id = a.type_id "
                "WHERE a.id IN (SELECT artifact_id FROM mlt_attribution WHERE context_id = "
                f"{int(context.id)}) ORDER BY a.id"
            ).all()
        assert len(store.get_artifacts_by_context(context.id)) == 250
    by_table = {str(name): (int(n or 0), int(known or 0), str(o)) for name, n, known, o in rows}
    assert {n for n in by_table if n.startswith("mlt_")} >= {"mlt_artifact", "mlt_attribution"}
    for name, (_rows, _known, options) in by_table.items():
        assert "stats_persistent=0" in options.lower(), (name, options)
    # The statistics know (roughly: they are sampled) how many rows there are.
    assert counted == {"mlt_artifact": 3000, "mlt_attribution": 3000}
    for name, count in counted.items():
        known = by_table[name][1]
        assert known * 2 >= count, (name, count, known)
    first = plan[0]
    assert (first[2], first[3]) == ("mlt_attribution", "ref"), plan


def test_mysql_a_version_1_database_gets_transient_statistics(mysql: Target) -> None:
    from mltrail.backends.sql.migrations import builtin_migrations

    with mysql.open() as db:
        prepare_schema(db, migrations=builtin_migrations()[:1])
        with db.connection() as conn:
            before = {str(r[0]): str(r[3]).lower() for r in conn.exec_driver_sql(_STATISTICS)}
        assert not any("stats_persistent=0" in o for o in before.values()), before
        prepare_schema(db)
        with db.connection() as conn:
            after = {str(r[0]): str(r[3]).lower() for r in conn.exec_driver_sql(_STATISTICS)}
    assert set(after) == set(before)
    assert all("stats_persistent=0" in o for o in after.values()), after
