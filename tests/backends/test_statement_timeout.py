"""The statement timeout: the database stops a runaway statement, the caller gets
DeadlineExceededError at once (not retried), the store stays usable, and nothing keeps running on
the server. Migrations are not bounded by it.

The slow statements are real: a recursive count on SQLite, pg_sleep on PostgreSQL, SLEEP on
MariaDB, each far longer than the timeout.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, text

import mltrail
from _servers import SERVERS, Server
from mltrail._connect import database_url
from mltrail.backends.sql.database import DEFAULT_STATEMENT_TIMEOUT, Database
from mltrail.backends.sql.migrations import Migration, builtin_migrations, prepare_schema
from mltrail.errors import DeadlineExceededError, InvalidArgumentError

TIMEOUT = 0.3
#: Well above TIMEOUT, well below what a slow statement would take (and what retries would).
BOUND = 2.5


def slow_sql(backend: str, seconds: float, marker: str = "") -> str:
    """A statement that runs about ``seconds`` (SQLite: roughly; it counts)."""
    comment = f"/* {marker} */ " if marker else ""
    if backend == "postgresql":
        return f"{comment}SELECT pg_sleep({seconds})"
    if backend == "mysql":
        return f"{comment}SELECT SLEEP({seconds})"
    steps = int(seconds * 2_000_000)  # about 2 million steps a second, on a fast machine
    return (
        f"{comment}WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
        f"WHERE x < {steps}) SELECT count(*) FROM c"
    )


def running(backend: str, server: Server, url: str, marker: str) -> list[Any]:
    """Statements carrying ``marker`` that still run on the server (other sessions only)."""
    with server.engine(url).connect() as conn:
        if backend == "postgresql":
            query = (
                "SELECT pid, state FROM pg_stat_activity WHERE query LIKE :pattern "
                "AND state = 'active' AND pid <> pg_backend_pid()"
            )
        else:
            query = (
                "SELECT id, info FROM information_schema.processlist WHERE info LIKE :pattern "
                "AND id <> CONNECTION_ID()"
            )
        return list(conn.execute(text(query), {"pattern": f"%{marker}%"}).all())


@pytest.mark.parametrize("single", [False, True], ids=["read", "one-statement read"])
def test_a_slow_statement_is_stopped_with_a_typed_error_and_the_store_stays_usable(
    backend: str, empty_url: str | None, servers: dict[str, Server], single: bool
) -> None:
    """Also a read marked as one statement (a lineage answer), which SQLite runs without a
    transaction of its own."""
    marker = f"mltrail-timeout-{secrets.token_hex(4)}"
    calls = []

    def slow(conn: Connection) -> Any:
        calls.append(1)
        return conn.execute(text(slow_sql(backend, 60, marker))).all()

    with mltrail.connect(empty_url, statement_timeout=TIMEOUT) as store:
        store.put_artifact_type(mltrail.ArtifactType(name="Data"))
        started = time.monotonic()
        with pytest.raises(DeadlineExceededError) as caught:
            store.database.run(slow, write=False, single=single)
        elapsed = time.monotonic() - started
        assert TIMEOUT * 0.9 <= elapsed < BOUND
        assert calls == [1]  # not retried: the same statement would run as long again
        error = caught.value
        assert error.timeout == TIMEOUT
        assert error.http_status == 504
        message = str(error)
        assert "statement timeout (0.3 s)" in message
        assert "nothing was changed" in message and "statement_timeout" in message
        assert "SELECT" not in message and "sleep" not in message.lower()
        if backend in SERVERS:
            assert empty_url is not None
            assert running(backend, servers[backend], empty_url, marker) == []
        # The connection (or the pool) is still good for reads and writes.
        [artifact_id] = store.put_artifacts([mltrail.Artifact(type="Data", uri="/a")])
        assert [a.uri for a in store.get_artifacts_by_id([artifact_id])] == ["/a"]


def test_a_write_call_stopped_by_the_timeout_changes_nothing(empty_url: str | None) -> None:
    backend_sql = {"sqlite": "sqlite", "postgresql": "postgresql", "mysql": "mysql"}
    with mltrail.connect(empty_url, statement_timeout=TIMEOUT) as store:
        store.put_artifact_type(mltrail.ArtifactType(name="Data"))
        kind = backend_sql[store.database.dialect.name]

        def write_then_stall(conn: Connection) -> None:
            conn.execute(text("UPDATE mlt_type SET description = 'changed'"))
            conn.execute(text(slow_sql(kind, 60))).all()

        with pytest.raises(DeadlineExceededError):
            store.database.run(write_then_stall, write=True)
        [data] = store.get_artifact_types()
        assert data.description in (None, "")


def test_a_fast_call_is_not_touched_by_the_timeout_of_an_earlier_one(
    empty_url: str | None,
) -> None:
    # The SQLite deadline is armed per call: a call after a stopped one has its own budget.
    with mltrail.connect(empty_url, statement_timeout=TIMEOUT) as store:
        kind = store.database.dialect.name
        with pytest.raises(DeadlineExceededError):
            store.database.run(
                lambda conn: conn.execute(text(slow_sql(kind, 60))).all(), write=False
            )
        # Calls each well within the timeout (even on a machine tens of times slower than a
        # fast one, as a loaded CI machine can be), together well past it.
        total = 0.0
        for _ in range(2000):
            started = time.monotonic()
            rows = store.database.run(
                lambda conn: conn.execute(text(slow_sql(kind, TIMEOUT / 100))).all(), write=False
            )
            total += time.monotonic() - started
            assert len(rows) == 1
            if total > TIMEOUT * 1.5:
                break
        assert total > TIMEOUT * 1.5


def test_migrations_are_not_cut_short_by_the_statement_timeout(
    backend: str, tmp_path: Path, servers: dict[str, Server]
) -> None:
    if backend in SERVERS:
        url = servers[backend].new_database("slowmigration")
    elif backend == "sqlite-file":
        url = f"sqlite:///{tmp_path / 'slow.db'}"
    else:
        url = database_url(None)
    kind = {"sqlite-memory": "sqlite", "sqlite-file": "sqlite"}.get(backend, backend)
    after = len(builtin_migrations()) + 1
    slow_step = Migration(
        after, "a slow step", lambda op: op.get_bind().execute(text(slow_sql(kind, TIMEOUT * 5)))
    )
    db = Database(url, {"statement_timeout": TIMEOUT})
    try:
        started = time.monotonic()
        assert prepare_schema(db, migrations=(*builtin_migrations(), slow_step)) == after
        assert time.monotonic() - started > TIMEOUT  # the slow step really ran past it
        # ...and calls after the migration are bounded again.
        with pytest.raises(DeadlineExceededError):
            db.run(lambda conn: conn.execute(text(slow_sql(kind, 60))).all(), write=False)
    finally:
        db.close()


@pytest.mark.parametrize("backend", SERVERS, indirect=True)
def test_the_server_session_carries_the_timeout(backend: str, empty_url: str | None) -> None:
    assert empty_url is not None
    with mltrail.connect(empty_url, statement_timeout=1.5) as store:
        query = (
            "SHOW statement_timeout" if backend == "postgresql" else "SELECT @@max_statement_time"
        )
        [(value,)] = store.database.run(lambda conn: conn.execute(text(query)).all(), write=False)
        assert str(value) == "1500ms" if backend == "postgresql" else float(value) == 1.5


@pytest.mark.parametrize(
    ("given", "seconds"),
    [(None, DEFAULT_STATEMENT_TIMEOUT), ("2.5", 2.5), (7, 7.0), ("0", None), ("none", None)],
)
def test_the_timeout_option_from_keyword_or_url(
    given: Any, seconds: float | None, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    if given is None:
        store = mltrail.connect(url)
    elif isinstance(given, str):
        store = mltrail.connect(f"{url}?statement_timeout={given}")
    else:
        store = mltrail.connect(url, statement_timeout=given)
    with store:
        assert store.database.dialect.statement_timeout == seconds


@pytest.mark.parametrize("bad", ["soon", "-1", "inf", "nan", True, [1]])
def test_a_bad_timeout_is_an_invalid_argument(bad: Any) -> None:
    with pytest.raises(InvalidArgumentError, match=r"statement_timeout=.*seconds"):
        mltrail.connect(statement_timeout=bad)


def test_a_disabled_timeout_lets_a_slow_statement_finish(empty_url: str | None) -> None:
    with mltrail.connect(empty_url, statement_timeout=0) as store:
        kind = store.database.dialect.name
        rows = store.database.run(
            lambda conn: conn.execute(text(slow_sql(kind, 0.5))).all(), write=False
        )
        assert len(rows) == 1


def test_a_connection_for_inspection_after_a_timeout_is_not_interrupted(
    empty_url: str | None,
) -> None:
    # The connection a stopped call used (the one shared connection of an in-memory store)
    # serves statements outside the call runner normally afterwards.
    with mltrail.connect(empty_url, statement_timeout=TIMEOUT) as store:
        kind = store.database.dialect.name
        with pytest.raises(DeadlineExceededError):
            store.database.run(
                lambda conn: conn.execute(text(slow_sql(kind, 60))).all(), write=False
            )
        with store.database.connection() as conn:
            assert conn.execute(text(slow_sql(kind, TIMEOUT / 2))).scalar() is not None
