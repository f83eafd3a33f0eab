"""Schema version 2: indexes for paging by type, and fewer index trees written per node.

* Listings of one type get an index in the order they page by default: ``(type_id, id)``.
  The indexes on the create and update times stay (listings in time order page through them).
* Mostly-NULL columns get partial indexes where the database has them (SQLite, PostgreSQL):
  external ids, the names of artifacts and executions, and each value slot of the property
  tables. A row whose column is NULL then writes nothing to that index.
* On SQLite, the property and membership tables are stored by their primary key
  (``WITHOUT ROWID``): one b-tree per table instead of a table and a copy of its key. SQLite
  cannot change a table's constraints or storage in place, so there every table whose
  definition changes is rebuilt (created anew, rows copied, the old one dropped and the new one
  renamed); elsewhere only indexes change.

A migration is history: this file stays as it is when the declared schema moves on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKeyConstraint,
    PrimaryKeyConstraint,
    SmallInteger,
    UniqueConstraint,
    column,
    text,
)

from mltrail.backends.sql.migrations import Migration, table_options, text_index
from mltrail.backends.sql.migrations.v0001_initial import _DOUBLE, _ID, _NAME, _TEXT

if TYPE_CHECKING:  # migration modules are imported on every open; Alembic only when one runs
    from alembic.operations import Operations

_NODES = ("mlt_artifact", "mlt_execution", "mlt_context")
_NULLABLE_NAMES = ("mlt_artifact", "mlt_execution")  # contexts always have a name
_PROPERTIES = {
    "mlt_artifact_property": "mlt_artifact",
    "mlt_execution_property": "mlt_execution",
    "mlt_context_property": "mlt_context",
}
_MEMBERS = {
    "mlt_attribution": ("context_id", "artifact_id", "mlt_artifact"),
    "mlt_association": ("context_id", "execution_id", "mlt_execution"),
    "mlt_parent_context": ("context_id", "parent_context_id", "mlt_context"),
}


def _partial(name: str) -> dict[str, Any]:
    """Options that leave rows whose ``name`` is NULL out of an index (ignored where partial
    indexes do not exist: MySQL and MariaDB index every row)."""
    condition = column(name).isnot(None)
    return {"sqlite_where": condition, "postgresql_where": condition}


def _fk(col: str, table: str, target: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint([col], [f"{target}.id"], name=f"fk_{table}_{col}")


def _node_columns(table: str) -> list[Any]:
    extras: dict[str, list[Any]] = {
        "mlt_artifact": [
            Column("uri", _TEXT, nullable=True),
            Column("state", SmallInteger, nullable=True),
        ],
        "mlt_execution": [Column("last_known_state", SmallInteger, nullable=True)],
        "mlt_context": [],
    }
    extra = extras[table]
    items: list[Any] = [
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("type_id", _ID, nullable=False),
        Column("name", _NAME, nullable=table in _NULLABLE_NAMES),
        *extra,
        Column("external_id", _NAME, nullable=True),
        Column("create_time_since_epoch", BigInteger, nullable=False),
        Column("last_update_time_since_epoch", BigInteger, nullable=False),
        _fk("type_id", table, "mlt_type"),
    ]
    if table not in _NULLABLE_NAMES:
        items.append(UniqueConstraint("type_id", "name", name=f"uq_{table}_type_id_name"))
    return items


def _property_columns(table: str, node_table: str) -> list[Any]:
    return [
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
    ]


def _member_columns(table: str) -> list[Any]:
    owner, member, member_table = _MEMBERS[table]
    return [
        Column(owner, _ID, nullable=False),
        Column(member, _ID, nullable=False),
        PrimaryKeyConstraint(owner, member, name=f"pk_{table}"),
        _fk(owner, table, "mlt_context"),
        _fk(member, table, member_table),
    ]


def _rebuild(op: Operations, table: str, items: list[Any], **options: Any) -> None:
    """SQLite: replace ``table`` by one defined by ``items``, keeping its rows (and its name,
    so that the references of other tables still hold)."""
    names = [c.name for c in items if isinstance(c, Column)]
    staging = f"{table}__v2"
    op.create_table(staging, *items, **options)
    listed = ", ".join(names)
    op.execute(text(f"INSERT INTO {staging} ({listed}) SELECT {listed} FROM {table}"))
    op.drop_table(table)  # its indexes go with it
    op.rename_table(staging, table)


def _node_indexes(op: Operations, table: str, *, rebuilt: bool) -> None:
    """The version 2 indexes of a node table; ``rebuilt``: the table has none yet (SQLite)."""
    nullable_name = table in _NULLABLE_NAMES
    # New indexes first: MySQL refuses to drop the last index its foreign key on type_id uses.
    op.create_index(f"ix_{table}_type_id_id", table, ["type_id", "id"])
    if rebuilt:
        for time in ("create_time_since_epoch", "last_update_time_since_epoch"):
            op.create_index(f"ix_{table}_{time}", table, [time])
    else:
        op.drop_constraint(f"uq_{table}_external_id", table, type_="unique")
        if nullable_name:
            op.drop_constraint(f"uq_{table}_type_id_name", table, type_="unique")
            op.drop_index(f"ix_{table}_name", table_name=table)
    op.create_index(
        f"uq_{table}_external_id", table, ["external_id"], unique=True, **_partial("external_id")
    )
    if nullable_name:
        op.create_index(
            f"uq_{table}_type_id_name", table, ["type_id", "name"], unique=True, **_partial("name")
        )
        op.create_index(f"ix_{table}_name", table, ["name"], **_partial("name"))
    elif rebuilt:
        op.create_index(f"ix_{table}_name", table, ["name"])
    if table == "mlt_artifact" and rebuilt:
        op.create_index(
            "ix_mlt_artifact_uri", table, ["uri"], mysql_length=255, postgresql_using="hash"
        )


def _property_indexes(op: Operations, table: str, *, rebuilt: bool) -> None:
    for slot in ("int_value", "double_value", "string_value"):
        if not rebuilt:
            op.drop_index(f"ix_{table}_{slot}", table_name=table)
    for slot in ("int_value", "double_value"):
        op.create_index(f"ix_{table}_{slot}", table, ["name", "is_custom", slot], **_partial(slot))
    columns, options = text_index(op, ["name", "is_custom", "string_value"])
    op.create_index(
        f"ix_{table}_string_value",
        table,
        columns,
        mysql_length={"name": 191, "string_value": 255},
        **options,
        **_partial("string_value"),
    )


def upgrade(op: Operations) -> None:
    rebuild = op.get_bind().dialect.name == "sqlite"
    for table in _NODES:
        if rebuild:
            _rebuild(op, table, _node_columns(table), **table_options(op))
        _node_indexes(op, table, rebuilt=rebuild)
    for table, node_table in _PROPERTIES.items():
        if rebuild:
            _rebuild(op, table, _property_columns(table, node_table), sqlite_with_rowid=False)
        _property_indexes(op, table, rebuilt=rebuild)
    if rebuild:
        for table, (_owner, member, _target) in _MEMBERS.items():
            _rebuild(op, table, _member_columns(table), sqlite_with_rowid=False)
            op.create_index(f"ix_{table}_{member}", table, [member])


MIGRATION = Migration(
    version=2,
    summary="indexes for paging by type; partial and clustered indexes",
    upgrade=upgrade,
)
