"""What every SQL dialect provides; subclasses override only where their database differs."""

from __future__ import annotations

import abc
import contextlib
import contextvars
import enum
import threading
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, create_engine, insert
from sqlalchemy.engine import URL
from sqlalchemy.engine import Dialect as SADialect
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.sql.dml import Insert

from mltrail.backends.sql.fast import Batch, FastStatement, execute_text

#: The bulk inserts of :meth:`Dialect.insert_rows`, by dialect, table, mode and columns.
_ROW_INSERTS: dict[tuple[Any, ...], FastStatement] = {}
#: A row of the change feed: (kind, entity id, source site or None).
FeedRow = tuple[int, int, "int | None"]
#: Feed rows per statement that writes them (a huge write is split).
FEED_CHUNK = 5_000

#: True while a call runs in a transaction of its own (not inside ``store.transaction()``):
#: its last batch may then carry the transaction's COMMIT (see :meth:`Dialect.run_batch`).
call_commits: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "mltrail_call_commits", default=False
)
#: Set when a dialect sent the call's COMMIT with its last batch: from then on the call may have
#: been committed, and a lost connection must not make the runner run it again.
commit_sent: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "mltrail_commit_sent", default=False
)


def with_commit(text: str, last: bool) -> tuple[str, bool]:
    """``text`` (statements of one request) ending with the call's COMMIT when it is the call's
    ``last`` request and the call has a transaction of its own (:data:`call_commits`), and
    whether it does; then :data:`commit_sent` is set."""
    if not (last and call_commits.get()):
        return text, False
    commit_sent.set(True)
    return f"{text};\nCOMMIT", True


class Failure(enum.Enum):
    """How a database error is handled by the transaction runner."""

    RETRY = "retry"  # deadlock, serialization failure, busy: run the whole call again
    CONFLICT = "conflict"  # a unique constraint was violated (possibly by a racing writer)
    UNAVAILABLE = "unavailable"  # the database cannot be reached (or the connection was lost)
    DENIED = "denied"  # the database user lacks a privilege the statement needs
    INVALID = "invalid"  # the database cannot hold a value of the call (e.g. a NUL character)
    DEADLINE = "deadline"  # a statement ran past the statement timeout and was stopped
    TOO_LARGE = "too large"  # the request is beyond a limit of the database (size, parameters)
    FULL = "full"  # the disk (or the database's size limit) is full
    DAMAGED = "damaged"  # the database file is damaged, or not a database of this kind
    OTHER = "other"


