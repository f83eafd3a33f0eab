"""Row counts of the tables a pipeline step writes (for the concurrency tests)."""

from __future__ import annotations

import sqlalchemy as sa

from mltrail.backends.sql import schema

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
