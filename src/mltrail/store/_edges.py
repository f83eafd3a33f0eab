"""Edges: events (artifact ↔ execution), attributions, associations and parent contexts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, Table, bindparam, insert, select

from mltrail._plain import INT64_MAX, INT64_MIN, short
from mltrail.backends.sql import feed, schema
from mltrail.backends.sql.dialects import Dialect
from mltrail.backends.sql.fast import Batch, InStatement
from mltrail.backends.sql.readers import events_of
from mltrail.backends.sql.schema import TypeKind
from mltrail.errors import AlreadyExistsError, InvalidArgumentError
from mltrail.model import Association, Attribution, Event, EventType, ParentContext
from mltrail.store._args import clean_text, optional_id, required_id, storable_ids
from mltrail.store._nodes import (
    ARTIFACTS,
    CONTEXTS,
    EXECUTIONS,
    NodeSpec,
    chunks,
    existing_ids,
    now_ms,
    read_by_ids,
)
from mltrail.store._statements import (
    event_keys_by_execution,
    insert_event,
    membership_insert,
)
from mltrail.store._values import enum_value

E = schema.event


# ------------------------------------------------------------------------------------------ events


class CheckedEvent(NamedTuple):
    """An event's fields, checked: ids (None when not given), type number, path as JSON."""

    artifact_id: int | None
    execution_id: int | None
    type: int
    path: str | None


def check_event(event: Any, where: str, *, need_ids: bool = True) -> CheckedEvent:
    """Validate an event's own fields (its ids must be given when ``need_ids``)."""
    if not isinstance(event, Event):
        raise InvalidArgumentError(f"{where}: expected an Event, got {type(event).__name__}")
    id_of = required_id if need_ids else optional_id
    artifact_id = id_of(event.artifact_id, f"{where}: artifact_id")
    execution_id = id_of(event.execution_id, f"{where}: execution_id")
    kind = enum_value(EventType, event.type, f"{where}: type")
    if kind == EventType.UNKNOWN:
        raise InvalidArgumentError(
            f"{where}: the event type is missing (UNKNOWN); use e.g. Event.Type.INPUT or OUTPUT"
        )
    return CheckedEvent(artifact_id, execution_id, int(kind), encode_path(event.path, where))


def encode_path(path: Any, where: str) -> str | None:
    if path is None:
        return None
    if not isinstance(path, (list, tuple)):
        raise InvalidArgumentError(
            f"{where}: path must be a list of int indexes and str keys, got {short(path)}"
        )
    if not path:
        return None
    for step in path:
        if isinstance(step, str):
            clean_text(step, f"{where}: path key {short(step)}")
        elif isinstance(step, bool) or not isinstance(step, int):
            raise InvalidArgumentError(
                f"{where}: path step {short(step)} must be an int (index) or a str (key)"
            )
        elif not INT64_MIN <= step <= INT64_MAX:
            raise InvalidArgumentError(f"{where}: path index {step} does not fit in 64 bits")
    return json.dumps(list(path), separators=(",", ":"), ensure_ascii=False)


def require_nodes(conn: Connection, spec: NodeSpec, ids: Iterable[int], where: str) -> None:
    wanted = set(ids)
    missing = sorted(wanted - existing_ids(conn, spec, sorted(wanted)))
    if missing:
        raise InvalidArgumentError(
            f"{where}: no {spec.label} with id {', '.join(map(str, missing[:10]))}"
            + (" ..." if len(missing) > 10 else "")
        )


def insert_events(
    conn: Connection,
    rows: list[dict[str, Any]],
    *,
    check_existing: bool = True,
    batch: Batch | None = None,
) -> None:
    """Insert event rows (artifact_id, execution_id, type, path, milliseconds_since_epoch), or
    add them to ``batch``.

    Duplicates of (artifact, execution, type), within the batch or with stored events, are refused.
    """
    if not rows:
        return
    keys = set()
    for row in rows:
        key = (row["artifact_id"], row["execution_id"], row["type"])
        if key in keys:
            raise AlreadyExistsError(
                f"the request holds two {EventType(key[2]).name} events between artifact {key[0]} "
                f"and execution {key[1]}; an event is unique per (artifact, execution, type)"
            )
        keys.add(key)
    if check_existing:
        executions = sorted({k[1] for k in keys})
        for artifact_id, execution_id, kind in event_keys_by_execution.all(conn, executions):
            if (artifact_id, execution_id, kind) in keys:
                raise AlreadyExistsError(
                    f"an event of type {EventType(kind).name} between artifact {artifact_id} and "
                    f"execution {execution_id} already exists; events cannot be recorded twice"
                )
    # An event travels with its execution.
    feed.note(conn, TypeKind.EXECUTION, {row["execution_id"]: None for row in rows})
    if batch is not None:
        batch.add(insert_event, rows)
    else:
        insert_event.execute_many(conn, rows)


