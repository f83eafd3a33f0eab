"""The declared relational schema (SQLAlchemy Core tables).

This is the schema of the newest version. Migrations in :mod:`mltrail.backends.sql.migrations` build
it step by step from an empty database; a test checks that the migrated schema equals this one.

Uniqueness rules live here as constraints or unique indexes, not only in code:
type (kind, name, version); type external id; node (type, name); node external id per node kind;
event (artifact, execution, type); attribution, association and parent context pairs. Where a
database has partial indexes (SQLite, PostgreSQL), the rows whose indexed column is NULL are
left out of the indexes on mostly-NULL columns (external ids, node names, property slots).

Sync (schema version 3): node and property rows carry the stamp of their last change (``hlc``, a
hybrid logical clock value, and ``site``, the :data:`site` row that made it); ``mlt_change`` is
the change feed, ``mlt_tombstone`` the stamps of removed property keys, ``mlt_alias`` the ids
other sites gave to nodes, ``mlt_site`` the sites this store knows (row 1 is itself).
"""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.mysql import DOUBLE, MEDIUMTEXT

NAME_LENGTH = 255
"""Longest name, version, external id or property name, in characters."""


class TypeKind(enum.IntEnum):
    ARTIFACT = 1
    EXECUTION = 2
    CONTEXT = 3


NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# SQLite only auto-assigns ids to a column declared exactly INTEGER PRIMARY KEY.
Id = BigInteger().with_variant(Integer(), "sqlite")
Double = Float(precision=53).with_variant(DOUBLE(asdecimal=False), "mysql", "mariadb")
# Text compares by code point on every backend (case-sensitive, locale-independent): SQLite's
# default BINARY collation; COLLATE "C" on PostgreSQL; on MySQL/MariaDB the tables' binary
# collation (set when they are created, see Dialect.table_options). MySQL's TEXT holds only
# 64 kB, so long text is MEDIUMTEXT (16 MB) there.
Name = String(NAME_LENGTH).with_variant(String(NAME_LENGTH, collation="C"), "postgresql")
#: A UUID in its canonical text form (36 characters).
UuidText = String(36).with_variant(String(36, collation="C"), "postgresql")
LongText = (
    Text()
    .with_variant(Text(collation="C"), "postgresql")
    .with_variant(MEDIUMTEXT(), "mysql", "mariadb")
)


def _id_column() -> Column[int]:
    return Column("id", Id, primary_key=True, autoincrement=True)


#: The ``mlt_site`` id of the store itself.
SELF_SITE = 1


def _stamp_columns() -> list[Column[int]]:
    """The stamp of a row's last change: its HLC value and the site that made it."""
    return [
        Column("hlc", BigInteger, nullable=False, server_default="0"),
        Column("site", Integer, nullable=False, server_default=str(SELF_SITE)),
    ]


schema_version = Table(
    "mlt_schema",
    metadata,
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("version"),
)

type_ = Table(
    "mlt_type",
    metadata,
    _id_column(),
    Column("kind", SmallInteger, nullable=False),
    Column("name", Name, nullable=False),
    # "" stands for "no version" so that the unique constraint holds on every backend.
    Column("version", Name, nullable=False),
    Column("description", LongText, nullable=True),
    Column("external_id", Name, nullable=True, unique=True),
    Column("base_type", SmallInteger, nullable=True),
    UniqueConstraint("kind", "name", "version"),
)

type_property = Table(
    "mlt_type_property",
    metadata,
    Column("type_id", Id, ForeignKey("mlt_type.id"), nullable=False),
    Column("name", Name, nullable=False),
    Column("data_type", SmallInteger, nullable=False),
    PrimaryKeyConstraint("type_id", "name"),
)


def _not_null(column: Column[Any]) -> dict[str, Any]:
    """Options of a partial index that leaves out the rows where ``column`` is NULL, on the
    databases that have partial indexes (SQLite, PostgreSQL; MySQL and MariaDB index every
    row). A lookup or range on the column implies it is not NULL, so it can use the index."""
    return {"sqlite_where": column.isnot(None), "postgresql_where": column.isnot(None)}


