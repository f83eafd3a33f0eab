"""SQLite: the embedded default, in memory or in a file.

File stores run in WAL mode with a busy timeout, so several processes can log to one file at once:
readers never block, writers queue. Write calls start with ``BEGIN IMMEDIATE`` so that two writers
never both hold a read snapshot and then deadlock when upgrading to a write lock. ``LIKE`` is made
case-sensitive (``PRAGMA case_sensitive_like``), as on the other backends.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, insert
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.dml import Insert

from mltrail.backends.sql.dialects.base import Dialect, Failure
from mltrail.backends.sql.fast import FastStatement
from mltrail.errors import FailedPreconditionError, InvalidArgumentError

SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")
DEFAULT_BUSY_TIMEOUT_MS = 60_000


class SQLiteDialect(Dialect):
    name = "sqlite"

    def create_engine(self, url: URL, options: dict[str, Any]) -> Engine:
        options = dict(options)
        busy_timeout = _int_option(
            options.pop("busy_timeout", DEFAULT_BUSY_TIMEOUT_MS), "busy_timeout"
        )
        synchronous = str(options.pop("synchronous", "NORMAL")).upper()
        if synchronous not in SYNCHRONOUS_MODES:
            raise InvalidArgumentError(
                f"synchronous={synchronous!r} is not a SQLite synchronous mode; use one of "
                + ", ".join(SYNCHRONOUS_MODES)
            )
        if options:
            raise InvalidArgumentError(
                f"unknown SQLite option(s) {sorted(options)}; known: busy_timeout (ms), synchronous"
            )
        memory = url.database in (None, "", ":memory:")
        connect_args = {"check_same_thread": False, "timeout": busy_timeout / 1000}
        engine: Engine
        if memory:
            # One connection holds the whole database; the store serializes threads on it.
            self.single_connection = True
            engine = create_engine(
                "sqlite://",
                poolclass=StaticPool,
                connect_args=connect_args,
                pool_reset_on_return=None,
            )
        else:
            # Every call ends with COMMIT or ROLLBACK, so the pool need not reset connections.
            engine = create_engine(
                url.set(query={}), connect_args=connect_args, pool_reset_on_return=None
            )

        @event.listens_for(engine, "connect")
        def _configure(dbapi_conn: sqlite3.Connection, _record: object) -> None:
            # mltrail issues BEGIN itself; the driver must not open or close transactions.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {busy_timeout}")
            cursor.execute("PRAGMA foreign_keys = ON")
            # LIKE is case-sensitive on every backend; SQLite's folds ASCII case by default.
            cursor.execute("PRAGMA case_sensitive_like = ON")
            if not memory:
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute(f"PRAGMA synchronous = {synchronous}")
            cursor.close()

        return engine

    def describe(self, url: URL) -> str:
        if url.database in (None, "", ":memory:"):
            return "in-memory SQLite"
        return f"SQLite file {url.database}"

    def begin(self, conn: Connection, *, write: bool, serial: bool = False) -> None:
        # Writers are serial anyway: BEGIN IMMEDIATE takes the one write lock and a fresh view.
        conn.begin()  # SQLAlchemy's bookkeeping only; the driver is in autocommit mode
        # A writer waits here for the write lock (up to the busy timeout); "database is locked"
        # must reach the runner as a DBAPIError so that it is retried, then reported as aborted.
        _execute(conn, "BEGIN IMMEDIATE" if write else "BEGIN")

    @contextlib.contextmanager
    def schema_change(self, conn: Connection) -> Iterator[None]:
        # Migrations may rebuild a table that others reference (Alembic's batch mode: create a
        # copy, move the rows, drop the original, rename the copy). With foreign keys enforced,
        # dropping the original fails, and the pragma is ignored inside a transaction, so it is
        # switched off around the whole migration transaction; check_schema_change verifies all
        # references before the commit.
        _execute(conn, "PRAGMA foreign_keys = OFF")
        try:
            yield
        finally:
            _execute(conn, "PRAGMA foreign_keys = ON")

    def check_schema_change(self, conn: Connection) -> None:
        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            table, rowid, parent, _ = broken[0]
            raise FailedPreconditionError(
                f"{len(broken)} row(s) reference missing rows, e.g. row {rowid} of {table} "
                f"refers to a row of {parent} that does not exist"
            )

    def insert_returning_ids(
        self,
        conn: Connection,
        plain: FastStatement,
        returning: FastStatement,
        table: Table,
        rows: list[dict[str, Any]],
    ) -> list[int]:
        # In-process inserts are cheapest one by one; the rowid of each comes for free.
        return self.insert_one_by_one(conn, plain, rows)

    def insert_ignore(self, table: Table) -> Insert:
        # INSERT OR IGNORE rather than ON CONFLICT DO NOTHING: SQLAlchemy caches its compiled form.
        return insert(table).prefix_with("OR IGNORE")

    def classify(self, error: DBAPIError) -> Failure:
        if isinstance(error, OperationalError):
            text = str(error.orig).lower()
            if "locked" in text or "busy" in text:
                return Failure.RETRY
            if "unable to open" in text or "disk i/o" in text:
                return Failure.UNAVAILABLE
        return super().classify(error)


def _execute(conn: Connection, sql: str) -> None:
    """Run ``sql`` on the driver's connection, bypassing SQLAlchemy's transaction bookkeeping;
    driver errors are raised as SQLAlchemy's, like those of every other statement."""
    raw = conn.connection.dbapi_connection
    assert raw is not None
    try:
        raw.execute(sql)
    except sqlite3.Error as exc:
        raise DBAPIError.instance(sql, None, exc, sqlite3.Error) from exc


def _int_option(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"{name}={value!r} must be an integer") from None
