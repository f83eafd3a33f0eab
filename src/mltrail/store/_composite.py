"""Composite writes: ``put_execution`` and ``put_lineage_subgraph``, each one transaction."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from mltrail._plain import short
from mltrail.backends.sql import feed, schema
from mltrail.backends.sql.dialects import Dialect
from mltrail.backends.sql.fast import Batch
from mltrail.errors import InvalidArgumentError, NotFoundError
from mltrail.model import Artifact, Context, Event, Execution
from mltrail.store._args import clean_text, id_arg, name_arg
from mltrail.store._edges import check_event, event_time, insert_events, insert_memberships
from mltrail.store._nodes import (
    ARTIFACTS,
    CONTEXTS,
    EXECUTIONS,
    existing_ids,
    load_statement,
    loaded_nodes,
    now_ms,
    plan_nodes,
    put_nodes,
    resolve_type,
    write_plans,
)
from mltrail.store._statements import node_statements
from mltrail.store._types import TypeCache


def upsert_contexts(
    conn: Connection,
    dialect: Dialect,
    types: TypeCache,
    contexts: Sequence[Any],
    *,
    reuse_if_exists: bool,
    force_reuse: bool = False,
    batch: Batch | None = None,
    found: dict[tuple[Any, Any], int | None] | None = None,
) -> list[int]:
    """Contexts' ids after creating new ones, updating given ones or reusing same-named ones.

    ``found`` holds lookups by (type id, name) the caller made already (see
    :func:`context_lookups`): the id of the context, or None when there is none.
    """
    ids: list[int | None] = [None] * len(contexts)
    to_put: list[tuple[int, Any]] = []
    lookups: dict[tuple[int, str], list[int]] = {}
    for position, ctx in enumerate(contexts):
        if not isinstance(ctx, Context):
            raise InvalidArgumentError(
                f"context #{position}: expected a Context, got {type(ctx).__name__}"
            )
        if ctx.id is not None and force_reuse:
            ids[position] = id_arg(ctx.id, f"context #{position}: id")
            continue
        if ctx.id is None and reuse_if_exists:
            where = f"context #{position}"
            info = resolve_type(conn, types, CONTEXTS, ctx, where)
            if info is None:
                raise InvalidArgumentError(f"{where}: type_id is missing; give type_id or type")
            name = name_arg(ctx.name, f"{where}: name")
            if name is None:
                raise InvalidArgumentError(f"{where}: a context needs a non-empty name")
            lookups.setdefault((info.id, name), []).append(position)
            continue
        to_put.append((position, ctx))
    if force_reuse:
        given = [i for i in ids if i is not None]
        missing = sorted(set(given) - existing_ids(conn, CONTEXTS, given))
        if missing:
            raise NotFoundError(f"no context with id {missing[0]} to reuse (force_reuse_context)")
    if lookups:
        lookup = node_statements(CONTEXTS.kind).id_by_type_and_name
        for type_id, name in list(lookups):
            if found is not None and (type_id, name) in found:
                known = found[(type_id, name)]
                rows = [] if known is None else [(known,)]
            else:
                rows = lookup.all(conn, {"type_id": type_id, "name": name})
            if rows:
                for position in lookups.pop((type_id, name)):
                    ids[position] = int(rows[0][0])
        for positions in lookups.values():
            # A context new to the store, possibly named twice in the request: create it once.
            to_put.append((positions[0], contexts[positions[0]]))
    if to_put:
        new_ids = put_nodes(conn, dialect, types, CONTEXTS, [ctx for _, ctx in to_put], batch=batch)
        for (position, _), new_id in zip(to_put, new_ids):
            ids[position] = new_id
    for positions in lookups.values():
        for position in positions[1:]:
            ids[position] = ids[positions[0]]
    return [int(i) for i in ids if i is not None]


def context_lookups(contexts: Sequence[Any]) -> list[tuple[int, str]]:
    """The (type id, name) lookups :func:`upsert_contexts` will make for contexts reused by
    name, as far as they can be told before the contexts are checked (others are looked up
    then)."""
    keys = []
    for ctx in contexts:
        named = isinstance(ctx, Context) and isinstance(ctx.name, str) and ctx.name
        if named and ctx.id is None and type(ctx.type_id) is int and _storable(ctx.name):
            keys.append((ctx.type_id, ctx.name))
    return sorted(set(keys))


def _storable(text: str) -> bool:
    """Whether ``text`` can go to the database (else the checks that come later say why)."""
    try:
        clean_text(text, "")
    except InvalidArgumentError:
        return False
    return True


def _reuse_by_external_id(conn: Connection, artifacts: list[Any]) -> list[Any]:
    """Artifacts without id whose external_id exists get that artifact's id (and update it)."""
    given: set[str] = set()
    for position, artifact in enumerate(artifacts):
        if artifact.id is None:
            external_id = name_arg(artifact.external_id, f"artifact #{position}: external_id")
            if external_id is not None:
                given.add(external_id)
    if not given:
        return artifacts
    lookup = node_statements(ARTIFACTS.kind).by_external_ids
    found: dict[str, int] = {ext: id_ for id_, ext in lookup.all(conn, sorted(given))}
    return [
        dataclasses.replace(x, id=found[x.external_id])
        if x.id is None and x.external_id in found
        else x
        for x in artifacts
    ]


