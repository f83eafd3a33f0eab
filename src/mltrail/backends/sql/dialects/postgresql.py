"""PostgreSQL, through psycopg 3 (``pip install 'mltrail[postgres]'``) or psycopg2.

* Calls run at REPEATABLE READ (read calls also READ ONLY): every statement of a call sees the
  same snapshot, as on SQLite, so the store's checks and writes agree. A unique key that a
  concurrent call took meanwhile makes the call fail with a unique violation, which the runner
  retries (the retry sees the committed row); deadlocks (40P01) and serialization failures
  (40001) are retried too. The migration transaction runs at READ COMMITTED, so that it sees
  what an earlier migrator committed while it waited for the lock.
* Schema changes are transactional: the check-and-migrate transaction holds a transaction-level
  advisory lock, so concurrent openers of an empty or old database wait for one migrator and then
  find the database up to date; a failed migration rolls back completely.
* Sessions plan for storage where random reads are cheap (``random_page_cost`` 1.1, as usual for
  SSDs and cached data), so that lineage walks look events up by index.
* Sessions have a ``statement_timeout`` (the store's option, 30 s by default): the server
  cancels a statement that runs longer (SQLSTATE 57014). The migration transaction lifts it
  (``SET LOCAL statement_timeout = 0``): a migration, and the wait for another migrator's
  lock, must not stop halfway.
* psycopg runs ``executemany`` in pipeline mode; a failing row (a unique key a concurrent call
  took, a deadlock: errors the runner handles) then left psycopg's own pipeline aborted when it
  closed, and psycopg logged "error ignored terminating <psycopg.Pipeline [INERROR]>" on stderr.
  mltrail opens that pipeline itself, keeps the first error and drops the abort that follows.
  The reads a write call can make at once (and the BEGIN before them) go in one pipeline, with
  the ids of the nodes ``put_execution`` will create, taken from their sequences; the rows it
  inserts last (those nodes, properties, events, memberships, the change feed's write, and
  the COMMIT) go as one request of several statements, their values bound by psycopg on the
  client: one round trip for all of them instead of one or two per statement. Each of those
  statements is prepared on the server once per connection (``PREPARE``) and the request
  holds ``EXECUTE`` statements of them: the server does not parse and plan every statement
  again.
* Change feed positions (see :mod:`mltrail.backends.sql.feed`) come from the sequence
  ``mlt_change_seq``, taken under a transaction-level advisory lock held until the commit, so
  that positions commit in order without making concurrent writers conflict on a row.
* Strings compare by code point (every text column is created with ``COLLATE "C"``), so equality,
  ordering and ``LIKE`` agree with SQLite and MySQL whatever the database's locale.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import weakref
from collections.abc import Iterator
from typing import Any, ClassVar

from sqlalchemy import Connection, Engine, Table, event, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.sql.dml import Insert

from mltrail.backends.sql.dialects._server import (
    POOL_OPTIONS,
    ServerDialect,
    check_files,
    convert,
)
from mltrail.backends.sql.dialects.base import (
    FEED_CHUNK,
    Failure,
    FeedRow,
    feed_values,
    with_commit,
)
from mltrail.backends.sql.fast import Batch, FastStatement, wrap_error
from mltrail.errors import InvalidArgumentError

#: The planner's cost of a random page read in mltrail's sessions (PostgreSQL's default is 4,
#: meant for spinning disks). With 4, a recursive lineage walk over a table of a few thousand
#: events scans the whole event table at every step (the planner assumes 10 rows per step)
#: instead of looking events up by artifact: a 1000-step walk took 450 ms instead of 15 ms.
#: ``random_page_cost=server`` in the URL keeps the server's own setting.
DEFAULT_RANDOM_PAGE_COST = 1.1

#: A batch longer than this (characters of SQL) is sent statement by statement.
MAX_BATCH_TEXT = 1_000_000

#: The advisory lock a write transaction holds from taking its change feed positions to its
#: commit (per database; see PostgreSQLDialect.feed_statements).
FEED_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"mltrail change feed").digest()[:8], "big", signed=True
)

#: The advisory lock taken while the schema is checked and migrated (per database).
MIGRATION_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"mltrail schema migration").digest()[:8], "big", signed=True
)

_MODE, _MIGRATING = "mltrail_mode", "mltrail_migrating"  # keys of the connection's info
# serialization, deadlock, lock, too many clients, a prepared statement the session lost
_RETRY = {"40001", "40P01", "55P03", "53300", "26000"}
_UNAVAILABLE_CLASSES = ("08", "28", "3D", "57P")  # connection, authorization, database, shutdown
_DENIED = {"42501"}  # insufficient privilege
_CANCELED = "57014"  # query_canceled: the statement timeout (or a cancel request) stopped it
_TOO_LARGE_CLASS = "54"  # program limit exceeded: statement too complex, too many columns...
#: psycopg refuses a statement with more bind parameters than the protocol can carry (65535)
#: before sending it, as an OperationalError without SQLSTATE.
_TOO_MANY_PARAMETERS = "number of parameters must be"
_UNSET: Any = object()  # an option not given


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

    def begin(
        self, conn: Connection, *, write: bool, serial: bool = False, single: bool = False
    ) -> None:
        # The driver starts the transaction with the isolation level and access mode set on the
        # connection ("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); set them only when the
        # previous call on this connection wanted others.
        info = conn.connection.info
        mode = (
            "migrate"
            if info.get(_MIGRATING)
            else "serial"
            if serial
            else "write"
            if write
            else "read"
        )
        if info.get(_MODE) != mode:
            raw = conn.connection.dbapi_connection
            sa_dialect: Any = conn.dialect
            # Calls that wait for a lock first read at READ COMMITTED: a REPEATABLE READ
            # snapshot taken by the waiting statement would miss what the holder committed.
            level = "READ COMMITTED" if mode in ("migrate", "serial") else "REPEATABLE READ"
            sa_dialect.set_isolation_level(raw, level)
            sa_dialect.set_readonly(raw, mode == "read")
            info[_MODE] = mode
        conn.begin()

    @contextlib.contextmanager
    def schema_change(self, conn: Connection) -> Iterator[None]:
        # The migration transaction waits for the advisory lock in its first statement; at
        # REPEATABLE READ its snapshot would predate what the previous holder committed.
        info = conn.connection.info
        info[_MIGRATING] = True
        try:
            yield
        finally:
            info.pop(_MIGRATING, None)
            # psycopg deallocates every prepared statement after an ALTER or a DROP.
            _PREPARED.pop(conn.connection.dbapi_connection, None)

    def connect_args(self, options: dict[str, Any]) -> dict[str, Any]:
        args = dict(options)
        cost = args.pop("random_page_cost", DEFAULT_RANDOM_PAGE_COST)
        settings = []
        if str(cost).strip().lower() != "server":
            settings.append(f"-c random_page_cost={convert(cost, 'float', 'random_page_cost')}")
        if self.statement_timeout is not None:
            # In ms, at least 1 (0 would mean no timeout).
            settings.append(f"-c statement_timeout={max(1, round(self.statement_timeout * 1000))}")
        if settings:
            given = str(args.get("options") or "").strip()
            args["options"] = " ".join([given, *settings]).strip()
        check_files(args, ("sslrootcert", "sslcert", "sslkey", "sslcrl"), self.title)
        threshold = args.pop("prepare_threshold", _UNSET)
        if self._driver == "psycopg":
            _check_libpq_options(args)
            if threshold is not _UNSET:
                args["prepare_threshold"] = prepare_threshold_option(threshold)
        elif threshold is not _UNSET:
            raise InvalidArgumentError(
                "prepare_threshold is an option of psycopg 3 (postgresql+psycopg://, the "
                "default driver); psycopg2 prepares nothing: leave the option out"
            )
        return args

    def configure(self, engine: Engine) -> None:
        if self._driver == "psycopg":
            event.listen(engine, "do_executemany", _executemany_in_own_pipeline)
            event.listen(engine, "connect", _quote_negative_ints_in_parentheses)
            event.listen(engine, "connect", _nothing_prepared)
            sa_dialect: Any = engine.dialect
            sa_dialect.do_rollback = functools.partial(_rollback, sa_dialect.do_rollback)

    def run_batch(self, conn: Connection, batch: Batch, *, last: bool = False) -> None:
        # One simple-protocol request of several statements, the values bound by psycopg on
        # the client: far less work in psycopg than a pipeline of one message per row. The
        # last batch of a call with its own transaction ends with its COMMIT: psycopg's
        # commit() then sends nothing (the server reported the connection idle).
        if self._driver != "psycopg" or len(batch) < 2:
            super().run_batch(conn, batch)
            return
        from psycopg import ClientCursor, Error

        raw: Any = conn.connection.dbapi_connection
        with ClientCursor(raw) as cursor:
            parts: list[str] = []
            # Each statement is prepared once per connection (unless the URL turned psycopg's
            # prepared statements off, e.g. for a pooler): the server then parses and plans
            # it once, where each statement of a Query message is parsed and planned anew.
            known = _prepared_on(raw, cursor) if raw.prepare_threshold is not None else None
            for statement, rows in batch.items:
                sql, args = statement.prepared(conn, rows)
                if known is None:
                    parts.extend(cursor.mogrify(sql, row) for row in args)
                    continue
                server = _server_statement(sql)
                if server.name not in known:
                    try:
                        cursor.execute(server.prepare)
                    except Error as exc:
                        raise wrap_error(conn, server.prepare, None, exc) from exc
                    known.add(server.name)
                names = server.names
                parts.extend(
                    cursor.mogrify(server.execute, [row[k] for k in names]) for row in args
                )
            parts.extend(batch.tail)
            text = ";\n".join(parts)
            if len(text) > MAX_BATCH_TEXT:
                super().run_batch(conn, batch)
                return
            text, _ = with_commit(text, last)
            try:
                cursor.execute(text)  # no parameters: sent as it is, as one Query message
            except Error as exc:
                if exc.sqlstate == _NO_SUCH_STATEMENT:
                    _PREPARED.pop(raw, None)  # read them again; the call runs again (_RETRY)
                raise wrap_error(conn, text, None, exc) from exc
        batch.items.clear()
        batch.tail.clear()

    def feed_statements(self, rows: list[FeedRow]) -> list[str]:
        # Positions come from the sequence mlt_change_seq, taken holding a transaction-level
        # advisory lock that lasts until the commit: a later transaction waits for it, so it
        # cannot take (nor commit) a smaller position. Not the self row's feed_seq, as on
        # MySQL: at REPEATABLE READ, updating a row that a writer committed after this
        # transaction's snapshot was taken fails (40001), and that is every concurrent writer.
        # The n values in a row, without setval (which needs more than the USAGE privilege on
        # sequences that writers have): nobody else takes any while the lock is held.
        # A NULL-only source column of VALUES is text: cast it. One statement per chunk.
        out = []
        for start in range(0, len(rows), FEED_CHUNK):
            chunk = rows[start : start + FEED_CHUNK]
            n = len(chunk)
            out.append(_feed_sql(n, feed_values(chunk, "{i}")))
        return out

    def feed_batch(self, batch: Batch, rows: list[FeedRow]) -> None:
        # A write of a few rows is a statement with parameters, prepared once per connection
        # (see run_batch): planning the statement's text anew cost more than running it.
        if self._driver != "psycopg" or len(rows) > FEED_PREPARED_ROWS:
            super().feed_batch(batch, rows)
            return
        params: dict[str, Any] = {}
        for i, (kind, entity_id, source) in enumerate(rows):
            params[f"k{i}"], params[f"e{i}"], params[f"s{i}"] = kind, entity_id, source
        batch.add(_feed_statement(len(rows)), [params])

    def insert_returning_ids(
        self,
        conn: Connection,
        plain: FastStatement,
        returning: FastStatement,
        table: Table,
        rows: list[dict[str, Any]],
    ) -> list[int]:
        # Many rows: their ids come from the table's sequence first, then the rows go as one
        # pipelined executemany of one statement text, which psycopg parses once; a multi-row
        # INSERT ... RETURNING has a new text per row count, parsed every time (a third of the
        # cost of inserting thousands of rows).
        if len(rows) < 2 or self._driver != "psycopg":
            return super().insert_returning_ids(conn, plain, returning, table, rows)
        found = conn.execute(_NEXT_IDS, {"table": table.name, "count": len(rows)})
        ids = sorted(int(row[0]) for row in found)
        self.insert_rows(conn, table, [{**row, "id": new_id} for row, new_id in zip(rows, ids)])
        return ids

    def id_reservation(self, table: Table) -> FastStatement | None:
        if self._driver != "psycopg":
            return None
        statement = _RESERVATIONS.get(table.name)
        if statement is None:
            statement = _RESERVATIONS[table.name] = FastStatement(
                text(
                    f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) "
                    "FROM generate_series(1, :count)"
                )
            )
        return statement

    def insert_groups_returning_ids(
        self,
        conn: Connection,
        groups: list[tuple[FastStatement, FastStatement, Table, list[dict[str, Any]]]],
    ) -> list[list[int]]:
        # One-row inserts (a step's output artifact and its execution) go in one pipeline.
        if sum(1 for *_, rows in groups if rows) < 2 or any(len(g[3]) > 1 for g in groups):
            return super().insert_groups_returning_ids(conn, groups)
        reads = [(returning, rows[0]) for _, returning, _, rows in groups if rows]
        results = iter(self.run_reads(conn, reads))
        return [[int(next(results)[0][0])] if rows else [] for *_, rows in groups]

    batches_reads = True

    def run_reads(
        self,
        conn: Connection,
        reads: list[tuple[FastStatement, dict[str, Any]]],
        *,
        last: bool = False,
    ) -> list[list[tuple[Any, ...]]]:
        # One pipeline: the reads (and the BEGIN of the transaction, when they start it) go
        # together, their results come back together.
        if self._driver != "psycopg" or len(reads) < 2:
            return super().run_reads(conn, reads)
        from psycopg import Error, Pipeline

        raw: Any = conn.connection.dbapi_connection
        if not Pipeline.is_supported() or raw.pgconn.pipeline_status:
            return super().run_reads(conn, reads)
        cursors: list[Any] = []
        sql, args = "", None
        try:
            try:
                with raw.pipeline():
                    for statement, params in reads:
                        sql, [args] = statement.prepared(conn, [params])
                        cursor = raw.cursor()
                        cursors.append(cursor)
                        cursor.execute(sql, args)
                return [list(cursor.fetchall()) for cursor in cursors]
            except Error as exc:
                raise wrap_error(conn, sql, args, exc) from exc
        finally:
            for cursor in cursors:
                cursor.close()

    def text_index(self, columns: list[str]) -> tuple[list[str], dict[str, Any]]:
        # A b-tree entry holds at most ~2.7 kB: long text would make inserts fail. A hash index
        # on the text alone serves equality and IN, whatever the length.
        return columns[-1:], {"postgresql_using": "hash"}

    def insert_ignore(self, table: Table) -> Insert:
        return pg_insert(table).on_conflict_do_nothing()

    def insert_rows(
        self, conn: Connection, table: Table, rows: list[dict[str, Any]], *, ignore: bool = False
    ) -> None:
        # Many rows go by COPY: a fraction of psycopg's cost per row in an executemany (a
        # pipeline of one message per row). Rows that may exist already are copied into a
        # temporary table first and inserted from there, skipping the existing keys.
        if len(rows) < COPY_ROWS or self._driver != "psycopg":
            super().insert_rows(conn, table, rows, ignore=ignore)
            return
        from psycopg import Error

        columns = list(rows[0])
        names = ", ".join(columns)
        raw: Any = conn.connection.dbapi_connection
        target = table.name
        sql = f"COPY {target} ({names}) FROM STDIN"
        with raw.cursor() as cursor:
            try:
                if ignore:
                    target = f"mlt_load_{table.name}"
                    sql = (
                        f"CREATE TEMPORARY TABLE IF NOT EXISTS {target} "
                        f"(LIKE {table.name} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
                    )
                    cursor.execute(sql)
                    sql = f"COPY {target} ({names}) FROM STDIN"
                with cursor.copy(sql) as copy:
                    for row in rows:
                        copy.write_row([row[c] for c in columns])
                if ignore:
                    sql = (
                        f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {target} "
                        "ON CONFLICT DO NOTHING"
                    )
                    cursor.execute(sql)
                    cursor.execute(f"DELETE FROM {target}")
            except Error as exc:  # reaches the runner as any database error does
                raise wrap_error(conn, sql, None, exc) from exc

    def upsert(self, table: Table, columns: tuple[str, ...]) -> Insert:
        built = pg_insert(table)
        return built.on_conflict_do_update(
            index_elements=list(table.primary_key.columns),
            set_={c: built.excluded[c] for c in columns},
        )

    @contextlib.contextmanager
    def migration_lock(self, conn: Connection) -> Iterator[None]:
        # Neither the wait for another migrator nor the migration may be cut short by the
        # statement timeout; SET LOCAL lasts until this transaction ends.
        conn.execute(text("SET LOCAL statement_timeout = 0"))
        # Released when the migration transaction commits or rolls back.
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        yield

    def classify(self, error: DBAPIError) -> Failure:
        state = _sqlstate(error)
        if state in _RETRY:
            return Failure.RETRY
        if state in _DENIED:
            return Failure.DENIED
        if state == _CANCELED:
            return Failure.DEADLINE
        if (state or "").startswith(_TOO_LARGE_CLASS) or (
            state is None and _TOO_MANY_PARAMETERS in str(error.orig)
        ):
            return Failure.TOO_LARGE
        if isinstance(error, IntegrityError):
            return Failure.CONFLICT
        if isinstance(error, DataError):
            return Failure.INVALID
        if state is not None and state.startswith(_UNAVAILABLE_CLASSES):
            return Failure.UNAVAILABLE
        if error.connection_invalidated or _connection_lost(error):
            return Failure.UNAVAILABLE
        return Failure.OTHER

    def too_large_reason(self, error: DBAPIError) -> str:
        if _TOO_MANY_PARAMETERS in str(error.orig):
            return "the statement would need more than 65535 bind parameters"
        return self.reason(error)

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


def _quote_negative_ints_in_parentheses(dbapi_conn: Any, _record: Any) -> None:
    """Values bound on the client (the batches of :meth:`PostgreSQLDialect.run_batch`) go
    into statements that cast them (``%(x)s::BIGINT``), and the cast binds tighter than the
    sign: the smallest bigint, quoted ``-9223372036854775808::BIGINT``, is out of range.
    Negative bigints are quoted in parentheses; values bound on the server are unchanged."""
    dbapi_conn.adapters.register_dumper(int, _parenthesized_ints())


@functools.cache
def _parenthesized_ints() -> Any:
    from psycopg.types.numeric import Int8, Int8Dumper, IntDumper

    class _Int8(Int8Dumper):
        def quote(self, obj: Any) -> Any:
            quoted = super().quote(obj)
            return b"(" + bytes(quoted) + b")" if obj < 0 else quoted

    class _Ints(IntDumper):
        _int8_dumper = _Int8(Int8)

    return _Ints


#: From how many rows :meth:`PostgreSQL.insert_rows` loads them with COPY.
COPY_ROWS = 64

#: The names of the statements ``run_batch`` prepared on each psycopg connection; a connection
#: missing here may hold some, and is asked (see _rollback).
_PREPARED: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
#: SQLSTATE of EXECUTE naming a statement the session does not have.
_NO_SUCH_STATEMENT = "26000"


def _nothing_prepared(dbapi_conn: Any, _record: Any) -> None:
    """A new connection holds no prepared statement."""
    _PREPARED[dbapi_conn] = set()


def _rollback(rollback: Any, dbapi_conn: Any) -> None:
    """The engine's rollback. psycopg follows a ROLLBACK with DEALLOCATE ALL when it had
    prepared statements of its own, which removes those of ``run_batch`` too: after a
    rollback, the connection's next batch reads which of them are left."""
    raw = getattr(dbapi_conn, "dbapi_connection", dbapi_conn)
    if raw.info.transaction_status.name != "IDLE":  # psycopg sends nothing on an idle one
        _PREPARED.pop(raw, None)
    rollback(dbapi_conn)


