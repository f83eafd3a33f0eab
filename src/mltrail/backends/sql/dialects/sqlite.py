"""SQLite: the embedded default, in memory or in a file.

File stores run in WAL mode with a busy timeout, so several processes can log to one file at once:
readers never block, writers queue. Write calls start with ``BEGIN IMMEDIATE`` so that two writers
never both hold a read snapshot and then deadlock when upgrading to a write lock. ``LIKE`` is made
case-sensitive (``PRAGMA case_sensitive_like``), as on the other backends.

SQLite has no server that could stop a runaway statement: a progress handler checks the clock
every few thousand virtual-machine steps and interrupts the call once its statements have run
past the statement timeout (the time spent waiting for the write lock does not count).

Checkpoints (copying the WAL back into the database file) are kept off the commit path: the
store's connections do not checkpoint when they commit (``wal_autocheckpoint = 0``); after a
write call, a background thread of the store checkpoints a moment later, PASSIVE (never waiting
for, nor blocking, readers and writers). Under a steady stream of writes a passive checkpoint
may never catch up with the end of the WAL, so the file would only grow: once it exceeds
:data:`WAL_LIMIT_PAGES`, the thread truncates it (a checkpoint that briefly takes the write lock,
waiting at most :data:`TRUNCATE_WAIT_MS`). Every process writing to the file runs its own
checkpoints this way; SQLite itself checkpoints when the last connection to the file closes.

A read-only store (``read_only=True`` or ``mode=ro``) opens the file with SQLite's ``mode=ro``
(``immutable=1`` when its directory is not writable, where SQLite could not create the WAL
index), changes no setting of the file and writes nothing.
"""

from __future__ import annotations

import contextlib
import math
import os
import sqlite3
import threading
import time
import urllib.parse
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.dml import Insert

from mltrail.backends.sql.dialects.base import (
    FEED_CHUNK,
    Dialect,
    Failure,
    FeedRow,
    feed_values,
)
from mltrail.backends.sql.fast import FastStatement
from mltrail.errors import FailedPreconditionError, InvalidArgumentError

SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")
DEFAULT_BUSY_TIMEOUT_MS = 60_000
#: Virtual-machine steps between two looks at the clock of the statement timeout.
PROGRESS_STEPS = 10_000

#: Seconds between a write call and the checkpoint after it (writes meanwhile share it).
CHECKPOINT_DELAY = 0.1
#: WAL size (in pages) beyond which the background checkpoint truncates the WAL.
WAL_LIMIT_PAGES = 4096
#: How long a truncating checkpoint waits for the write lock and for readers, in ms.
TRUNCATE_WAIT_MS = 200

_DEADLINE, _MIGRATING = "mltrail_deadline", "mltrail_migrating"  # keys of a connection's info
_WROTE = "mltrail_wrote"
#: SQLite's messages for requests beyond its limits (the depth of an expression, the number of
#: bound variables, the parser's stack, the terms of a compound SELECT).
_TOO_LARGE = (
    "too many sql variables",
    "expression tree is too large",
    "parser stack overflow",
    "too many terms in compound select",
    "too many columns",
    "string or blob too big",
)
_DAMAGED = ("malformed", "file is not a database", "not a database")


class _Deadline:
    """The progress handler of one connection: interrupts the statement running past ``at``
    (a :func:`time.monotonic` value; infinity between calls)."""

    __slots__ = ("at",)

    def __init__(self) -> None:
        self.at = math.inf

    def __call__(self) -> int:
        return 1 if time.monotonic() > self.at else 0