def put_execution(
    conn: Connection,
    dialect: Dialect,
    types: TypeCache,
    execution: Any,
    artifact_and_events: Sequence[Any] | None,
    contexts: Sequence[Any] | None,
    *,
    reuse_context_if_already_exist: bool,
    reuse_artifact_if_already_exist_by_external_id: bool,
    force_reuse_context: bool,
    force_update_time: bool,
) -> tuple[int, list[int], list[int]]:
    if not isinstance(execution, Execution):
        raise InvalidArgumentError(
            f"put_execution expects an Execution, got {type(execution).__name__}"
        )
    # Artifacts of the call, each object once. Different objects with the same id (or, when
    # reusing by external id, the same external id) are one artifact, stored as the last one.
    artifacts: list[Any] = []
    slot_of: dict[int, int] = {}  # id(object) -> index in artifacts
    pairs: list[tuple[int | None, Any]] = []  # (index in artifacts, event)
    for position, pair in enumerate(artifact_and_events or ()):
        artifact, event = _split_pair(pair, position)
        index = None
        if artifact is not None:
            index = slot_of.get(id(artifact))
            if index is None:
                index = slot_of[id(artifact)] = len(artifacts)
                artifacts.append(artifact)
        pairs.append((index, event))
    reuse = reuse_artifact_if_already_exist_by_external_id
    if reuse:
        artifacts = _reuse_by_external_id(conn, artifacts)
    # The reads of the call go together: the artifacts it updates, the contexts it reuses.
    contexts = list(contexts or ())
    given = [a.id for a in artifacts]
    load = load_statement(ARTIFACTS, given)
    keys = context_lookups(contexts) if reuse_context_if_already_exist else []
    lookup = node_statements(CONTEXTS.kind).id_by_type_and_name
    reads = [] if load is None else [load]
    reads += [(lookup, {"type_id": type_id, "name": name}) for type_id, name in keys]
    # Where the database hands out ids ahead, the new nodes' ids come with the reads and their
    # rows wait in the last batch (no request of their own).
    new_counts = [sum(1 for i in given if i is None), 1 if execution.id is None else 0]
    reservations = [dialect.id_reservation(spec.table) for spec in (ARTIFACTS, EXECUTIONS)]
    reserving = bool(reads) and None not in reservations
    if reserving:
        reads += [(r, {"count": n}) for r, n in zip(reservations, new_counts) if n and r]
    results = dialect.run_reads(conn, reads) if len(reads) > 1 else None
    loaded = None
    found: dict[tuple[Any, Any], int | None] | None = None
    reserved: list[list[int]] | None = None
    if results is not None:
        if load is not None:
            loaded = loaded_nodes(ARTIFACTS, given, results.pop(0))
        found = {key: (int(rows[0][0]) if rows else None) for key, rows in zip(keys, results)}
        if reserving:
            taken = iter(results[len(keys) :])
            reserved = [
                sorted(int(row[0]) for row in next(taken)) if count else [] for count in new_counts
            ]
    # Property, event and membership rows wait in one batch, sent when the rest is done.
    batch = Batch()
    # The new artifacts and the new execution are inserted together.
    planned = [
        plan_nodes(
            conn, types, ARTIFACTS, artifacts, same_external_id_is_same_node=reuse, loaded=loaded
        ),
        plan_nodes(conn, types, EXECUTIONS, [execution]),
    ]
    artifact_ids, [execution_id] = write_plans(conn, dialect, planned, batch, reserved)
    if force_update_time and execution.id is not None:
        node_statements(EXECUTIONS.kind).touch.execute(
            conn, {"_id": execution_id, "stamp": now_ms()}
        )

    stamp = now_ms()
    event_rows = []
    result_ids: list[int] = []
    loose: list[int] = []
    for position, (index, event) in enumerate(pairs):
        artifact_id = artifact_ids[index] if index is not None else None
        if event is not None:
            where = f"artifact_and_events #{position}"
            checked = check_event(event, where, need_ids=False)
            if checked.execution_id is not None and checked.execution_id != execution_id:
                raise InvalidArgumentError(
                    f"{where}: the event's execution_id {checked.execution_id} is not the "
                    f"execution being put ({execution_id}); leave it unset"
                )
            if artifact_id is None:
                if checked.artifact_id is None:
                    raise InvalidArgumentError(
                        f"{where}: give an artifact or the event's artifact_id"
                    )
                artifact_id = checked.artifact_id
                loose.append(artifact_id)
            elif checked.artifact_id is not None and checked.artifact_id != artifact_id:
                raise InvalidArgumentError(
                    f"{where}: the event's artifact_id {checked.artifact_id} is not the "
                    f"artifact's id {artifact_id}"
                )
            event_rows.append(
                {
                    "artifact_id": artifact_id,
                    "execution_id": execution_id,
                    "type": checked.type,
                    "path": checked.path,
                    "milliseconds_since_epoch": event_time(event, stamp, where),
                }
            )
        result_ids.append(artifact_id if artifact_id is not None else -1)
    if loose:
        missing = sorted(set(loose) - existing_ids(conn, ARTIFACTS, loose))
        if missing:
            raise InvalidArgumentError(f"put_execution: no artifact with id {missing[0]}")
    insert_events(conn, event_rows, check_existing=execution.id is not None, batch=batch)

    context_ids = upsert_contexts(
        conn,
        dialect,
        types,
        contexts,
        reuse_if_exists=reuse_context_if_already_exist,
        force_reuse=force_reuse_context,
        batch=batch,
        found=found,
    )
    members = set(artifact_ids) | set(loose)
    insert_memberships(
        conn,
        dialect,
        schema.association,
        "execution_id",
        [(c, execution_id) for c in context_ids],
        batch,
    )
    insert_memberships(
        conn,
        dialect,
        schema.attribution,
        "artifact_id",
        [(c, a) for c in context_ids for a in members],
        batch,
    )
    feed.flush(conn, dialect, batch)  # the feed's write goes with the call's last rows
    dialect.run_batch(conn, batch, last=True)
    return execution_id, result_ids, context_ids