def _prepared_on(raw: Any, cursor: Any) -> set[str]:
    """The names of the statements of ``run_batch`` prepared on ``raw`` (read from the
    server when not known)."""
    known = _PREPARED.get(raw)
    if known is None:
        cursor.execute("SELECT name FROM pg_prepared_statements")
        known = _PREPARED[raw] = {row[0] for row in cursor.fetchall() if row[0].startswith("mlt_")}
    return known


class _ServerStatement:
    """A statement of the driver's ``%(name)s`` form as a server-side prepared statement:
    ``PREPARE name AS ...`` (``$1``, ``$2``... in the order the parameters first appear), and
    the ``EXECUTE name(%s, ...)`` the driver fills with a row's values in that order."""

    __slots__ = ("execute", "name", "names", "prepare")

    def __init__(self, sql: str) -> None:
        order: dict[str, int] = {}

        def placeholder(match: re.Match[str]) -> str:
            if match.group(0) == "%%":
                return "%"
            return f"${order.setdefault(match.group(1), len(order) + 1)}"

        body = _PYFORMAT.sub(placeholder, sql)
        self.name = "mlt_" + hashlib.sha256(sql.encode()).hexdigest()[:20]
        self.prepare = f"PREPARE {self.name} AS {body}"
        self.names = tuple(order)
        self.execute = f"EXECUTE {self.name}({', '.join(['%s'] * len(order))})"