class _Checkpointer:
    """The background checkpoints of one file store (see the module).

    The thread starts with the first write call and ends when the store's engine is disposed
    (the store is closed) or garbage-collected; closing the store waits for a checkpoint under
    way, whose connection is its own and closed at once.
    """

    def __init__(self, engine: Engine, path: str, busy_timeout_ms: int) -> None:
        self._engine = weakref.ref(engine)
        self._db_path = path
        self._wal_path = f"{path}-wal"
        self._busy_timeout_ms = busy_timeout_ms
        self._wanted = threading.Event()
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        event.listen(engine, "engine_disposed", self._on_dispose)

    def wake(self) -> None:
        """A write call has committed: checkpoint soon."""
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._stopped.is_set():
                    self._thread = threading.Thread(
                        target=self._loop, name="mltrail-sqlite-checkpoint", daemon=True
                    )
                    self._thread.start()
        self._wanted.set()

    def _on_dispose(self, _engine: Engine) -> None:
        self._stopped.set()
        self._wanted.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()  # no checkpoint connection outlives the store

    def _loop(self) -> None:
        while not self._stopped.is_set():
            if not self._wanted.wait(timeout=5.0):
                if self._engine() is None:
                    return
                continue
            # Let the writes of the next moment share this checkpoint.
            if self._stopped.wait(CHECKPOINT_DELAY):
                return
            self._wanted.clear()
            if self._engine() is None:
                return
            self.checkpoint()

    def checkpoint(self) -> None:
        """One checkpoint: passive, or truncating when the WAL has grown past its limit. A
        checkpoint that cannot run now (the file is busy, or gone) waits for the next one."""
        try:
            size = os.path.getsize(self._wal_path)
        except OSError:
            return  # no WAL (yet, or any more): nothing to copy
        try:
            # A connection of its own, closed at once: none stays open once the store is closed.
            conn = sqlite3.connect(self._db_path, timeout=self._busy_timeout_ms / 1000)
        except sqlite3.Error:
            return
        try:
            page_size = conn.execute("PRAGMA page_size").fetchone()[0]
            if size > WAL_LIMIT_PAGES * page_size:
                conn.execute(f"PRAGMA busy_timeout = {TRUNCATE_WAIT_MS}")
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            else:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error:
            pass  # busy or interrupted: the next write call asks again
        finally:
            conn.close()


