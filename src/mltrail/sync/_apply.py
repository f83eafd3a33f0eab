"""Merging a batch of another store's changes into this one (docs/sync.md, "Merge rules").

One batch is one transaction: types are united, each node is found by its global id (or its
external id, or for a context its type and name) and merged key by key, last writer wins by
(HLC, site), edges are added, never removed. Any conflict refuses the whole batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, insert, select, update

from mltrail.backends.sql import clock, feed
from mltrail.backends.sql.dialects import Dialect
from mltrail.backends.sql.fast import FastStatement
from mltrail.backends.sql.readers import SLOTS
from mltrail.backends.sql.schema import TypeKind
from mltrail.errors import FailedPreconditionError, InvalidArgumentError, SyncConflictError
from mltrail.model import PropertyType
from mltrail.store._edges import find_cycle
from mltrail.sync._tables import (
    ALIAS,
    ASSOCIATION,
    ATTRIBUTION,
    EVENT,
    KIND_LABEL,
    NODE_KINDS,
    PARENT,
    SELF,
    SITE,
    TEXT,
    TOMBSTONE,
    TYPE,
    TYPE_OFFSET,
    TYPE_PROPERTY,
    associations_of,
    attributions_of,
    events_of,
    in_statement,
    nodes_by_id,
    parents_of,
    per_kind,
    props_by_node,
    self_uuid,
    site_numbers,
    spec,
    tombstones_by_node,
    type_properties,
    within,
)

Stamp = tuple[int, str]  # (hlc, site uuid): the larger one wins
Key = tuple[str, bool]  # (property name, is_custom)


@dataclass
class Applied:
    """What applying one batch did."""

    records: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    edges: int = 0
    types: int = 0

    def add(self, other: Applied) -> None:
        for name in ("records", "created", "updated", "unchanged", "edges", "types"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _Node:
    """A record of the batch being merged."""

    record: dict[str, Any]
    kind: int
    type_id: int
    local_id: int | None = None
    new: bool = False
    changed: bool = False
    ahead: bool = False  # this store holds something newer than the record: send it back
    alias: bool = False  # the record's global id must be recorded as an alias
    merged_into: _Node | None = None  # another record of the batch for the same new node
    props: dict[Key, tuple[int, Any, Stamp]] = field(default_factory=dict)
    removed: dict[Key, Stamp] = field(default_factory=dict)


class _Conflicts:
    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, kind: str, message: str, resolve: str) -> None:
        self.items.append({"kind": kind, "message": message, "resolve": resolve})

    def raise_if_any(self, where: str) -> None:
        if self.items:
            lines = "; ".join(f"{c['message']} ({c['resolve']})" for c in self.items[:20])
            more = f"; and {len(self.items) - 20} more" if len(self.items) > 20 else ""
            raise SyncConflictError(
                f"{len(self.items)} conflict(s) between {where} and this store, so none of the "
                f"batch was applied: {lines}{more}",
                conflicts=self.items,
            )


def apply(
    conn: Connection, dialect: Dialect, batch: dict[str, Any], label: str | None = None
) -> Applied:
    """Merge a checked batch (see :mod:`mltrail.sync._check`) into the store; ``label`` says
    where it came from (a URL or path), for messages and the site list."""
    me = self_uuid(conn)
    sender: str = batch["site"]
    where = f"site {sender}" + (f" ({label})" if label else "")
    if sender == me:
        raise InvalidArgumentError(
            f"the batch comes from site {sender}, which is this store itself; a store never "
            "applies its own changes (was the store file copied? copies of a store need their "
            "own site: see docs/sync.md)"
        )
    numbers = site_numbers(conn, _site_uuids(batch), label)
    _check_position(conn, batch, numbers[sender], where)
    conflicts = _Conflicts()
    result = Applied(records=len(batch["nodes"]))
    type_ids = _unite_types(conn, batch["types"], numbers[sender], conflicts, result, where)
    nodes = [
        _Node(r, r["kind"], type_ids.get((r["kind"], r["type"][0], r["type"][1]), 0))
        for r in batch["nodes"]
    ]
    conflicts.raise_if_any(where)
    by_gid = _resolve(conn, nodes, me, numbers, conflicts, where)
    conflicts.raise_if_any(where)
    _merge_nodes(conn, dialect, nodes, numbers, conflicts)
    conflicts.raise_if_any(where)
    result.edges = _add_edges(conn, dialect, nodes, by_gid, conflicts)
    conflicts.raise_if_any(where)
    _record_aliases(conn, dialect, nodes, numbers, me)
    source = numbers[sender]
    for kind in NODE_KINDS:
        mine = [n for n in nodes if n.kind == kind]
        feed.note(conn, kind, [n.local_id for n in mine if n.changed and not n.ahead], source)  # type: ignore[misc]
        feed.note(conn, kind, [n.local_id for n in mine if n.changed and n.ahead])  # type: ignore[misc]
    result.created = sum(n.new for n in nodes)
    result.updated = sum(n.changed and not n.new for n in nodes)
    result.unchanged = len(nodes) - result.created - result.updated
    if batch["to"] is not None and batch["to"] > _applied(conn, source):
        conn.execute(update(SITE).where(SITE.c.id == source).values(applied_seq=batch["to"]))
    if label:
        conn.execute(update(SITE).where(SITE.c.id == source).values(label=label[:255]))
    stamps = [r["stamp"][0] for r in batch["nodes"]]
    if stamps:
        clock.observe(max(stamps))
    return result


def _applied(conn: Connection, site: int) -> int:
    return int(conn.execute(select(SITE.c.applied_seq).where(SITE.c.id == site)).scalar() or 0)


def _site_uuids(batch: dict[str, Any]) -> set[str]:
    found = {batch["site"]}
    for record in batch["nodes"]:
        found.add(record["gid"][0])
        found.add(record["stamp"][1])
        found.update(p[5] for p in record["props"])
        found.update(r[3] for r in record["removed"])
    return found


def _check_position(conn: Connection, batch: dict[str, Any], sender: int, where: str) -> None:
    start = batch["from"]
    if start is None:
        return
    applied = _applied(conn, sender)
    if start == applied or start < applied < batch["to"]:
        return  # what follows the position applied here (a resumed batch may overlap it)
    if start < applied:
        raise FailedPreconditionError(
            f"the batch from {where} starts after feed position {start}, but this store has "
            f"applied that site's changes up to position {applied}: the batch was sent before "
            "(a replay); ask this store for its position and send what follows it"
        )
    raise FailedPreconditionError(
        f"the batch from {where} starts after feed position {start}, but this store has applied "
        f"that site's changes only up to position {applied}: the changes in between are missing; "
        "ask this store for its position and send what follows it"
    )


# ----------------------------------------------------------------------------------------- types


def _unite_types(
    conn: Connection,
    records: list[dict[str, Any]],
    source: int,
    conflicts: _Conflicts,
    result: Applied,
    where: str,
) -> dict[tuple[int, str, str], int]:
    """Local type ids by (kind, name, version); missing types and properties are added."""
    names = sorted({r["name"] for r in records})
    local: dict[tuple[int, str, str], int] = {}
    for chunk_start in range(0, len(names), 500):
        chunk = names[chunk_start : chunk_start + 500]
        for type_id, kind, name, version in conn.execute(
            select(TYPE.c.id, TYPE.c.kind, TYPE.c.name, TYPE.c.version).where(
                TYPE.c.name.in_(chunk)
            )
        ):
            local[(int(kind), name, version)] = int(type_id)
    declared: dict[int, dict[str, int]] = {}
    if local:
        ids = sorted(local.values())
        for type_id, name, data_type in type_properties.all(conn, ids):
            declared.setdefault(type_id, {})[name] = int(data_type)
    for record in records:
        key = (record["kind"], record["name"], record["version"])
        label = f"{KIND_LABEL[TypeKind(record['kind'])]} type {record['name']!r}" + (
            f" version {record['version']!r}" if record["version"] else ""
        )
        type_id = local.get(key)
        wanted = dict(record["properties"])
        if type_id is None:
            ext = record["external_id"]
            if (
                ext is not None
                and conn.execute(select(TYPE.c.id).where(TYPE.c.external_id == ext)).first()
            ):
                conflicts.add(
                    "external_id",
                    f"{label} of {where} has external_id {ext!r}, which another type holds here",
                    "give one of the two types another external_id",
                )
                continue
            made = conn.execute(
                insert(TYPE).values(
                    kind=record["kind"],
                    name=record["name"],
                    version=record["version"],
                    description=record["description"],
                    external_id=ext,
                    base_type=record["base_type"],
                )
            ).inserted_primary_key
            assert made is not None
            type_id = int(made[0])
            local[key] = type_id
            added, created = wanted, True
        else:
            created = False
            have = declared.get(type_id, {})
            added = {}
            for name, data_type in wanted.items():
                mine = have.get(name)
                if mine is None:
                    added[name] = data_type
                elif mine != data_type:
                    conflicts.add(
                        "property_type",
                        f"{label} declares property {name!r} as {PropertyType(data_type).name} "
                        f"at {where} and as {PropertyType(mine).name} here",
                        "declare the property with one value type on both sides (a type's "
                        "properties never change type): rename it in one of the types",
                    )
        if added:
            conn.execute(
                insert(TYPE_PROPERTY),
                [{"type_id": type_id, "name": n, "data_type": d} for n, d in sorted(added.items())],
            )
            declared.setdefault(type_id, {}).update(added)
        if added or created:  # a new type without properties is a change too
            feed.note(conn, TYPE_OFFSET + record["kind"], [type_id], source)
            result.types += 1
    return local


# -------------------------------------------------------------------------------------- identity

_existing = per_kind(
    lambda s, ids: select(s.table.c.id, s.table.c.type_id).where(within(s.table.c.id, ids))
)
# By the alias table's key (kind, site, origin id): one site's ids of one kind at a time.
_aliases = in_statement(
    lambda ids: select(ALIAS.c.origin_id, ALIAS.c.local_id).where(
        and_(
            ALIAS.c.kind == bindparam("kind"),
            ALIAS.c.site == bindparam("site"),
            within(ALIAS.c.origin_id, ids),
        )
    )
)
_by_external = per_kind(
    lambda s, ids: select(s.table.c.external_id, s.table.c.id, s.table.c.type_id).where(
        within(s.table.c.external_id, ids)
    ),
    TEXT,
)
_by_name = per_kind(
    lambda s, ids: select(s.table.c.type_id, s.table.c.name, s.table.c.id).where(
        within(s.table.c.name, ids)
    ),
    TEXT,
)


def _describe(node: _Node) -> str:
    r = node.record
    label = KIND_LABEL[TypeKind(node.kind)]
    if r["name"]:
        return f"{label} {r['name']!r} of type {r['type'][0]!r}"
    if r["external_id"]:
        return f"{label} with external_id {r['external_id']!r}"
    return f"{label} {r['gid'][1]} of site {r['gid'][0]}"


def _resolve(
    conn: Connection,
    nodes: list[_Node],
    me: str,
    numbers: dict[str, int],
    conflicts: _Conflicts,
    where: str,
) -> dict[tuple[int, str, int], _Node]:
    """Find each record's local node; returns the records by (kind, global id)."""
    by_gid: dict[tuple[int, str, int], _Node] = {}
    for kind in NODE_KINDS:
        mine = [n for n in nodes if n.kind == kind]
        if not mine:
            continue
        local_types: dict[int, int] = {}
        own = [n for n in mine if n.record["gid"][0] == me]
        if own:
            found = dict(_existing[kind].all(conn, sorted({n.record["gid"][1] for n in own})))
            for node in own:
                node_id = node.record["gid"][1]
                if node_id not in found:
                    raise InvalidArgumentError(
                        f"the batch from {where} names {KIND_LABEL[TypeKind(kind)]} {node_id} of "
                        f"this store (site {me}), which does not exist here: the batch does not "
                        "belong to this store, or was altered"
                    )
                node.local_id = node_id
                local_types[node_id] = found[node_id]
        foreign = [n for n in mine if n.local_id is None]
        if foreign:
            by_site: dict[int, set[int]] = {}
            for n in foreign:
                by_site.setdefault(numbers[n.record["gid"][0]], set()).add(n.record["gid"][1])
            aliases: dict[tuple[int, int], int] = {}
            for site, origin_ids in by_site.items():
                params = {"kind": int(kind), "site": site}
                for origin_id, local_id in _aliases.all(conn, sorted(origin_ids), params):
                    aliases[(site, origin_id)] = local_id
            for node in foreign:
                gid = node.record["gid"]
                node.local_id = aliases.get((numbers[gid[0]], gid[1]))
                node.alias = node.local_id is None
        _resolve_natural(conn, kind, [n for n in mine if n.local_id is None], conflicts, where)
        ids = sorted({n.local_id for n in mine if n.local_id is not None} - set(local_types))
        if ids:
            local_types.update(dict(_existing[kind].all(conn, ids)))
        for node in mine:
            if (
                node.local_id is not None
                and local_types.get(node.local_id, node.type_id) != node.type_id
            ):
                conflicts.add(
                    "node_type",
                    f"{_describe(node)} from {where} is node {node.local_id} here, which has "
                    "another type",
                    "a node's type never changes: give one of them another external_id or name",
                )
        for node in mine:
            gid = node.record["gid"]
            by_gid[(kind, gid[0], gid[1])] = node
    return by_gid


