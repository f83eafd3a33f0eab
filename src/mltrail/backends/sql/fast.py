"""Hot statements: compiled once per dialect by SQLAlchemy, run on the DBAPI cursor.

Building and executing a Core statement costs tens of microseconds of Python per call; the
statements of the logging hot path (``put_execution``, ``put_artifacts``) run thousands of times a
second, so they are compiled once and executed directly. ``IN`` lists are padded to a power-of-two
number of parameters, so each size class is compiled once as well.
"""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.elements import BindParameter

from mltrail._lru import SizedLRU

Params = Mapping[str, Any]


#: Key of a connection's ``info``: SQL a dialect wants sent in the same request as the call's
#: next statement, ahead of it (MySQL's ``SET TRANSACTION READ ONLY`` of a read call).
PREFIX = "mltrail_prefix"
#: Key of a connection's ``info``: set when a request ended with the call's COMMIT, cleared by
#: any statement sent after it (which opens a new transaction that must be committed).
COMMITTED = "mltrail_committed"
#: Key of a connection's ``info``: set when the connection's transaction ended (committed or
#: rolled back through the dialect), cleared by any statement sent after it; the pool's reset
#: then needs no ROLLBACK (mysqlclient, whose status flags Python cannot read).
ENDED = "mltrail_ended"


def take_prefix(conn: Connection) -> str | None:
    """The SQL to send ahead of the statement about to be sent on ``conn`` (then forgotten),
    if any. Every path that sends a statement calls it first."""
    info = conn.info
    info.pop(COMMITTED, None)
    info.pop(ENDED, None)
    prefix: str | None = info.pop(PREFIX, None)
    return prefix


def close_cursor(conn: Connection, cursor: Any) -> None:
    """Close a driver cursor at the end of a ``finally``. mysqlclient reads what is left of a
    request when closing; on a connection that broke, that error would hide the one being
    raised (or, after a success, the next statement reports the connection)."""
    with contextlib.suppress(conn.dialect.loaded_dbapi.Error):
        cursor.close()


def send_prefix(conn: Connection, cursor: Any) -> None:
    """Send what the call put ahead of its next statement (see :func:`take_prefix`) on its own,
    for a path that cannot send it in the statement's request."""
    prefix = take_prefix(conn)
    if prefix is not None:
        try:
            cursor.execute(prefix)
        except conn.dialect.loaded_dbapi.Error as exc:
            raise wrap_error(conn, prefix, None, exc) from exc


#: A statement compiled for one dialect: its SQL text, the names of its positional parameters
#: in order (None for named parameters) and the values the statement carries itself.
Compiled = tuple[str, tuple[str, ...] | None, dict[str, Any]]


def compile_statement(statement: ClauseElement, dialect: Any) -> Compiled:
    """``statement`` compiled for ``dialect`` (see :data:`Compiled`)."""
    compiled: Any = statement.compile(dialect=dialect)
    order = tuple(compiled.positiontup or ()) if compiled.positional else None
    defaults = {
        name: bind.effective_value
        for bind, name in compiled.bind_names.items()
        if bind.value is not None or bind.callable is not None
    }
    return compiled.string, order, defaults


