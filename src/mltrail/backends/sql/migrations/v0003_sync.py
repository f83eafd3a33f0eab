"""Schema version 3: stamps and a change feed, so that stores can exchange and merge changes.

* ``mlt_site`` lists the sites this store knows; row 1 is the store itself, with a new random
  UUID (its global name).
* ``mlt_change`` is the change feed: one row per entity a write transaction changed.
* ``mlt_alias`` maps the ids other sites gave to nodes to local ids; ``mlt_tombstone`` keeps the
  stamps of removed property keys.
* Node and property rows get the stamp of their last change: ``hlc`` (a hybrid logical clock
  value: milliseconds since the epoch times 65536, plus a counter) and ``site``.

The existing rows are stamped with their node's last update time (made here, site 1), and the
feed is seeded with every existing entity, in an order in which nothing refers to an entity not
listed yet: types (artifact, execution, context types, each by id), then contexts, artifacts and
executions (each by id). MySQL/MariaDB allocate feed positions from the self row's
``feed_seq``, PostgreSQL from the sequence ``mlt_change_seq`` (see the dialect), each set to
follow the seeded rows (``feed_seq`` is the number of seeded rows on both servers).

On MySQL/MariaDB the tables and columns are created first (each such change commits at once),
then the rows are written in the migration transaction.

A migration is history: this file stays as it is when the declared schema moves on.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)

from mltrail.backends.sql.migrations import Migration, table_options
from mltrail.backends.sql.migrations.v0001_initial import _ID, _NAME

if TYPE_CHECKING:  # migration modules are imported on every open; Alembic only when one runs
    from alembic.operations import Operations

_NODES = ("mlt_artifact", "mlt_execution", "mlt_context")
_PROPERTIES = {
    "mlt_artifact_property": "mlt_artifact",
    "mlt_execution_property": "mlt_execution",
    "mlt_context_property": "mlt_context",
}
#: The feed's seed, in order: (kind of the feed rows, source table, order within it).
_SEED = (
    ("kind + 10", "mlt_type", "kind, id"),
    ("3", "mlt_context", "id"),
    ("1", "mlt_artifact", "id"),
    ("2", "mlt_execution", "id"),
)
_UUID = String(36).with_variant(String(36, collation="C"), "postgresql")
_HLC_SHIFT = 65536  # an HLC value is (milliseconds << 16) + counter


def _create_tables(op: Operations) -> None:
    options = table_options(op)
    op.create_table(
        "mlt_site",
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("uuid", _UUID, nullable=False),
        Column("feed_seq", BigInteger, nullable=False, server_default="0"),
        Column("applied_seq", BigInteger, nullable=False, server_default="0"),
        Column("label", _NAME, nullable=True),
        PrimaryKeyConstraint("id", name="pk_mlt_site"),
        UniqueConstraint("uuid", name="uq_mlt_site_uuid"),
        **options,
    )
    op.create_table(
        "mlt_change",
        Column("seq", _ID, primary_key=True, autoincrement=False),
        Column("kind", SmallInteger, nullable=False),
        Column("entity_id", _ID, nullable=False),
        Column("source", Integer, nullable=True),
        PrimaryKeyConstraint("seq", name="pk_mlt_change"),
        **options,
    )
    op.create_table(
        "mlt_alias",
        Column("kind", SmallInteger, nullable=False),
        Column("site", Integer, nullable=False),
        Column("origin_id", _ID, nullable=False),
        Column("local_id", _ID, nullable=False),
        Column("origin", Boolean, nullable=False),
        PrimaryKeyConstraint("kind", "site", "origin_id", name="pk_mlt_alias"),
        sqlite_with_rowid=False,
        **options,
    )
    op.create_index("ix_mlt_alias_kind_local_id", "mlt_alias", ["kind", "local_id"])
    op.create_table(
        "mlt_tombstone",
        Column("kind", SmallInteger, nullable=False),
        Column("node_id", _ID, nullable=False),
        Column("name", _NAME, nullable=False),
        Column("is_custom", Boolean, nullable=False),
        Column("hlc", BigInteger, nullable=False),
        Column("site", Integer, nullable=False),
        PrimaryKeyConstraint("kind", "node_id", "name", "is_custom", name="pk_mlt_tombstone"),
        sqlite_with_rowid=False,
        **options,
    )


def _add_stamps(op: Operations) -> None:
    for table in (*_NODES, *_PROPERTIES):
        op.add_column(table, Column("hlc", BigInteger, nullable=False, server_default="0"))
        op.add_column(table, Column("site", Integer, nullable=False, server_default="1"))


def _stamp_rows(op: Operations) -> None:
    for table in _NODES:
        op.execute(text(f"UPDATE {table} SET hlc = last_update_time_since_epoch * {_HLC_SHIFT}"))
    for table, node_table in _PROPERTIES.items():
        op.execute(
            text(
                f"UPDATE {table} SET hlc = (SELECT n.last_update_time_since_epoch * {_HLC_SHIFT} "
                f"FROM {node_table} n WHERE n.id = {table}.node_id)"
            )
        )


def _seed_feed(op: Operations) -> int:
    """Write every existing entity to the feed, positions 1..n in :data:`_SEED` order; n."""
    bind = op.get_bind()
    last = text("SELECT COALESCE(MAX(seq), 0) FROM mlt_change")
    for kind, table, order in _SEED:
        bind.execute(
            text(
                "INSERT INTO mlt_change (seq, kind, entity_id, source) "
                f"SELECT :offset + ROW_NUMBER() OVER (ORDER BY {order}), {kind}, id, NULL "
                f"FROM {table}"
            ),
            {"offset": int(bind.execute(last).scalar_one())},
        )
    return int(bind.execute(last).scalar_one())


def upgrade(op: Operations) -> None:
    _create_tables(op)
    _add_stamps(op)
    bind = op.get_bind()
    bind.execute(
        text("INSERT INTO mlt_site (id, uuid, feed_seq, applied_seq) VALUES (1, :uuid, 0, 0)"),
        {"uuid": str(uuid.uuid4())},
    )
    if bind.dialect.name == "postgresql":  # the row's id was given: the next site gets 2
        bind.execute(text("SELECT setval(pg_get_serial_sequence('mlt_site', 'id'), 1, true)"))
    _stamp_rows(op)
    seeded = _seed_feed(op)
    if bind.dialect.name != "sqlite":  # SQLite's positions are rowids; servers count them here
        bind.execute(text("UPDATE mlt_site SET feed_seq = :n WHERE id = 1"), {"n": seeded})
    if bind.dialect.name == "postgresql":  # positions come from a sequence there
        op.execute(text("CREATE SEQUENCE mlt_change_seq AS BIGINT OWNED BY mlt_change.seq"))
        bind.execute(text("SELECT setval('mlt_change_seq', :next, false)"), {"next": seeded + 1})


MIGRATION = Migration(
    version=3,
    summary="sites, a change feed, tombstones, aliases and per-key stamps for sync",
    upgrade=upgrade,
)
