"""Reading model objects out of the SQL schema: nodes with their properties, events and types.

Shared by the store (lookups by id) and the query layer (lineage answers), which both sit above
this module. Ids given here are trusted to be storable (1 to 2**63 - 1); the store's public calls
check their arguments before they come here. Model objects are built without ``__init__``:
there is nothing to check on a read, every field is set here, and it halves the cost of large
answers.
"""

from __future__ import annotations

import gc
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Table, Text, cast, literal, null, select, union_all

from mltrail.backends.sql import schema
from mltrail.backends.sql.fast import InStatement, MultiInStatement
from mltrail.backends.sql.schema import TypeKind
from mltrail.model import (
    Artifact,
    ArtifactBaseType,
    ArtifactState,
    ArtifactType,
    Context,
    ContextType,
    Event,
    EventType,
    Execution,
    ExecutionBaseType,
    ExecutionState,
    ExecutionType,
    PropertyType,
)

#: The value columns of a property row, in the order :func:`decode` reads them.
SLOTS = ("int_value", "double_value", "string_value", "bool_value", "struct_value")


# ------------------------------------------------------------------------------------------ nodes


@dataclass(frozen=True)
class NodeSpec:
    kind: TypeKind
    label: str
    cls: type[Any]
    table: Table
    props: Table
    #: kind-specific columns besides type_id, name and external_id
    scalars: tuple[str, ...]
    enums: dict[str, type[Any]] = field(default_factory=dict)
    name_required: bool = False

    @property
    def mask_fields(self) -> frozenset[str]:
        return frozenset(("name", "external_id", *self.scalars))


ARTIFACTS = NodeSpec(
    TypeKind.ARTIFACT,
    "artifact",
    Artifact,
    schema.artifact,
    schema.artifact_property,
    ("uri", "state"),
    {"state": ArtifactState},
)
EXECUTIONS = NodeSpec(
    TypeKind.EXECUTION,
    "execution",
    Execution,
    schema.execution,
    schema.execution_property,
    ("last_known_state",),
    {"last_known_state": ExecutionState},
)
CONTEXTS = NodeSpec(
    TypeKind.CONTEXT,
    "context",
    Context,
    schema.context,
    schema.context_property,
    (),
    name_required=True,
)
SPECS = {spec.kind: spec for spec in (ARTIFACTS, EXECUTIONS, CONTEXTS)}


def node_columns(spec: NodeSpec) -> tuple[Any, ...]:
    """The columns of a node row as :func:`to_model` reads them (join the type table)."""
    t, ty = spec.table, schema.type_
    return (
        t.c.id,
        t.c.type_id,
        ty.c.name.label("type_name"),
        t.c.name,
        t.c.external_id,
        t.c.create_time_since_epoch,
        t.c.last_update_time_since_epoch,
        *[t.c[c] for c in spec.scalars],
    )


def prop_columns(spec: NodeSpec) -> tuple[Any, ...]:
    """The columns of a property row: node id, name, is_custom and the :data:`SLOTS`."""
    p = spec.props
    return (p.c.node_id, p.c.name, p.c.is_custom, *[p.c[s] for s in SLOTS])


def decode(slots: Any) -> Any:
    """The Python value held by a property row's slots (in :data:`SLOTS` order)."""
    int_value, double_value, string_value, bool_value, struct_value = slots
    if int_value is not None:
        return int(int_value)
    if double_value is not None:
        return float(double_value)
    if string_value is not None:
        return string_value
    if bool_value is not None:
        return bool(bool_value)
    if struct_value is not None:
        return json.loads(struct_value)
    raise ValueError("a stored property row has no value")  # never written by mltrail


_MEMBERS: dict[type[Any], dict[int, Any]] = {}


def member(enum_cls: type[Any], value: int) -> Any:
    """``enum_cls(value)`` through a dict: enum construction is slow on hot read paths."""
    table = _MEMBERS.get(enum_cls)
    if table is None:
        table = _MEMBERS[enum_cls] = {m.value: m for m in enum_cls}
    return table[value]


def to_model(spec: NodeSpec, row: Any, props: dict[str, Any], custom: dict[str, Any]) -> Any:
    """A model object from a node row (:func:`node_columns` order) and its properties."""
    node_id, type_id, type_name, name, external_id, created, updated, *scalars = row
    node = object.__new__(spec.cls)
    fields = {
        "type_id": type_id,
        "type": type_name,
        "name": name,
        "external_id": external_id,
        "properties": props,
        "custom_properties": custom,
        "id": node_id,
        "create_time_since_epoch": created,
        "last_update_time_since_epoch": updated,
    }
    for column, value in zip(spec.scalars, scalars):
        enum_cls = spec.enums.get(column)
        fields[column] = member(enum_cls, value) if enum_cls and value is not None else value
    node.__dict__ = fields
    return node


