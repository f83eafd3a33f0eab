"""PostgreSQL, through psycopg 3 (``pip install 'mltrail[postgres]'``) or psycopg2.

* Write calls run at READ COMMITTED: a unique key that a concurrent call took first makes the
  call fail with a unique violation, which the runner retries (the retry sees the committed row);
  deadlocks (40P01) and serialization failures (40001) are retried too.
* Read calls run at REPEATABLE READ, READ ONLY: every statement of a call sees the same snapshot,
  as on SQLite.
* Schema changes are transactional: the check-and-migrate transaction holds a transaction-level
  advisory lock, so concurrent openers of an empty or old database wait for one migrator and then
  find the database up to date; a failed migration rolls back completely.
* Strings compare by code point (every text column is created with ``COLLATE "C"``), so equality,
  ordering and ``LIKE`` agree with SQLite and MySQL whatever the database's locale.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from typing import Any, ClassVar

from sqlalchemy import Connection, Table, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.sql.dml import Insert

from mltrail.backends.sql.dialects._server import ServerDialect
from mltrail.backends.sql.dialects.base import Failure

#: The advisory lock taken while the schema is checked and migrated (per database).
MIGRATION_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"mltrail schema migration").digest()[:8], "big", signed=True
)

_RETRY = {"40001", "40P01", "55P03", "53300"}  # serialization, deadlock, lock, too many clients
_UNAVAILABLE_CLASSES = ("08", "28", "3D", "57P")  # connection, authorization, database, shutdown
_DENIED = {"42501"}  # insufficient privilege


class PostgreSQLDialect(ServerDialect):
    name = "postgresql"
    title = "PostgreSQL"
    schemes = ("postgresql", "postgres")
    drivers: ClassVar[dict[str, tuple[str, str]]] = {
        "psycopg": ("psycopg", "psycopg[binary]"),
        "psycopg2": ("psycopg2", "psycopg2-binary"),
    }
    default_driver = "psycopg"
    extra = "postgres"
    default_port = 5432

    def begin(self, conn: Connection, *, write: bool) -> None:
        # The driver starts the transaction with the isolation level and access mode set on the
        # connection ("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); set them only when the
        # previous call on this connection wanted others.
        info = conn.connection.info
        if info.get("mltrail_write") is not write:
            raw = conn.connection.dbapi_connection
            sa_dialect: Any = conn.dialect
            sa_dialect.set_isolation_level(raw, "READ COMMITTED" if write else "REPEATABLE READ")
            sa_dialect.set_readonly(raw, not write)
            info["mltrail_write"] = write
        conn.begin()

    def insert_ignore(self, table: Table) -> Insert:
        return pg_insert(table).on_conflict_do_nothing()

    @contextlib.contextmanager
    def migration_lock(self, conn: Connection) -> Iterator[None]:
        # Released when the migration transaction commits or rolls back.
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        yield

    def classify(self, error: DBAPIError) -> Failure:
        state = _sqlstate(error)
        if state in _RETRY:
            return Failure.RETRY
        if state in _DENIED:
            return Failure.DENIED
        if isinstance(error, IntegrityError):
            return Failure.CONFLICT
        if state is not None and state.startswith(_UNAVAILABLE_CLASSES):
            return Failure.UNAVAILABLE
        if error.connection_invalidated or _connection_lost(error):
            return Failure.UNAVAILABLE
        return Failure.OTHER

    def connect_hint(self, error: DBAPIError) -> str:
        state = _sqlstate(error) or ""
        message = str(error.orig).lower()
        if state.startswith("28") or "authentication failed" in message or "role" in message:
            return (
                "check the user name and password in the URL, and that pg_hba.conf lets this "
                "user connect from this machine"
            )
        if state == "3D000" or ("database" in message and "does not exist" in message):
            return (
                "the database does not exist: create it (CREATE DATABASE name; mltrail creates "
                "its tables on first use) or fix its name in the URL"
            )
        return (
            "check the host and port in the URL, that PostgreSQL runs there and accepts "
            "connections from this machine (listen_addresses, firewall)"
        )


def _sqlstate(error: DBAPIError) -> str | None:
    orig: Any = error.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return str(state) if state else None


def _connection_lost(error: DBAPIError) -> bool:
    """A driver-level failure without a server error code: the connection broke or never
    opened (psycopg raises OperationalError without SQLSTATE for both)."""
    orig: Any = error.orig
    name = type(orig).__name__
    return _sqlstate(error) is None and name in ("OperationalError", "InterfaceError")