def _resolve_natural(
    conn: Connection, kind: int, nodes: list[_Node], conflicts: _Conflicts, where: str
) -> None:
    """Records without a known global id: by external id, then (contexts) by type and name;
    what is left is new. Two new records with the same natural key are one node."""
    if not nodes:
        return
    externals = sorted({n.record["external_id"] for n in nodes if n.record["external_id"]})
    found_ext = {ext: node_id for ext, node_id, _ in _by_external[kind].all(conn, externals)}
    names = sorted({n.record["name"] for n in nodes if n.record["name"]})
    found_name = {(t, name): node_id for t, name, node_id in _by_name[kind].all(conn, names)}
    first_new: dict[Any, _Node] = {}
    for node in nodes:
        r = node.record
        ext, name = r["external_id"], r["name"]
        if ext is not None and ext in found_ext:
            node.local_id = found_ext[ext]
            continue
        named = found_name.get((node.type_id, name)) if name else None
        if named is not None:
            if kind == TypeKind.CONTEXT:
                node.local_id = named
                continue
            conflicts.add(
                "name",
                f"{_describe(node)} from {where} is a different node than "
                f"{KIND_LABEL[TypeKind(kind)]} {named} here, which has the same type and name",
                "names are unique per type: rename one of them, or give both the same "
                "external_id if they are the same node",
            )
            continue
        keys: list[tuple[Any, ...]] = [("ext", ext)] if ext is not None else []
        if name is not None:
            keys.append(("name", node.type_id, name))
        twin = next((first_new[k] for k in keys if k in first_new), None)
        if twin is not None and (kind == TypeKind.CONTEXT or keys[0][0] == "ext"):
            twin.record = _combine(twin.record, r)
            node.merged_into = twin  # its id is known once ``twin`` is inserted
            continue
        if twin is not None:
            conflicts.add(
                "name",
                f"the batch from {where} holds two different {KIND_LABEL[TypeKind(kind)]}s named "
                f"{name!r} of type {r['type'][0]!r}",
                "names are unique per type: rename one of them at the site that made it",
            )
            continue
        node.new = True
        for k in keys:
            first_new[k] = node


