"""Schema version 1: the metadata model's tables.

A migration is history: this file stays as it is when the declared schema (``schema.py``) moves
on; later versions add their own migration modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKeyConstraint,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.mysql import DOUBLE, MEDIUMTEXT

from mltrail.backends.sql.migrations import Migration, table_options, text_index

if TYPE_CHECKING:
    from alembic.operations import Operations

_ID = BigInteger().with_variant(Integer(), "sqlite")
# Text compared by code point everywhere: COLLATE "C" on PostgreSQL; on MySQL/MariaDB the
# tables' binary collation (table_options). Long text is MEDIUMTEXT on MySQL (TEXT holds 64 kB).
_NAME = String(255).with_variant(String(255, collation="C"), "postgresql")
_DOUBLE = Float(precision=53).with_variant(DOUBLE(asdecimal=False), "mysql", "mariadb")
_TEXT = (
    Text()
    .with_variant(Text(collation="C"), "postgresql")
    .with_variant(MEDIUMTEXT(), "mysql", "mariadb")
)


def _table(op: Operations, name: str, *items: Any) -> None:
    op.create_table(name, *items, **table_options(op))


def _fk(column: str, table: str, target: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint([column], [f"{target}.id"], name=f"fk_{table}_{column}")


def _node(op: Operations, table: str, *extra: Column[Any], name_nullable: bool) -> None:
    _table(
        op,
        table,
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("type_id", _ID, nullable=False),
        Column("name", _NAME, nullable=name_nullable),
        *extra,
        Column("external_id", _NAME, nullable=True),
        Column("create_time_since_epoch", BigInteger, nullable=False),
        Column("last_update_time_since_epoch", BigInteger, nullable=False),
        _fk("type_id", table, "mlt_type"),
        UniqueConstraint("external_id", name=f"uq_{table}_external_id"),
        UniqueConstraint("type_id", "name", name=f"uq_{table}_type_id_name"),
    )
    for column in ("name", "create_time_since_epoch", "last_update_time_since_epoch"):
        op.create_index(f"ix_{table}_{column}", table, [column])


def _properties(op: Operations, table: str, node_table: str) -> None:
    _table(
        op,
        table,
        Column("node_id", _ID, nullable=False),
        Column("name", _NAME, nullable=False),
        Column("is_custom", Boolean, nullable=False),
        Column("int_value", BigInteger, nullable=True),
        Column("double_value", _DOUBLE, nullable=True),
        Column("string_value", _TEXT, nullable=True),
        Column("bool_value", Boolean, nullable=True),
        Column("struct_value", _TEXT, nullable=True),
        PrimaryKeyConstraint("node_id", "name", "is_custom", name=f"pk_{table}"),
        _fk("node_id", table, node_table),
    )
    for slot in ("int_value", "double_value"):
        op.create_index(f"ix_{table}_{slot}", table, ["name", "is_custom", slot])
    columns, options = text_index(op, ["name", "is_custom", "string_value"])
    op.create_index(
        f"ix_{table}_string_value",
        table,
        columns,
        mysql_length={"name": 191, "string_value": 255},
        **options,
    )


def _membership(op: Operations, table: str, member: str, member_table: str) -> None:
    _table(
        op,
        table,
        Column("context_id", _ID, nullable=False),
        Column(member, _ID, nullable=False),
        PrimaryKeyConstraint("context_id", member, name=f"pk_{table}"),
        _fk("context_id", table, "mlt_context"),
        _fk(member, table, member_table),
    )
    op.create_index(f"ix_{table}_{member}", table, [member])


def upgrade(op: Operations) -> None:
    _table(
        op,
        "mlt_schema",
        Column("version", Integer, nullable=False),
        PrimaryKeyConstraint("version", name="pk_mlt_schema"),
    )
    _table(
        op,
        "mlt_type",
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("kind", SmallInteger, nullable=False),
        Column("name", _NAME, nullable=False),
        Column("version", _NAME, nullable=False),
        Column("description", _TEXT, nullable=True),
        Column("external_id", _NAME, nullable=True),
        Column("base_type", SmallInteger, nullable=True),
        UniqueConstraint("external_id", name="uq_mlt_type_external_id"),
        UniqueConstraint("kind", "name", "version", name="uq_mlt_type_kind_name_version"),
    )
    _table(
        op,
        "mlt_type_property",
        Column("type_id", _ID, nullable=False),
        Column("name", _NAME, nullable=False),
        Column("data_type", SmallInteger, nullable=False),
        PrimaryKeyConstraint("type_id", "name", name="pk_mlt_type_property"),
        _fk("type_id", "mlt_type_property", "mlt_type"),
    )
    _node(
        op,
        "mlt_artifact",
        Column("uri", _TEXT, nullable=True),
        Column("state", SmallInteger, nullable=True),
        name_nullable=True,
    )
    op.create_index(
        "ix_mlt_artifact_uri", "mlt_artifact", ["uri"], mysql_length=255, postgresql_using="hash"
    )
    _node(
        op,
        "mlt_execution",
        Column("last_known_state", SmallInteger, nullable=True),
        name_nullable=True,
    )
    _node(op, "mlt_context", name_nullable=False)
    _properties(op, "mlt_artifact_property", "mlt_artifact")
    _properties(op, "mlt_execution_property", "mlt_execution")
    _properties(op, "mlt_context_property", "mlt_context")
    _table(
        op,
        "mlt_event",
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("artifact_id", _ID, nullable=False),
        Column("execution_id", _ID, nullable=False),
        Column("type", SmallInteger, nullable=False),
        Column("path", _TEXT, nullable=True),
        Column("milliseconds_since_epoch", BigInteger, nullable=False),
        _fk("artifact_id", "mlt_event", "mlt_artifact"),
        _fk("execution_id", "mlt_event", "mlt_execution"),
        UniqueConstraint(
            "artifact_id", "execution_id", "type", name="uq_mlt_event_artifact_id_execution_id_type"
        ),
    )
    op.create_index("ix_mlt_event_execution_id", "mlt_event", ["execution_id"])
    _membership(op, "mlt_attribution", "artifact_id", "mlt_artifact")
    _membership(op, "mlt_association", "execution_id", "mlt_execution")
    _table(
        op,
        "mlt_parent_context",
        Column("context_id", _ID, nullable=False),
        Column("parent_context_id", _ID, nullable=False),
        PrimaryKeyConstraint("context_id", "parent_context_id", name="pk_mlt_parent_context"),
        _fk("context_id", "mlt_parent_context", "mlt_context"),
        _fk("parent_context_id", "mlt_parent_context", "mlt_context"),
    )
    op.create_index(
        "ix_mlt_parent_context_parent_context_id", "mlt_parent_context", ["parent_context_id"]
    )


MIGRATION = Migration(version=1, summary="the metadata model's tables", upgrade=upgrade)