def put_events(conn: Connection, events: Sequence[Any]) -> None:
    stamp = now_ms()
    rows: list[dict[str, Any]] = []
    for position, event in enumerate(events):
        where = f"event #{position}"
        checked = check_event(event, where)
        rows.append(
            {
                "artifact_id": checked.artifact_id,
                "execution_id": checked.execution_id,
                "type": checked.type,
                "path": checked.path,
                "milliseconds_since_epoch": event_time(event, stamp, where),
            }
        )
    require_nodes(conn, ARTIFACTS, (r["artifact_id"] for r in rows), "put_events")
    require_nodes(conn, EXECUTIONS, (r["execution_id"] for r in rows), "put_events")
    insert_events(conn, rows)


def event_time(event: Event, stamp: int, where: str) -> int:
    """The event's own time if it has one (checked), else ``stamp``."""
    value = event.milliseconds_since_epoch
    if value is None:
        return stamp
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(
            f"{where}: milliseconds_since_epoch must be an int (ms since the epoch), got "
            f"{short(value)}"
        )
    if not INT64_MIN <= value <= INT64_MAX:
        raise InvalidArgumentError(
            f"{where}: milliseconds_since_epoch {value} does not fit in 64 bits"
        )
    return value


def get_events(conn: Connection, column: str, ids: Sequence[int]) -> list[Event]:
    """Events whose ``column`` (artifact_id or execution_id) is one of ``ids``, by id."""
    return events_of(conn, column, storable_ids(ids))


# -------------------------------------------------------------------------------------- membership


def insert_memberships(
    conn: Connection,
    dialect: Dialect,
    table: Table,
    member: str,
    pairs: Iterable[tuple[int, int]],
    batch: Batch | None = None,
) -> None:
    """Insert (context_id, member_id) pairs, skipping those already present (or add the insert
    to ``batch``).

    A membership travels with its member (the artifact or the execution), which is noted for
    the change feed; whether a pair was there already is not known without a read, so a pair
    given again notes its member too.
    """
    rows = [{"context_id": c, member: m} for c, m in sorted(set(pairs))]
    if rows:
        kind = TypeKind.ARTIFACT if member == "artifact_id" else TypeKind.EXECUTION
        feed.note(conn, kind, {row[member]: None for row in rows})
    if batch is not None:
        batch.add(membership_insert(dialect, table), rows)
    else:
        membership_insert(dialect, table).execute_many(conn, rows)


def put_attributions_and_associations(
    conn: Connection,
    dialect: Dialect,
    attributions: Sequence[Any],
    associations: Sequence[Any],
) -> None:
    attr_pairs = []
    for position, item in enumerate(attributions or ()):
        if not isinstance(item, Attribution):
            raise InvalidArgumentError(
                f"attribution #{position}: expected an Attribution, got {type(item).__name__}"
            )
        attr_pairs.append(
            (
                required_id(item.context_id, f"attribution #{position}: context_id"),
                required_id(item.artifact_id, f"attribution #{position}: artifact_id"),
            )
        )
    assoc_pairs = []
    for position, item in enumerate(associations or ()):
        if not isinstance(item, Association):
            raise InvalidArgumentError(
                f"association #{position}: expected an Association, got {type(item).__name__}"
            )
        assoc_pairs.append(
            (
                required_id(item.context_id, f"association #{position}: context_id"),
                required_id(item.execution_id, f"association #{position}: execution_id"),
            )
        )
    where = "put_attributions_and_associations"
    require_nodes(conn, CONTEXTS, [c for c, _ in attr_pairs + assoc_pairs], where)
    require_nodes(conn, ARTIFACTS, [a for _, a in attr_pairs], where)
    require_nodes(conn, EXECUTIONS, [e for _, e in assoc_pairs], where)
    insert_memberships(conn, dialect, schema.attribution, "artifact_id", attr_pairs)
    insert_memberships(conn, dialect, schema.association, "execution_id", assoc_pairs)


