"""Lineage: walk the artifact/execution graph inside the database with one recursive query.

The walk visits artifacts; one recursive step goes from an artifact through an execution to the
next artifacts (two hops), joining the event table twice. Executions are the ones passed on the
way. Upstream follows an artifact to the execution that produced it (an output event) and that
execution to its inputs; downstream the reverse; bidirectional follows every event.

The answer is the induced subgraph: the nodes reached, every event between them, their contexts
and memberships, parent links among those contexts, and the types they use.
"""

from __future__ import annotations

import collections
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Connection,
    Integer,
    and_,
    bindparam,
    false,
    literal,
    literal_column,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement

from mltrail.backends.sql import readers, schema
from mltrail.backends.sql.fast import StatementCache, bucket
from mltrail.backends.sql.schema import TypeKind
from mltrail.model import INPUT_EVENT_TYPES, OUTPUT_EVENT_TYPES, LineageDirection, LineageGraph
from mltrail.query import _precompiled
from mltrail.query._subgraph import (
    GRAPH_FIELDS,
    AnswerCache,
    answer_statements,
    can_know_types,
    joins_ids,
    load_subgraph,
    packs_rows,
    read_answer,
    seen_types_params,
)

if TYPE_CHECKING:
    from mltrail.query.filters import CompiledFilter

__all__ = ["GRAPH_FIELDS", "LineageQuery", "is_one_statement", "load_subgraph", "run_lineage"]

E = schema.event


@dataclass(frozen=True)
class LineageQuery:
    """A checked lineage question. Starting nodes are given by ids or by filter queries."""

    artifact_ids: tuple[int, ...] | None = None
    execution_ids: tuple[int, ...] | None = None
    artifact_filter: str | None = None
    execution_filter: str | None = None
    direction: LineageDirection = LineageDirection.UPSTREAM
    max_hops: int | None = None
    stop_artifacts: str | None = None
    stop_executions: str | None = None
    include_stop_artifacts: bool = False
    include_stop_executions: bool = False
    max_nodes: int | None = None
    fields: frozenset[str] = frozenset(GRAPH_FIELDS)


def _hop_types(
    direction: LineageDirection,
) -> tuple[Collection[int] | None, Collection[int] | None]:
    """Event types of the artifact→execution hop and of the execution→artifact hop."""
    outputs = sorted(int(t) for t in OUTPUT_EVENT_TYPES)
    inputs = sorted(int(t) for t in INPUT_EVENT_TYPES)
    if direction == LineageDirection.UPSTREAM:
        return outputs, inputs
    if direction == LineageDirection.DOWNSTREAM:
        return inputs, outputs
    return None, None


def _of_type(column: Any, types: Collection[int] | None) -> ColumnElement[bool]:
    return column.in_([literal(t) for t in types]) if types is not None else true()


@dataclass(frozen=True)
class _Filters:
    """The four filters of a walk, compiled, with distinct parameter prefixes."""

    start_artifacts: CompiledFilter | None
    start_executions: CompiledFilter | None
    stop_artifacts: CompiledFilter | None
    stop_executions: CompiledFilter | None

    @classmethod
    def of(cls, q: LineageQuery) -> _Filters:
        def one(kind: TypeKind, text: str | None, prefix: str) -> CompiledFilter | None:
            if not text:
                return None
            from mltrail.query.filters import analyze  # Lark only when a filter is used

            return analyze(kind, text, prefix)

        return cls(
            one(TypeKind.ARTIFACT, q.artifact_filter, "sa"),
            one(TypeKind.EXECUTION, q.execution_filter, "se"),
            one(TypeKind.ARTIFACT, q.stop_artifacts, "ta"),
            one(TypeKind.EXECUTION, q.stop_executions, "te"),
        )

    def all(self) -> list[CompiledFilter | None]:
        return [
            self.start_artifacts,
            self.start_executions,
            self.stop_artifacts,
            self.stop_executions,
        ]


def _ids_where(
    kind: TypeKind, prefix: str, size: int | None, compiled: CompiledFilter | None
) -> Any | None:
    """A SELECT of starting ids, or None: those listed (``size`` placeholders ``<prefix><i>``)
    together with those matching the filter."""
    table = schema.artifact if kind == TypeKind.ARTIFACT else schema.execution
    conditions: list[ColumnElement[bool]] = []
    if size is not None:
        conditions.append(table.c.id.in_([bindparam(f"{prefix}{i}") for i in range(size)]))
    if compiled is not None:
        conditions.append(compiled.condition)
    if not conditions:
        return None
    return select(table.c.id).where(or_(*conditions))


def _stop_ids(kind: TypeKind, compiled: CompiledFilter | None) -> Any | None:
    if compiled is None:
        return None
    table = schema.artifact if kind == TypeKind.ARTIFACT else schema.execution
    return select(table.c.id).where(compiled.condition)


_STATEMENTS = StatementCache()
_ANSWERS = AnswerCache()
_EVERY_FIELD = LineageQuery.fields