def _node_table(name: str, *extra: Column[Any], name_nullable: bool) -> Table:
    table = Table(
        name,
        metadata,
        _id_column(),
        Column("type_id", Id, ForeignKey("mlt_type.id"), nullable=False),
        Column("name", Name, nullable=name_nullable),
        *extra,
        Column("external_id", Name, nullable=True),
        Column("create_time_since_epoch", BigInteger, nullable=False),
        Column("last_update_time_since_epoch", BigInteger, nullable=False),
        # One register for the node's own fields (name, external_id and the kind's scalars).
        *_stamp_columns(),
    )
    c = table.c
    Index(f"uq_{name}_external_id", c.external_id, unique=True, **_not_null(c.external_id))
    if name_nullable:
        # Most artifacts and executions have no name: those rows stay out of the name indexes.
        Index(f"uq_{name}_type_id_name", c.type_id, c.name, unique=True, **_not_null(c.name))
        Index(f"ix_{name}_name", c.name, **_not_null(c.name))
    else:
        table.append_constraint(UniqueConstraint(c.type_id, c.name))
        Index(f"ix_{name}_name", c.name)  # filters on a name without its type
    # Pages of one type in id order (the default) read only their own rows; listings in time
    # order read the time indexes in order instead of sorting every row per page (each costs a
    # write about one b-tree page: a price paid so that a page costs O(page), not O(store)).
    Index(f"ix_{name}_type_id_id", c.type_id, c.id)
    Index(f"ix_{name}_create_time_since_epoch", c.create_time_since_epoch)
    Index(f"ix_{name}_last_update_time_since_epoch", c.last_update_time_since_epoch)
    return table


def _property_table(name: str, node_table: str) -> Table:
    # On SQLite the rows are stored in their key's b-tree (WITHOUT ROWID): one tree per table.
    table = Table(
        name,
        metadata,
        Column("node_id", Id, ForeignKey(f"{node_table}.id"), nullable=False),
        Column("name", Name, nullable=False),
        Column("is_custom", Boolean, nullable=False),
        Column("int_value", BigInteger, nullable=True),
        Column("double_value", Double, nullable=True),
        Column("string_value", LongText, nullable=True),
        Column("bool_value", Boolean, nullable=True),
        Column("struct_value", LongText, nullable=True),
        *_stamp_columns(),  # the stamp of this key's value
        PrimaryKeyConstraint("node_id", "name", "is_custom"),
        sqlite_with_rowid=False,
    )
    c = table.c
    # Filters on property values (properties.acc > 0.9) scan a range instead of every node. A
    # value has one slot: each index holds only the rows whose value is in its slot.
    for slot in ("int_value", "double_value"):
        Index(f"ix_{name}_{slot}", c.name, c.is_custom, c[slot], **_not_null(c[slot]))
    # A PostgreSQL b-tree entry holds at most ~2.7 kB, and string values may be longer: there,
    # an equality-only hash index on the value (Dialect.text_index); elsewhere a range index,
    # over a prefix of the value on MySQL.
    Index(
        f"ix_{name}_string_value",
        c.name,
        c.is_custom,
        c.string_value,
        mysql_length={"name": 191, "string_value": 255},
        **_not_null(c.string_value),
    ).ddl_if(dialect=("sqlite", "mysql", "mariadb"))  # type: ignore[arg-type]  # a tuple works
    Index(
        f"ix_{name}_string_value",
        c.string_value,
        postgresql_using="hash",
        **_not_null(c.string_value),
    ).ddl_if(dialect="postgresql")
    return table


artifact = _node_table(
    "mlt_artifact",
    Column("uri", LongText, nullable=True),
    Column("state", SmallInteger, nullable=True),
    name_nullable=True,
)
# Lookups by uri; a hash index on PostgreSQL, where a b-tree cannot hold long uris.
Index("ix_mlt_artifact_uri", artifact.c.uri, mysql_length=255, postgresql_using="hash")

execution = _node_table(
    "mlt_execution",
    Column("last_known_state", SmallInteger, nullable=True),
    name_nullable=True,
)

context = _node_table("mlt_context", name_nullable=False)

artifact_property = _property_table("mlt_artifact_property", "mlt_artifact")
execution_property = _property_table("mlt_execution_property", "mlt_execution")
context_property = _property_table("mlt_context_property", "mlt_context")

