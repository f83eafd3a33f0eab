"""One module per SQL dialect, registered by URL scheme.

Every difference between databases lives in a subclass of :class:`Dialect`; the store never branches
on the database's name. A module is imported only when a URL asks for its database, so a missing
server driver matters only to those who use that server.
"""

from __future__ import annotations

import importlib

from mltrail.backends.sql.dialects.base import Dialect

__all__ = ["SCHEMES", "Dialect", "dialect_for"]

#: URL scheme (the part before ``+driver``) -> (module, class) of the dialect serving it.
SCHEMES: dict[str, tuple[str, str]] = {
    "sqlite": ("mltrail.backends.sql.dialects.sqlite", "SQLiteDialect"),
    "postgresql": ("mltrail.backends.sql.dialects.postgresql", "PostgreSQLDialect"),
    "postgres": ("mltrail.backends.sql.dialects.postgresql", "PostgreSQLDialect"),
    "mysql": ("mltrail.backends.sql.dialects.mysql", "MySQLDialect"),
    "mariadb": ("mltrail.backends.sql.dialects.mysql", "MySQLDialect"),
}


def dialect_for(drivername: str) -> Dialect:
    """A new :class:`Dialect` serving a URL scheme or SQLAlchemy driver name such as
    ``sqlite+pysqlite`` or ``postgresql``."""
    backend = drivername.split("+", 1)[0].lower()
    entry = SCHEMES.get(backend)
    if entry is None:
        from mltrail.errors import InvalidArgumentError

        raise InvalidArgumentError(
            f"unsupported database {backend!r}; use sqlite:///path.db, postgresql://user@host/db, "
            "mysql://user@host/db (MariaDB too), or no URL for an in-memory store"
        )
    module, name = entry
    cls: type[Dialect] = getattr(importlib.import_module(module), name)
    return cls()
