"""Hydrate a subgraph: the nodes of a lineage answer with their events, contexts and types.

A fixed number of set-based statements, whatever the size or depth of the answer: events,
artifacts (with properties), executions, memberships, contexts, parent links and types, each
looked up by id lists on the DBAPI cursor.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from sqlalchemy import Connection, literal, select, union_all

from mltrail.backends.sql import schema
from mltrail.backends.sql.fast import InStatement, MultiInStatement
from mltrail.backends.sql.schema import TypeKind
from mltrail.model import Association, Attribution, LineageGraph, ParentContext
from mltrail.store._edges import get_events
from mltrail.store._nodes import CONTEXTS, read_artifacts_and_executions, read_by_ids
from mltrail.store._types import load_types_by_id

GRAPH_FIELDS = (
    "artifact_types",
    "execution_types",
    "context_types",
    "artifacts",
    "executions",
    "contexts",
    "events",
    "attributions",
    "associations",
    "parent_contexts",
)
_CONTEXT_FIELDS = frozenset(
    {"contexts", "attributions", "associations", "parent_contexts", "context_types"}
)

_attr, _assoc, _pc = schema.attribution, schema.association, schema.parent_context
_MEMBERSHIPS = MultiInStatement(
    lambda lists: union_all(
        select(literal(0), _attr.c.context_id, _attr.c.artifact_id).where(
            _attr.c.artifact_id.in_(lists["a"])
        ),
        select(literal(1), _assoc.c.context_id, _assoc.c.execution_id).where(
            _assoc.c.execution_id.in_(lists["e"])
        ),
    )
)
_ATTRIBUTIONS = InStatement(
    lambda ids: select(_attr.c.context_id, _attr.c.artifact_id).where(_attr.c.artifact_id.in_(ids))
)
_ASSOCIATIONS = InStatement(
    lambda ids: select(_assoc.c.context_id, _assoc.c.execution_id).where(
        _assoc.c.execution_id.in_(ids)
    )
)
_PARENTS = InStatement(
    lambda ids: select(_pc.c.context_id, _pc.c.parent_context_id).where(_pc.c.context_id.in_(ids))
)


def _memberships(
    conn: Connection, artifact_ids: list[int], execution_ids: list[int]
) -> tuple[list[Attribution], list[Association]]:
    if MultiInStatement.fits(artifact_ids, execution_ids):
        rows = _MEMBERSHIPS.all(conn, {"a": artifact_ids, "e": execution_ids})
    else:
        rows = [
            (0, c, a) for c, a in (_ATTRIBUTIONS.all(conn, artifact_ids) if artifact_ids else [])
        ]
        rows += [
            (1, c, e) for c, e in (_ASSOCIATIONS.all(conn, execution_ids) if execution_ids else [])
        ]
    attributions = [Attribution(artifact_id=m, context_id=c) for k, c, m in rows if k == 0]
    associations = [Association(execution_id=m, context_id=c) for k, c, m in rows if k == 1]
    return attributions, associations


def load_subgraph(
    conn: Connection,
    artifact_ids: Collection[int],
    execution_ids: Collection[int],
    fields: Iterable[str] = GRAPH_FIELDS,
    *,
    truncated: bool = False,
) -> LineageGraph:
    """The graph of these artifacts and executions: them, every event between them, their
    contexts and memberships, the parent links among those contexts, and the types they use.
    ``fields`` limits what is filled (LineageGraph field names)."""
    wanted = frozenset(fields)
    graph = LineageGraph(truncated=truncated)
    artifacts, executions = read_artifacts_and_executions(
        conn, list(artifact_ids), list(execution_ids)
    )
    if "events" in wanted and artifact_ids and execution_ids:
        in_answer = set(artifact_ids)
        graph.events = [
            e
            for e in get_events(conn, "execution_id", list(execution_ids))
            if e.artifact_id in in_answer
        ]
    contexts: list[Any] = []
    if wanted & _CONTEXT_FIELDS:
        attributions, associations = _memberships(conn, sorted(artifact_ids), sorted(execution_ids))
        context_ids = {m.context_id for m in attributions} | {m.context_id for m in associations}
        contexts = read_by_ids(conn, CONTEXTS, list(context_ids))
        graph.attributions = sorted(attributions, key=lambda m: (m.artifact_id, m.context_id))
        graph.associations = sorted(associations, key=lambda m: (m.execution_id, m.context_id))
        if "parent_contexts" in wanted and len(context_ids) > 1:
            graph.parent_contexts = sorted(
                (
                    ParentContext(child_id=child, parent_id=parent)
                    for child, parent in _PARENTS.all(conn, sorted(context_ids))
                    if parent in context_ids
                ),
                key=lambda p: (p.child_id, p.parent_id),
            )
    graph.artifacts, graph.executions, graph.contexts = artifacts, executions, contexts
    typed = {"artifact_types": artifacts, "execution_types": executions, "context_types": contexts}
    type_ids = {n.type_id for field, nodes in typed.items() if field in wanted for n in nodes}
    types = load_types_by_id(conn, type_ids)
    for field, kind in (
        ("artifact_types", TypeKind.ARTIFACT),
        ("execution_types", TypeKind.EXECUTION),
        ("context_types", TypeKind.CONTEXT),
    ):
        if field in wanted:
            setattr(graph, field, [t.to_model() for t in types if t.kind == kind])
    for field in GRAPH_FIELDS:
        if field not in wanted:
            setattr(graph, field, [])
    return graph