def hydrate_with(spec: NodeSpec, rows: Sequence[Any], properties: Iterable[Any]) -> list[Any]:
    """Model objects for node rows and their property rows (:func:`prop_columns` shape)."""
    props: dict[int, dict[str, Any]] = defaultdict(dict)
    custom: dict[int, dict[str, Any]] = defaultdict(dict)
    for node_id, name, is_custom, *slots in properties:
        (custom if is_custom else props)[node_id][name] = decode(slots)
    return [to_model(spec, row, props.get(row[0], {}), custom.get(row[0], {})) for row in rows]


def _with_props_by_id(spec: NodeSpec) -> InStatement:
    t, p, ty = spec.table, spec.props, schema.type_
    return InStatement(
        lambda ids: (
            select(*node_columns(spec), *prop_columns(spec)[1:])
            .join(ty, ty.c.id == t.c.type_id)
            .outerjoin(p, p.c.node_id == t.c.id)
            .where(t.c.id.in_(ids))
        )
    )


_WITH_PROPS_BY_ID = {kind: _with_props_by_id(spec) for kind, spec in SPECS.items()}


def nodes_by_ids(conn: Connection, spec: NodeSpec, ids: Sequence[int]) -> list[Any]:
    """The nodes with these (distinct, storable) ids, unknown ones skipped, ordered by id."""
    if not ids:
        return []
    # One query: node columns, then one property per row (NULLs for a node without any).
    width = 7 + len(spec.scalars)
    nodes: dict[int, tuple[Any, dict[str, Any], dict[str, Any]]] = {}
    for row in _WITH_PROPS_BY_ID[spec.kind].all(conn, ids):
        entry = nodes.get(row[0])
        if entry is None:
            entry = nodes[row[0]] = (row[:width], {}, {})
        name = row[width]
        if name is not None:
            (entry[2] if row[width + 1] else entry[1])[name] = decode(row[width + 2 :])
    return [to_model(spec, *nodes[i]) for i in sorted(nodes)]


def _both_kinds(lists: dict[str, list[Any]]) -> Any:
    """Artifacts and executions with their properties in one statement (a kind tag first)."""
    parts = []
    for tag, spec, ids in ((0, ARTIFACTS, lists["a"]), (1, EXECUTIONS, lists["e"])):
        t, p, ty = spec.table, spec.props, schema.type_
        uri = t.c.uri if "uri" in spec.scalars else cast(null(), Text)
        state = t.c[spec.scalars[-1]]
        parts.append(
            select(
                literal(tag),
                *node_columns(spec)[:7],
                uri,
                state,
                *prop_columns(spec)[1:],
            )
            .select_from(t.join(ty, ty.c.id == t.c.type_id).outerjoin(p, p.c.node_id == t.c.id))
            .where(t.c.id.in_(ids))
        )
    return union_all(*parts)


_BOTH_KINDS = MultiInStatement(_both_kinds)


def artifacts_and_executions(
    conn: Connection, artifact_ids: Sequence[int], execution_ids: Sequence[int]
) -> tuple[list[Any], list[Any]]:
    """The artifacts and executions with these ids (each by id), in one query when they fit."""
    a_ids, e_ids = sorted(set(artifact_ids)), sorted(set(execution_ids))
    if not MultiInStatement.fits(a_ids, e_ids):
        return nodes_by_ids(conn, ARTIFACTS, a_ids), nodes_by_ids(conn, EXECUTIONS, e_ids)
    nodes: tuple[dict[int, Any], dict[int, Any]] = ({}, {})
    for row in _BOTH_KINDS.all(conn, {"a": a_ids, "e": e_ids}):
        tag = row[0]
        entry = nodes[tag].get(row[1])
        if entry is None:
            head = row[1:10] if tag == 0 else (*row[1:8], row[9])
            entry = nodes[tag][row[1]] = (head, {}, {})
        if row[10] is not None:
            (entry[2] if row[11] else entry[1])[row[10]] = decode(row[12:])
    return (
        [to_model(ARTIFACTS, *nodes[0][i]) for i in sorted(nodes[0])],
        [to_model(EXECUTIONS, *nodes[1][i]) for i in sorted(nodes[1])],
    )


# ----------------------------------------------------------------------------------------- events

E = schema.event
EVENT_COLUMNS = ("artifact_id", "execution_id", "type", "path", "milliseconds_since_epoch")
event_columns = (E.c.id, *[E.c[c] for c in EVENT_COLUMNS])


def _events_where(column: str) -> InStatement:
    return InStatement(lambda ids: select(*event_columns).where(E.c[column].in_(ids)))


events_by = {column: _events_where(column) for column in ("artifact_id", "execution_id")}