class SQLiteDialect(Dialect):
    name = "sqlite"
    timeout_scope = "this call (the time its statements ran in SQLite)"
    _checkpointer: _Checkpointer | None = None

    def create_engine(self, url: URL, options: dict[str, Any]) -> Engine:
        options = dict(options)
        mode = options.pop("mode", None)
        if mode is not None and str(mode).lower() != "ro":
            raise InvalidArgumentError(
                f"mode={mode!r} is not a mode mltrail opens SQLite files in; use mode=ro "
                "(read-only) or leave it out"
            )
        self.read_only = self.read_only or mode is not None
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
                f"unknown SQLite option(s) {sorted(options)}; known: busy_timeout (ms), "
                "synchronous, statement_timeout (s), read_only (or mode=ro)"
            )
        memory = url.database in (None, "", ":memory:")
        connect_args: dict[str, Any] = {"check_same_thread": False, "timeout": busy_timeout / 1000}
        read_only = self.read_only
        timeout = self.statement_timeout
        engine: Engine
        if memory and read_only:
            raise InvalidArgumentError(
                "an in-memory store cannot be read-only (it starts empty); open a SQLite file "
                "with read_only=True, or leave read_only out"
            )
        if read_only:
            assert url.database is not None
            uri = read_only_uri(Path(url.database))
            engine = create_engine(
                "sqlite://",
                creator=lambda: sqlite3.connect(uri, uri=True, **connect_args),
                pool_reset_on_return=None,
            )
        elif memory:
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
            assert url.database is not None
            self._checkpointer = _Checkpointer(engine, url.database, busy_timeout)
            # SQLite lets one writer in at a time: this process's writers wait for each other
            # here and start the moment the previous one commits; SQLite's busy handler (which
            # sleeps and polls) is left to writers of other processes.
            self.writer_lock = threading.Lock()

        @event.listens_for(engine, "connect")
        def _configure(dbapi_conn: sqlite3.Connection, _record: object) -> None:
            # mltrail issues BEGIN itself; the driver must not open or close transactions.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {busy_timeout}")
            cursor.execute("PRAGMA foreign_keys = ON")
            # LIKE is case-sensitive on every backend; SQLite's folds ASCII case by default.
            cursor.execute("PRAGMA case_sensitive_like = ON")
            # Temporary b-trees (IN lists of subqueries, materialized CTEs) in memory: opening a
            # temporary file for each made a lineage answer several times slower.
            cursor.execute("PRAGMA temp_store = MEMORY")
            if not memory and not read_only and _empty_or_mltrail(cursor):
                # Not in another application's file: switching to WAL rewrites its header,
                # and such a file is refused without a byte changed.
                _switch_to_wal(cursor, busy_timeout)
                cursor.execute(f"PRAGMA synchronous = {synchronous}")
                # Checkpoints run in the background (see the module), not in commits.
                cursor.execute("PRAGMA wal_autocheckpoint = 0")
            cursor.close()
            if timeout is not None:
                deadline = _Deadline()
                dbapi_conn.set_progress_handler(deadline, PROGRESS_STEPS)
                _record.info[_DEADLINE] = deadline  # type: ignore[attr-defined]

        return engine

    def describe(self, url: URL) -> str:
        if url.database in (None, "", ":memory:"):
            return "in-memory SQLite"
        return f"SQLite file {url.database}"

    def begin(
        self, conn: Connection, *, write: bool, serial: bool = False, single: bool = False
    ) -> None:
        # Writers are serial anyway: BEGIN IMMEDIATE takes the one write lock and a fresh view.
        # A writer waits here for the write lock (up to the busy timeout); "database is locked"
        # must reach the runner as a DBAPIError so that it is retried, then reported as aborted.
        # A read of one statement needs no transaction: the statement reads one snapshot.
        if write or not single:
            conn.begin()  # SQLAlchemy's bookkeeping only; the driver is in autocommit mode
            _execute(conn, "BEGIN IMMEDIATE" if write else "BEGIN")
        info = conn.connection.info
        if write:
            info[_WROTE] = True
        deadline = info.get(_DEADLINE)
        if deadline is not None and self.statement_timeout and not info.get(_MIGRATING):
            deadline.at = time.monotonic() + self.statement_timeout

    def finish(self, conn: Connection) -> None:
        info = conn.connection.info
        deadline = info.get(_DEADLINE)
        if deadline is not None:
            deadline.at = math.inf
        if info.pop(_WROTE, False) and self._checkpointer is not None:
            self._checkpointer.wake()

    @contextlib.contextmanager
    def schema_change(self, conn: Connection) -> Iterator[None]:
        # Migrations may rebuild a table that others reference (Alembic's batch mode: create a
        # copy, move the rows, drop the original, rename the copy). With foreign keys enforced,
        # dropping the original fails, and the pragma is ignored inside a transaction, so it is
        # switched off around the whole migration transaction; check_schema_change verifies all
        # references before the commit.
        # A migration is not bounded by the statement timeout: it must not stop halfway.
        _execute(conn, "PRAGMA foreign_keys = OFF")
        info = conn.connection.info
        info[_MIGRATING] = True
        try:
            yield
        finally:
            info.pop(_MIGRATING, None)
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

    def feed_statements(self, rows: list[FeedRow]) -> list[str]:
        # Writers are serialized (BEGIN IMMEDIATE): the rowid, one more than the largest, is
        # the position; one multi-row statement per chunk.
        return [
            "INSERT INTO mlt_change (kind, entity_id, source) VALUES "
            + feed_values(rows[start : start + FEED_CHUNK])
            for start in range(0, len(rows), FEED_CHUNK)
        ]

    def upsert(self, table: Table, columns: tuple[str, ...]) -> Insert:
        built = sqlite_insert(table)
        return built.on_conflict_do_update(
            index_elements=list(table.primary_key.columns),
            set_={c: built.excluded[c] for c in columns},
        )

    def insert_ignore(self, table: Table) -> Insert:
        # INSERT OR IGNORE rather than ON CONFLICT DO NOTHING: SQLAlchemy caches its compiled form.
        return insert(table).prefix_with("OR IGNORE")

    def classify(self, error: DBAPIError) -> Failure:
        if isinstance(error.orig, sqlite3.Error):
            text = str(error.orig).lower()
            if "locked" in text or "busy" in text:
                return Failure.RETRY
            if text == "interrupted":
                return Failure.DEADLINE  # only the statement timeout interrupts statements
            if any(limit in text for limit in _TOO_LARGE):
                return Failure.TOO_LARGE
            if "database or disk is full" in text:
                return Failure.FULL
            if any(damage in text for damage in _DAMAGED):
                return Failure.DAMAGED
            if "unable to open" in text or "disk i/o" in text:
                return Failure.UNAVAILABLE
        return super().classify(error)

    def classify_foreign(self, error: Exception) -> Failure | None:
        # mltrail writes only UTF-8; text that does not decode is a damaged page (sqlite3
        # raises the codec's error, e.g. when a table name in the schema page is garbled).
        return Failure.DAMAGED if isinstance(error, UnicodeDecodeError) else None

    def damaged_message(self, description: str, reason: str) -> str:
        return (
            f"{description} is damaged or is not a SQLite database ({reason}); nothing was "
            "changed: restore it from a backup, or try to rescue what is left with "
            "`sqlite3 FILE .recover | sqlite3 NEW.db` and open the new file"
        )

    def connect_hint(self, error: DBAPIError) -> str:
        return (
            "check the path in the URL: that its directory exists, and that this user may read "
            "and write the file and create files in its directory (SQLite adds -wal and -shm "
            "files beside it); open it with read_only=True to only read it"
        )


