"""One module per SQL dialect, registered by URL scheme.

Every difference between databases lives in a subclass of :class:`Dialect`; the store never branches
on the database's name.
"""

from __future__ import annotations

from mltrail.backends.sql.dialects.base import Dialect

__all__ = ["Dialect", "dialect_for"]


def dialect_for(drivername: str) -> Dialect:
    """The :class:`Dialect` serving a SQLAlchemy driver name such as ``sqlite+pysqlite``."""
    backend = drivername.split("+", 1)[0]
    if backend == "sqlite":
        from mltrail.backends.sql.dialects.sqlite import SQLiteDialect

        return SQLiteDialect()
    from mltrail.errors import InvalidArgumentError

    raise InvalidArgumentError(
        f"unsupported database {backend!r}; use sqlite:///path.db, or no URL for an in-memory store"
    )
