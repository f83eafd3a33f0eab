"""Schema versions and the migration runner.

The database records one integer, its schema version, in ``mlt_schema``. Each :class:`Migration`
moves a database from ``version - 1`` to ``version``; DDL is issued through Alembic's
``Operations`` so that dialect quirks (SQLite's limited ALTER TABLE) are handled for us.

On open (:func:`prepare_schema`), inside one transaction:

* same version as the library: nothing to do;
* older (or empty): apply the missing migrations in order and record the new version — all or
  nothing; with ``migrate=False`` an existing older database is refused instead;
* newer: refuse with :class:`~mltrail.errors.SchemaVersionError` naming both versions; the database
  is not touched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Connection, delete, insert, inspect, select

from mltrail.backends.sql import schema
from mltrail.backends.sql.database import Database
from mltrail.errors import SchemaVersionError


@dataclass(frozen=True)
class Migration:
    """One step of the schema history: ``upgrade`` turns ``version - 1`` into ``version``."""

    version: int
    summary: str
    upgrade: Callable[[Operations], None]


def builtin_migrations() -> tuple[Migration, ...]:
    from mltrail.backends.sql.migrations import v0001_initial

    return (v0001_initial.MIGRATION,)


def library_schema_version() -> int:
    """The schema version this library writes and expects."""
    return builtin_migrations()[-1].version


def read_schema_version(conn: Connection) -> int:
    """The database's schema version; 0 for a database without mltrail tables."""
    if not inspect(conn).has_table(schema.schema_version.name):
        return 0
    version = conn.execute(select(schema.schema_version.c.version)).scalar()
    return int(version) if version is not None else 0


def prepare_schema(
    db: Database, *, migrate: bool = True, migrations: Sequence[Migration] | None = None
) -> int:
    """Bring ``db`` to the newest version of ``migrations`` (default: the library's own).

    Returns the schema version the database has afterwards.
    """
    steps = tuple(migrations) if migrations is not None else builtin_migrations()
    _check_sequence(steps)
    target = steps[-1].version

    def apply(conn: Connection) -> int:
        with db.dialect.migration_lock(conn):
            current = read_schema_version(conn)
            if current == target:
                return current
            if current > target:
                raise SchemaVersionError(
                    f"{db.description} has schema version {current}, newer than version {target} "
                    "that this mltrail library supports; upgrade mltrail (pip install -U mltrail). "
                    "The database was not changed.",
                    database_version=current,
                    library_version=target,
                )
            if current > 0 and not migrate:
                raise SchemaVersionError(
                    f"{db.description} has schema version {current}, older than this library's "
                    f"version {target}, and migration was disabled (migrate=False); open it with "
                    "migrate=True to upgrade it (back it up first). The database was not changed.",
                    database_version=current,
                    library_version=target,
                )
            ops = Operations(MigrationContext.configure(connection=conn))
            for step in steps:
                if step.version > current:
                    step.upgrade(ops)
            conn.execute(delete(schema.schema_version))
            conn.execute(insert(schema.schema_version).values(version=target))
            return target

    return db.run(apply, write=True)


def _check_sequence(steps: Sequence[Migration]) -> None:
    expected = list(range(1, len(steps) + 1))
    if [s.version for s in steps] != expected:
        raise ValueError(
            f"migrations must be numbered {expected}, got {[s.version for s in steps]}"
        )