def _key(
    q: LineageQuery, filters: _Filters, sizes: tuple[int | None, int | None]
) -> tuple[Any, ...]:
    return (
        q.direction,
        q.max_hops is None,
        q.include_stop_artifacts,
        q.include_stop_executions,
        *sizes,
        *[f.shape if f is not None else None for f in filters.all()],
    )


def _params(
    q: LineageQuery, filters: _Filters, sizes: tuple[int | None, int | None]
) -> dict[str, Any]:
    params: dict[str, Any] = {"max_hops": q.max_hops if q.max_hops is not None else 0}
    for f in filters.all():
        if f is not None:
            params.update(f.params)
    for prefix, ids, size in (("a", q.artifact_ids, sizes[0]), ("e", q.execution_ids, sizes[1])):
        if ids is not None and size is not None:
            params.update(_padded(prefix, ids, size))
    return params


def _padded(prefix: str, ids: Sequence[int], size: int) -> dict[str, int]:
    return {f"{prefix}{i}": ids[min(i, len(ids) - 1)] if ids else -1 for i in range(size)}


def is_one_statement(q: LineageQuery) -> bool:
    """Whether :func:`run_lineage` answers ``q`` with one statement (and, rarely, a read of
    types it had not seen, which a later snapshot serves as well: types are never removed)."""
    return q.max_nodes is None


def run_lineage(conn: Connection, q: LineageQuery) -> LineageGraph:
    """Answer a lineage question: one statement walks the graph and reads the answer, joined to
    the walk (with ``max_nodes``, a first statement walks and counts the nodes)."""
    filters = _Filters.of(q)
    sizes = (
        bucket(len(q.artifact_ids)) if q.artifact_ids is not None else None,
        bucket(len(q.execution_ids)) if q.execution_ids is not None else None,
    )
    key = _key(q, filters, sizes)
    params = _params(q, filters, sizes)
    if q.max_nodes is not None:
        walk = _STATEMENTS.get(key, lambda: _walk_statement(q, filters, sizes))
        artifacts: dict[int, int] = {}
        executions: dict[int, int] = {}
        for kind, node_id, depth in walk.all(conn, params):
            target = artifacts if kind == 0 else executions
            node_id, depth = int(node_id), int(depth)
            if node_id not in target or depth < target[node_id]:
                target[node_id] = depth
        if len(artifacts) + len(executions) > q.max_nodes:
            if q.max_hops is None:
                events = [
                    e
                    for e in readers.events_of(conn, "execution_id", sorted(executions))
                    if e.artifact_id in artifacts
                ]
                artifacts, executions = _depths(artifacts, executions, events, q.direction)
            artifacts, executions = _nearest(artifacts, executions, q.max_nodes)
            return load_subgraph(conn, artifacts, executions, q.fields, truncated=True)
    joined, packed = joins_ids(conn), packs_rows(conn)
    # Types already read (and unchanged since, as the statement checks) are not read again.
    seen = seen_types_params(conn) if can_know_types(q.fields) else None
    known = seen is not None
    shape = _precompiled.shape_name(key, known) if q.fields == _EVERY_FIELD else None
    answer = _ANSWERS.get(
        (q.fields, joined, packed, known, *key),
        lambda: answer_build(q, filters, sizes, joined=joined, packed=packed, known=known),
        known_types=known,
        shipped=_precompiled.finder(shape) if shape is not None else None,
    )
    return read_answer(conn, answer, params | seen if seen else params, q.fields)


def answer_build(
    q: LineageQuery,
    filters: _Filters,
    sizes: tuple[int | None, int | None],
    *,
    joined: bool,
    packed: bool,
    known: bool,
) -> list[Any]:
    """The answer statement of ``q`` (as a list of one), built for a database that joins its
    id CTEs or not, packs rows or not, and with types known or not."""
    return answer_statements(
        *_walk_sources(q, filters, sizes),
        q.fields,
        joined=joined,
        known_types=known,
        packed=packed,
    )


