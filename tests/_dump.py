"""A store's whole content in one statement, to check that a failed call changed nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Text, cast, literal, null, select, union_all

from mltrail.backends.sql import schema
from mltrail.backends.sql.database import Database


def _dump_statement() -> Any:
    """One SELECT of every row of every table, each column as text: a store's content in one
    round trip (compared only with other dumps of the same database)."""
    tables = schema.metadata.sorted_tables
    width = max(len(t.columns) for t in tables)
    parts = []
    for table in tables:
        columns = [cast(c, Text) for c in table.columns]
        parts.append(
            select(literal(table.name).label("t"), *columns, *[null()] * (width - len(columns)))
        )
    return union_all(*parts)


_DUMP = _dump_statement()


def dump(database: Database) -> list[tuple[Any, ...]]:
    """Every row of every table, sorted."""
    rows = database.run(lambda conn: conn.execute(_DUMP).all(), write=False)
    return sorted((tuple(row) for row in rows), key=repr)
