"""Counting helpers of the tests: rows a pipeline step writes, statements a call runs."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from mltrail.backends.sql import fast, schema

COUNTED = {
    "executions": schema.execution,
    "artifacts": schema.artifact,
    "events": schema.event,
    "associations": schema.association,
    "attributions": schema.attribution,
    "contexts": schema.context,
    "types": schema.type_,
}


def counts(conn: sa.Connection) -> dict[str, int]:
    """Row counts of the tables a pipeline step writes, read in one transaction."""
    return {
        name: int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
        for name, table in COUNTED.items()
    }


def count_statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """SQL statements run from now on (the store runs its statements through FastStatement)."""
    calls: list[str] = []
    original = fast.FastStatement.execute

    def counting(self: fast.FastStatement, conn: Any, params: Any = None) -> Any:
        calls.append(str(self.statement))
        return original(self, conn, params)

    monkeypatch.setattr(fast.FastStatement, "execute", counting)
    return calls