def _execute(conn: Connection, sql: str) -> None:
    """Run ``sql`` on the driver's connection, bypassing SQLAlchemy's transaction bookkeeping;
    driver errors are raised as SQLAlchemy's, like those of every other statement."""
    raw = conn.connection.dbapi_connection
    assert raw is not None
    try:
        raw.execute(sql)
    except sqlite3.Error as exc:
        raise DBAPIError.instance(sql, None, exc, sqlite3.Error) from exc


#: How long a connection waits between attempts to switch a new file to WAL.
WAL_SWITCH_PAUSE_S = 0.005


def _switch_to_wal(cursor: sqlite3.Cursor, busy_timeout_ms: int) -> None:
    """``PRAGMA journal_mode = WAL``, tried again until the busy timeout has passed.

    Connections that switch one new file at the same moment can each hold the read lock the
    other needs to give up: SQLite then answers "database is locked" at once instead of calling
    the busy handler (it would wait forever). Once one has switched, the others find the file
    in WAL mode already.
    """
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL").fetchall()
            return
        except sqlite3.OperationalError as exc:
            busy = str(getattr(exc, "sqlite_errorname", "")).startswith("SQLITE_BUSY")
            if not busy or time.monotonic() >= deadline:
                raise
            time.sleep(WAL_SWITCH_PAUSE_S)


def _empty_or_mltrail(cursor: sqlite3.Cursor) -> bool:
    """Whether the file has no tables, or mltrail's schema table."""
    cursor.execute(
        "SELECT count(*), count(CASE WHEN name = 'mlt_schema' THEN 1 END) FROM sqlite_master "
        "WHERE type = 'table'"
    )
    tables, ours = cursor.fetchone()
    return bool(tables == 0 or ours)


def read_only_uri(path: Path) -> str:
    """The ``file:`` URI that opens ``path`` read-only: ``mode=ro``, plus ``immutable=1`` when
    its directory is not writable (SQLite could not create the WAL index there)."""
    if not path.is_file():
        raise FailedPreconditionError(
            f"there is no SQLite file {path} to open read-only; check the path (a read-only "
            "store must exist already)"
        )
    query = "mode=ro"
    if not os.access(path.parent, os.W_OK):
        query += "&immutable=1"
    return f"file:{urllib.parse.quote(str(path.absolute()))}?{query}"


def _int_option(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"{name}={value!r} must be an integer") from None