def _walk_sources(
    q: LineageQuery, filters: _Filters, sizes: tuple[int | None, int | None]
) -> tuple[Any, Any]:
    """CTEs of the artifacts and executions a walk reaches: columns ``id`` and ``depth``.

    A node may appear at several depths; the smallest is its distance.
    """
    first, second = _hop_types(q.direction)
    start_artifacts = _ids_where(TypeKind.ARTIFACT, "a", sizes[0], filters.start_artifacts)
    start_executions = _ids_where(TypeKind.EXECUTION, "e", sizes[1], filters.start_executions)
    stop_a = _stop_ids(TypeKind.ARTIFACT, filters.stop_artifacts)
    stop_e = _stop_ids(TypeKind.EXECUTION, filters.stop_executions)
    limited = q.max_hops is not None
    max_hops = bindparam("max_hops", type_=Integer)

    seeds = []
    if start_artifacts is not None:
        starts = start_artifacts.subquery("start_artifacts")
        seeds.append(select(starts.c.id.label("id"), literal(0).label("depth")))
    if start_executions is not None:
        s = E.alias("s")
        seed = select(s.c.artifact_id.label("id"), literal(1).label("depth")).where(
            s.c.execution_id.in_(start_executions), _of_type(s.c.type, second)
        )
        if limited:
            seed = seed.where(max_hops >= 1)
        if stop_e is not None:
            seed = seed.where(s.c.execution_id.not_in(stop_e))
        seeds.append(seed)
    if not seeds:
        seeds.append(select(literal(0).label("id"), literal(0).label("depth")).where(false()))
    anchor = seeds[0]
    if len(seeds) > 1:
        # A recursive CTE needs one SELECT as its anchor: starting artifacts and the inputs (or
        # outputs) of starting executions are combined in a subquery.
        both = union_all(*seeds).subquery("seeds")
        anchor = select(both.c.id, both.c.depth)
    walk = anchor.cte("walk", recursive=True)
    o, i = E.alias("o"), E.alias("i")
    # With a hop limit each row carries its depth and the walk stops at the limit. Without one,
    # rows only tell starting nodes (0) from reached ones (2): UNION then keeps each artifact at
    # most twice, so the walk ends even on cycles; exact depths are computed later when needed.
    next_depth = walk.c.depth + 2 if limited else literal(2)
    step = select(i.c.artifact_id, next_depth).select_from(
        walk.join(o, and_(o.c.artifact_id == walk.c.id, _of_type(o.c.type, first))).join(
            i, and_(i.c.execution_id == o.c.execution_id, _of_type(i.c.type, second))
        )
    )
    if limited:
        step = step.where(walk.c.depth + 2 <= max_hops)
    if stop_a is not None:
        step = step.where(walk.c.id.not_in(stop_a))
    if stop_e is not None:
        step = step.where(o.c.execution_id.not_in(stop_e))
    walk = walk.union(step)

    # No GROUP BY in what follows: aggregating would tempt planners to scan the event table in
    # execution_id order instead of looking events up by artifact.
    x = E.alias("x")
    passed = select(x.c.execution_id.label("id"), (walk.c.depth + 1).label("depth")).select_from(
        walk.join(x, and_(x.c.artifact_id == walk.c.id, _of_type(x.c.type, first)))
    )
    if limited:
        passed = passed.where(walk.c.depth + 1 <= max_hops)
    if stop_a is not None:
        passed = passed.where(walk.c.id.not_in(stop_a))
    executions = [passed]
    if start_executions is not None:
        starts = start_executions.subquery("start_executions")
        executions.append(select(starts.c.id, literal(0).label("depth")))
    artifacts_q = select(walk.c.id, walk.c.depth)
    executions_q: Any = union_all(*executions) if len(executions) > 1 else passed
    if stop_a is not None and not q.include_stop_artifacts:
        artifacts_q = artifacts_q.where(walk.c.id.not_in(stop_a))
    if stop_e is not None and not q.include_stop_executions:
        executions_q = select(executions_q.subquery()).where(literal_column("id").not_in(stop_e))
    return artifacts_q.cte("walk_artifacts"), executions_q.cte("walk_executions")


def _walk_statement(
    q: LineageQuery, filters: _Filters, sizes: tuple[int | None, int | None]
) -> Any:
    artifacts, executions = _walk_sources(q, filters, sizes)
    return union_all(
        select(literal(0).label("kind"), artifacts.c.id, artifacts.c.depth),
        select(literal(1).label("kind"), executions.c.id, executions.c.depth),
    )


def _depths(
    artifacts: dict[int, int],
    executions: dict[int, int],
    events: list[Any],
    direction: LineageDirection,
) -> tuple[dict[int, int], dict[int, int]]:
    """Exact hop distances from the starting nodes (depth 0), breadth first along the walk."""
    first, second = _hop_types(direction)
    onward: dict[tuple[int, int], list[tuple[int, int]]] = collections.defaultdict(list)
    for event in events:
        kind = int(event.type)
        if first is None or kind in first:  # artifact -> execution
            onward[(0, event.artifact_id)].append((1, event.execution_id))
        if second is None or kind in second:  # execution -> artifact
            onward[(1, event.execution_id)].append((0, event.artifact_id))
    start = [(0, i) for i, d in artifacts.items() if d == 0]
    start += [(1, i) for i, d in executions.items() if d == 0]
    depth = dict.fromkeys(start, 0)
    queue = collections.deque(start)
    while queue:
        node = queue.popleft()
        for nxt in onward.get(node, ()):
            if nxt not in depth:
                depth[nxt] = depth[node] + 1
                queue.append(nxt)
    far = len(artifacts) + len(executions)
    return (
        {i: depth.get((0, i), far) for i in artifacts},
        {i: depth.get((1, i), far) for i in executions},
    )


def _nearest(
    artifacts: dict[int, int], executions: dict[int, int], limit: int
) -> tuple[dict[int, int], dict[int, int]]:
    ranked = sorted(
        [(d, 0, i) for i, d in artifacts.items()] + [(d, 1, i) for i, d in executions.items()]
    )[:limit]
    return ({i: d for d, k, i in ranked if k == 0}, {i: d for d, k, i in ranked if k == 1})
