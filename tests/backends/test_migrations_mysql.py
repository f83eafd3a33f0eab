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
from typing import Any

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
from mltrail.backends.sql import fast
from mltrail.backends.sql.dialects._statistics import StatisticsKeeper
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


def _load_runs(store: mltrail.MetadataStore, runs: int, per_run: int) -> None:
    data = store.put_artifact_type(mltrail.ArtifactType(name="Data"))
    step = store.put_execution_type(mltrail.ExecutionType(name="Step"))
    run = store.put_context_type(mltrail.ContextType(name="Run"))
    for r in range(runs):
        store.put_lineage_subgraph(
            [mltrail.Execution(type_id=step)],
            [mltrail.Artifact(type_id=data, uri=f"/{r}/{i}") for i in range(per_run)],
            [mltrail.Context(type_id=run, name=f"run-{r}")],
            [],
        )


def test_mysql_statistics_are_refreshed_after_a_store_grows_from_empty(
    mysql: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The checks run here, not in the background, so that the test knows when they run.
    monkeypatch.setattr(StatisticsKeeper, "wake", lambda self: None)
    with mltrail.connect(mysql.url) as store:
        keeper = StatisticsKeeper.of(store.database.engine)
        assert keeper.check() == []  # empty tables: nothing to analyze
        _load_runs(store, 20, 500)
        due = keeper.check()  # what the background thread does after calls
        assert {"mlt_artifact", "mlt_attribution"} <= set(due), due
        assert keeper.check() == []  # fresh now: nothing is analyzed again
        context = store.get_context_by_type_and_name("Run", "run-4")
        assert context is not None
        recorded: list[tuple[str, object]] = []
        original = fast.FastStatement.prepared

        def recording(self: fast.FastStatement, conn: Any, rows: Any) -> Any:
            # The listing goes with its properties in one request: its text and arguments.
            sql, args = original(self, conn, rows)
            recorded.append((sql, args[0]))
            return sql, args

        monkeypatch.setattr(fast.FastStatement, "prepared", recording)
        assert len(store.get_artifacts_by_context(context.id)) == 500
        monkeypatch.undo()
        sql, args = recorded[0]
        assert "mlt_attribution" in sql
        with store.database.connection() as conn:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            cursor.execute("EXPLAIN " + sql, args)
            plan = cursor.fetchall()
            cursor.close()
    # The context's links first, through their key; each artifact then by its primary key.
    assert (plan[0][2], plan[0][3], plan[0][5]) == ("mlt_attribution", "ref", "PRIMARY"), plan
    assert all(row[3] in ("eq_ref", "ref", "const") for row in plan), plan


def test_mysql_statistics_are_checked_in_the_background_until_the_store_closes(
    mysql: Target,
) -> None:
    store = mltrail.connect(mysql.url)
    keeper = StatisticsKeeper.of(store.database.engine)
    store.get_artifacts()
    thread = keeper._thread
    assert thread is not None and thread.is_alive()
    store.close()
    assert not thread.is_alive()


def test_mysql_small_tables_keep_their_statistics(mysql: Target) -> None:
    with mltrail.connect(mysql.url) as store:
        _load_runs(store, 2, 100)
        assert StatisticsKeeper.of(store.database.engine).check() == []