def linked_contexts(relation: str) -> Any:
    """A subquery: ids of the contexts linked to the node ``:node_id`` by ``relation``."""
    pc, attr, assoc = schema.parent_context, schema.attribution, schema.association
    node_id: Any = bindparam("node_id")
    if relation == "parents":
        return select(pc.c.parent_context_id).where(pc.c.context_id == node_id)
    if relation == "children":
        return select(pc.c.context_id).where(pc.c.parent_context_id == node_id)
    if relation == "of_artifact":
        return select(attr.c.context_id).where(attr.c.artifact_id == node_id)
    return select(assoc.c.context_id).where(assoc.c.execution_id == node_id)


# ----------------------------------------------------------------------------------------- parents

PC = schema.parent_context

_LINKS = {
    "parents": InStatement(
        lambda ids: select(PC.c.context_id, PC.c.parent_context_id).where(PC.c.context_id.in_(ids))
    ),
    "children": InStatement(
        lambda ids: select(PC.c.parent_context_id, PC.c.context_id).where(
            PC.c.parent_context_id.in_(ids)
        )
    ),
}


def linked_contexts_of_many(
    conn: Connection, relation: str, context_ids: Sequence[int]
) -> dict[int, list[Any]]:
    """The ``relation`` (``parents`` or ``children``) of each of these contexts, by context id,
    each list by id; contexts with none are left out. Two statements, whatever the number."""
    wanted = storable_ids(context_ids)
    if not wanted:
        return {}
    links = _LINKS[relation].all(conn, sorted(set(wanted)))
    others = sorted({int(other) for _, other in links})
    found = {c.id: c for c in read_by_ids(conn, CONTEXTS, others)}
    out: dict[int, list[Any]] = {}
    for key, other in sorted(links, key=lambda row: (int(row[0]), int(row[1]))):
        context = found.get(int(other))
        if context is not None:
            out.setdefault(int(key), []).append(context)
    return out


def put_parent_contexts(conn: Connection, links: Sequence[Any]) -> None:
    pairs: list[tuple[int, int]] = []
    for position, link in enumerate(links):
        where = f"parent context #{position}"
        if not isinstance(link, ParentContext):
            raise InvalidArgumentError(
                f"{where}: expected a ParentContext, got {type(link).__name__}"
            )
        child = required_id(link.child_id, f"{where}: child_id")
        parent = required_id(link.parent_id, f"{where}: parent_id")
        if child == parent:
            raise InvalidArgumentError(f"{where}: context {child} cannot be its own parent")
        pairs.append((child, parent))
    if not pairs:
        return
    # Every call adding links waits here for the previous one to commit, so that its cycle
    # check sees their links (the row lock lasts until commit; SQLite writers are serial anyway).
    conn.execute(select(schema.schema_version.c.version).with_for_update()).all()
    if len(set(pairs)) != len(pairs):
        raise AlreadyExistsError("the request holds the same parent context link twice")
    require_nodes(conn, CONTEXTS, [c for pair in pairs for c in pair], "put_parent_contexts")
    for part in chunks(sorted({c for c, _ in pairs})):
        for row in conn.execute(
            select(PC.c.context_id, PC.c.parent_context_id).where(PC.c.context_id.in_(part))
        ):
            if (row.context_id, row.parent_context_id) in pairs:
                raise AlreadyExistsError(
                    f"context {row.parent_context_id} is already a parent of context "
                    f"{row.context_id}"
                )
    conn.execute(insert(PC), [{"context_id": c, "parent_context_id": p} for c, p in pairs])
    # Every link is new (those stored already were refused); a link travels with its child.
    feed.note(conn, TypeKind.CONTEXT, {c: None for c, _ in pairs})
    cycle = find_cycle(conn, pairs)
    if cycle is not None:
        raise InvalidArgumentError(
            f"linking context {cycle[1]} as a parent of context {cycle[0]} would make a cycle: "
            f"context {cycle[0]} is already an ancestor of context {cycle[1]}"
        )


def find_cycle(conn: Connection, pairs: list[tuple[int, int]]) -> tuple[int, int] | None:
    """A new (child, parent) link from which the child is reachable again by going up.

    The store had no cycle before, so a cycle through any of these children uses a new link.
    """
    children = sorted({c for c, _ in pairs})
    walk = (
        select(PC.c.context_id.label("origin"), PC.c.parent_context_id.label("node"))
        .where(PC.c.context_id.in_(children))
        .cte("walk", recursive=True)
    )
    walk = walk.union(
        select(walk.c.origin, PC.c.parent_context_id).join(PC, PC.c.context_id == walk.c.node)
    )
    hit = conn.execute(select(walk.c.origin).where(walk.c.origin == walk.c.node).limit(1)).first()
    if hit is None:
        return None
    origin = int(hit.origin)
    return next((c, p) for c, p in pairs if c == origin)
