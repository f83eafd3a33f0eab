"""Reading a store's changes as batches: the feed since a position, or a chosen subset.

A batch carries the current state of each changed entity (a state-based delta): a node with its
fields, its properties and removed keys, each with its stamp, and its edges (an execution's events
and contexts, an artifact's contexts, a context's parents); every node an edge points at comes
along without its edges, so that the receiver can resolve it; every type a node uses comes along.
The format is described in docs/sync.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, and_, select

from mltrail.backends.sql.readers import SLOTS
from mltrail.backends.sql.schema import TypeKind
from mltrail.sync._tables import (
    ALIAS,
    CHANGE,
    NODE_KINDS,
    SELF,
    TYPE,
    TYPE_OFFSET,
    associations_of,
    attributions_of,
    events_of,
    in_statement,
    nodes_by_id,
    parents_of,
    per_kind,
    props_by_node,
    sites,
    spec,
    tombstones_by_node,
    type_properties,
    within,
)

#: The batch format this library writes and reads.
FORMAT = 1

Wanted = dict[int, list[int]]  # feed kind -> local ids, in feed order


def read_feed(conn: Connection, since: int, limit: int, exclude: str | None) -> dict[str, Any]:
    """The changes after feed position ``since`` (at most ``limit`` feed rows), leaving out
    those received from site ``exclude`` (the receiver: it has them)."""
    known = sites(conn)
    excluded = next((n for n, u in known.items() if u == exclude), None) if exclude else None
    rows = conn.execute(
        select(CHANGE.c.seq, CHANGE.c.kind, CHANGE.c.entity_id, CHANGE.c.source)
        .where(CHANGE.c.seq > since)
        .order_by(CHANGE.c.seq)
        .limit(limit)
    ).all()
    wanted: Wanted = {}
    seen: set[tuple[int, int]] = set()
    for _, kind, entity, source in rows:
        if excluded is not None and source == excluded:
            continue
        if (kind, entity) not in seen:
            seen.add((kind, entity))
            wanted.setdefault(kind, []).append(entity)
    batch = build(conn, known, wanted)
    batch["from"] = since
    batch["to"] = rows[-1][0] if rows else since
    return batch


def feed_end(conn: Connection) -> int:
    """The last position of the store's feed (0 when it is empty)."""
    found = conn.execute(select(CHANGE.c.seq).order_by(CHANGE.c.seq.desc()).limit(1)).scalar()
    return int(found or 0)


def count_changes(conn: Connection, since: int, exclude: str | None) -> dict[int, int]:
    """Feed kind -> how many entities changed after position ``since`` (each counted once),
    leaving out changes received from site ``exclude``."""
    from sqlalchemy import distinct, func, or_

    known = sites(conn)
    excluded = next((n for n, u in known.items() if u == exclude), None) if exclude else None
    where = CHANGE.c.seq > since
    if excluded is not None:
        where = and_(where, or_(CHANGE.c.source.is_(None), CHANGE.c.source != excluded))
    changed = (
        select(distinct(CHANGE.c.kind).label("kind"), CHANGE.c.entity_id).where(where).subquery()
    )
    rows = conn.execute(
        select(changed.c.kind, func.count()).group_by(changed.c.kind).order_by(changed.c.kind)
    ).all()
    return {int(kind): int(count) for kind, count in rows}


def read_subset(conn: Connection, wanted: Wanted) -> dict[str, Any]:
    """A batch of the chosen entities (not a feed range: it moves no cursor)."""
    batch = build(conn, sites(conn), wanted)
    batch["from"] = batch["to"] = None
    return batch


# ------------------------------------------------------------------------------------- building

# By the index (kind, local id): one kind's nodes at a time.
_origins = per_kind(
    lambda s, ids: select(ALIAS.c.local_id, ALIAS.c.site, ALIAS.c.origin_id).where(
        and_(ALIAS.c.kind == int(s.kind), within(ALIAS.c.local_id, ids), ALIAS.c.origin.is_(True))
    )
)
_types = in_statement(
    lambda ids: select(
        TYPE.c.id,
        TYPE.c.kind,
        TYPE.c.name,
        TYPE.c.version,
        TYPE.c.description,
        TYPE.c.external_id,
        TYPE.c.base_type,
    ).where(within(TYPE.c.id, ids))
)
_BOOL_SLOT = SLOTS.index("bool_value")
_DOUBLE_SLOT = SLOTS.index("double_value")


def _value(slot: int, value: Any) -> Any:
    if slot == _BOOL_SLOT:
        return bool(value)
    if slot == _DOUBLE_SLOT:
        return float(value)
    return value


def build(conn: Connection, known: dict[int, str], wanted: Wanted) -> dict[str, Any]:
    """The batch of ``wanted`` entities: their records, the nodes their edges reach (without
    edges) and the types all of them use."""
    main: dict[int, list[int]] = {kind: _distinct(wanted.get(kind, ())) for kind in NODE_KINDS}
    edges = _edges(conn, main)
    linked: dict[int, set[int]] = {kind: set() for kind in NODE_KINDS}
    for of_kind in edges.values():
        for lists in of_kind.values():
            for items in lists.values():
                for item in items:
                    linked[item[0]].add(item[1])
    nodes: dict[tuple[int, int], dict[str, Any]] = {}
    type_ids = {entity for kind, ids in wanted.items() if kind > TYPE_OFFSET for entity in ids}
    main_sets = {kind: set(ids) for kind, ids in main.items()}
    for kind in NODE_KINDS:
        ids = main[kind] + sorted(linked[kind] - main_sets[kind])
        for record in _node_records(conn, kind, ids, known):
            nodes[(kind, record.pop("id"))] = record
    gids = _gids(conn, nodes, known)
    for (node_kind, node_id), record in nodes.items():
        type_ids.add(record["type"])
        record["gid"] = gids[(node_kind, node_id)]
        own = edges[node_kind].get(node_id)
        if node_id in main_sets[node_kind]:
            record["edges"] = _edge_record(node_kind, own or {}, gids)
    types, names = _type_records(conn, sorted(type_ids))
    for record in nodes.values():
        record["type"] = names[record["type"]]
    return {
        "format": FORMAT,
        "site": known[SELF],
        "types": types,
        "nodes": list(nodes.values()),
    }


