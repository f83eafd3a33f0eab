"""One SQL database: its engine, its dialect and the runner that makes a call one transaction."""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from mltrail.backends.sql import feed
from mltrail.backends.sql.dialects import Dialect, dialect_for
from mltrail.backends.sql.dialects._server import boolean_option
from mltrail.backends.sql.dialects.base import Failure, call_commits, commit_sent
from mltrail.errors import (
    AbortedError,
    AlreadyExistsError,
    DeadlineExceededError,
    FailedPreconditionError,
    InvalidArgumentError,
    MltrailError,
    PermissionDeniedError,
    UnavailableError,
)

T = TypeVar("T")

#: How many times a call that hit a deadlock, a serialization failure or a busy database is run.
MAX_ATTEMPTS = 8
#: How many times a call that hit a unique-constraint race is run again before the violation is
#: reported; a second attempt sees the row the racing writer committed.
MAX_CONFLICT_ATTEMPTS = 3
#: How many times a call is run again on a new connection after the database closed the one it
#: ran on before its commit (a server restart, an idle timeout, a failover).
MAX_RECONNECTS = 2
#: Seconds a statement may run before the database stops it, unless ``statement_timeout`` says.
DEFAULT_STATEMENT_TIMEOUT = 30.0


class Database:
    """Engine + dialect + transaction runner.

    :meth:`run` executes a function inside one transaction and retries it when a concurrent writer
    got in the way. The function must not have side effects outside the database (it may run more
    than once).
    """

    def __init__(self, url: str | URL, options: dict[str, Any] | None = None) -> None:
        try:
            self.url = make_url(url)
        except ArgumentError as exc:
            raise InvalidArgumentError(
                f"cannot parse database URL {str(url)!r}: {exc}; expected e.g. sqlite:///path.db"
            ) from None
        self.dialect: Dialect = dialect_for(self.url.drivername)
        self.url = self.dialect.engine_url(self.url)
        merged = {**dict(self.url.query.items()), **(options or {})}
        self.dialect.statement_timeout = statement_timeout_option(
            merged.pop("statement_timeout", DEFAULT_STATEMENT_TIMEOUT)
        )
        self.dialect.read_only = read_only_option(merged.pop("read_only", False))
        self.engine = self.dialect.create_engine(self.url, merged)
        self.description = self.dialect.describe(self.url)
        self._lock = threading.RLock() if self.dialect.single_connection else None
        # A store on one shared connection keeps it checked out instead of borrowing it per call.
        self._held: Connection | None = None
        # The transaction a thread has open with transaction(), which its calls join.
        self._open = threading.local()

    def close(self) -> None:
        if self._held is not None:
            self._held.close()
            self._held = None
        self.engine.dispose()

    @contextlib.contextmanager
    def connection(self) -> Iterator[Connection]:
        """A connection outside the call runner (no transaction started), for inspection."""
        with self._serialized():
            held = self._held
            if held is not None:
                try:
                    yield held
                finally:
                    # A statement autobegins SQLAlchemy's transaction bookkeeping on the shared
                    # connection; end it, or the runner's next begin() is refused.
                    if held.in_transaction():
                        held.rollback()
                return
            with self._translate_connect_errors():
                conn = self.engine.connect()
            with conn:
                yield conn

    def run(
        self,
        fn: Callable[[Connection], T],
        *,
        write: bool,
        on_rollback: Callable[[], None] | None = None,
        schema_change: bool = False,
        serial: bool = False,
        single: bool = False,
    ) -> T:
        """Run ``fn(conn)`` in one transaction; commit on success, roll back on any error.

        ``schema_change`` marks the transaction that checks and migrates the schema: the dialect
        may prepare the connection for it (see :meth:`Dialect.schema_change`). ``serial`` marks
        a call whose first statement locks a row that every such call locks, so that such calls
        run one after the other, each seeing what the previous ones committed (a check that
        reads many rows and then writes, such as the parent context cycle check). ``single``
        marks a read that is one statement (see :meth:`Dialect.begin`).
        """
        if write and self.dialect.read_only:
            raise FailedPreconditionError(
                f"{self.description} was opened read-only, and this call writes; nothing was "
                "changed: open the store without read_only (or mode=ro) to change it"
            )
        joined: _Open | None = getattr(self._open, "transaction", None)
        if joined is not None:
            return self._run_joined(joined, fn, on_rollback)
        attempt = 0
        conflicts = 0
        reconnects = 0
        while True:
            attempt += 1
            try:
                with self._serialized(), self._writing(write):
                    return self._run_once(fn, write, schema_change, serial, single)
            except _Reconnect as lost:
                if on_rollback is not None:
                    on_rollback()
                reconnects += 1
                if reconnects <= MAX_RECONNECTS:
                    # A server that dropped one pooled connection (a restart) dropped the others.
                    self.engine.dispose()
                    continue
                exc = lost.error
                typed = self.typed_error(exc, self.dialect.classify(exc), attempt)
                if typed is None:
                    raise exc from None
                raise typed from None
            except DBAPIError as exc:
                if on_rollback is not None:
                    on_rollback()
                failure = self.dialect.classify(exc)
                if failure is Failure.RETRY and attempt < MAX_ATTEMPTS:
                    _backoff(attempt)
                    continue
                if failure is Failure.CONFLICT:
                    conflicts += 1
                    if conflicts < MAX_CONFLICT_ATTEMPTS:
                        continue
                typed = self.typed_error(exc, failure, attempt)
                if typed is None:
                    raise
                raise typed from None
            except Exception as exc:
                if on_rollback is not None:
                    on_rollback()
                foreign = self.dialect.classify_foreign(exc)
                typed = None if foreign is None else self.typed_error(exc, foreign, attempt)
                if typed is None:
                    raise
                raise typed from None
            except BaseException:
                if on_rollback is not None:
                    on_rollback()
                raise

    @contextlib.contextmanager
    def transaction(self, on_rollback: Callable[[], None] | None = None) -> Iterator[None]:
        """One write transaction for every call this thread makes in the block: committed when
        the block ends, rolled back when it raises or when any call in it failed (so a failed
        call that the block catches still leaves the database as it was before the block).

        Calls in the block are not retried one by one: a deadlock or a serialization failure
        raises :class:`~mltrail.errors.AbortedError` and the block may be run again. Only
        beginning the transaction is retried (a busy SQLite database).
        """
        if getattr(self._open, "transaction", None) is not None:
            raise FailedPreconditionError(
                "a transaction is already open in this thread; transactions do not nest: "
                "make the calls in the one that is open"
            )
        if self.dialect.read_only:
            raise FailedPreconditionError(
                f"{self.description} was opened read-only and a transaction writes; open the "
                "store without read_only (or mode=ro) to change it"
            )
        with self._serialized(), self._writing(True):
            conn = self._begun(on_rollback)
            opened = _Open(conn, on_rollback)
            self._open.transaction = opened
            try:
                yield
                if opened.failed is not None:
                    raise FailedPreconditionError(
                        f"a call in the transaction failed ({opened.failed}); nothing of the "
                        "transaction was written"
                    )
                feed.flush(conn, self.dialect)
                conn.commit()
            except BaseException as exc:
                with contextlib.suppress(DBAPIError):
                    conn.rollback()
                with contextlib.suppress(Exception):
                    feed.discard(conn)
                opened.rolled_back()
                if isinstance(exc, DBAPIError):
                    typed = self.typed_error(exc, self.dialect.classify(exc), 1)
                    if typed is not None:
                        raise typed from None
                raise
            finally:
                self._open.transaction = None
                if not conn.invalidated:
                    self.dialect.finish(conn)
                if self._held is None:
                    conn.close()

    def _begun(self, on_rollback: Callable[[], None] | None) -> Connection:
        """A connection with a write transaction begun (retried while the database is busy)."""
        attempt = 0
        reconnects = 0
        while True:
            attempt += 1
            conn = self._checked_out()
            try:
                self.dialect.begin(conn, write=True, serial=True)
                if self._held is None:
                    # The block's calls are not run again one by one, so its connection is
                    # known alive first: a server that closed it is found here, not mid-block.
                    conn.exec_driver_sql("SELECT 1").all()
                return conn
            except DBAPIError as exc:
                lost = self._held is None and _disconnected(conn, exc)
                with contextlib.suppress(DBAPIError):
                    conn.rollback()
                if lost:
                    conn.invalidate()
                if self._held is None:
                    conn.close()
                if lost and reconnects < MAX_RECONNECTS:
                    reconnects += 1
                    self.engine.dispose()
                    continue
                failure = self.dialect.classify(exc)
                if failure is Failure.RETRY and attempt < MAX_ATTEMPTS:
                    _backoff(attempt)
                    continue
                typed = self.typed_error(exc, failure, attempt)
                if typed is None:
                    raise
                raise typed from None

    def _run_joined(
        self, joined: _Open, fn: Callable[[Connection], T], on_rollback: Callable[[], None] | None
    ) -> T:
        """A call inside :meth:`transaction`: on its connection, no transaction of its own."""
        if joined.failed is not None:
            raise FailedPreconditionError(
                f"a call in this transaction failed already ({joined.failed}); the transaction "
                "will be rolled back: leave the block"
            )
        if on_rollback is not None:
            joined.callbacks.append(on_rollback)
        try:
            return fn(joined.conn)
        except BaseException as exc:
            joined.failed = type(exc).__name__
            if isinstance(exc, DBAPIError):
                failure = self.dialect.classify(exc)
                typed = self.typed_error(exc, failure, 1)
                if typed is not None:
                    raise typed from None
            elif isinstance(exc, Exception):
                foreign = self.dialect.classify_foreign(exc)
                typed = None if foreign is None else self.typed_error(exc, foreign, 1)
                if typed is not None:
                    raise typed from None
            raise

    def _run_once(
        self,
        fn: Callable[[Connection], T],
        write: bool,
        schema_change: bool,
        serial: bool,
        single: bool = False,
    ) -> T:
        conn = self._checked_out()
        committing = False
        # A call may send its COMMIT with its last statements (Dialect.run_batch, run_reads).
        commits = not schema_change and (write or self.dialect.batches_reads)
        owns = call_commits.set(True) if commits else None
        sent = commit_sent.set(False) if commits else None
        try:
            with self.dialect.schema_change(conn) if schema_change else contextlib.nullcontext():
                try:
                    self.dialect.begin(conn, write=write, serial=serial, single=single)
                    result = fn(conn)
                    if write and not schema_change:
                        # What the call changed goes to the change feed, last before the commit.
                        feed.flush(conn, self.dialect)
                    committing = True
                    conn.commit()
                    return result
                except BaseException:
                    with contextlib.suppress(DBAPIError):
                        conn.rollback()
                    if write:
                        with contextlib.suppress(Exception):
                            feed.discard(conn)  # nothing noted survives a rollback
                    raise
        except DBAPIError as exc:
            if self._held is None and (
                self.dialect.classify(exc) is Failure.UNAVAILABLE or _disconnected(conn, exc)
            ):
                conn.invalidate()  # the connection is broken: never hand it out again
                # A write whose COMMIT went with its last request may have been committed (a
                # read may always run again).
                committing = committing or (write and commit_sent.get())
                if not committing and not schema_change and _disconnected(conn, exc):
                    # Nothing of the call can have been committed: it may run again on a new
                    # connection (the server restarted, or dropped an idle connection).
                    raise _Reconnect(exc) from exc
            raise
        finally:
            if owns is not None and sent is not None:
                call_commits.reset(owns)
                commit_sent.reset(sent)
            if not conn.invalidated:
                self.dialect.finish(conn)
            if self._held is None:
                conn.close()

    def _checked_out(self) -> Connection:
        """The connection of a call: the shared one (kept once made), or one from the pool."""
        conn = self._held
        if conn is None:
            with self._translate_connect_errors():
                conn = self.engine.connect()
            if self._lock is not None:
                self._held = conn
        return conn

    def _writing(self, write: bool) -> contextlib.AbstractContextManager[Any]:
        """The dialect's writer lock for a write transaction (see ``Dialect.writer_lock``)."""
        lock = self.dialect.writer_lock if write else None
        return lock if lock is not None else contextlib.nullcontext()

    @contextlib.contextmanager
    def _serialized(self) -> Iterator[None]:
        if self._lock is None:
            yield
        else:
            with self._lock:
                yield

    @contextlib.contextmanager
    def _translate_connect_errors(self) -> Iterator[None]:
        try:
            yield
        except DBAPIError as exc:
            failure = self.dialect.classify(exc)
            if failure in (Failure.UNAVAILABLE, Failure.DENIED, Failure.OTHER):
                raise UnavailableError(
                    f"cannot connect to {self.description}: {self.dialect.reason(exc)}; "
                    f"{self.dialect.connect_hint(exc)}"
                ) from None
            typed = self.typed_error(exc, failure, 1)
            if typed is None:
                raise
            raise typed from None
        except Exception as exc:
            foreign = self.dialect.classify_foreign(exc)
            typed = None if foreign is None else self.typed_error(exc, foreign, 1)
            if typed is None:
                raise
            raise typed from None

    def typed_error(self, exc: Exception, failure: Failure, attempts: int) -> MltrailError | None:
        """The mltrail error for a database error that ``failure`` classifies (None: raise
        ``exc`` as it is). No message contains SQL text."""
        desc = self.description
        reason = self.dialect.reason(exc) if isinstance(exc, DBAPIError) else str(exc)
        if failure is Failure.CONFLICT:
            return AlreadyExistsError(
                f"the change conflicts with an existing row that must be unique ({reason}); "
                "look the existing entity up and update it instead of creating it again"
            )
        if failure is Failure.RETRY:
            return AbortedError(
                f"{desc} stayed busy or deadlocked after {attempts} attempts ({reason}); "
                "nothing was changed, retry the call later"
            )
        if failure is Failure.UNAVAILABLE:
            return UnavailableError(
                f"cannot use {desc}: {reason}; the call was not committed (if the connection "
                "broke while committing, check whether it took effect): check that the "
                "database is reachable, then retry"
            )
        if failure is Failure.INVALID:
            return InvalidArgumentError(
                f"{desc} cannot store a value of this call ({reason}); nothing was changed"
            )
        if failure is Failure.DENIED:
            return PermissionDeniedError(
                f"the database user of {desc} lacks a privilege this call needs ({reason}); "
                "nothing was changed: grant it the privileges listed in docs/backends.md"
            )
        if failure is Failure.DEADLINE:
            timeout = self.dialect.statement_timeout
            limit = f"{timeout:g} s" if timeout is not None else "a server-side time limit"
            return DeadlineExceededError(
                f"{desc} stopped {self.dialect.timeout_scope} when it ran past the statement "
                f"timeout ({limit}); nothing was changed: narrow the request "
                "(a more selective filter, a limit, fewer lineage hops) or open the store with "
                "a larger statement_timeout (0 disables it)",
                timeout=timeout,
            )
        if failure is Failure.TOO_LARGE and isinstance(exc, DBAPIError):
            return InvalidArgumentError(
                f"the request is too large for {desc}: {self.dialect.too_large_reason(exc)}; "
                "nothing was changed: narrow it (fewer values or ids per call, a simpler "
                "filter)"
            )
        if failure is Failure.FULL:
            return FailedPreconditionError(
                f"{desc} is full ({reason}); nothing was changed: free disk space (or raise "
                "the database's size limit), then retry"
            )
        if failure is Failure.DAMAGED:
            return FailedPreconditionError(self.dialect.damaged_message(desc, reason))
        return None


