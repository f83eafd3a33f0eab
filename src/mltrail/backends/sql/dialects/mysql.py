"""MySQL (8.0 and later) and MariaDB (10.5 and later), through PyMySQL
(``pip install 'mltrail[mysql]'``) or mysqlclient.

* Strings are case-sensitive, as on SQLite and PostgreSQL: mltrail's tables are created with the
  character set utf8mb4 and a binary collation without trailing-space padding
  (``utf8mb4_nopad_bin`` on MariaDB, ``utf8mb4_0900_bin`` on MySQL), so ``Model`` and ``model``
  are different names, ``name = 'x'`` does not match ``'X'`` or ``'x '``, and ``LIKE`` is
  case-sensitive. Text columns are MEDIUMTEXT (16 MB) rather than TEXT (64 kB).
* Sessions run in strict mode (a value that does not fit is an error, never truncated), at
  REPEATABLE READ (each call reads one snapshot; read calls are also READ ONLY), with the
  recursion limit of recursive queries lifted (lineage walks have no hidden depth cap).
  Deadlocks (1213) and lock wait timeouts (1205) are retried; a unique key taken by a
  concurrent call (1062) makes the runner run the call again, which then sees that row.
* Sessions have a statement timeout (the store's option, 30 s by default): MariaDB's
  ``max_statement_time`` (every statement; error 1969), MySQL's ``max_execution_time`` (read-only
  SELECTs only; error 3024). The server stops the statement. Migrations lift it.
* A statement larger than the server's ``max_allowed_packet`` makes the server drop the
  connection; mltrail reports it as a value too large for the server, not as a lost server.
* New ids come from ``INSERT ... RETURNING`` where the server has it (MariaDB 10.5 and later)
  and several rows are inserted, otherwise from the insert's auto-increment id, row by row.
* Connections allow several statements per request (``MULTI_STATEMENTS``): the
  rows a write call inserts last (properties, events, memberships) go to the server as one
  request, each table's rows in one multi-row INSERT, with values escaped by the driver as for
  any statement; the reads a call can make at once go together the same way. A call with a
  transaction of its own sends its COMMIT with its last request, and its connection goes back
  to the pool without a ROLLBACK once the transaction ended (PyMySQL keeps the server's status
  flags; with mysqlclient, which does not show them, the dialect's commit and rollback note
  the end, and any statement sent after clears the note).
* Schema changes are not transactional: each CREATE/ALTER commits at once. The whole
  check-and-migrate runs under a named lock (``GET_LOCK``), so concurrent openers of an empty or
  old database wait for one migrator; see :mod:`mltrail.backends.sql.migrations` for what a
  failed migration leaves behind.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import inspect
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

from sqlalchemy import Connection, Engine, Table, event
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.engine import Dialect as SADialect
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.pool import PoolResetState
from sqlalchemy.sql.dml import Insert

from mltrail.backends.sql.dialects._server import (
    POOL_OPTIONS,
    ServerDialect,
    boolean_option,
    check_files,
    convert,
)
from mltrail.backends.sql.dialects._statistics import StatisticsKeeper
from mltrail.backends.sql.dialects.base import (
    FEED_CHUNK,
    Failure,
    FeedRow,
    feed_values,
    with_commit,
)
from mltrail.backends.sql.fast import (
    COMMITTED,
    ENDED,
    PREFIX,
    Batch,
    FastStatement,
    close_cursor,
    send_prefix,
    take_prefix,
    wrap_error,
)
from mltrail.errors import AbortedError, InvalidArgumentError

#: How long (seconds) an opener waits for another client's migration before giving up.
MIGRATION_LOCK_TIMEOUT = 600
#: The largest value of the recursion limits; a lineage walk has no hidden depth cap.
MAX_RECURSION = 4294967295

_RETRY = {1213, 1205, 1020, 1040}  # deadlock, lock wait timeout, record changed, too many conns
_UNAVAILABLE = {
    1044,  # access denied to the database
    1045,  # access denied (user or password)
    1049,  # unknown database
    1698,  # access denied (authentication plugin)
    1053,  # server shutdown in progress
    1927,  # connection killed (MariaDB)
    2002,  # cannot connect through the socket
    2003,  # cannot connect to the server
    2005,  # unknown host
    2006,  # server has gone away
    2013,  # lost connection during query
    2014,  # commands out of sync
    2045,  # cannot connect (named pipe)
    2055,  # lost connection
    2059,  # authentication plugin cannot be loaded
    4031,  # disconnected by the server (idle timeout)
}
_DENIED = {1142, 1143, 1227}  # command, column, privilege denied
_DEADLINE = {1969, 3024}  # MariaDB's max_statement_time, MySQL's max_execution_time
_TOO_LARGE = {1116, 1436, 1153, 1390}  # too many tables, thread stack, packet, placeholders
_PACKET = 1153  # the server got a packet bigger than max_allowed_packet
_LOST = {2006, 2013}  # gone away, lost: what a too-large packet looks like to the client
_MAX_PACKET = "mltrail_max_allowed_packet"  # key of a connection's info
_PYMYSQL_BOOLEANS = ("ssl_verify_cert", "ssl_verify_identity", "ssl_disabled")
#: The connection arguments of mysqlclient 2.2 and 2.3 (its C module's and its Python class's;
#: unknown ones fail inside the driver with a bare TypeError).
_MYSQLCLIENT_OPTIONS = frozenset(
    {
        *("host", "user", "password", "passwd", "database", "db", "port", "unix_socket"),
        *("conv", "connect_timeout", "compress", "named_pipe", "init_command", "client_flag"),
        *("read_default_file", "read_default_group", "ssl", "ssl_mode", "local_infile"),
        *("local_infile_dir", "read_timeout", "write_timeout", "charset", "collation"),
        *("auth_plugin", "server_public_key_path", "cursorclass", "use_unicode", "sql_mode"),
        *("binary_prefix", "executemany_fallback", "multi_statements", "autocommit"),
    }
)
#: A batch longer than this (bytes of SQL) is sent statement by statement, as PyMySQL splits
#: its own multi-row inserts (well under the smallest max_allowed_packet in use, 4 MB).
MAX_BATCH_TEXT = 1_000_000
_IN_TRANSACTION = 1  # SERVER_STATUS_IN_TRANS of the server's status flags
#: Client capability flags of the MySQL protocol (the same in PyMySQL and mysqlclient).
_FOUND_ROWS, _MULTI_STATEMENTS = 1 << 1, 1 << 16
#: The driver module whose cursors build multi-row inserts, by SQLAlchemy driver name.
_CURSORS = {"pymysql": "pymysql.cursors", "mysqldb": "MySQLdb.cursors"}


class MySQLDialect(ServerDialect):
    name = "mysql"
    title = "MySQL/MariaDB"
    schemes = ("mysql", "mariadb")
    drivers: ClassVar[dict[str, tuple[str, str]]] = {
        "pymysql": ("pymysql", "PyMySQL[rsa]"),
        "mysqldb": ("MySQLdb", "mltrail[mysqlclient]"),
    }
    default_driver = "pymysql"
    extra = "mysql"
    default_port = 3306
    transactional_ddl = False

    # engine_url maps mariadb+driver:// to mysql+driver://: SQLAlchemy's mysql dialect serves
    # MariaDB as well (it recognises the server by its version), and one dialect name keeps the
    # mysql_* table options in effect.

    def connect_args(self, options: dict[str, Any]) -> dict[str, Any]:
        args = dict(options)
        charset = str(args.pop("charset", "utf8mb4")).lower()
        if charset != "utf8mb4":
            raise InvalidArgumentError(
                f"charset={charset!r} is not supported: mltrail stores text as utf8mb4; leave "
                "charset out of the URL"
            )
        args["charset"] = "utf8mb4"
        if self._driver == "pymysql":
            known = set(inspect.signature(pymysql_connection()).parameters) - {"self"}
            unknown = sorted(set(args) - known)
            if unknown:
                raise InvalidArgumentError(
                    f"unknown MySQL connection option(s) {unknown}; mltrail's own options are "
                    f"{', '.join(POOL_OPTIONS)} and connect_timeout; every other one must be a "
                    "PyMySQL connection argument (ssl_ca, ssl_verify_cert, unix_socket...)"
                )
            for name in _PYMYSQL_BOOLEANS:
                if name in args:
                    args[name] = boolean_option(args[name], name)
        elif self._driver == "mysqldb":
            unknown = sorted(set(args) - _MYSQLCLIENT_OPTIONS)
            if unknown:
                raise InvalidArgumentError(
                    f"unknown MySQL connection option(s) {unknown}; mltrail's own options are "
                    f"{', '.join(POOL_OPTIONS)} and connect_timeout; every other one must be a "
                    "mysqlclient connection argument (ssl_mode, ssl, unix_socket...)"
                )
        # FOUND_ROWS is what SQLAlchemy sets itself (these arguments replace its own).
        flags = convert(args.get("client_flag", 0), "int", "client_flag")
        args["client_flag"] = flags | _FOUND_ROWS | _MULTI_STATEMENTS
        check_files(args, ("ssl_ca", "ssl_cert", "ssl_key"), self.title)
        ssl = args.get("ssl")
        if isinstance(ssl, dict):
            check_files(
                {f"ssl['{k}']": v for k, v in ssl.items()},
                tuple(f"ssl['{k}']" for k in ("ca", "cert", "key")),
                self.title,
            )
        return args

    def reset_on_return(self) -> str | None:
        return None  # the reset listener of configure() decides

    def configure(self, engine: Engine) -> None:
        # A connection goes back to the pool without a ROLLBACK when its transaction is known
        # to have ended: PyMySQL keeps the server's status flags; mysqlclient does not show
        # them to Python, so there the dialect's own commit and rollback note the end (ENDED).
        pymysql = self._driver == "pymysql"
        event.listen(
            engine, "reset", _rollback_open_transaction if pymysql else _rollback_unless_ended
        )
        sa_dialect: Any = engine.dialect
        sa_dialect.do_commit = _commit_open_transaction if pymysql else _commit_unless_committed
        sa_dialect.do_rollback = _rollback_noting_end
        event.listen(engine, "before_cursor_execute", _send_prefix)
        if pymysql:
            event.listen(engine, "do_connect", _connect_sharing_tls_context)

        @event.listens_for(engine, "connect")
        def _session(dbapi_conn: Any, record: Any) -> None:
            # Runs after SQLAlchemy has looked at the server, so is_mariadb is known.
            mariadb = getattr(engine.dialect, "is_mariadb", False)
            limit = "max_recursive_iterations" if mariadb else "cte_max_recursion_depth"
            cursor = dbapi_conn.cursor()
            try:
                cursor.execute(
                    "SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), "
                    f"'STRICT_ALL_TABLES', 'NO_ENGINE_SUBSTITUTION'), SESSION {limit} = "
                    f"{MAX_RECURSION}, {self.timeout_setting(engine.dialect)}"
                )
                cursor.execute("SELECT @@max_allowed_packet")
                record.info[_MAX_PACKET] = int(cursor.fetchone()[0])
                self.max_allowed_packet = record.info[_MAX_PACKET]
            finally:
                cursor.close()

    #: The server's max_allowed_packet (bytes), read when a connection opens.
    max_allowed_packet: int | None = None

    def timeout_setting(self, dialect: SADialect, timeout: float | None = -1.0) -> str:
        """The session setting of the statement timeout (``timeout``; default: the store's)."""
        seconds = self.statement_timeout if timeout == -1.0 else timeout
        if getattr(dialect, "is_mariadb", False):
            return f"SESSION max_statement_time = {seconds or 0:.3f}"
        # MySQL: in ms, SELECT statements only (at least 1; 0 means no limit).
        return f"SESSION max_execution_time = {max(1, round(seconds * 1000)) if seconds else 0}"

    def begin(
        self, conn: Connection, *, write: bool, serial: bool = False, single: bool = False
    ) -> None:
        # Both apply to the next transaction only; the driver starts it with the first statement.
        # A read's goes in the request of its first statement (see fast.PREFIX).
        info = conn.connection.info
        info.pop(PREFIX, None)
        if not write:
            info[PREFIX] = "SET TRANSACTION READ ONLY"
        elif serial:
            # Reads after the lock must see what the previous holder committed.
            _execute(conn, "SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        conn.begin()

    def finish(self, conn: Connection) -> None:
        info = conn.connection.info
        info.pop(PREFIX, None)  # a call that sent no statement
        info.pop(COMMITTED, None)
        # Index statistics are kept fresh in the background after calls (see _statistics).
        if not self.read_only:
            StatisticsKeeper.of(conn.engine).wake()

    def insert_ignore(self, table: Table) -> Insert:
        # Not INSERT IGNORE, which also turns other errors (a missing referenced row, a value
        # that does not fit) into warnings: only a duplicate key is skipped here.
        key = table.primary_key.columns.values()[0]
        return mysql_insert(table).on_duplicate_key_update({key.name: key})

    def upsert(self, table: Table, columns: tuple[str, ...]) -> Insert:
        built = mysql_insert(table)
        return built.on_duplicate_key_update({c: built.inserted[c] for c in columns})

    def insert_returning_ids(
        self,
        conn: Connection,
        plain: FastStatement,
        returning: FastStatement,
        table: Table,
        rows: list[dict[str, Any]],
    ) -> list[int]:
        # One row: its id comes in the server's OK reply (no result set to describe and read).
        if len(rows) > 1 and supports_insert_returning(conn.dialect):
            return super().insert_returning_ids(conn, plain, returning, table, rows)
        return self.insert_one_by_one(conn, plain, rows)

    def run_batch(self, conn: Connection, batch: Batch, *, last: bool = False) -> None:
        # The last batch of a call with its own transaction ends with its COMMIT; the driver's
        # commit() is then skipped (see _commit_open_transaction).
        if self._driver not in _CURSORS or len(batch) < 2:
            super().run_batch(conn, batch)
            return
        cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            parts = []
            for statement, rows in batch.items:
                sql, args = statement.prepared(conn, rows)
                parts.append(_literal_insert(self._driver, cursor, sql, args))
            parts.extend(batch.tail)
            text = ";\n".join(parts)
            if len(text) > MAX_BATCH_TEXT:
                super().run_batch(conn, batch)
                return
            text, committing = with_commit(text, last)
            _run_all(conn, cursor, text)
            if committing:
                conn.connection.info[COMMITTED] = True
        finally:
            close_cursor(conn, cursor)
        batch.items.clear()
        batch.tail.clear()

    def run_texts(self, conn: Connection, statements: list[str]) -> None:
        text = ";\n".join(statements)
        if self._driver not in _CURSORS or len(statements) < 2 or len(text) > MAX_BATCH_TEXT:
            super().run_texts(conn, statements)
            return
        cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            _run_all(conn, cursor, text)
        finally:
            close_cursor(conn, cursor)

    def feed_statements(self, rows: list[FeedRow]) -> list[str]:
        # The self row's update takes the positions (its row lock, held until the commit,
        # makes a later transaction wait to take its own) and leaves the last one in the
        # session's LAST_INSERT_ID(), which the insert counts back from (the feed's positions
        # are given, so the insert does not change LAST_INSERT_ID()). Without the self row
        # the positions are NULL and the insert fails instead of reusing an older id.
        out = []
        for start in range(0, len(rows), FEED_CHUNK):
            chunk = rows[start : start + FEED_CHUNK]
            n = len(chunk)
            out.append(
                f"UPDATE mlt_site SET feed_seq = LAST_INSERT_ID(feed_seq + {n}) WHERE id = 1"
            )
            out.append(
                "INSERT INTO mlt_change (seq, kind, entity_id, source) VALUES "
                + feed_values(chunk, f"IF(ROW_COUNT() = 1, LAST_INSERT_ID(), NULL) - {n} + {{i}}")
            )
        return out

    def insert_groups_returning_ids(
        self,
        conn: Connection,
        groups: list[tuple[FastStatement, FastStatement, Table, list[dict[str, Any]]]],
    ) -> list[list[int]]:
        # One-row inserts go as one request; each id comes in its statement's OK reply.
        filled = [rows for *_, rows in groups if rows]
        if self._driver not in _CURSORS or len(filled) < 2 or any(len(r) > 1 for r in filled):
            return super().insert_groups_returning_ids(conn, groups)
        cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            parts = []
            for plain, _, _, rows in groups:
                if rows:
                    sql, [args] = plain.prepared(conn, rows)
                    parts.append(cursor.mogrify(sql, args))
            text = ";\n".join(parts)
            send_prefix(conn, cursor)
            ids = []
            try:
                cursor.execute(text)  # no arguments: the text is sent as it is
                ids.append(int(cursor.lastrowid))
                while cursor.nextset():
                    ids.append(int(cursor.lastrowid))
            except conn.dialect.loaded_dbapi.Error as exc:
                raise wrap_error(conn, text, None, exc) from exc
        finally:
            close_cursor(conn, cursor)
        found = iter(ids)
        return [[next(found)] if rows else [] for *_, rows in groups]

    batches_reads = True

    def run_reads(
        self,
        conn: Connection,
        reads: list[tuple[FastStatement, dict[str, Any]]],
        *,
        last: bool = False,
    ) -> list[list[tuple[Any, ...]]]:
        # The last reads of a call with its own transaction end with its COMMIT (see
        # run_batch); the engine's commit then sends none.
        if self._driver not in _CURSORS or len(reads) < 2:
            return super().run_reads(conn, reads)
        cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            parts = []
            for statement, params in reads:
                sql, [args] = statement.prepared(conn, [params])
                parts.append(cursor.mogrify(sql, args))
            text = ";\n".join(parts)
            if len(text) > MAX_BATCH_TEXT:
                return super().run_reads(conn, reads)
            text, committing = with_commit(text, last)
            prefix = take_prefix(conn)
            out = []
            try:
                if prefix is None:
                    cursor.execute(text)  # no arguments: the text is sent as it is
                else:
                    cursor.execute(f"{prefix};\n{text}")
                    cursor.nextset()  # past the prefix's result
                out.append(list(cursor.fetchall()))
                while cursor.nextset():
                    out.append(list(cursor.fetchall()))
            except conn.dialect.loaded_dbapi.Error as exc:
                raise wrap_error(conn, text, None, exc) from exc
            if committing:
                conn.connection.info[COMMITTED] = True
            return out[: len(reads)]  # without the COMMIT's empty result
        finally:
            close_cursor(conn, cursor)

    @contextlib.contextmanager
    def schema_change(self, conn: Connection) -> Iterator[None]:
        # DDL commits at once, so the migration transaction cannot serialize migrators: a named
        # lock, held by the session from before the check until after the final commit, does.
        name = migration_lock_name(conn.engine.url.database or "")
        # Neither the wait for the lock nor a migration may be cut short by the timeout.
        _execute(conn, f"SET {self.timeout_setting(conn.dialect, None)}")
        try:
            with self._migration_locked(conn, name):
                yield
        finally:
            with contextlib.suppress(DBAPIError):
                _execute(conn, f"SET {self.timeout_setting(conn.dialect)}")

    @contextlib.contextmanager
    def _migration_locked(self, conn: Connection, name: str) -> Iterator[None]:
        got = _execute(conn, f"SELECT GET_LOCK('{name}', {MIGRATION_LOCK_TIMEOUT})")
        if got != 1:
            raise AbortedError(
                f"another client has been migrating this database for more than "
                f"{MIGRATION_LOCK_TIMEOUT} s (lock {name}); nothing was changed, retry later"
            )
        try:
            yield
        finally:
            with contextlib.suppress(DBAPIError):
                _execute(conn, f"SELECT RELEASE_LOCK('{name}')")
                # RELEASE_LOCK started a transaction (autocommit is off); end it.
                conn.connection.dbapi_connection.rollback()  # type: ignore[union-attr]

    def table_options(self, dialect: SADialect) -> dict[str, Any]:
        return {
            "mysql_engine": "InnoDB",
            "mysql_charset": "utf8mb4",
            "mysql_collate": binary_collation(dialect),
        }

    def classify(self, error: DBAPIError) -> Failure:
        code = error_code(error)
        if code in _RETRY:
            return Failure.RETRY
        if code in _DENIED:
            return Failure.DENIED
        if code in _DEADLINE:
            return Failure.DEADLINE
        if code in _TOO_LARGE or (code in _LOST and self._beyond_packet(error)):
            return Failure.TOO_LARGE
        if isinstance(error, IntegrityError):
            return Failure.CONFLICT
        if isinstance(error, DataError):
            return Failure.INVALID
        if code in _UNAVAILABLE or error.connection_invalidated:
            return Failure.UNAVAILABLE
        if code is None and isinstance(error, (OperationalError, InterfaceError)):
            return Failure.UNAVAILABLE  # the driver lost (or never had) the connection
        return Failure.OTHER

    def _beyond_packet(self, error: DBAPIError) -> bool:
        """Whether the statement that lost the connection was bigger than max_allowed_packet
        (the server closes the connection on such a packet)."""
        limit = self.max_allowed_packet
        return limit is not None and _request_size(error.statement, error.params) >= limit

    def reason(self, error: DBAPIError) -> str:
        code = error_code(error)
        args: tuple[Any, ...] = tuple(getattr(error.orig, "args", ()))
        message = str(args[1]) if code is not None and len(args) > 1 else super().reason(error)
        # A syntax error quotes the statement ("... near 'SELECT ...'"): keep the SQL out.
        head, near, _ = message.partition(" near '")
        return head + (" (the statement is not shown)" if near else "")

    def too_large_reason(self, error: DBAPIError) -> str:
        if error_code(error) == _PACKET or error_code(error) in _LOST:
            limit = self.max_allowed_packet
            size = f" ({limit} bytes)" if limit else ""
            return (
                f"a value of this call is larger than the server's max_allowed_packet{size}; "
                "store large data in a file and record its URI, or raise max_allowed_packet "
                "on the server"
            )
        if error_code(error) == 1116:
            return "the query joins more tables than the server allows (61)"
        return self.reason(error)

    def connect_hint(self, error: DBAPIError) -> str:
        code = error_code(error)
        if code in (1045, 1698):
            return "check the user name and password in the URL (and the host the user may use)"
        if code == 1044:
            return (
                "the user may not use this database: GRANT it the privileges listed in "
                "docs/backends.md, or fix the URL"
            )
        if code == 1049:
            return (
                "the database does not exist: create it (CREATE DATABASE name CHARACTER SET "
                "utf8mb4; mltrail creates its tables on first use) or fix its name in the URL"
            )
        if code == 2059:
            return (
                "the server asks for an authentication method the driver cannot use; install "
                "mltrail[mysql] (PyMySQL with its rsa extra, for caching_sha2_password)"
            )
        return (
            "check the host and port in the URL, that the server runs there and accepts "
            "connections from this machine (bind-address, firewall)"
        )


def _literal_insert(driver: str, cursor: Any, sql: str, rows: list[Any]) -> str:
    """One statement inserting ``rows`` (values escaped by the driver), as the driver builds the
    multi-row INSERT of its ``executemany``; one statement per row for other statements."""
    cursors: Any = importlib.import_module(_CURSORS[driver])
    match = cursors.RE_INSERT_VALUES.match(sql)
    if match is None:
        return ";\n".join(cursor.mogrify(sql, row) for row in rows)
    prefix = match.group(1) % ()
    values = match.group(2).rstrip()
    postfix = (match.group(3) or "") % ()
    return prefix + ",".join(cursor.mogrify(values, row) for row in rows) + postfix


def _run_all(conn: Connection, cursor: Any, text: str) -> None:
    """Run the statements of ``text`` (one request, several statements) and read every
    statement's result; the first error raises."""
    prefix = take_prefix(conn)
    if prefix is not None:
        text = f"{prefix};\n{text}"
    try:
        cursor.execute(text)  # no arguments: the text is sent as it is
        while cursor.nextset():  # each statement's result; an error raises here
            pass
    except conn.dialect.loaded_dbapi.Error as exc:
        raise wrap_error(conn, text, None, exc) from exc


def _rollback_open_transaction(dbapi_conn: Any, record: Any, state: PoolResetState) -> None:
    """The reset of a connection going back to the pool: a ROLLBACK only when the server said
    a transaction is still open (PyMySQL keeps the status flags of the last reply)."""
    if not state.transaction_was_reset and dbapi_conn.server_status & _IN_TRANSACTION:
        dbapi_conn.rollback()


def _commit_open_transaction(dbapi_conn: Any) -> None:
    """The engine's commit on PyMySQL: no COMMIT when the call's last request ended with one
    and nothing was sent since, or when the call sent nothing at all, unless the server's
    status flags say a transaction is open. (PyMySQL's flags are not updated by a result set,
    so they alone cannot tell; otherwise always: a COMMIT also ends what a ``SET
    TRANSACTION`` prepared for a transaction that never started.)"""
    if _commit_needed(dbapi_conn.info) or dbapi_conn.server_status & _IN_TRANSACTION:
        dbapi_conn.commit()
    _note_end(dbapi_conn)


def _commit_unless_committed(dbapi_conn: Any) -> None:
    """The engine's commit on mysqlclient: as :func:`_commit_open_transaction`, by mltrail's
    own marks alone (every path that sends a statement clears them first, fast.take_prefix)."""
    if _commit_needed(dbapi_conn.info):
        dbapi_conn.commit()
    _note_end(dbapi_conn)


def _commit_needed(info: dict[str, Any]) -> bool:
    """False when the call's last request ended with its COMMIT and nothing was sent since, or
    when the call sent nothing at all (the marks are taken either way)."""
    committed = info.pop(COMMITTED, None) is not None
    unsent = info.pop(PREFIX, None) is not None
    return not (committed or unsent)


def _rollback_noting_end(dbapi_conn: Any) -> None:
    """The engine's rollback; then the pool's reset need not roll back again."""
    dbapi_conn.rollback()
    _note_end(dbapi_conn)


def _note_end(dbapi_conn: Any) -> None:
    """Note on a pooled connection that its transaction ended (see fast.ENDED)."""
    try:
        info = dbapi_conn.info
    except NotImplementedError:
        return  # SQLAlchemy's first look at a new connection, before the pool holds it
    info[ENDED] = True


def _rollback_unless_ended(dbapi_conn: Any, record: Any, state: PoolResetState) -> None:
    """The reset of a connection going back to the pool (mysqlclient): a ROLLBACK unless its
    transaction ended through the dialect and nothing was sent since (the note stays until a
    statement is sent: a checkout that sends nothing leaves the connection as it was)."""
    if not (state.transaction_was_reset or ENDED in record.info):
        dbapi_conn.rollback()
        record.info[ENDED] = True


def _send_prefix(
    conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
) -> None:
    """A statement run through SQLAlchemy first sends what the call put ahead of its next
    statement (on its own: SQLAlchemy reads one result per statement)."""
    send_prefix(conn, cursor)


def _connect_sharing_tls_context(
    dialect: SADialect, record: Any, cargs: tuple[Any, ...], cparams: dict[str, Any]
) -> Any:
    """A PyMySQL connection that, given no TLS option, shares one process-wide TLS context.

    Without TLS options PyMySQL 1.2 tries TLS and falls back to plain text when the server has
    none (its PREFERRED mode), and makes a new default context for every connection: loading
    the system's certificate store costs it some 50 ms each time, most of opening a connection
    to a local server. The context it makes verifies nothing (no CA was given), so one made the
    same way serves every connection; the mode is unchanged.
    """
    return _shared_context_connection()(*cargs, **cparams)


@functools.cache
def _shared_context_connection() -> Any:
    """PyMySQL's connection class, its default TLS context made once (see above)."""
    base: Any = importlib.import_module("pymysql").connections.Connection
    lock = threading.Lock()
    made: list[Any] = []

    class SharedContextConnection(base):  # type: ignore[misc]
        def _create_ssl_ctx(self, sslp: Any) -> Any:
            if sslp != {}:  # TLS options given: the connection's own context
                return super()._create_ssl_ctx(sslp)
            with lock:
                if not made:
                    made.append(super()._create_ssl_ctx({}))
                return made[0]

    return SharedContextConnection


def pymysql_connection() -> Any:
    """PyMySQL's connection class (imported only when PyMySQL is the driver)."""
    pymysql: Any = importlib.import_module("pymysql")
    return pymysql.connections.Connection.__init__


def supports_insert_returning(dialect: SADialect) -> bool:
    """``INSERT ... RETURNING``: MariaDB 10.5 and later; no MySQL version has it."""
    version = dialect.server_version_info or ()
    return bool(getattr(dialect, "is_mariadb", False)) and tuple(version) >= (10, 5)


def binary_collation(dialect: SADialect) -> str:
    """The case-sensitive, no-padding utf8mb4 collation of the server behind ``dialect``."""
    if getattr(dialect, "is_mariadb", False):
        return "utf8mb4_nopad_bin"
    if tuple(dialect.server_version_info or ()) >= (8, 0):
        return "utf8mb4_0900_bin"
    return "utf8mb4_bin"  # MySQL 5.7: binary, but 'x' = 'x ' (padding)


def migration_lock_name(database: str) -> str:
    """The GET_LOCK name guarding migrations of ``database`` (names are server-wide, <= 64)."""
    return "mltrail-schema-" + hashlib.sha256(database.encode()).hexdigest()[:40]


def _request_size(statement: str | None, params: Any) -> int:
    """About how many bytes a statement with ``params`` sends (the largest of many rows)."""

    def size(value: Any) -> int:
        if isinstance(value, (bytes, bytearray, str)):
            return len(value)
        if isinstance(value, dict):
            return sum(size(v) for v in value.values())
        if isinstance(value, (list, tuple)):
            return sum(size(v) for v in value)
        return 8

    rows = params if isinstance(params, list) else [params]
    return len(statement or "") + max((size(row) for row in rows), default=0)


def error_code(error: DBAPIError) -> int | None:
    args = getattr(error.orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _execute(conn: Connection, sql: str) -> Any:
    """Run ``sql`` on the driver's connection, outside SQLAlchemy's transaction bookkeeping;
    returns the first column of the first row, if any."""
    raw: Any = conn.connection.dbapi_connection
    cursor = raw.cursor()
    try:
        send_prefix(conn, cursor)
        cursor.execute(sql)
        row = cursor.fetchone() if cursor.description else None
    except conn.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(
            sql, None, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
        ) from exc
    finally:
        close_cursor(conn, cursor)
    return row[0] if row else None
