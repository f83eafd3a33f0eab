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

from mltrail.backends.sql.dialects import Dialect, dialect_for
from mltrail.backends.sql.dialects.base import Failure
from mltrail.errors import (
    AbortedError,
    AlreadyExistsError,
    InvalidArgumentError,
    PermissionDeniedError,
    UnavailableError,
)

T = TypeVar("T")

#: How many times a call that hit a deadlock, a serialization failure or a busy database is run.
MAX_ATTEMPTS = 8
#: How many times a call that hit a unique-constraint race is run again before the violation is
#: reported; a second attempt sees the row the racing writer committed.
MAX_CONFLICT_ATTEMPTS = 3


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
        query_options = {k: v for k, v in self.url.query.items()}
        self.engine = self.dialect.create_engine(self.url, {**query_options, **(options or {})})
        self.description = self.dialect.describe(self.url)
        self._lock = threading.RLock() if self.dialect.single_connection else None
        # A store on one shared connection keeps it checked out instead of borrowing it per call.
        self._held: Connection | None = None

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
    ) -> T:
        """Run ``fn(conn)`` in one transaction; commit on success, roll back on any error.

        ``schema_change`` marks the transaction that checks and migrates the schema: the dialect
        may prepare the connection for it (see :meth:`Dialect.schema_change`). ``serial`` marks
        a call whose first statement locks a row that every such call locks, so that such calls
        run one after the other, each seeing what the previous ones committed (a check that
        reads many rows and then writes, such as the parent context cycle check).
        """
        attempt = 0
        conflicts = 0
        while True:
            attempt += 1
            try:
                with self._serialized():
                    return self._run_once(fn, write, schema_change, serial)
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
                    raise AlreadyExistsError(
                        "the change conflicts with an existing row that must be unique "
                        f"({_first_line(exc.orig)}); look the existing entity up and update it "
                        "instead of creating it again"
                    ) from None
                if failure is Failure.RETRY:
                    raise AbortedError(
                        f"{self.description} stayed busy or deadlocked after {attempt} attempts "
                        f"({_first_line(exc.orig)}); nothing was changed, retry the call later"
                    ) from None
                if failure is Failure.UNAVAILABLE:
                    raise UnavailableError(
                        f"cannot use {self.description}: {_first_line(exc.orig)}; the call was "
                        "not committed (if the connection broke while committing, check whether "
                        "it took effect): check that the database is reachable, then retry"
                    ) from None
                if failure is Failure.INVALID:
                    raise InvalidArgumentError(
                        f"{self.description} cannot store a value of this call "
                        f"({_first_line(exc.orig)}); nothing was changed"
                    ) from None
                if failure is Failure.DENIED:
                    raise PermissionDeniedError(
                        f"the database user of {self.description} lacks a privilege this call "
                        f"needs ({_first_line(exc.orig)}); nothing was changed: grant it the "
                        "privileges listed in docs/backends.md"
                    ) from None
                raise
            except BaseException:
                if on_rollback is not None:
                    on_rollback()
                raise

    def _run_once(
        self, fn: Callable[[Connection], T], write: bool, schema_change: bool, serial: bool
    ) -> T:
        conn = self._held
        if conn is None:
            with self._translate_connect_errors():
                conn = self.engine.connect()
            if self._lock is not None:
                self._held = conn
        try:
            with self.dialect.schema_change(conn) if schema_change else contextlib.nullcontext():
                try:
                    self.dialect.begin(conn, write=write, serial=serial)
                    result = fn(conn)
                    conn.commit()
                    return result
                except BaseException:
                    with contextlib.suppress(DBAPIError):
                        conn.rollback()
                    raise
        except DBAPIError as exc:
            if self._held is None and self.dialect.classify(exc) is Failure.UNAVAILABLE:
                conn.invalidate()  # the connection is broken: never hand it out again
            raise
        finally:
            if self._held is None:
                conn.close()

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
            if self.dialect.classify(exc) in (Failure.UNAVAILABLE, Failure.DENIED, Failure.OTHER):
                raise UnavailableError(
                    f"cannot connect to {self.description}: {_first_line(exc.orig)}; "
                    f"{self.dialect.connect_hint(exc)}"
                ) from None
            raise


def _backoff(attempt: int) -> None:
    time.sleep(min(0.002 * 2**attempt, 0.5) * (0.5 + random.random()))


def _first_line(error: object) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