def _backoff(attempt: int) -> None:
    time.sleep(min(0.002 * 2**attempt, 0.5) * (0.5 + random.random()))


def _disconnected(conn: Connection, exc: DBAPIError) -> bool:
    """Whether ``exc`` broke the connection (e.g. a statement the server refused by closing)."""
    if exc.connection_invalidated or conn.invalidated:
        return True
    orig: Any = exc.orig
    return bool(conn.dialect.is_disconnect(orig, conn.connection.dbapi_connection, None))


def statement_timeout_option(value: Any) -> float | None:
    """The ``statement_timeout`` option (seconds; 0 or ``none`` disables it) as seconds."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "off")):
        return None
    try:
        if isinstance(value, bool):
            raise ValueError(value)
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = float("nan")
    if not seconds >= 0 or seconds == float("inf"):
        raise InvalidArgumentError(
            f"statement_timeout={value!r} must be a number of seconds (0 or none: no timeout), "
            f"e.g. statement_timeout=60; the default is {DEFAULT_STATEMENT_TIMEOUT:g}"
        )
    return seconds or None


def read_only_option(value: Any) -> bool:
    """The ``read_only`` option, a bool or its text (``true``, ``0``...)."""
    return boolean_option(value, "read_only")


class _Open:
    """A transaction opened by :meth:`Database.transaction`."""

    def __init__(self, conn: Connection, on_rollback: Callable[[], None] | None) -> None:
        self.conn = conn
        self.failed: str | None = None  # the error class of a call that failed in it
        self.callbacks: list[Callable[[], None]] = [on_rollback] if on_rollback else []

    def rolled_back(self) -> None:
        for callback in self.callbacks:
            with contextlib.suppress(Exception):
                callback()


class _Reconnect(Exception):
    """The connection of a call broke before its commit (the call may run again)."""

    def __init__(self, error: DBAPIError) -> None:
        super().__init__(str(error))
        self.error = error
