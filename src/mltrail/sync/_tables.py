"""The tables sync reads and writes, and small shared helpers (sites, kinds, global ids)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import BigInteger, Connection, String, Table, and_, any_, bindparam, insert, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import BindParameter

from mltrail.backends.sql import schema
from mltrail.backends.sql.fast import FastStatement, InStatement, wrap_error
from mltrail.backends.sql.readers import SLOTS, SPECS, NodeSpec
from mltrail.backends.sql.schema import TypeKind

SITE: Table = schema.metadata.tables["mlt_site"]
CHANGE: Table = schema.metadata.tables["mlt_change"]
ALIAS: Table = schema.metadata.tables["mlt_alias"]
TOMBSTONE: Table = schema.metadata.tables["mlt_tombstone"]
TYPE = schema.type_
TYPE_PROPERTY = schema.type_property
EVENT = schema.event
ATTRIBUTION = schema.attribution
ASSOCIATION = schema.association
PARENT = schema.parent_context

#: The local number of this store in ``mlt_site``.
SELF = 1
#: Feed kinds of types: ``TYPE_OFFSET + TypeKind``.
TYPE_OFFSET = 10
NODE_KINDS = (TypeKind.ARTIFACT, TypeKind.EXECUTION, TypeKind.CONTEXT)
KIND_LABEL = {
    TypeKind.ARTIFACT: "artifact",
    TypeKind.EXECUTION: "execution",
    TypeKind.CONTEXT: "context",
}


def spec(kind: int) -> NodeSpec:
    return SPECS[TypeKind(kind)]


#: Node columns of a sync record besides the register's scalars.
def node_read_columns(node_spec: NodeSpec) -> tuple[Any, ...]:
    t = node_spec.table
    return (
        t.c.id,
        t.c.type_id,
        t.c.name,
        t.c.external_id,
        t.c.create_time_since_epoch,
        t.c.last_update_time_since_epoch,
        t.c.hlc,
        t.c.site,
        *[t.c[c] for c in node_spec.scalars],
    )


class IdList:
    """A statement ``build(values)`` whose ``IN`` takes a list of ids of any length.

    On PostgreSQL the list is one array parameter (``= ANY(:values)``, answered from an index):
    the statement's text stays short and the same, so psycopg parses it once, where a padded
    list of a thousand placeholders is parsed at every call. It is never prepared on the server:
    a plan made while a table was small (a scan) would stay as the table grows. Elsewhere, and
    for lists of text (whose collation an array parameter would not carry):
    :class:`InStatement`.
    """

    def __init__(self, build: Callable[[Any], Any], element: Any = BigInteger) -> None:
        self._build = build
        self._lists = InStatement(build)
        self._array: FastStatement | None = None
        self._arrays = not isinstance(element, String)

    def all(
        self, conn: Connection, values: Sequence[Any], params: dict[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        if not self._arrays or conn.dialect.name != "postgresql" or not values:
            return self._lists.all(conn, values, params)
        if self._array is None:
            array = bindparam("_values", type_=ARRAY(BigInteger))
            self._array = FastStatement(self._build(array))
        sql, [args] = self._array.prepared(conn, [{"_values": list(values), **(params or {})}])
        cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, args, prepare=False)  # psycopg's
            return list(cursor.fetchall())
        except conn.dialect.loaded_dbapi.Error as exc:
            raise wrap_error(conn, sql, args, exc) from exc
        finally:
            cursor.close()


def within(column: Any, values: Any) -> Any:
    """``column IN values``, for the builders of :class:`IdList` statements: ``values`` is a
    list of placeholders, or on PostgreSQL one array parameter."""
    if isinstance(values, BindParameter):
        return column == any_(values)
    return column.in_(values)


def in_statement(build: Any, element: Any = BigInteger) -> IdList:
    return IdList(build, element)


def sites(conn: Connection) -> dict[int, str]:
    """Every site this store knows: local number -> uuid."""
    return {row[0]: row[1] for row in conn.execute(select(SITE.c.id, SITE.c.uuid))}


def self_uuid(conn: Connection) -> str:
    found = conn.execute(select(SITE.c.uuid).where(SITE.c.id == SELF)).scalar()
    assert found is not None, "a migrated store always has its own site row"
    return str(found)


def site_numbers(conn: Connection, uuids: Iterable[str], label: str | None) -> dict[str, int]:
    """The local numbers of these site uuids, adding the sites this store did not know."""
    known = {uuid: number for number, uuid in sites(conn).items()}
    missing = sorted(set(uuids) - set(known))
    if missing:
        conn.execute(
            insert(SITE),
            [{"uuid": u, "label": label, "feed_seq": 0, "applied_seq": 0} for u in missing],
        )
        known = {uuid: number for number, uuid in sites(conn).items()}
    return known


def chunked(values: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def per_kind(build: Callable[[NodeSpec, Any], Any], element: Any = BigInteger) -> dict[int, IdList]:
    """One IN-list statement per node kind: ``build(spec, ids)``."""
    return {kind: IdList(functools.partial(build, spec(kind)), element) for kind in NODE_KINDS}


#: The element type of text lists (names, external ids).
TEXT = String()

#: Node rows with their stamps (:func:`node_read_columns`), by id.
nodes_by_id = per_kind(
    lambda s, ids: select(*node_read_columns(s)).where(within(s.table.c.id, ids))
)
#: Property rows with their stamps: node id, name, is_custom, the slots, hlc, site.
props_by_node = per_kind(
    lambda s, ids: select(
        s.props.c.node_id,
        s.props.c.name,
        s.props.c.is_custom,
        *[s.props.c[slot] for slot in SLOTS],
        s.props.c.hlc,
        s.props.c.site,
    ).where(within(s.props.c.node_id, ids))
)
#: Tombstones: name, is_custom, hlc, site, by node id.
tombstones_by_node = per_kind(
    lambda s, ids: select(
        TOMBSTONE.c.node_id,
        TOMBSTONE.c.name,
        TOMBSTONE.c.is_custom,
        TOMBSTONE.c.hlc,
        TOMBSTONE.c.site,
    ).where(and_(TOMBSTONE.c.kind == int(s.kind), within(TOMBSTONE.c.node_id, ids)))
)


#: Edges by their owner (see :mod:`mltrail.sync._read`): an execution's events (execution id,
#: artifact id, type, path, time) and contexts, an artifact's contexts, a context's parents.
events_of = in_statement(
    lambda ids: select(
        EVENT.c.execution_id,
        EVENT.c.artifact_id,
        EVENT.c.type,
        EVENT.c.path,
        EVENT.c.milliseconds_since_epoch,
    ).where(within(EVENT.c.execution_id, ids))
)
associations_of = in_statement(
    lambda ids: select(ASSOCIATION.c.execution_id, ASSOCIATION.c.context_id).where(
        within(ASSOCIATION.c.execution_id, ids)
    )
)
attributions_of = in_statement(
    lambda ids: select(ATTRIBUTION.c.artifact_id, ATTRIBUTION.c.context_id).where(
        within(ATTRIBUTION.c.artifact_id, ids)
    )
)
parents_of = in_statement(
    lambda ids: select(PARENT.c.context_id, PARENT.c.parent_context_id).where(
        within(PARENT.c.context_id, ids)
    )
)

#: The properties of types, by type id: type id, name, value type.
type_properties = in_statement(
    lambda ids: (
        select(TYPE_PROPERTY.c.type_id, TYPE_PROPERTY.c.name, TYPE_PROPERTY.c.data_type)
        .where(within(TYPE_PROPERTY.c.type_id, ids))
        .order_by(TYPE_PROPERTY.c.type_id, TYPE_PROPERTY.c.name)
    )
)