class FastStatement:
    """A fixed-shape statement executed with plain parameter dicts.

    Parameters that carry a value in the statement (literals of a compiled filter, say) keep it
    unless the call gives another; unnamed placeholders (``bindparam("x")``) must be given.

    ``build`` instead of ``statement``: the statement is built when first compiled. ``shipped``
    gives a dialect's compiled text made ahead of time, or None; the statement is then neither
    built nor compiled for that dialect.
    """

    __slots__ = ("_build", "_compiled", "_shipped", "_statement")

    def __init__(
        self,
        statement: ClauseElement | None = None,
        *,
        build: Callable[[], ClauseElement] | None = None,
        shipped: Callable[[Any], Compiled | None] | None = None,
    ) -> None:
        assert (statement is None) != (build is None), "give statement or build"
        self._statement = statement
        self._build = build
        self._shipped = shipped
        self._compiled: dict[Any, tuple[str, Any, dict[str, Any]]] = {}

    @property
    def statement(self) -> ClauseElement:
        statement = self._statement
        if statement is None:
            build = self._build
            if build is None:  # another thread built it meanwhile
                assert self._statement is not None
                return self._statement
            statement = self._statement = build()
            self._build = None  # nor keep what it was built from
        return statement

    def _sql(self, conn: Connection) -> tuple[str, Any, dict[str, Any]]:
        """SQL text, a getter of the positional arguments (None for named parameters) and
        the values the statement carries itself."""
        dialect = conn.dialect
        key = (type(dialect), dialect.server_version_info, dialect.paramstyle)
        entry = self._compiled.get(key)
        if entry is None:
            parts = self._shipped(dialect) if self._shipped is not None else None
            sql, order, defaults = parts or compile_statement(self.statement, dialect)
            getter = None
            if order is not None:
                fetch = operator.itemgetter(*order) if order else (lambda _: ())
                getter = (lambda args: (fetch(args),)) if len(order) == 1 else fetch
            entry = self._compiled[key] = (sql, getter, defaults)
        return entry

    def execute(self, conn: Connection, params: Params | None = None) -> Any:
        """Run once; returns the DBAPI cursor (fetch from it, or read ``lastrowid``)."""
        sql, getter, defaults = self._sql(conn)
        args: Any = {**defaults, **params} if defaults and params else (params or defaults)
        if getter is not None:
            args = getter(args)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        prefix = take_prefix(conn)
        try:
            if prefix is None:
                cursor.execute(sql, args)
            else:
                cursor.execute(f"{prefix};\n{sql}", args)  # one request; the prefix has no %
                cursor.nextset()  # past the prefix's result, to the statement's
        except conn.dialect.loaded_dbapi.Error as exc:
            raise wrap_error(conn, sql, args, exc) from exc
        return cursor

    def prepared(self, conn: Connection, rows: Sequence[Params]) -> tuple[str, list[Any]]:
        """The SQL text and the driver's arguments for each of ``rows``."""
        sql, getter, defaults = self._sql(conn)
        args: Any = [{**defaults, **row} for row in rows] if defaults else list(rows)
        if getter is not None:
            args = [getter(row) for row in args]
        return sql, args

    def execute_many(self, conn: Connection, rows: Sequence[Params]) -> None:
        if not rows:
            return
        if len(rows) == 1:
            self.execute(conn, rows[0]).close()
            return
        sql, args = self.prepared(conn, rows)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        send_prefix(conn, cursor)
        try:
            # A dialect may run executemany its own way (a listener of SQLAlchemy's
            # do_executemany event, honoured here as SQLAlchemy's own execution does).
            for hook in conn.dialect.dispatch.do_executemany:
                if hook(cursor, sql, args, None):
                    break
            else:
                cursor.executemany(sql, args)
        except conn.dialect.loaded_dbapi.Error as exc:
            raise wrap_error(conn, sql, args, exc) from exc
        finally:
            close_cursor(conn, cursor)

    def all(self, conn: Connection, params: Params | None = None) -> list[tuple[Any, ...]]:
        cursor = self.execute(conn, params)
        try:
            return list(cursor.fetchall())
        except conn.dialect.loaded_dbapi.Error as exc:
            # SQLite reads rows as they are fetched: a damaged page may only show here.
            raise wrap_error(conn, *self._sql(conn)[:1], params, exc) from exc
        finally:
            close_cursor(conn, cursor)


def wrap_error(conn: Connection, sql: str, args: Any, exc: Exception) -> DBAPIError:
    """The driver's error ``exc`` as SQLAlchemy's DBAPIError, as Core execution raises it."""
    return DBAPIError.instance(  # type: ignore[return-value]
        sql, args, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
    )


class Batch:
    """Writes of a call whose results it does not need (rows into property, event and
    membership tables), sent together when the call's other statements are done.

    A dialect sends a batch in as few round trips as its driver allows
    (:meth:`~mltrail.backends.sql.dialects.base.Dialect.run_batch`); the statements run in the
    order they were added. Only inserts that no later statement of the call reads or conflicts
    with may wait in a batch. ``tail`` holds statements as SQL text without parameters (the
    change feed's write), run after the items.
    """

    __slots__ = ("items", "tail")

    def __init__(self) -> None:
        self.items: list[tuple[FastStatement, list[Params]]] = []
        self.tail: list[str] = []

    def __len__(self) -> int:
        """How many statements the batch holds (a statement with many rows counts once)."""
        return len(self.items) + len(self.tail)

    def add(self, statement: FastStatement, rows: Sequence[Params]) -> None:
        if rows:
            self.items.append((statement, list(rows)))


