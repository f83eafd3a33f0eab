"""The hot-path statements of the store, built once (see :mod:`mltrail.backends.sql.fast`)."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Table, and_, bindparam, delete, insert, select, update

from mltrail.backends.sql import readers, schema
from mltrail.backends.sql.dialects import Dialect
from mltrail.backends.sql.fast import FastStatement, InStatement
from mltrail.backends.sql.readers import EVENT_COLUMNS, SPECS, node_columns, prop_columns
from mltrail.backends.sql.schema import TypeKind

SLOTS = readers.SLOTS
#: The stamp columns of node and property rows (see schema._stamp_columns).
STAMP = ("hlc", "site")

_TABLES: dict[TypeKind, tuple[Table, Table, tuple[str, ...]]] = {
    TypeKind.ARTIFACT: (schema.artifact, schema.artifact_property, ("uri", "state")),
    TypeKind.EXECUTION: (schema.execution, schema.execution_property, ("last_known_state",)),
    TypeKind.CONTEXT: (schema.context, schema.context_property, ()),
}


class NodeStatements:
    """Statements over one node kind's table and property table."""

    def __init__(self, kind: TypeKind) -> None:
        t, p, scalars = _TABLES[kind]
        self.row_columns = ("name", "external_id", *scalars)
        insert_columns = (
            "type_id",
            *self.row_columns,
            "create_time_since_epoch",
            "last_update_time_since_epoch",
            *STAMP,
        )
        values: dict[str, Any] = {c: bindparam(c) for c in insert_columns}
        self.insert_row = FastStatement(insert(t).values(values))
        self.insert_row_returning = FastStatement(insert(t).values(values).returning(t.c.id))
        self.insert_row_with_id = FastStatement(insert(t).values({**values, "id": bindparam("id")}))
        self.insert_prop = FastStatement(
            insert(p).values(
                {c: bindparam(c) for c in ("node_id", "name", "is_custom", *SLOTS, *STAMP)}
            )
        )
        changed = (*self.row_columns, "last_update_time_since_epoch", *STAMP)
        self.update_row = FastStatement(
            update(t).where(t.c.id == bindparam("_id")).values({c: bindparam(c) for c in changed})
        )
        self.delete_prop = FastStatement(
            delete(p).where(
                and_(
                    p.c.node_id == bindparam("_node"),
                    p.c.name == bindparam("_name"),
                    p.c.is_custom == bindparam("_custom"),
                )
            )
        )
        self.rows_by_id = InStatement(
            lambda ids: select(t.c.id, t.c.type_id, *[t.c[c] for c in self.row_columns]).where(
                t.c.id.in_(ids)
            )
        )
        self.prop_columns = prop_columns(SPECS[kind])
        # The rows an update compares with, one per property (NULLs for a node without any).
        self.rows_with_props_by_id = InStatement(
            lambda ids: (
                select(t.c.id, t.c.type_id, *[t.c[c] for c in self.row_columns])
                .add_columns(*self.prop_columns[1:])
                .outerjoin(p, p.c.node_id == t.c.id)
                .where(t.c.id.in_(ids))
            )
        )
        self.props_by_node = InStatement(
            lambda ids: select(*self.prop_columns).where(p.c.node_id.in_(ids))
        )
        ty = schema.type_
        self.node_columns = node_columns(SPECS[kind])
        self.nodes_with_props_by_id = InStatement(
            lambda ids: (
                select(*self.node_columns, *self.prop_columns[1:])
                .join(ty, ty.c.id == t.c.type_id)
                .outerjoin(p, p.c.node_id == t.c.id)
                .where(t.c.id.in_(ids))
            )
        )
        self.nodes_by_id = InStatement(
            lambda ids: (
                select(*self.node_columns).join(ty, ty.c.id == t.c.type_id).where(t.c.id.in_(ids))
            )
        )
        self.ids = InStatement(lambda ids: select(t.c.id).where(t.c.id.in_(ids)))
        self.by_names = InStatement(
            lambda names: select(t.c.id, t.c.type_id, t.c.name).where(t.c.name.in_(names))
        )
        self.by_external_ids = InStatement(
            lambda ext: select(t.c.id, t.c.external_id).where(t.c.external_id.in_(ext))
        )
        self.id_by_type_and_name = FastStatement(
            select(t.c.id).where(
                and_(t.c.type_id == bindparam("type_id"), t.c.name == bindparam("name"))
            )
        )
        self.touch = FastStatement(
            update(t)
            .where(t.c.id == bindparam("_id"))
            .values(last_update_time_since_epoch=bindparam("stamp"))
        )


@functools.cache
def node_statements(kind: TypeKind) -> NodeStatements:
    return NodeStatements(kind)


E = schema.event
insert_event = FastStatement(insert(E).values({c: bindparam(c) for c in EVENT_COLUMNS}))
event_keys_by_execution = InStatement(
    lambda ids: select(E.c.artifact_id, E.c.execution_id, E.c.type).where(E.c.execution_id.in_(ids))
)


_MEMBERSHIP: dict[tuple[type[Any], str], FastStatement] = {}
_TOMBSTONE: dict[type[Any], FastStatement] = {}


def tombstone_upsert(dialect: Dialect) -> FastStatement:
    """The statement recording a removed property key with the stamp of its removal."""
    statement = _TOMBSTONE.get(type(dialect))
    if statement is None:
        tb = schema.tombstone
        built = dialect.upsert(tb, STAMP).values({c.name: bindparam(c.name) for c in tb.c})
        statement = _TOMBSTONE[type(dialect)] = FastStatement(built)
    return statement


def membership_insert(dialect: Dialect, table: Table) -> FastStatement:
    """The insert-if-missing statement of a membership table for ``dialect``."""
    key = (type(dialect), table.name)
    statement = _MEMBERSHIP.get(key)
    if statement is None:
        member = "artifact_id" if "artifact_id" in table.c else "execution_id"
        built = dialect.insert_ignore(table).values(
            {"context_id": bindparam("context_id"), member: bindparam(member)}
        )
        statement = _MEMBERSHIP[key] = FastStatement(built)
    return statement