_PYFORMAT = re.compile(r"%\(([^)]+)\)s|%%")


@functools.lru_cache(maxsize=256)
def _server_statement(sql: str) -> _ServerStatement:
    return _ServerStatement(sql)


#: Feed writes of at most this many rows are statements with parameters (one shape per count).
FEED_PREPARED_ROWS = 32


@functools.lru_cache(maxsize=FEED_PREPARED_ROWS)
def _feed_statement(n: int) -> FastStatement:
    """The feed write of ``n`` rows (the text of ``feed_statements``), values as parameters
    ``k<i>``, ``e<i>``, ``s<i>`` (kind, entity id, source) of the rows from 0."""
    values = ", ".join(
        f"({i + 1}, CAST(:k{i} AS SMALLINT), CAST(:e{i} AS BIGINT), CAST(:s{i} AS INTEGER))"
        for i in range(n)
    )
    return FastStatement(text(_feed_sql(n, values)))


def _feed_sql(n: int, values: str) -> str:
    """The feed write of ``n`` rows given as ``VALUES`` text of (position from 1, kind,
    entity id, source) rows (see :meth:`PostgreSQLDialect.feed_statements`)."""
    return (
        f"WITH l AS (SELECT pg_advisory_xact_lock({FEED_LOCK_KEY})), "
        "s AS (SELECT max(nextval('mlt_change_seq')) AS last "
        f"FROM l, generate_series(1, {n})) "
        "INSERT INTO mlt_change (seq, kind, entity_id, source) "
        f"SELECT s.last - {n} + v.i, v.kind, v.entity_id, CAST(v.source AS INTEGER) "
        f"FROM (VALUES {values}) AS v(i, kind, entity_id, source) LEFT JOIN s ON true"
    )