def to_event(artifact_id: int, execution_id: int, kind: int, path: Any, stamp: int) -> Event:
    """An Event from its stored columns."""
    event = object.__new__(Event)
    event.__dict__ = {
        "artifact_id": artifact_id,
        "execution_id": execution_id,
        "type": member(EventType, kind),
        "path": json.loads(path) if path else [],
        "milliseconds_since_epoch": stamp,
    }
    return event


def events_of(conn: Connection, column: str, ids: Sequence[int]) -> list[Event]:
    """Events whose ``column`` (artifact_id or execution_id) is one of these (distinct,
    storable) ids, ordered by id."""
    if not ids:
        return []
    rows = events_by[column].all(conn, ids)
    rows.sort(key=lambda r: r[0])
    return [to_event(*row[1:]) for row in rows]


class CollectorPaused:
    """Python's cycle collector held off while many rows become objects (none of which make
    reference cycles). Every 700 new objects would start a collection; those that survive one
    (an answer being built) are walked again by the next, and the first collection of the
    oldest generation in a process walks every object the process holds (the ~50,000 of the
    modules after ``import mltrail``): that one landed in the first large answer of a process.
    A collector that someone else disabled stays disabled. Process-wide: another thread's
    allocations meanwhile are not collected either, until the block ends."""

    __slots__ = ("_paused",)

    def __enter__(self) -> None:
        self._paused = gc.isenabled()
        if self._paused:
            gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self._paused:
            gc.enable()


def frozen(cls: type[Any], **fields: Any) -> Any:
    """An instance of a frozen dataclass of plain fields, built without ``__init__``."""
    item = object.__new__(cls)
    item.__dict__.update(fields)
    return item


# ------------------------------------------------------------------------------------------ types

TYPE_CLASS: dict[TypeKind, type[Any]] = {
    TypeKind.ARTIFACT: ArtifactType,
    TypeKind.EXECUTION: ExecutionType,
    TypeKind.CONTEXT: ContextType,
}
BASE_TYPES: dict[TypeKind, type[Any] | None] = {
    TypeKind.ARTIFACT: ArtifactBaseType,
    TypeKind.EXECUTION: ExecutionBaseType,
    TypeKind.CONTEXT: None,
}

T = schema.type_
TP = schema.type_property


@dataclass(frozen=True)
class TypeInfo:
    """A type as stored; ``version`` is "" for an unversioned type."""

    id: int
    kind: TypeKind
    name: str
    version: str
    description: str | None
    external_id: str | None
    base_type: int | None
    properties: Mapping[str, PropertyType]

    def label(self) -> str:
        return f"{self.name!r}" + (f" version {self.version!r}" if self.version else "")

    def to_model(self) -> Any:
        cls = TYPE_CLASS[self.kind]
        fields: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "version": self.version or None,
            "description": self.description,
            "external_id": self.external_id,
            "properties": dict(self.properties),
        }
        base_enum = BASE_TYPES[self.kind]
        if base_enum is not None:
            fields["base_type"] = base_enum(self.base_type) if self.base_type is not None else None
        # The fields are the dataclass's own, values as its __post_init__ would leave them.
        model = object.__new__(cls)
        model.__dict__.update(fields)
        return model


TYPE_COLUMNS = (
    T.c.id,
    T.c.kind,
    T.c.name,
    T.c.version,
    T.c.description,
    T.c.external_id,
    T.c.base_type,
)

_types_with_properties_by_id = InStatement(
    lambda ids: (
        select(*TYPE_COLUMNS, TP.c.name, TP.c.data_type)
        .outerjoin(TP, TP.c.type_id == T.c.id)
        .where(T.c.id.in_(ids))
    )
)


def type_info(row: Any, properties: dict[str, PropertyType]) -> TypeInfo:
    """A TypeInfo from a type row (:data:`TYPE_COLUMNS` order) and its properties."""
    type_id, kind, name, version, description, external_id, base_type = row
    return TypeInfo(
        id=type_id,
        kind=TypeKind(kind),
        name=name,
        version=version,
        description=description,
        external_id=external_id,
        base_type=base_type,
        properties=properties,
    )


def types_by_ids(conn: Connection, ids: Sequence[int]) -> list[TypeInfo]:
    """Types with these (distinct, storable) ids, ordered by id, in one query."""
    if not ids:
        return []
    rows: dict[int, tuple[Any, dict[str, PropertyType]]] = {}
    for row in _types_with_properties_by_id.all(conn, ids):
        entry = rows.get(row[0])
        if entry is None:
            entry = rows[row[0]] = (row[:7], {})
        if row[7] is not None:
            entry[1][row[7]] = member(PropertyType, row[8])
    return [type_info(rows[i][0], rows[i][1]) for i in sorted(rows)]
