"""Artifacts, executions and contexts: validation, batched inserts and updates, and reads.

The three node kinds share one implementation driven by a :class:`NodeSpec`. Writes are
set-based: one query loads every node a batch updates, one checks the names and external ids it
claims, one INSERT per table carries all new rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, select
from sqlalchemy.sql.elements import ColumnElement

from mltrail._plain import ValueProblem, short
from mltrail.backends.sql import feed, readers, schema
from mltrail.backends.sql.dialects import Dialect
from mltrail.backends.sql.fast import Batch, InStatement, StatementCache
from mltrail.backends.sql.schema import NAME_LENGTH, SELF_SITE, TypeKind
from mltrail.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from mltrail.model import Artifact, Context, Execution
from mltrail.store._args import clean_text, name_arg, optional_id, storable_ids, text_arg
from mltrail.store._statements import SLOTS, node_statements, tombstone_upsert
from mltrail.store._types import TypeCache, TypeInfo
from mltrail.store._values import encode, enum_value

Node = Artifact | Execution | Context
PropKey = tuple[str, bool]  # (name, is_custom)
PropMap = dict[PropKey, tuple[str, Any]]  # -> (slot, stored value)

# The node kinds and their row readers live with the SQL backend (the query layer reads with them
# too); the store's modules find them here.
NodeSpec = readers.NodeSpec
ARTIFACTS, EXECUTIONS, CONTEXTS = readers.ARTIFACTS, readers.EXECUTIONS, readers.CONTEXTS
hydrate_with = readers.hydrate_with

CHUNK = 900  # ids per IN (...) list: well below every backend's parameter limit


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# -------------------------------------------------------------------------------------- validation


@dataclass
class Prepared:
    """A node of a write batch, checked and converted to column values."""

    position: int
    info: TypeInfo
    row: dict[str, Any]  # name, external_id and the kind's scalars
    props: PropMap


def _describe(spec: NodeSpec, node: Any, position: int) -> str:
    if node.id is not None:
        return f"{spec.label} id {node.id}"
    if node.name:
        return f"{spec.label} {short(node.name)}"
    return f"{spec.label} #{position} of the request"


def resolve_type(
    conn: Connection, types: TypeCache, spec: NodeSpec, node: Any, where: str
) -> TypeInfo | None:
    """The node's type from ``type_id`` or ``type`` (its name); None when it names neither."""
    info = None
    type_id = optional_id(node.type_id, f"{where}: type_id")
    type_name = None if node.type is None else text_arg(node.type, f"{where}: type")
    if type_id is not None:
        info = types.by_id(conn, type_id)
        if info is None or info.kind != spec.kind:
            raise NotFoundError(
                f"{where}: no {spec.label} type with type_id {node.type_id}; create the type with "
                f"put_{spec.label}_type first"
            )
    if type_name is not None:
        if info is not None:
            if type_name != info.name:
                raise InvalidArgumentError(
                    f"{where}: type {node.type!r} and type_id {node.type_id} (type {info.name!r}) "
                    "disagree; give one of them"
                )
        else:
            info = types.by_name(conn, spec.kind, type_name)
            if info is None:
                raise NotFoundError(
                    f"{where}: no {spec.label} type named {node.type!r}; create it with "
                    f"put_{spec.label}_type first"
                )
    return info


def prepare(
    conn: Connection, types: TypeCache, spec: NodeSpec, node: Any, position: int, info: TypeInfo
) -> Prepared:
    where = _describe(spec, node, position)
    row: dict[str, Any] = {
        "name": name_arg(node.name, f"{where}: name"),
        "external_id": name_arg(node.external_id, f"{where}: external_id"),
    }
    for column in spec.scalars:
        value = getattr(node, column)
        enum_cls = spec.enums.get(column)
        if value is None:
            row[column] = None
        elif enum_cls is not None:
            row[column] = int(enum_value(enum_cls, value, f"{where}: {column}"))
        else:
            row[column] = text_arg(value, f"{where}: {column}")
    for column in ("create_time_since_epoch", "last_update_time_since_epoch"):
        # Set by the store; a value read back is accepted (and ignored), junk is not.
        _time(getattr(node, column), f"{where}: {column}")
    props: PropMap = {}
    for key, value in _items(node.properties, where, "properties"):
        declared = info.properties.get(key)
        if declared is None:
            # Another writer may have added the property to the type since it was cached.
            info = types.by_id(conn, info.id, refresh=True) or info
            declared = info.properties.get(key)
        if declared is None:
            raise InvalidArgumentError(
                f"{where}: property {key!r} is not declared by {spec.label} type {info.label()} "
                f"(declared: {sorted(info.properties) or 'none'}); put it in custom_properties, or "
                f"add it to the type with put_{spec.label}_type(..., can_add_fields=True)"
            )
        props[(key, False)] = _encode(value, declared, where, "properties", key)
    for key, value in _items(node.custom_properties, where, "custom_properties"):
        props[(key, True)] = _encode(value, None, where, "custom_properties", key)
    return Prepared(position, info, row, props)