def _combine(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """Two records of one node (a batch relaying both): the newer register, every key."""
    newer = second if _stamp(second["stamp"]) > _stamp(first["stamp"]) else first
    out = dict(newer)
    out["props"] = first["props"] + second["props"]
    out["removed"] = first["removed"] + second["removed"]
    if "edges" in first or "edges" in second:
        edges: dict[str, list[Any]] = {}
        for record in (first, second):
            for name, items in record.get("edges", {}).items():
                edges.setdefault(name, []).extend(items)
        out["edges"] = edges
    return out


def _stamp(raw: list[Any]) -> Stamp:
    return (int(raw[0]), str(raw[1]))


# ----------------------------------------------------------------------------------------- nodes

_EMPTY = dict.fromkeys(SLOTS)
_UPDATED = (
    "name",
    "external_id",
    "hlc",
    "site",
    "create_time_since_epoch",
    "last_update_time_since_epoch",
)


def _local_state(
    conn: Connection, kind: int, ids: list[int], numbers_back: dict[int, str]
) -> tuple[
    dict[int, Any], dict[int, dict[Key, tuple[int, Any, Stamp]]], dict[int, dict[Key, Stamp]]
]:
    rows: dict[int, Any] = {}
    props: dict[int, dict[Key, tuple[int, Any, Stamp]]] = {}
    removed: dict[int, dict[Key, Stamp]] = {}
    if not ids:
        return rows, props, removed
    for row in nodes_by_id[kind].all(conn, ids):
        rows[row[0]] = row
    for node_id, name, is_custom, *rest in props_by_node[kind].all(conn, ids):
        *slots, hlc, site = rest
        slot = next(i for i, v in enumerate(slots) if v is not None)
        props.setdefault(node_id, {})[(name, bool(is_custom))] = (
            slot,
            slots[slot],
            (int(hlc), numbers_back[site]),
        )
    for node_id, name, is_custom, hlc, site in tombstones_by_node[kind].all(conn, ids):
        removed.setdefault(node_id, {})[(name, bool(is_custom))] = (int(hlc), numbers_back[site])
    return rows, props, removed


def _merge_nodes(
    conn: Connection,
    dialect: Dialect,
    nodes: list[_Node],
    numbers: dict[str, int],
    conflicts: _Conflicts,
) -> None:
    numbers_back = {n: u for u, n in numbers.items()}
    numbers_back.update({row[0]: row[1] for row in conn.execute(select(SITE.c.id, SITE.c.uuid))})
    for kind in NODE_KINDS:
        mine = [n for n in nodes if n.kind == kind]
        if not mine:
            continue
        node_spec = spec(kind)
        t, p = node_spec.table, node_spec.props
        scalars = node_spec.scalars
        new = [n for n in mine if n.new]
        if new:
            rows = [
                {
                    "type_id": n.type_id,
                    "name": n.record["name"],
                    "external_id": n.record["external_id"],
                    **{c: n.record["fields"].get(c) for c in scalars},
                    "create_time_since_epoch": n.record["created"],
                    "last_update_time_since_epoch": n.record["updated"],
                    "hlc": n.record["stamp"][0],
                    "site": numbers[n.record["stamp"][1]],
                }
                for n in new
            ]
            plain, returning = _inserts(kind)
            ids = dialect.insert_returning_ids(conn, plain, returning, t, rows)
            for node, node_id in zip(new, ids):
                node.local_id = node_id
                node.changed = True
        twins = [n for n in mine if n.merged_into is not None]
        mine = [n for n in mine if n.merged_into is None]
        existing = sorted({n.local_id for n in mine if not n.new and n.local_id is not None})
        rows_by_id, local_props, local_removed = _local_state(conn, kind, existing, numbers_back)
        row_updates: dict[int, dict[str, Any]] = {}
        prop_deletes: list[dict[str, Any]] = []
        prop_inserts: dict[tuple[int, Key], dict[str, Any]] = {}
        tomb_rows: dict[tuple[int, Key], dict[str, Any]] = {}
        claimed_names: list[tuple[_Node, str]] = []
        claimed_ext: list[tuple[_Node, str]] = []
        for node in mine:
            assert node.local_id is not None
            r = node.record
            incoming_stamp = _stamp(r["stamp"])
            if node.new:
                have_props: dict[Key, tuple[int, Any, Stamp]] = {}
                have_removed: dict[Key, Stamp] = {}
            else:
                row = row_updates.get(node.local_id) or _row_dict(
                    rows_by_id[node.local_id], scalars
                )
                have_props = local_props.setdefault(node.local_id, {})
                have_removed = local_removed.setdefault(node.local_id, {})
                local_stamp = (row["hlc"], numbers_back[row["site"]])
                if incoming_stamp > local_stamp:
                    fields = {c: r["fields"].get(c) for c in scalars}
                    if r["name"] != row["name"]:
                        claimed_names.append((node, r["name"]))
                    if r["external_id"] != row["external_id"] and r["external_id"] is not None:
                        claimed_ext.append((node, r["external_id"]))
                    row.update(
                        name=r["name"],
                        external_id=r["external_id"],
                        hlc=incoming_stamp[0],
                        site=numbers[incoming_stamp[1]],
                        last_update_time_since_epoch=max(
                            r["updated"], row["last_update_time_since_epoch"]
                        ),
                        **fields,
                    )
                    row_updates[node.local_id] = row
                    # A newer stamp is a change even when the values are equal: stamps
                    # must converge as well as values.
                    node.changed = True
                elif local_stamp > incoming_stamp:
                    node.ahead = True
                if r["created"] < row["create_time_since_epoch"]:
                    # Made at two sites (merged by a natural key): the earlier creation counts.
                    row["create_time_since_epoch"] = r["created"]
                    row_updates[node.local_id] = row
                    node.changed = True
                elif r["created"] > row["create_time_since_epoch"]:
                    node.ahead = True
            # Properties, key by key: the newest of a value and a removal wins.
            incoming: dict[Key, tuple[Stamp, tuple[int, Any] | None]] = {}
            for name, is_custom, slot, value, hlc, site in r["props"]:
                key = (name, is_custom)
                stamp = (hlc, site)
                if key not in incoming or stamp > incoming[key][0]:
                    incoming[key] = (stamp, (slot, value))
            for name, is_custom, hlc, site in r["removed"]:
                key = (name, is_custom)
                stamp = (hlc, site)
                if key not in incoming or stamp > incoming[key][0]:
                    incoming[key] = (stamp, None)
            keys = set(have_props) | set(have_removed)
            if keys - set(incoming):
                node.ahead = True  # the sender lacks a key this store has
            for key, (stamp, value) in incoming.items():
                mine_stamp = max(
                    [s for s in (have_props.get(key, (0, 0, None))[2], have_removed.get(key)) if s],
                    default=None,
                )
                if mine_stamp is not None and mine_stamp > stamp:
                    node.ahead = True
                    continue
                if mine_stamp == stamp:
                    continue
                node.changed = True
                if key in have_props:
                    prop_deletes.append(
                        {"_node": node.local_id, "_name": key[0], "_custom": key[1]}
                    )
                    del have_props[key]
                prop_inserts.pop((node.local_id, key), None)
                if value is None:
                    tomb_rows[(node.local_id, key)] = {
                        "kind": kind,
                        "node_id": node.local_id,
                        "name": key[0],
                        "is_custom": key[1],
                        "hlc": stamp[0],
                        "site": numbers[stamp[1]],
                    }
                    have_removed[key] = stamp
                else:
                    slot, raw = value
                    row_values = dict(_EMPTY)
                    row_values[SLOTS[slot]] = raw
                    prop_inserts[(node.local_id, key)] = {
                        "node_id": node.local_id,
                        "name": key[0],
                        "is_custom": key[1],
                        **row_values,
                        "hlc": stamp[0],
                        "site": numbers[stamp[1]],
                    }
                    have_props[key] = (slot, raw, stamp)
        _check_claims(conn, kind, claimed_names, claimed_ext, conflicts)
        if row_updates:
            conn.execute(
                update(t)
                .where(t.c.id == bindparam("_id"))
                .values({c: bindparam(c) for c in _UPDATED + scalars}),
                [{"_id": node_id, **values} for node_id, values in row_updates.items()],
            )
        if prop_deletes:
            conn.execute(
                delete(p).where(
                    and_(
                        p.c.node_id == bindparam("_node"),
                        p.c.name == bindparam("_name"),
                        p.c.is_custom == bindparam("_custom"),
                    )
                ),
                prop_deletes,
            )
        if prop_inserts:
            dialect.insert_rows(conn, p, list(prop_inserts.values()))
        if tomb_rows:
            conn.execute(
                delete(TOMBSTONE).where(
                    and_(
                        TOMBSTONE.c.kind == bindparam("kind"),
                        TOMBSTONE.c.node_id == bindparam("node_id"),
                        TOMBSTONE.c.name == bindparam("name"),
                        TOMBSTONE.c.is_custom == bindparam("is_custom"),
                    )
                ),
                [
                    {k: row[k] for k in ("kind", "node_id", "name", "is_custom")}
                    for row in tomb_rows.values()
                ],
            )
            dialect.insert_rows(conn, TOMBSTONE, list(tomb_rows.values()))
        for node in twins:
            assert node.merged_into is not None
            node.local_id = node.merged_into.local_id
            node.changed = node.merged_into.changed
        # ``ahead`` nodes that changed nothing here need not be noted: what makes them newer
        # is in this store's feed already.


def _row_dict(row: Any, scalars: tuple[str, ...]) -> dict[str, Any]:
    _, _, name, external_id, created, updated, hlc, site, *values = row
    out = {
        "name": name,
        "external_id": external_id,
        "create_time_since_epoch": int(created),
        "last_update_time_since_epoch": int(updated),
        "hlc": int(hlc),
        "site": int(site),
    }
    out.update(zip(scalars, values))
    return out


def _check_claims(
    conn: Connection,
    kind: int,
    names: list[tuple[_Node, str]],
    externals: list[tuple[_Node, str]],
    conflicts: _Conflicts,
) -> None:
    """A name or external id that a merged node takes must not belong to another node."""
    label = KIND_LABEL[TypeKind(kind)]
    if names:
        found = {
            (t, n): i for t, n, i in _by_name[kind].all(conn, sorted({n for _, n in names if n}))
        }
        for node, name in names:
            other = found.get((node.type_id, name)) if name else None
            if other is not None and other != node.local_id:
                conflicts.add(
                    "name",
                    f"{label} {node.local_id} would be renamed {name!r}, the name of {label} "
                    f"{other}",
                    "names are unique per type: rename one of them",
                )
    if externals:
        found_ext = {
            e: i for e, i, _ in _by_external[kind].all(conn, sorted({e for _, e in externals}))
        }
        for node, ext in externals:
            other = found_ext.get(ext)
            if other is not None and other != node.local_id:
                conflicts.add(
                    "external_id",
                    f"{label} {node.local_id} would take external_id {ext!r} of {label} {other}",
                    "external ids are unique: give one of them another external_id",
                )


_INSERTS: dict[int, tuple[FastStatement, FastStatement]] = {}


def _inserts(kind: int) -> tuple[FastStatement, FastStatement]:
    found = _INSERTS.get(kind)
    if found is None:
        from sqlalchemy import bindparam

        node_spec = spec(kind)
        t = node_spec.table
        columns = (
            "type_id",
            "name",
            "external_id",
            *node_spec.scalars,
            "create_time_since_epoch",
            "last_update_time_since_epoch",
            "hlc",
            "site",
        )
        values: dict[str, Any] = {c: bindparam(c) for c in columns}
        found = _INSERTS[kind] = (
            FastStatement(insert(t).values(values)),
            FastStatement(insert(t).values(values).returning(t.c.id)),
        )
    return found


# ----------------------------------------------------------------------------------------- edges


def _add_edges(
    conn: Connection,
    dialect: Dialect,
    nodes: list[_Node],
    by_gid: dict[tuple[int, str, int], _Node],
    conflicts: _Conflicts,
) -> int:
    def local(kind: int, gid: list[Any]) -> int:
        target = by_gid[(kind, gid[0], gid[1])]
        assert target.local_id is not None
        return target.local_id

    a, e, c = TypeKind.ARTIFACT, TypeKind.EXECUTION, TypeKind.CONTEXT
    events: dict[tuple[int, int, int], dict[str, Any]] = {}
    attributions: set[tuple[int, int]] = set()
    associations: set[tuple[int, int]] = set()
    parents: set[tuple[int, int]] = set()
    owners: dict[tuple[int, int], _Node] = {}
    for node in nodes:
        edges = node.record.get("edges")
        if edges is None:
            continue
        assert node.local_id is not None
        owners[(node.kind, node.local_id)] = node
        for gid, event_type, path, ms in edges.get("events", ()):
            key = (local(a, gid), node.local_id, event_type)
            events.setdefault(
                key,
                {
                    "artifact_id": key[0],
                    "execution_id": key[1],
                    "type": event_type,
                    "path": path,
                    "milliseconds_since_epoch": ms,
                },
            )
        for gid in edges.get("contexts", ()):
            pair = (local(c, gid), node.local_id)
            (attributions if node.kind == a else associations).add(pair)
        for gid in edges.get("parents", ()):
            parents.add((node.local_id, local(c, gid)))
    if not owners:
        return 0
    have_events, have_attr, have_assoc, have_parents = _local_edges(conn, owners)
    added = 0
    new_events = [row for key, row in events.items() if key not in have_events]
    new_attr = sorted(attributions - have_attr)
    new_assoc = sorted(associations - have_assoc)
    new_parents = sorted(parents - have_parents)
    # One event made at two sites (the same artifact, execution and type): the earlier wins.
    moved = []
    for key, row in events.items():
        mine = have_events.get(key)
        if mine is None:
            continue
        theirs = (row["milliseconds_since_epoch"], row["path"] or "")
        if theirs < (mine[0], mine[1] or ""):
            moved.append({**row, "_a": key[0], "_e": key[1], "_t": key[2]})
            owners[(e, key[1])].changed = True
        elif theirs > (mine[0], mine[1] or ""):
            owners[(e, key[1])].ahead = True
    if moved:
        conn.execute(
            update(EVENT)
            .where(
                and_(
                    EVENT.c.artifact_id == bindparam("_a"),
                    EVENT.c.execution_id == bindparam("_e"),
                    EVENT.c.type == bindparam("_t"),
                )
            )
            .values(
                path=bindparam("path"),
                milliseconds_since_epoch=bindparam("milliseconds_since_epoch"),
            ),
            moved,
        )
    for key in set(have_events) - set(events):
        owners[(e, key[1])].ahead = True
    for _, artifact_id in have_attr - attributions:
        owners[(a, artifact_id)].ahead = True
    for _, execution_id in have_assoc - associations:
        owners[(e, execution_id)].ahead = True
    for child, _ in have_parents - parents:
        owners[(c, child)].ahead = True
    if new_events:
        dialect.insert_rows(conn, EVENT, new_events, ignore=True)
        for row in new_events:
            owners[(e, row["execution_id"])].changed = True
    for pairs, table, member, kind in (
        (new_attr, ATTRIBUTION, "artifact_id", a),
        (new_assoc, ASSOCIATION, "execution_id", e),
    ):
        if pairs:
            rows = [{"context_id": ctx, member: member_id} for ctx, member_id in pairs]
            dialect.insert_rows(conn, table, rows, ignore=True)
            for _, member_id in pairs:
                owners[(kind, member_id)].changed = True
    if new_parents:
        conn.execute(
            dialect.insert_ignore(PARENT),
            [{"context_id": child, "parent_context_id": parent} for child, parent in new_parents],
        )
        cycle = find_cycle(conn, new_parents)  # with the batch's own links in place
        if cycle is not None:
            child, parent = cycle
            conflicts.add(
                "cycle",
                f"context {child} cannot get parent context {parent}: {parent} descends "
                f"from {child}, and parent links form no cycles",
                "remove one of the parent links at the site that made it",
            )
        for child, _ in new_parents:
            owners[(c, child)].changed = True
    added = len(new_events) + len(new_attr) + len(new_assoc) + len(new_parents)
    return added


def _local_edges(
    conn: Connection, owners: dict[tuple[int, int], _Node]
) -> tuple[
    dict[tuple[int, int, int], tuple[int, str | None]],
    set[tuple[int, int]],
    set[tuple[int, int]],
    set[tuple[int, int]],
]:
    """The stored edges of the owners: events by key (with their time and path), then the
    attribution, association and parent pairs."""

    def ids(kind: int) -> list[int]:
        return sorted(i for k, i in owners if k == kind)

    a, e, c = TypeKind.ARTIFACT, TypeKind.EXECUTION, TypeKind.CONTEXT
    executions, artifacts, contexts = ids(e), ids(a), ids(c)
    have_events = {(r[1], r[0], r[2]): (r[4], r[3]) for r in events_of.all(conn, executions)}
    have_assoc = {(r[1], r[0]) for r in associations_of.all(conn, executions)}
    have_attr = {(r[1], r[0]) for r in attributions_of.all(conn, artifacts)}
    have_parents = {(r[0], r[1]) for r in parents_of.all(conn, contexts)}
    return have_events, have_attr, have_assoc, have_parents


# --------------------------------------------------------------------------------------- aliases


def _record_aliases(
    conn: Connection, dialect: Dialect, nodes: Iterable[_Node], numbers: dict[str, int], me: str
) -> None:
    rows: dict[tuple[int, int, int], dict[str, Any]] = {}
    for node in nodes:
        site, origin_id = node.record["gid"]
        if site == me or not (node.alias or node.new):
            continue
        key = (node.kind, numbers[site], origin_id)
        rows.setdefault(
            key,
            {
                "kind": node.kind,
                "site": numbers[site],
                "origin_id": origin_id,
                "local_id": node.local_id,
                "origin": node.new,
            },
        )
    if rows:
        dialect.insert_rows(conn, ALIAS, list(rows.values()))


__all__ = ["SELF", "Applied", "apply"]