event = Table(
    "mlt_event",
    metadata,
    _id_column(),
    Column("artifact_id", Id, ForeignKey("mlt_artifact.id"), nullable=False),
    Column("execution_id", Id, ForeignKey("mlt_execution.id"), nullable=False),
    Column("type", SmallInteger, nullable=False),
    # The path (a list of int index / str key steps) as JSON text; NULL for an empty path.
    Column("path", LongText, nullable=True),
    Column("milliseconds_since_epoch", BigInteger, nullable=False),
    UniqueConstraint("artifact_id", "execution_id", "type"),
)
Index("ix_mlt_event_execution_id", event.c.execution_id)

attribution = Table(
    "mlt_attribution",
    metadata,
    Column("context_id", Id, ForeignKey("mlt_context.id"), nullable=False),
    Column("artifact_id", Id, ForeignKey("mlt_artifact.id"), nullable=False),
    PrimaryKeyConstraint("context_id", "artifact_id"),
    sqlite_with_rowid=False,
)
Index("ix_mlt_attribution_artifact_id", attribution.c.artifact_id)

association = Table(
    "mlt_association",
    metadata,
    Column("context_id", Id, ForeignKey("mlt_context.id"), nullable=False),
    Column("execution_id", Id, ForeignKey("mlt_execution.id"), nullable=False),
    PrimaryKeyConstraint("context_id", "execution_id"),
    sqlite_with_rowid=False,
)
Index("ix_mlt_association_execution_id", association.c.execution_id)

parent_context = Table(
    "mlt_parent_context",
    metadata,
    Column("context_id", Id, ForeignKey("mlt_context.id"), nullable=False),
    Column("parent_context_id", Id, ForeignKey("mlt_context.id"), nullable=False),
    PrimaryKeyConstraint("context_id", "parent_context_id"),
    sqlite_with_rowid=False,
)
Index("ix_mlt_parent_context_parent_context_id", parent_context.c.parent_context_id)


# ------------------------------------------------------------------------------------------ sync

site = Table(
    "mlt_site",
    metadata,
    _id_column(),
    Column("uuid", UuidText, nullable=False, unique=True),  # str(uuid.uuid4())
    # The self row: the last feed position handed out (servers allocate positions from it).
    Column("feed_seq", BigInteger, nullable=False, server_default="0"),
    # Other sites: the position of their feed this store has applied.
    Column("applied_seq", BigInteger, nullable=False, server_default="0"),
    Column("label", Name, nullable=True),  # where the site was last seen, for humans
)

# One row per entity a write transaction changed, in commit order. On SQLite ``seq`` is the
# rowid (no AUTOINCREMENT); MySQL/MariaDB hand positions out from the self row's ``feed_seq``,
# PostgreSQL from the sequence mlt_change_seq (created by the migration, owned by the column).
change = Table(
    "mlt_change",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=False),
    Column("kind", SmallInteger, nullable=False),  # TypeKind of a node; 10 + TypeKind of a type
    Column("entity_id", Id, nullable=False),
    Column("source", Integer, nullable=True),  # the site it was received from; NULL: made here
)

alias = Table(
    "mlt_alias",
    metadata,
    Column("kind", SmallInteger, nullable=False),
    Column("site", Integer, nullable=False),
    Column("origin_id", Id, nullable=False),
    Column("local_id", Id, nullable=False),
    Column("origin", Boolean, nullable=False),
    PrimaryKeyConstraint("kind", "site", "origin_id"),
    sqlite_with_rowid=False,
)
Index("ix_mlt_alias_kind_local_id", alias.c.kind, alias.c.local_id)

tombstone = Table(
    "mlt_tombstone",
    metadata,
    Column("kind", SmallInteger, nullable=False),
    Column("node_id", Id, nullable=False),
    Column("name", Name, nullable=False),
    Column("is_custom", Boolean, nullable=False),
    Column("hlc", BigInteger, nullable=False),
    Column("site", Integer, nullable=False),
    PrimaryKeyConstraint("kind", "node_id", "name", "is_custom"),
    sqlite_with_rowid=False,
)
