"""A store's graph in a form independent of its local ids: equal in every store that holds the
same metadata (the convergence tests of sync compare these)."""

from __future__ import annotations

from typing import Any

from mltrail.sync import _read
from mltrail.sync._tables import NODE_KINDS, TYPE, spec


def canon(store: Any, *, whole: bool = False) -> dict[str, Any]:
    """Types, and every node by global id with its fields, keys, stamps and edges; local ids and
    update times (which are local) are left out. ``whole``: update times and every field of the
    types too (a store loaded from another's dump has them all)."""

    def run(conn: Any) -> dict[str, Any]:
        from sqlalchemy import select

        wanted: dict[int, list[int]] = {
            10 + int(kind): [
                row[0] for row in conn.execute(select(TYPE.c.id).where(TYPE.c.kind == kind))
            ]
            for kind in NODE_KINDS
        }
        for kind in NODE_KINDS:
            table = spec(kind).table
            wanted[int(kind)] = [row[0] for row in conn.execute(select(table.c.id))]
        return _read.read_subset(conn, wanted)

    batch = store.database.run(run, write=False)
    # A node merged by its natural key (a context's type and name, an external id) may carry
    # different global ids in different stores; it is known by that key here.
    keys: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for record in batch["nodes"]:
        gid = (record["kind"], *record["gid"])
        if record["external_id"] is not None:
            keys[gid] = ("external_id", record["kind"], record["external_id"])
        elif record["kind"] == 3:
            keys[gid] = ("context", *record["type"], record["name"])
        else:
            keys[gid] = ("gid", *gid)
    nodes = {}
    for record in batch["nodes"]:
        record = dict(record)
        if not whole:
            record.pop("updated")
        gid = (record["kind"], *record.pop("gid"))
        edges = record.get("edges", {})
        mapped = {}
        for name, items in edges.items():
            if name == "events":
                mapped[name] = sorted([keys[(1, *item[0])], *item[1:]] for item in items)
            else:
                mapped[name] = sorted(keys[(3, *item)] for item in items)
        record["edges"] = mapped
        nodes[keys[gid]] = record
    types = sorted(
        (t["kind"], t["name"], t["version"], tuple(map(tuple, t["properties"])))
        + ((t["description"], t["external_id"], t["base_type"]) if whole else ())
        for t in batch["types"]
    )
    return {"types": types, "nodes": dict(sorted(nodes.items()))}


def node_key(store: Any, kind: int, node_id: int) -> tuple[Any, ...]:
    """The key :func:`canon` gives the node with local id ``node_id``."""
    batch = store.database.run(lambda conn: _read.read_subset(conn, {kind: [node_id]}), write=False)
    [record] = [r for r in batch["nodes"] if r["kind"] == kind and "edges" in r]
    if record["external_id"] is not None:
        return ("external_id", kind, record["external_id"])
    if kind == 3:
        return ("context", *record["type"], record["name"])
    return ("gid", kind, *record["gid"])