def _time(value: Any, what: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise InvalidArgumentError(
            f"{what} must be an int (ms since the epoch), got {short(value)}"
        )


def _items(mapping: Any, where: str, what: str) -> Iterator[tuple[str, Any]]:
    if mapping is None:
        return
    if not isinstance(mapping, Mapping):
        raise InvalidArgumentError(f"{where}: {what} must be a dict, got {type(mapping).__name__}")
    for key, value in mapping.items():
        if not isinstance(key, str) or not key:
            raise InvalidArgumentError(
                f"{where}: {what} keys must be non-empty strings, got {short(key)}"
            )
        if len(key) > NAME_LENGTH:
            raise InvalidArgumentError(f"{where}: {what} key {key[:40]!r}... is too long")
        if key.isascii() and "\x00" not in key:
            yield key, value  # what clean_text would pass; its message is not built
        else:
            yield clean_text(key, f"{where}: {what} key {short(key)}"), value


def _encode(value: Any, declared: Any, where: str, what: str, key: str) -> tuple[str, Any]:
    try:
        return encode(value, declared)
    except ValueProblem as problem:
        raise InvalidArgumentError(f"{where}: {what}[{key!r}]: {problem}") from None


# ------------------------------------------------------------------------------------------- masks


def parse_mask(spec: NodeSpec, paths: Sequence[str] | None) -> list[str] | None:
    """Validated field mask paths, or None for "replace every field"."""
    if paths is None:
        return None
    if isinstance(paths, (str, bytes, Mapping)) or not isinstance(paths, Iterable):
        raise InvalidArgumentError(f"field_mask_paths must be a list of paths, got {short(paths)}")
    valid = [*sorted(spec.mask_fields), "properties", "custom_properties"]
    out = []
    for path in paths:
        path = text_arg(path, "a field mask path")
        head, _, key = path.partition(".")
        if (head in spec.mask_fields and not key) or (
            head in ("properties", "custom_properties") and (key or path == head)
        ):
            out.append(path)
            continue
        raise InvalidArgumentError(
            f"field mask path {path!r} is not valid for {spec.label}s; use one of {valid}, "
            "'properties.<name>' or 'custom_properties.<name>'"
        )
    return out or None


def _apply_mask(
    mask: list[str] | None, old_row: dict[str, Any], old_props: PropMap, new: Prepared
) -> tuple[dict[str, Any], PropMap]:
    if mask is None:
        return dict(new.row), dict(new.props)
    row = dict(old_row)
    props = dict(old_props)
    for path in mask:
        head, _, key = path.partition(".")
        if head in ("properties", "custom_properties"):
            custom = head == "custom_properties"
            if key:
                target = (key, custom)
                if target in new.props:
                    props[target] = new.props[target]
                else:
                    props.pop(target, None)
            else:
                props = {k: v for k, v in props.items() if k[1] != custom}
                props.update({k: v for k, v in new.props.items() if k[1] == custom})
        else:
            row[head] = new.row[head]
    return row, props


# ------------------------------------------------------------------------------------------ writes


def put_nodes(
    conn: Connection,
    dialect: Dialect,
    types: TypeCache,
    spec: NodeSpec,
    nodes: Sequence[Any],
    field_mask_paths: Sequence[str] | None = None,
    *,
    same_external_id_is_same_node: bool = False,
    batch: Batch | None = None,
    loaded: Loaded | None = None,
    last: bool = False,
) -> list[int]:
    """Insert nodes without id, update nodes with id; returns ids in request order.

    A node given twice (the same id) is one node: every occurrence is checked, the last one's
    fields are stored and its id is returned for each. With ``same_external_id_is_same_node``,
    new nodes sharing an external id are one node in the same way. The properties of new nodes
    go to ``batch`` when one is given (the caller runs it), else they are written here.
    ``loaded`` holds the stored nodes the caller read already (see :func:`load_statement`).
    ``last``: nothing else of the call writes afterwards, so the change feed's write goes with
    the properties (without ``batch``).
    """
    plan = plan_nodes(
        conn,
        types,
        spec,
        nodes,
        field_mask_paths,
        same_external_id_is_same_node=same_external_id_is_same_node,
        loaded=loaded,
    )
    own = batch is None
    batch = Batch() if batch is None else batch
    [ids] = write_plans(conn, dialect, [plan], batch)
    if own:
        if last:
            feed.flush(conn, dialect, batch)
        dialect.run_batch(conn, batch, last=last)
    return ids


def plan_nodes(
    conn: Connection,
    types: TypeCache,
    spec: NodeSpec,
    nodes: Sequence[Any],
    field_mask_paths: Sequence[str] | None = None,
    *,
    same_external_id_is_same_node: bool = False,
    loaded: Loaded | None = None,
) -> Plan:
    """The checks of :func:`put_nodes`, done: what it would write, not written yet."""
    for position, node in enumerate(nodes):
        if not isinstance(node, spec.cls):
            raise InvalidArgumentError(
                f"put_{spec.label}s expects {spec.cls.__name__} objects; item #{position} is "
                f"{type(node).__name__}"
            )
    given_ids = [
        optional_id(n.id, f"{spec.label} #{position} of the request: id")
        for position, n in enumerate(nodes)
    ]
    mask = parse_mask(spec, field_mask_paths)
    wanted = storable_ids([i for i in given_ids if i is not None])
    if loaded is not None and loaded.ids == frozenset(wanted):
        existing = loaded.nodes
    else:
        existing = _load_for_update(conn, spec, wanted)
    inserts: list[Prepared] = []
    insert_positions: list[list[int]] = []
    by_external_id: dict[str, int] = {}  # external id -> index in inserts
    updates: dict[int, Update] = {}  # by node id: the last occurrence wins
    update_positions: list[tuple[int, int]] = []
    for position, (node, node_id) in enumerate(zip(nodes, given_ids)):
        where = _describe(spec, node, position)
        info = resolve_type(conn, types, spec, node, where)
        if node_id is None:
            if info is None:
                raise InvalidArgumentError(
                    f"{where}: type_id is missing; give type_id or type (the type's name)"
                )
            prepared = prepare(conn, types, spec, node, position, info)
            if spec.name_required and prepared.row["name"] is None:
                raise InvalidArgumentError(f"{where}: a {spec.label} needs a non-empty name")
            external_id = prepared.row["external_id"]
            index = by_external_id.get(external_id) if same_external_id_is_same_node else None
            if index is None:
                if external_id is not None:
                    by_external_id[external_id] = len(inserts)
                inserts.append(prepared)
                insert_positions.append([position])
                continue
            first = inserts[index]
            if first.info.id != info.id:
                raise InvalidArgumentError(
                    f"{where}: external_id {external_id!r} is also given to a new {spec.label} "
                    f"of type {first.info.label()}; one node cannot have two types"
                )
            inserts[index] = Prepared(first.position, info, prepared.row, prepared.props)
            insert_positions[index].append(position)
            continue
        old = existing.get(node_id)
        if old is None:
            raise InvalidArgumentError(
                f"cannot find {spec.label} id {node_id} to update; leave id unset to create a new "
                f"{spec.label}"
            )
        old_row, old_props, old_type_id = old
        if info is not None and info.id != old_type_id:
            raise InvalidArgumentError(
                f"{where}: type_id {info.id} differs from the stored type_id {old_type_id}; "
                "the type of a node cannot change"
            )
        if info is None:
            info = types.by_id(conn, old_type_id)
            assert info is not None
        prepared = prepare(conn, types, spec, node, position, info)
        new_row, new_props = _apply_mask(mask, old_row, old_props, prepared)
        if spec.name_required and new_row["name"] is None:
            raise InvalidArgumentError(f"{where}: a {spec.label} needs a non-empty name")
        updates[node_id] = Update(
            Prepared(position, info, new_row, new_props), old_row, old_props, node_id
        )
        update_positions.append((position, node_id))

    changes = list(updates.values())
    _check_unique(conn, spec, inserts, changes)
    return Plan(spec, len(nodes), update_positions, changes, inserts, insert_positions)


@dataclass
class Plan:
    """The checked writes of one :func:`put_nodes` call, for :func:`write_plans`."""

    spec: NodeSpec
    count: int
    update_positions: list[tuple[int, int]]
    changes: list[Update]
    inserts: list[Prepared]
    insert_positions: list[list[int]]


def write_plans(
    conn: Connection,
    dialect: Dialect,
    plans: list[Plan],
    batch: Batch,
    reserved: Sequence[Sequence[int]] | None = None,
) -> list[list[int]]:
    """Write planned nodes (of several kinds at once: their inserts go to the database
    together); returns each plan's ids in request order. New nodes' properties go to
    ``batch``. Rows written get the transaction's stamp; new and changed nodes are noted for
    the change feed.

    ``reserved``: ids taken for each plan's new nodes beforehand (``Dialect.id_reservation``).
    A plan with enough of them has its new nodes inserted with those ids, in ``batch`` before
    their properties, instead of now."""
    stamp = now_ms()
    hlc = feed.stamp(conn)
    for plan in plans:
        changed = _write_updates(conn, dialect, plan.spec, plan.changes, stamp, hlc)
        if changed:
            feed.note(conn, plan.spec.kind, changed)
    groups = []
    given: list[list[int] | None] = []
    for k, plan in enumerate(plans):
        st = node_statements(plan.spec.kind)
        rows = [
            {
                "type_id": p.info.id,
                **p.row,
                "create_time_since_epoch": stamp,
                "last_update_time_since_epoch": stamp,
                "hlc": hlc,
                "site": SELF_SITE,
            }
            for p in plan.inserts
        ]
        taken = reserved[k] if reserved is not None else ()
        if rows and len(taken) >= len(rows):
            chosen = list(taken[: len(rows)])
            batch.add(st.insert_row_with_id, [{**r, "id": i} for r, i in zip(rows, chosen)])
            given.append(chosen)
            rows = []
        else:
            given.append(None)
        groups.append((st.insert_row, st.insert_row_returning, plan.spec.table, rows))
    inserted = dialect.insert_groups_returning_ids(conn, groups)
    new_ids = [g if g is not None else i for g, i in zip(given, inserted)]
    out = []
    for plan, ids_of_inserts in zip(plans, new_ids):
        if ids_of_inserts:
            feed.note(conn, plan.spec.kind, ids_of_inserts)
        props = _prop_rows(zip(ids_of_inserts, (p.props for p in plan.inserts)), hlc)
        batch.add(node_statements(plan.spec.kind).insert_prop, props)
        ids: list[int] = [0] * plan.count
        for position, node_id in plan.update_positions:
            ids[position] = node_id
        for positions, new_id in zip(plan.insert_positions, ids_of_inserts):
            for position in positions:
                ids[position] = new_id
        out.append(ids)
    return out


@dataclass
class Update:
    new: Prepared
    old_row: dict[str, Any]
    old_props: PropMap
    node_id: int


StoredNodes = dict[int, tuple[dict[str, Any], PropMap, int]]  # id -> (row, props, type id)


@dataclass(frozen=True)
class Loaded:
    """Stored nodes read ahead of :func:`put_nodes` (with other reads of the same call)."""

    ids: frozenset[int]
    nodes: StoredNodes


def load_statement(spec: NodeSpec, ids: Sequence[Any]) -> tuple[Any, dict[str, Any]] | None:
    """The read that loads the nodes with ``ids`` for an update, for :func:`loaded_nodes`
    (None when there is nothing to read or too much for one statement)."""
    wanted = storable_ids([i for i in ids if type(i) is int])
    if not wanted or len(wanted) > InStatement.MAX:
        return None
    return node_statements(spec.kind).rows_with_props_by_id.bound(wanted)


def loaded_nodes(spec: NodeSpec, ids: Sequence[Any], rows: Sequence[Any]) -> Loaded:
    """What ``put_nodes(..., loaded=...)`` takes, from the rows of :func:`load_statement`."""
    wanted = storable_ids([i for i in ids if type(i) is int])
    return Loaded(frozenset(wanted), _stored_nodes(spec, rows))


def _load_for_update(conn: Connection, spec: NodeSpec, wanted: list[int]) -> StoredNodes:
    if not wanted:
        return {}
    return _stored_nodes(spec, node_statements(spec.kind).rows_with_props_by_id.all(conn, wanted))


def _stored_nodes(spec: NodeSpec, rows: Sequence[Any]) -> StoredNodes:
    st = node_statements(spec.kind)
    width = 2 + len(st.row_columns)
    out: StoredNodes = {}
    for row in rows:
        node_id = row[0]
        entry = out.get(node_id)
        if entry is None:
            entry = out[node_id] = (dict(zip(st.row_columns, row[2:width])), {}, row[1])
        name = row[width]
        if name is None:
            continue  # a node without properties
        for slot, value in zip(SLOTS, row[width + 2 :]):
            if value is not None:
                entry[1][(name, bool(row[width + 1]))] = (slot, value)
                break
    return out


def _check_unique(
    conn: Connection, spec: NodeSpec, inserts: list[Prepared], updates: list[Update]
) -> None:
    """Report duplicate (type, name) and external ids before the database has to."""
    # Who claims a name: the stored id of an update, or a negative stand-in for each new node (so
    # two new nodes never count as the same one).
    claims: list[tuple[Prepared, int, dict[str, Any] | None]] = [
        (p, -1 - p.position, None) for p in inserts
    ]
    claims += [(u.new, u.node_id, u.old_row) for u in updates]
    names: dict[tuple[int, str], int] = {}
    external: dict[str, int] = {}
    # The database is asked only about names and external ids a node does not hold already
    # (an update that keeps its node's name cannot clash with another stored node).
    new_names: set[str] = set()
    new_external: set[str] = set()
    for prepared, own_id, old_row in claims:
        name, ext = prepared.row["name"], prepared.row["external_id"]
        if name is not None and (old_row is None or old_row["name"] != name):
            new_names.add(name)
        if ext is not None and (old_row is None or old_row["external_id"] != ext):
            new_external.add(ext)
        if name is not None:
            key = (prepared.info.id, name)
            if key in names and names[key] != own_id:
                raise AlreadyExistsError(
                    f"the request names two {spec.label}s of type {prepared.info.label()} "
                    f"{name!r}; names are unique per type: give each {spec.label} its own name"
                )
            names[key] = own_id
        if ext is not None:
            if ext in external and external[ext] != own_id:
                raise AlreadyExistsError(
                    f"the request gives external_id {ext!r} to two {spec.label}s; external ids are "
                    f"unique among {spec.label}s: give each {spec.label} its own"
                )
            external[ext] = own_id
    st = node_statements(spec.kind)
    if new_names:
        for row_id, type_id, name in st.by_names.all(conn, sorted(new_names)):
            if (type_id, name) in names and names[(type_id, name)] != row_id:
                raise AlreadyExistsError(
                    f"{spec.label} id {row_id} of the same type is already named {name!r}; names "
                    f"are unique per type: choose another name, or pass id={row_id} to update it"
                )
    if new_external:
        for row_id, ext in st.by_external_ids.all(conn, sorted(new_external)):
            if external[ext] != row_id:
                raise AlreadyExistsError(
                    f"external_id {ext!r} already belongs to {spec.label} id {row_id}; "
                    f"external ids are unique among {spec.label}s"
                )


def _prop_rows(items: Iterable[tuple[int, PropMap]], hlc: int) -> list[dict[str, Any]]:
    return [
        _prop_row(node_id, name, custom, slot, value, hlc)
        for node_id, props in items
        for (name, custom), (slot, value) in props.items()
    ]


_EMPTY_SLOTS = {**dict.fromkeys(SLOTS), "site": SELF_SITE}


def _prop_row(
    node_id: int, name: str, custom: bool, slot: str, value: Any, hlc: int
) -> dict[str, Any]:
    row: dict[str, Any] = {"node_id": node_id, "name": name, "is_custom": custom, **_EMPTY_SLOTS}
    row[slot] = value
    row["hlc"] = hlc
    return row


def _write_updates(
    conn: Connection,
    dialect: Dialect,
    spec: NodeSpec,
    updates: list[Update],
    stamp: int,
    hlc: int,
) -> list[int]:
    """Write what changed in ``updates``; returns the ids of the nodes that changed.

    The node row's stamp changes with its own fields only (they are one register: a change of
    properties alone must not make another site's newer field values lose); a property row
    is stamped when its value is written. A removed key leaves a tombstone with the stamp.
    """
    row_changes: list[dict[str, Any]] = []
    touched: list[dict[str, Any]] = []
    drop: list[dict[str, Any]] = []
    buried: list[dict[str, Any]] = []
    add: list[tuple[int, PropMap]] = []
    changed: list[int] = []
    for change in updates:
        new, old_row, old_props, node_id = (
            change.new,
            change.old_row,
            change.old_props,
            change.node_id,
        )
        removed = [k for k in old_props if k not in new.props or new.props[k] != old_props[k]]
        added = {k: v for k, v in new.props.items() if old_props.get(k) != v}
        same_row = new.row == old_row
        if same_row and not removed and not added:
            continue  # nothing changed: keep last_update_time and the stamps
        changed.append(node_id)
        if same_row:
            touched.append({"_id": node_id, "stamp": stamp})
        else:
            row_changes.append(
                {
                    "_id": node_id,
                    **new.row,
                    "last_update_time_since_epoch": stamp,
                    "hlc": hlc,
                    "site": SELF_SITE,
                }
            )
        drop.extend({"_node": node_id, "_name": n, "_custom": c} for n, c in removed)
        buried.extend(
            {
                "kind": int(spec.kind),
                "node_id": node_id,
                "name": n,
                "is_custom": c,
                "hlc": hlc,
                "site": SELF_SITE,
            }
            for n, c in removed
            if (n, c) not in new.props
        )
        if added:
            add.append((node_id, added))
    st = node_statements(spec.kind)
    st.update_row.execute_many(conn, row_changes)
    st.touch.execute_many(conn, touched)
    st.delete_prop.execute_many(conn, drop)
    st.insert_prop.execute_many(conn, _prop_rows(add, hlc))
    if buried:
        tombstone_upsert(dialect).execute_many(conn, buried)
    return changed


# ------------------------------------------------------------------------------------------- reads


def node_select(spec: NodeSpec) -> Select[Any]:
    """Node rows in the shape :func:`hydrate` reads (see ``NodeStatements.node_columns``)."""
    return select(*node_statements(spec.kind).node_columns).join(
        schema.type_, schema.type_.c.id == spec.table.c.type_id
    )


def hydrate(conn: Connection, spec: NodeSpec, rows: Sequence[Any]) -> list[Any]:
    """Model objects for node rows (from :func:`node_select`), properties included."""
    if not rows:
        return []
    found = node_statements(spec.kind).props_by_node.all(conn, [r[0] for r in rows])
    return hydrate_with(spec, rows, found)


def read_where(
    conn: Connection,
    spec: NodeSpec,
    key: str,
    where: Callable[[], ColumnElement[bool]],
    params: dict[str, Any],
) -> list[Any]:
    """Nodes matching a fixed-shape condition (built once per ``key``), ordered by id."""
    statement = _READS.get(
        (spec.kind, key), lambda: node_select(spec).where(where()).order_by(spec.table.c.id)
    )
    return hydrate(conn, spec, statement.all(conn, params))


_READS = StatementCache()
_READS_IN: dict[tuple[TypeKind, str], InStatement] = {}


def read_in(conn: Connection, spec: NodeSpec, column: str, values: Sequence[Any]) -> list[Any]:
    """Nodes whose ``column`` is one of ``values``, ordered by id."""
    if not values:
        return []
    statement = _READS_IN.get((spec.kind, column))
    if statement is None:
        table = spec.table
        statement = _READS_IN[(spec.kind, column)] = InStatement(
            lambda items: node_select(spec).where(table.c[column].in_(items))
        )
    rows = statement.all(conn, sorted(set(values)))
    rows.sort(key=lambda r: r[0])
    return hydrate(conn, spec, rows)


def read_by_ids(conn: Connection, spec: NodeSpec, ids: Sequence[int]) -> list[Any]:
    """The nodes with these ids (unknown ids skipped), ordered by id."""
    return readers.nodes_by_ids(conn, spec, storable_ids(ids))


def read_artifacts_and_executions(
    conn: Connection, artifact_ids: Sequence[int], execution_ids: Sequence[int]
) -> tuple[list[Any], list[Any]]:
    """The artifacts and executions with these ids (each by id), in one query when they fit."""
    return readers.artifacts_and_executions(
        conn, storable_ids(artifact_ids), storable_ids(execution_ids)
    )


def existing_ids(conn: Connection, spec: NodeSpec, ids: Sequence[int]) -> set[int]:
    """Those of ``ids`` that name stored nodes."""
    wanted = storable_ids(ids)
    if not wanted:
        return set()
    return {row[0] for row in node_statements(spec.kind).ids.all(conn, wanted)}