def _split_pair(pair: Any, position: int) -> tuple[Any, Any]:
    where = f"artifact_and_events #{position}"
    if not isinstance(pair, (tuple, list)) or len(pair) > 2:
        raise InvalidArgumentError(
            f"{where}: expected (artifact,), (artifact, event) or (None, event), got {short(pair)}"
        )
    artifact = pair[0] if len(pair) > 0 else None
    event = pair[1] if len(pair) > 1 else None
    if artifact is not None and not isinstance(artifact, Artifact):
        raise InvalidArgumentError(f"{where}: expected an Artifact, got {type(artifact).__name__}")
    if event is not None and not isinstance(event, Event):
        raise InvalidArgumentError(f"{where}: expected an Event, got {type(event).__name__}")
    return artifact, event


def put_lineage_subgraph(
    conn: Connection,
    dialect: Dialect,
    types: TypeCache,
    executions: Sequence[Any],
    artifacts: Sequence[Any],
    contexts: Sequence[Any],
    event_edges: Sequence[Any],
    *,
    reuse_context_if_already_exist: bool,
    reuse_artifact_if_already_exist_by_external_id: bool,
) -> tuple[list[int], list[int], list[int]]:
    executions = _of_class(executions, Execution, "executions")
    artifacts = _of_class(artifacts, Artifact, "artifacts")
    contexts = _of_class(contexts, Context, "contexts")
    edges = []
    for position, edge in enumerate(event_edges or ()):
        where = f"event edge #{position}"
        if not isinstance(edge, (tuple, list)) or len(edge) != 3:
            raise InvalidArgumentError(
                f"{where}: expected (execution_index, artifact_index, Event), got {short(edge)}"
            )
        exec_index, art_index, event = edge
        checked = check_event(event, where, need_ids=False)
        _check_edge_end(where, "execution", exec_index, executions, checked.execution_id)
        _check_edge_end(where, "artifact", art_index, artifacts, checked.artifact_id)
        edges.append((exec_index, art_index, event, checked))

    context_ids = upsert_contexts(
        conn, dialect, types, contexts, reuse_if_exists=reuse_context_if_already_exist
    )
    reuse = reuse_artifact_if_already_exist_by_external_id
    if reuse:
        artifacts = _reuse_by_external_id(conn, artifacts)
    artifact_ids = put_nodes(
        conn, dialect, types, ARTIFACTS, artifacts, same_external_id_is_same_node=reuse
    )
    execution_ids = put_nodes(conn, dialect, types, EXECUTIONS, executions)
    insert_memberships(
        conn,
        dialect,
        schema.association,
        "execution_id",
        [(c, e) for c in context_ids for e in execution_ids],
    )
    insert_memberships(
        conn,
        dialect,
        schema.attribution,
        "artifact_id",
        [(c, a) for c in context_ids for a in artifact_ids],
    )
    stamp = now_ms()
    rows: list[dict[str, Any]] = []
    for position, (exec_index, art_index, event, checked) in enumerate(edges):
        execution_id = execution_ids[exec_index] if exec_index is not None else checked.execution_id
        artifact_id = artifact_ids[art_index] if art_index is not None else checked.artifact_id
        rows.append(
            {
                "artifact_id": artifact_id,
                "execution_id": execution_id,
                "type": checked.type,
                "path": checked.path,
                "milliseconds_since_epoch": event_time(event, stamp, f"event edge #{position}"),
            }
        )
    outside_a = [r["artifact_id"] for r, e in zip(rows, edges) if e[1] is None]
    outside_e = [r["execution_id"] for r, e in zip(rows, edges) if e[0] is None]
    for spec, ids in ((ARTIFACTS, outside_a), (EXECUTIONS, outside_e)):
        missing = sorted(set(ids) - existing_ids(conn, spec, ids))
        if missing:
            raise InvalidArgumentError(
                f"put_lineage_subgraph: no {spec.label} with id {missing[0]}"
            )
    # Executions created by this call have no stored events to collide with.
    stored = any(e[0] is None or executions[e[0]].id is not None for e in edges)
    insert_events(conn, rows, check_existing=stored)
    return execution_ids, artifact_ids, context_ids


def _of_class(items: Sequence[Any], cls: type[Any], what: str) -> list[Any]:
    out = list(items or ())
    for position, item in enumerate(out):
        if not isinstance(item, cls):
            raise InvalidArgumentError(
                f"{what} #{position}: expected {'an' if cls is Execution else 'a'} {cls.__name__}, "
                f"got {type(item).__name__}"
            )
    return out


def _check_edge_end(where: str, label: str, index: Any, nodes: list[Any], event_id: Any) -> None:
    if index is None:
        if event_id is None:
            raise InvalidArgumentError(
                f"{where}: give the {label} index or set the event's {label}_id"
            )
        return
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(nodes):
        raise InvalidArgumentError(
            f"{where}: {label} index {short(index)} is out of range (the request has {len(nodes)} "
            f"{label}s)"
        )
    node_id = nodes[index].id
    if event_id is not None and node_id != event_id:
        what = f"the id {node_id} of" if node_id is not None else "the new (id-less)"
        raise InvalidArgumentError(
            f"{where}: the event's {label}_id {event_id} is not {what} {label} #{index}; "
            f"leave the event's {label}_id unset when giving an index"
        )