class Dialect(abc.ABC):
    """Dialect-specific behaviour of the SQL backend."""

    name = "generic"
    #: True when the engine holds one shared connection that threads must take turns on.
    single_connection = False
    #: True when schema changes (CREATE, ALTER, DROP) are part of the transaction and roll back
    #: with it; False when each one commits at once (MySQL, MariaDB).
    transactional_ddl = True
    #: Seconds a statement may run before the database stops it; None: no bound. Set from the
    #: ``statement_timeout`` option before :meth:`create_engine` is called.
    statement_timeout: float | None = None
    #: True when the store was opened read-only (set before :meth:`create_engine`, which may
    #: also set it from a dialect's own option such as SQLite's ``mode=ro``).
    read_only = False
    #: What the statement timeout stopped on this database, for messages.
    timeout_scope = "a statement of this call"
    #: A lock the write transactions of this process take turns on, where the database lets one
    #: writer in at a time anyway (a SQLite file): threads queue on it instead of polling the
    #: database's lock. None: writers go to the database at once.
    writer_lock: threading.Lock | None = None

    def engine_url(self, url: URL) -> URL:
        """The URL SQLAlchemy opens for the URL the user gave (e.g. with a driver chosen)."""
        return url

    def create_engine(self, url: URL, options: dict[str, Any]) -> Engine:
        """Build the engine for ``url``; ``options`` are the URL's query options mltrail knows."""
        return create_engine(url, **options)

    def describe(self, url: URL) -> str:
        """A human-readable name of the database (no password) for messages."""
        return url.render_as_string(hide_password=True)

    def connect_hint(self, error: DBAPIError) -> str:
        """What to check when a connection cannot be opened, for the error message."""
        return "check the URL, that the server runs and that the credentials are right"

    def text_index(self, columns: list[str]) -> tuple[list[str], dict[str, Any]]:
        """The columns and options of an index over ``columns``, the last of which holds text
        of any length (a property's string value). The default indexes them as given."""
        return columns, {}

    def table_options(self, dialect: SADialect) -> dict[str, Any]:
        """Keyword options for every table mltrail creates on ``dialect`` (a SQLAlchemy
        dialect of a live connection): storage engine, character set, collation."""
        return {}

    def begin(
        self, conn: Connection, *, write: bool, serial: bool = False, single: bool = False
    ) -> None:
        """Start the transaction of one public call on ``conn``.

        ``serial`` marks a call that starts by locking a row every such call locks (see
        :meth:`Database.run`): its later statements must see what earlier holders committed.
        ``single`` marks a read whose answer is one statement: a dialect whose statements each
        read one snapshot may leave the database's transaction out.
        """
        conn.begin()

    def insert_returning_ids(
        self,
        conn: Connection,
        plain: FastStatement,
        returning: FastStatement,
        table: Table,
        rows: list[dict[str, Any]],
    ) -> list[int]:
        """Insert ``rows`` into ``table`` and return their new ids, in order.

        ``plain`` and ``returning`` are the single-row INSERT without and with ``RETURNING id``.
        The default uses RETURNING: one statement per row for a single row, SQLAlchemy's batched
        multi-row form otherwise.
        """
        if len(rows) == 1:
            cursor = returning.execute(conn, rows[0])
            try:
                return [int(cursor.fetchone()[0])]
            finally:
                cursor.close()
        result = conn.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
        )
        return [int(row[0]) for row in result]

    def insert_groups_returning_ids(
        self,
        conn: Connection,
        groups: list[tuple[FastStatement, FastStatement, Table, list[dict[str, Any]]]],
    ) -> list[list[int]]:
        """:meth:`insert_returning_ids` for each group (``plain``, ``returning``, table, rows),
        in order. A server dialect sends one-row groups together."""
        return [
            self.insert_returning_ids(conn, plain, returning, table, rows) if rows else []
            for plain, returning, table, rows in groups
        ]

    def run_batch(self, conn: Connection, batch: Batch, *, last: bool = False) -> None:
        """Run the statements of ``batch`` in order. The default runs each on its own; a server
        dialect sends them in as few round trips as its driver allows.

        ``last``: nothing of the call runs after the batch but the commit. A server dialect
        whose driver then skips its own COMMIT may send the COMMIT with the batch (only when
        the call has a transaction of its own, :data:`call_commits`; it sets
        :data:`commit_sent` first).
        """
        for statement, rows in batch.items:
            statement.execute_many(conn, rows)
        batch.items.clear()
        self.run_texts(conn, batch.tail)
        batch.tail.clear()

    def run_texts(self, conn: Connection, statements: list[str]) -> None:
        """Run ``statements`` (SQL text without parameters) in order. The default runs each on
        its own; a server dialect sends them in one request where its driver allows."""
        for sql in statements:
            execute_text(conn, sql)

    @abc.abstractmethod
    def feed_statements(self, rows: list[FeedRow]) -> list[str]:
        """The statements (SQL text) that append ``rows`` to the change feed (``mlt_change``),
        at positions after every position a transaction committed before this one can use.

        Run as the last statements before the commit: positions must be handed out in commit
        order (a transaction that commits later never holds a smaller position), so that a
        reader of the feed who continues from the last position it read misses nothing.
        """

    def feed_batch(self, batch: Batch, rows: list[FeedRow]) -> None:
        """Add the change feed's write of ``rows`` to ``batch``, last (see
        :meth:`feed_statements`); a dialect may add it as a statement with parameters."""
        batch.tail.extend(self.feed_statements(rows))

    def id_reservation(self, table: Table) -> FastStatement | None:
        """A read whose rows are ``count`` new ids of ``table`` (parameter ``count``), taken
        from its sequence and never handed out again; None when ids come from the inserts.

        A call that reads before it inserts sends it with its reads: the rows it then inserts
        carry their ids and wait in its last batch, instead of a request of their own.
        """
        return None

    #: True when :meth:`run_reads` sends its statements together (a server's round trips).
    batches_reads = False

    def run_reads(
        self,
        conn: Connection,
        reads: list[tuple[FastStatement, dict[str, Any]]],
        *,
        last: bool = False,
    ) -> list[list[tuple[Any, ...]]]:
        """The rows of each of ``reads`` (statements that change nothing), in order. The
        default runs each on its own; a server dialect sends them in as few round trips as its
        driver allows. ``last``: as for :meth:`run_batch` (a read call's last statements)."""
        return [statement.all(conn, params) for statement, params in reads]

    @staticmethod
    def insert_one_by_one(
        conn: Connection, plain: FastStatement, rows: list[dict[str, Any]]
    ) -> list[int]:
        """Insert ``rows`` with one statement each, reading every new id from ``lastrowid``."""
        ids = []
        for row in rows:
            cursor = plain.execute(conn, row)
            ids.append(int(cursor.lastrowid))
            cursor.close()
        return ids

    @abc.abstractmethod
    def insert_ignore(self, table: Table) -> Insert:
        """An INSERT into ``table`` that silently skips rows whose key already exists."""

    def insert_rows(
        self, conn: Connection, table: Table, rows: list[dict[str, Any]], *, ignore: bool = False
    ) -> None:
        """Insert many ``rows`` (dicts with the same keys) into ``table``; with ``ignore``, rows
        whose key exists already are skipped. A server dialect may bulk-load them."""
        if rows:
            key = (type(self), table.name, ignore, tuple(rows[0]))
            statement = _ROW_INSERTS.get(key)
            if statement is None:  # compiled once per shape, not per call
                base = self.insert_ignore(table) if ignore else insert(table)
                values: dict[str, Any] = {name: bindparam(name) for name in key[3]}
                statement = _ROW_INSERTS[key] = FastStatement(base.values(values))
            statement.execute_many(conn, rows)

    @abc.abstractmethod
    def upsert(self, table: Table, columns: tuple[str, ...]) -> Insert:
        """An INSERT into ``table`` that, for a row whose primary key exists, sets ``columns``
        of the stored row to the row's values instead."""

    def finish(self, conn: Connection) -> None:  # noqa: B027 (a hook; most dialects need none)
        """Called after the transaction of a call on ``conn`` has ended. Default: nothing."""

    def reason(self, error: DBAPIError) -> str:
        """What the database said, in one line and without SQL text, for messages."""
        return first_line(error.orig)

    def too_large_reason(self, error: DBAPIError) -> str:
        """Which limit a request beyond the database's limits hit (:attr:`Failure.TOO_LARGE`)."""
        return self.reason(error)

    def damaged_message(self, description: str, reason: str) -> str:
        """The message for a damaged database (:attr:`Failure.DAMAGED`)."""
        return f"{description} is damaged ({reason}); nothing was changed: restore it from a backup"

    def classify_foreign(self, error: Exception) -> Failure | None:
        """Classify an exception that is not a DBAPI error but comes from the driver (``None``:
        not the database's; raise it as it is)."""
        return None

    def classify(self, error: DBAPIError) -> Failure:
        """Decide whether a database error is retried, reported as a conflict, or raised."""
        if isinstance(error, IntegrityError):
            return Failure.CONFLICT
        if isinstance(error, DataError):
            return Failure.INVALID
        if error.connection_invalidated:
            return Failure.UNAVAILABLE
        return Failure.OTHER

    @contextlib.contextmanager
    def migration_lock(self, conn: Connection) -> Iterator[None]:
        """Hold a database-wide lock while the schema is checked and migrated.

        The default relies on the migration transaction itself to serialize migrators.
        """
        yield

    @contextlib.contextmanager
    def schema_change(self, conn: Connection) -> Iterator[None]:
        """Prepare ``conn`` for the transaction that checks and migrates the schema.

        Entered before that transaction begins and left after it has committed or rolled back.
        The default does nothing.
        """
        yield

    def check_schema_change(self, conn: Connection) -> None:
        """Check, before the migration transaction commits, what was not enforced while the
        schema changed; raise to roll the migration back. The default checks nothing."""
        return None


def feed_values(rows: list[FeedRow], position: str | None = None) -> str:
    """The rows of a feed insert as SQL ``VALUES`` text: ``(kind, id, source)`` each, with a
    leading ``position`` expression (``{i}`` replaced by the row's index from 1) when given.
    Every value is an int made by the store, so the text is built directly."""
    parts = []
    for index, (kind, entity_id, source) in enumerate(rows, 1):
        lead = "" if position is None else position.format(i=index) + ", "
        src = "NULL" if source is None else str(int(source))
        parts.append(f"({lead}{int(kind)}, {int(entity_id)}, {src})")
    return ", ".join(parts)


def first_line(error: object) -> str:
    """The first line of ``str(error)`` (the type's name when it is empty)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