def _distinct(ids: Iterable[int]) -> list[int]:
    return list(dict.fromkeys(ids))


def _node_records(
    conn: Connection, kind: int, ids: Sequence[int], known: dict[int, str]
) -> list[dict[str, Any]]:
    if not ids:
        return []
    node_spec = spec(kind)
    records: dict[int, dict[str, Any]] = {}
    for row in sorted(nodes_by_id[kind].all(conn, list(ids)), key=lambda r: r[0]):
        node_id, type_id, name, external_id, created, updated, hlc, site, *scalars = row
        records[node_id] = {
            "id": node_id,
            "kind": kind,
            "type": type_id,
            "name": name,
            "external_id": external_id,
            "fields": dict(zip(node_spec.scalars, scalars)),
            "stamp": [int(hlc), known[site]],
            "created": int(created),
            "updated": int(updated),
            "props": [],
            "removed": [],
        }
    for node_id, name, is_custom, *rest in props_by_node[kind].all(conn, list(records)):
        *slots, hlc, site = rest
        slot = next(i for i, v in enumerate(slots) if v is not None)
        records[node_id]["props"].append(
            [name, bool(is_custom), slot, _value(slot, slots[slot]), int(hlc), known[site]]
        )
    for node_id, name, is_custom, hlc, site in tombstones_by_node[kind].all(conn, list(records)):
        records[node_id]["removed"].append([name, bool(is_custom), int(hlc), known[site]])
    for record in records.values():
        record["props"].sort()
        # A removal older than the key's value is superseded: it says nothing any more.
        live = {(p[0], p[1]): (p[4], p[5]) for p in record["props"]}
        record["removed"] = sorted(
            r for r in record["removed"] if (r[2], r[3]) > live.get((r[0], r[1]), (-1, ""))
        )
    return list(records.values())


def _gids(
    conn: Connection, nodes: dict[tuple[int, int], dict[str, Any]], known: dict[int, str]
) -> dict[tuple[int, int], list[Any]]:
    me = known[SELF]
    gids: dict[tuple[int, int], list[Any]] = {key: [me, key[1]] for key in nodes}
    for kind in NODE_KINDS:
        ids = sorted(node_id for node_kind, node_id in nodes if node_kind == kind)
        if ids:
            for local_id, site, origin_id in _origins[kind].all(conn, ids):
                gids[(kind, local_id)] = [known[site], int(origin_id)]
    return gids


Edges = dict[int, dict[int, dict[str, list[Any]]]]  # kind -> node id -> edge list name -> items


def _edges(conn: Connection, main: dict[int, list[int]]) -> dict[int, dict[int, Any]]:
    """Each main node's edges, as (target kind, target id) pairs plus event details."""
    out: dict[int, dict[int, Any]] = {kind: {} for kind in NODE_KINDS}
    a, e, c = TypeKind.ARTIFACT, TypeKind.EXECUTION, TypeKind.CONTEXT
    if main[e]:
        for execution_id, artifact_id, event_type, path, ms in events_of.all(conn, main[e]):
            lists = out[e].setdefault(execution_id, {})
            lists.setdefault("events", []).append((a, artifact_id, event_type, path, ms))
        for execution_id, context_id in associations_of.all(conn, main[e]):
            out[e].setdefault(execution_id, {}).setdefault("contexts", []).append((c, context_id))
    if main[a]:
        for artifact_id, context_id in attributions_of.all(conn, main[a]):
            out[a].setdefault(artifact_id, {}).setdefault("contexts", []).append((c, context_id))
    if main[c]:
        for context_id, parent_id in parents_of.all(conn, main[c]):
            out[c].setdefault(context_id, {}).setdefault("parents", []).append((c, parent_id))
    return out


def _edge_record(
    kind: int, own: dict[str, list[Any]], gids: dict[tuple[int, int], list[Any]]
) -> dict[str, list[Any]]:
    record: dict[str, list[Any]] = {}
    if kind == TypeKind.EXECUTION:
        record["events"] = sorted(
            [gids[(k, target)], event_type, path, int(ms)]
            for k, target, event_type, path, ms in own.get("events", ())
        )
    if kind in (TypeKind.ARTIFACT, TypeKind.EXECUTION):
        record["contexts"] = sorted(gids[(k, t)] for k, t in own.get("contexts", ()))
    if kind == TypeKind.CONTEXT:
        record["parents"] = sorted(gids[(k, t)] for k, t in own.get("parents", ()))
    return record


def _type_records(
    conn: Connection, type_ids: list[int]
) -> tuple[list[dict[str, Any]], dict[int, list[str]]]:
    if not type_ids:
        return [], {}
    records: dict[int, dict[str, Any]] = {}
    for type_id, kind, name, version, description, external_id, base_type in sorted(
        _types.all(conn, type_ids)
    ):
        records[type_id] = {
            "kind": int(kind),
            "name": name,
            "version": version,
            "description": description,
            "external_id": external_id,
            "base_type": base_type,
            "properties": [],
        }
    for type_id, name, data_type in type_properties.all(conn, list(records)):
        records[type_id]["properties"].append([name, int(data_type)])
    for record in records.values():
        record["properties"].sort()
    names = {type_id: [r["name"], r["version"]] for type_id, r in records.items()}
    return list(records.values()), names