#: The id reservations of :meth:`PostgreSQLDialect.id_reservation`, by table name.
_RESERVATIONS: dict[str, FastStatement] = {}

_NEXT_IDS = text(
    "SELECT nextval(s.name) FROM (SELECT pg_get_serial_sequence(:table, 'id') AS name) AS s, "
    "generate_series(1, :count)"
)


def _executemany_in_own_pipeline(cursor: Any, statement: str, rows: Any, context: Any) -> bool:
    """psycopg's ``executemany`` in a pipeline that mltrail opens: the error of a failing row
    is raised as it is, without psycopg logging the aborted pipeline on the way out."""
    from psycopg import Error, Pipeline

    connection = cursor.connection
    if not Pipeline.is_supported() or connection.pgconn.pipeline_status:
        return False  # psycopg would not open a pipeline of its own; nothing to guard
    first: Error | None = None
    try:
        with connection.pipeline():
            try:
                cursor.executemany(statement, rows)
            except Error as exc:
                first = exc  # the pipeline is aborted now; closing it raises again
    except Error:
        if first is None:
            raise
    if first is not None:
        raise first.with_traceback(None)
    return True


def prepare_threshold_option(value: Any) -> int | None:
    """The ``prepare_threshold`` option: psycopg's own (a statement run that many times on a
    connection is prepared there; 0 prepares every one), or ``none``: nothing is prepared,
    neither by psycopg nor by mltrail's batches, as a pooler that hands one client's
    transactions to different server sessions (PgBouncer in transaction mode) needs."""
    if value is None or str(value).strip().lower() in ("none", "off", "false"):
        return None
    if not isinstance(value, bool):
        try:
            number = int(str(value).strip())
        except ValueError:
            number = -1
        if number >= 0:
            return number
    raise InvalidArgumentError(
        f"prepare_threshold={value!r} must be a number of runs (0 or more) after which psycopg "
        "prepares a statement, or none to prepare nothing (for PgBouncer in transaction mode)"
    )


def _check_libpq_options(options: dict[str, Any]) -> None:
    from psycopg import Error
    from psycopg.conninfo import make_conninfo

    try:
        make_conninfo("", **{k: str(v) for k, v in options.items()})
    except Error as exc:
        raise InvalidArgumentError(
            f"{str(exc).strip()} in the URL or keywords; mltrail's own options are "
            f"{', '.join(POOL_OPTIONS)}, connect_timeout, random_page_cost, statement_timeout, "
            "prepare_threshold and read_only; every other one "
            "must be a libpq connection "
            "parameter (sslmode, sslrootcert, application_name, options...)"
        ) from None


def _sqlstate(error: DBAPIError) -> str | None:
    orig: Any = error.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return str(state) if state else None


def _connection_lost(error: DBAPIError) -> bool:
    """A driver-level failure without a server error code: the connection broke or never
    opened (psycopg raises OperationalError without SQLSTATE for both)."""
    return _sqlstate(error) is None and isinstance(error, (OperationalError, InterfaceError))
