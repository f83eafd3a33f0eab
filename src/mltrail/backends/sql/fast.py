"""Hot statements: compiled once per dialect by SQLAlchemy, run on the DBAPI cursor.

Building and executing a Core statement costs tens of microseconds of Python per call; the
statements of the logging hot path (``put_execution``, ``put_artifacts``) run thousands of times a
second, so they are compiled once and executed directly. ``IN`` lists are padded to a power-of-two
number of parameters, so each size class is compiled once as well.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.elements import BindParameter

Params = Mapping[str, Any]


class FastStatement:
    """A fixed-shape statement executed with plain parameter dicts."""

    __slots__ = ("_compiled", "statement")

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[Any, tuple[str, tuple[str, ...] | None]] = {}

    def _sql(self, conn: Connection) -> tuple[str, tuple[str, ...] | None]:
        dialect = conn.dialect
        key = (type(dialect), dialect.server_version_info, dialect.paramstyle)
        entry = self._compiled.get(key)
        if entry is None:
            compiled = self.statement.compile(dialect=dialect)
            order = tuple(compiled.positiontup or ()) if compiled.positional else None  # type: ignore[attr-defined]
            entry = self._compiled[key] = (compiled.string, order)
        return entry

    def execute(self, conn: Connection, params: Params | None = None) -> Any:
        """Run once; returns the DBAPI cursor (fetch from it, or read ``lastrowid``)."""
        sql, order = self._sql(conn)
        args: Any = params or {}
        if order is not None:
            args = tuple(args[name] for name in order)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, args)
        except conn.dialect.loaded_dbapi.Error as exc:
            raise _wrap(conn, sql, args, exc) from exc
        return cursor

    def execute_many(self, conn: Connection, rows: Sequence[Params]) -> None:
        if not rows:
            return
        if len(rows) == 1:
            self.execute(conn, rows[0]).close()
            return
        sql, order = self._sql(conn)
        args: Any = rows
        if order is not None:
            args = [tuple(row[name] for name in order) for row in rows]
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(sql, args)
        except conn.dialect.loaded_dbapi.Error as exc:
            raise _wrap(conn, sql, args, exc) from exc
        finally:
            cursor.close()

    def all(self, conn: Connection, params: Params | None = None) -> list[tuple[Any, ...]]:
        cursor = self.execute(conn, params)
        try:
            return list(cursor.fetchall())
        finally:
            cursor.close()


def _wrap(conn: Connection, sql: str, args: Any, exc: Exception) -> DBAPIError:
    return DBAPIError.instance(  # type: ignore[return-value]
        sql, args, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
    )


class InStatement:
    """A statement with one ``IN (...)`` list, compiled per power-of-two list size.

    ``build(params)`` returns the statement for a list of bind parameters. Lists are padded with
    their last value, which does not change an ``IN`` test.
    """

    __slots__ = ("_build", "_sizes")

    MAX = 1024

    def __init__(self, build: Callable[[list[BindParameter[Any]]], ClauseElement]) -> None:
        self._build = build
        self._sizes: dict[int, FastStatement] = {}

    def all(
        self, conn: Connection, values: Sequence[Any], params: Params | None = None
    ) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        for start in range(0, len(values), self.MAX):
            part = values[start : start + self.MAX]
            size = 1
            while size < len(part):
                size *= 2
            statement = self._sizes.get(size)
            if statement is None:
                statement = self._sizes[size] = FastStatement(
                    self._build([bindparam(f"in_{i}") for i in range(size)])
                )
            args = dict(params or {})
            for i in range(size):
                args[f"in_{i}"] = part[min(i, len(part) - 1)]
            out.extend(statement.all(conn, args))
        return out