def execute_text(conn: Connection, sql: str) -> None:
    """Run ``sql`` (SQL text without parameters) on the driver's cursor of ``conn``."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        send_prefix(conn, cursor)
        cursor.execute(sql)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise wrap_error(conn, sql, None, exc) from exc
    finally:
        close_cursor(conn, cursor)


class InStatement:
    """A statement with one ``IN (...)`` list, compiled per power-of-two list size.

    ``build(params)`` returns the statement for a list of bind parameters. Lists are padded with
    their last value, which does not change an ``IN`` test.
    """

    __slots__ = ("_build", "_sizes")

    MAX = 1024

    def __init__(self, build: Callable[[list[BindParameter[Any]]], ClauseElement]) -> None:
        self._build = build
        self._sizes: dict[int, tuple[FastStatement, list[str]]] = {}

    def all(
        self, conn: Connection, values: Sequence[Any], params: Params | None = None
    ) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        for start in range(0, len(values), self.MAX):
            statement, args = self.bound(values[start : start + self.MAX], params)
            out.extend(statement.all(conn, args))
        return out

    def bound(
        self, values: Sequence[Any], params: Params | None = None
    ) -> tuple[FastStatement, dict[str, Any]]:
        """The statement and its arguments for 1 to :attr:`MAX` values."""
        size = bucket(len(values))
        entry = self._sizes.get(size)
        if entry is None:
            names = [f"in_{i}" for i in range(size)]
            statement = FastStatement(self._build([bindparam(name) for name in names]))
            entry = self._sizes[size] = (statement, names)
        statement, names = entry
        padded = list(values)
        padded.extend([padded[-1]] * (size - len(padded)))
        args = dict(zip(names, padded))
        if params:
            args.update(params)
        return statement, args


class StatementCache:
    """Fast statements built on demand by key, the least recently used dropped beyond ``size``
    entries or ``max_weight`` in all.

    For statements whose shape depends on the request (a filter's text, a direction) but repeat.
    A key's weight is 1 plus the ``weight`` of its parts that have one (a filter's shape weighs
    the length of its text, about the size of the SQL made for it); entries heavier than
    ``max_entry`` are built for the call and not kept.
    """

    def __init__(self, size: int = 256, *, max_weight: int = 1 << 17, max_entry: int = 8_192):
        self._items: SizedLRU[Any, FastStatement] = SizedLRU(
            max_total=max_weight, max_entry=max_entry, max_count=size
        )

    @property
    def weight(self) -> int:
        """The summed weight of the statements held."""
        return self._items.total

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Any, build: Callable[[], ClauseElement]) -> FastStatement:
        statement = self._items.get(key)
        if statement is None:
            statement = FastStatement(build())
            self._items.put(key, statement, key_weight(key))
        return statement


def key_weight(key: Any) -> int:
    """1 plus the weights of the key's parts (for a tuple key) that carry an int ``weight``."""
    total = 1
    for part in key if isinstance(key, tuple) else (key,):
        weight = getattr(part, "weight", None)
        if isinstance(weight, int):
            total += weight
    return total


def bucket(count: int) -> int:
    """The power of two at or above ``count`` (at least 1): a size class for IN lists."""
    size = 1
    while size < count:
        size *= 2
    return size


class MultiInStatement:
    """A statement with several ``IN (...)`` lists, compiled per combination of list sizes.

    ``build(lists)`` gets one list of bind parameters per name. Every list must be non-empty
    and at most :attr:`InStatement.MAX` long (callers split bigger work themselves).
    """

    __slots__ = ("_build", "_sizes")

    def __init__(
        self, build: Callable[[dict[str, list[BindParameter[Any]]]], ClauseElement]
    ) -> None:
        self._build = build
        self._sizes: dict[
            tuple[tuple[str, int], ...], tuple[FastStatement, dict[str, list[str]]]
        ] = {}

    @staticmethod
    def fits(*lists: Sequence[Any]) -> bool:
        return all(0 < len(values) <= InStatement.MAX for values in lists)

    def all(self, conn: Connection, lists: Mapping[str, Sequence[Any]]) -> list[tuple[Any, ...]]:
        key = tuple(sorted((name, bucket(len(values))) for name, values in lists.items()))
        entry = self._sizes.get(key)
        if entry is None:
            names = {name: [f"{name}_{i}" for i in range(size)] for name, size in key}
            statement = FastStatement(
                self._build({name: [bindparam(n) for n in group] for name, group in names.items()})
            )
            entry = self._sizes[key] = (statement, names)
        statement, names = entry
        args: dict[str, Any] = {}
        for name, values in lists.items():
            padded = list(values)
            padded.extend([padded[-1]] * (len(names[name]) - len(padded)))
            args.update(zip(names[name], padded))
        return statement.all(conn, args)
