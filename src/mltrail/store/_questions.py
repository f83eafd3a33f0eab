"""The questions users ask of a store: lineage, provenance, impact, the DAG of a context, two
artifacts side by side, and "has this execution already run on these inputs?"."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, and_, bindparam, cast, literal, or_, select, true, union

from mltrail._plain import short
from mltrail.backends.sql import schema
from mltrail.backends.sql.schema import TypeKind
from mltrail.errors import InvalidArgumentError, NotFoundError
from mltrail.model import (
    INPUT_EVENT_TYPES,
    OUTPUT_EVENT_TYPES,
    Artifact,
    EndingNodes,
    Execution,
    ExecutionState,
    LineageDirection,
    LineageGraph,
    LineageSubgraphQueryOptions,
    StartingNodes,
)
from mltrail.query import lineage as _lineage
from mltrail.query.compare import ArtifactComparison, Comparison, compare, compare_nodes
from mltrail.query.fingerprint import (
    DIGEST_PROPERTY,
    PARTS_PROPERTY,
    CachedExecution,
    CacheExplanation,
    Fingerprint,
    differences,
    input_mapping,
)
from mltrail.store._args import (
    count_arg,
    filter_arg,
    flag_arg,
    id_arg,
    is_storable_id,
    optional_id,
    optional_ids,
    storable_ids,
    texts_arg,
)
from mltrail.store._edges import get_events
from mltrail.store._nodes import (
    ARTIFACTS,
    EXECUTIONS,
    hydrate,
    node_select,
    read_by_ids,
    read_where,
)

R = TypeVar("R")
E = schema.event


class Questions:
    """Mixed into :class:`~mltrail.store.MetadataStore`."""

    if TYPE_CHECKING:

        def _read(self, fn: Callable[[Connection], R], *, single: bool = False) -> R: ...

    # ------------------------------------------------------------------------------------ lineage

    def lineage(
        self,
        *,
        artifact_ids: Sequence[int] | None = None,
        execution_ids: Sequence[int] | None = None,
        artifacts_filter: str | None = None,
        executions_filter: str | None = None,
        direction: LineageDirection | str = "upstream",
        max_hops: int | None = None,
        stop_at_artifacts: str | None = None,
        stop_at_executions: str | None = None,
        include_stop_nodes: bool = False,
        max_nodes: int | None = None,
    ) -> LineageGraph:
        """The lineage graph around some starting nodes, computed in the database.

        Start from ``artifact_ids`` / ``execution_ids`` and from the nodes matching
        ``artifacts_filter`` / ``executions_filter`` (all of them when several are given).
        ``direction``: "upstream" (where they came from), "downstream" (what was made from
        them) or "both". ``max_hops=None`` walks the whole graph (artifact → execution is one
        hop). Nodes matching ``stop_at_*`` filters are not walked through, and are returned only
        with ``include_stop_nodes``. ``max_nodes`` returns at most that many artifacts and
        executions, nearest first, and sets ``truncated``.
        """
        include_stop = flag_arg(include_stop_nodes, "include_stop_nodes")
        query = _lineage.LineageQuery(
            artifact_ids=_starting_ids(artifact_ids, "artifact_ids"),
            execution_ids=_starting_ids(execution_ids, "execution_ids"),
            artifact_filter=_filter(artifacts_filter, "artifacts_filter"),
            execution_filter=_filter(executions_filter, "executions_filter"),
            direction=direction_of(direction),
            max_hops=count_arg(max_hops, "max_hops"),
            stop_artifacts=_filter(stop_at_artifacts, "stop_at_artifacts"),
            stop_executions=_filter(stop_at_executions, "stop_at_executions"),
            include_stop_artifacts=include_stop,
            include_stop_executions=include_stop,
            max_nodes=count_arg(max_nodes, "max_nodes"),
        )
        if not (
            query.artifact_ids
            or query.execution_ids
            or query.artifact_filter
            or query.execution_filter
        ):
            if query.artifact_ids is None and query.execution_ids is None:
                raise InvalidArgumentError(
                    "give the starting nodes: artifact_ids, execution_ids, artifacts_filter or "
                    "executions_filter"
                )
            return LineageGraph()
        return self._read(
            lambda conn: _lineage.run_lineage(conn, query), single=_lineage.is_one_statement(query)
        )

    def get_lineage_subgraph(
        self,
        query_options: LineageSubgraphQueryOptions,
        field_mask_paths: Sequence[str] | None = None,
    ) -> LineageGraph:
        """MLMD's lineage call. ``field_mask_paths`` names the LineageGraph fields to fill
        (all when empty). Unlike MLMD, there is no hidden cap on hops or starting nodes."""
        if not isinstance(query_options, LineageSubgraphQueryOptions):
            raise InvalidArgumentError(
                "query_options must be a LineageSubgraphQueryOptions, got "
                f"{type(query_options).__name__}"
            )
        o = query_options
        if (o.starting_artifacts is None) == (o.starting_executions is None):
            raise InvalidArgumentError(
                "set exactly one of starting_artifacts and starting_executions"
            )
        start_artifacts = _starting_filter(o.starting_artifacts, "starting_artifacts")
        start_executions = _starting_filter(o.starting_executions, "starting_executions")
        stop_artifacts, include_artifacts = _ending(o.ending_artifacts, "ending_artifacts")
        stop_executions, include_executions = _ending(o.ending_executions, "ending_executions")
        fields = _read_mask(field_mask_paths)
        query = _lineage.LineageQuery(
            artifact_filter=start_artifacts,
            execution_filter=start_executions,
            direction=direction_of(o.direction),
            max_hops=count_arg(o.max_num_hops, "max_num_hops"),
            stop_artifacts=stop_artifacts,
            stop_executions=stop_executions,
            # Each EndingNodes says whether its own matches are part of the answer.
            include_stop_artifacts=include_artifacts,
            include_stop_executions=include_executions,
            max_nodes=count_arg(o.max_node_size, "max_node_size"),
            fields=fields,
        )
        return self._read(
            lambda conn: _lineage.run_lineage(conn, query), single=_lineage.is_one_statement(query)
        )

    def get_provenance(self, artifact_id: int, max_hops: int | None = None) -> LineageGraph:
        """Everything an artifact came from, at any depth (or up to ``max_hops``)."""
        return self.lineage(artifact_ids=[artifact_id], direction="upstream", max_hops=max_hops)

    def get_impact(self, artifact_id: int, max_hops: int | None = None) -> LineageGraph:
        """Everything made from an artifact, at any depth (or up to ``max_hops``)."""
        return self.lineage(artifact_ids=[artifact_id], direction="downstream", max_hops=max_hops)

    def get_artifact_producers(self, artifact_id: int) -> list[Execution]:
        """Executions that output the artifact (usually one), oldest first."""
        return self._neighbour_executions(artifact_id, "producers", OUTPUT_EVENT_TYPES)

    def get_artifact_consumers(self, artifact_id: int) -> list[Execution]:
        """Executions that took the artifact as an input, oldest first."""
        return self._neighbour_executions(artifact_id, "consumers", INPUT_EVENT_TYPES)

    def _neighbour_executions(self, artifact_id: int, key: str, types: Any) -> list[Execution]:
        artifact_id = id_arg(artifact_id, "artifact_id")
        if not is_storable_id(artifact_id):
            return []  # no artifact has this id

        def where() -> Any:
            kinds = [literal(int(t)) for t in sorted(types)]
            ids = select(E.c.execution_id).where(
                and_(E.c.artifact_id == bindparam("artifact_id"), E.c.type.in_(kinds))
            )
            return EXECUTIONS.table.c.id.in_(ids)

        params = {"artifact_id": artifact_id}
        return self._read(lambda conn: read_where(conn, EXECUTIONS, key, where, params))

    def get_context_dag(self, context_id: int, include_child_contexts: bool = True) -> LineageGraph:
        """The DAG of a context (a run, a pipeline): its executions, the artifacts they read and
        wrote and those attributed to it, with the events between them. With
        ``include_child_contexts`` the members of every descendant context count too."""
        context_id = id_arg(context_id, "context_id")
        children = flag_arg(include_child_contexts, "include_child_contexts")
        if not is_storable_id(context_id):
            return LineageGraph()  # no context has this id
        return self._read(lambda conn: _context_dag(conn, context_id, children))

    def compare_artifacts(self, left_id: int, right_id: int) -> ArtifactComparison:
        """Two artifacts side by side, fields and properties aligned, differences marked."""
        left_id, right_id = id_arg(left_id, "left_id"), id_arg(right_id, "right_id")
        found = {
            a.id: a for a in self._read(lambda c: read_by_ids(c, ARTIFACTS, [left_id, right_id]))
        }
        for wanted in (left_id, right_id):
            if wanted not in found:
                raise NotFoundError(f"no artifact with id {wanted} to compare")
        return compare(found[left_id], found[right_id])

    def compare_nodes(
        self,
        *,
        artifact_ids: Sequence[int] | None = None,
        execution_ids: Sequence[int] | None = None,
    ) -> Comparison:
        """Two or more artifacts, or two or more executions, side by side, in the order given:
        fields, properties and custom properties aligned (the union of the keys), differences
        marked; executions also line up their inputs and outputs (by event path, valued by the
        artifact's external id, else uri). Give exactly one of ``artifact_ids`` and
        ``execution_ids``."""
        given = [
            (kind, optional_ids(ids, what))
            for kind, ids, what in (
                ("artifact", artifact_ids, "artifact_ids"),
                ("execution", execution_ids, "execution_ids"),
            )
            if ids is not None
        ]
        if len(given) != 1:
            raise InvalidArgumentError(
                "give exactly one of artifact_ids and execution_ids: nodes of one kind are compared"
            )
        [(kind, ids)] = given
        assert ids is not None
        if len(ids) < 2:
            raise InvalidArgumentError(f"give two or more {kind} ids to compare, got {len(ids)}")
        return self._read(lambda conn: _compared(conn, kind, list(ids)))

    # ------------------------------------------------------------------------------------ caching

    def fingerprint(
        self,
        execution_type: str,
        *,
        parameters: Mapping[str, Any] | None = None,
        code_version: str | None = None,
        input_artifact_ids: Sequence[int] | None = None,
        inputs: Mapping[str, str] | None = None,
        type_version: str | None = None,
    ) -> Fingerprint:
        """The fingerprint of an execution about to run.

        Inputs are given by identity (``inputs``: name → content digest) and/or as stored
        artifacts (``input_artifact_ids``): an artifact's identity is its external id (content
        digests recorded by tracking), else its uri, else its id; its name is the artifact's name,
        else its uri, else ``artifact <id>``.
        """
        named = dict(input_mapping(inputs, "inputs"))
        ids = optional_ids(input_artifact_ids, "input_artifact_ids") or ()
        if ids:
            artifacts = self._read(lambda conn: read_by_ids(conn, ARTIFACTS, list(ids)))
            missing = sorted(set(ids) - {a.id for a in artifacts})
            if missing:
                raise NotFoundError(f"no artifact with id {missing[0]} among the inputs")
            for artifact in artifacts:
                named[_input_name(artifact)] = _identity(artifact)
        return Fingerprint.of(
            execution_type,
            parameters=parameters,
            code_version=code_version,
            inputs=named,
            type_version=type_version,
        )

    def find_cached_execution(
        self, fingerprint: Fingerprint, before_execution_id: int | None = None
    ) -> CachedExecution | None:
        """The latest COMPLETE execution recorded with this fingerprint and its outputs, or None.

        ``before_execution_id``: only executions recorded before that one count (created
        earlier; at the same millisecond, of a smaller id), so that an execution asked about
        afterwards is not its own match.
        """
        _fingerprint_arg(fingerprint)
        before = optional_id(before_execution_id, "before_execution_id")
        return self._read(lambda conn: _cached(conn, fingerprint, _earlier(conn, before)))

    def explain_cache_miss(
        self,
        fingerprint: Fingerprint,
        candidates: int = 200,
        before_execution_id: int | None = None,
    ) -> CacheExplanation:
        """Why ``fingerprint`` has no cached execution: what differs from the nearest earlier
        execution of the same type (among the latest ``candidates`` ones). With
        ``before_execution_id``, only executions recorded before that one count (see
        :meth:`find_cached_execution`)."""
        _fingerprint_arg(fingerprint)
        limit = count_arg(candidates, "candidates")
        if limit is None:
            raise InvalidArgumentError("candidates must be a non-negative int, got None")
        before = optional_id(before_execution_id, "before_execution_id")
        return self._read(lambda conn: _explain(conn, fingerprint, limit, _earlier(conn, before)))


def direction_of(value: Any) -> LineageDirection:
    found: LineageDirection | None = None
    if isinstance(value, LineageDirection):
        found = value
    elif isinstance(value, str) and value.strip():
        text = value.strip().upper()
        aliases = {"UP": "UPSTREAM", "DOWN": "DOWNSTREAM", "BOTH": "BIDIRECTIONAL"}
        found = LineageDirection.__members__.get(aliases.get(text, text))
    elif isinstance(value, int) and not isinstance(value, bool):
        found = next((d for d in LineageDirection if d.value == value), None)
    if found is None:
        raise InvalidArgumentError(
            f"direction {short(value)} is not valid; use 'upstream', 'downstream' or 'both' "
            "(LineageDirection.UPSTREAM, DOWNSTREAM, BIDIRECTIONAL)"
        )
    if found == LineageDirection.DIRECTION_UNSPECIFIED:
        return LineageDirection.BIDIRECTIONAL
    return found


def _starting_ids(values: Sequence[int] | None, what: str) -> tuple[int, ...] | None:
    """Checked starting ids; those no node can have are left out (they find nothing)."""
    ids = optional_ids(values, what)
    return None if ids is None else tuple(storable_ids(ids))


def _filter(value: Any, what: str) -> str | None:
    return filter_arg(value, what)


def _starting_filter(nodes: Any, what: str) -> str | None:
    if nodes is None:
        return None
    if not isinstance(nodes, StartingNodes):
        raise InvalidArgumentError(
            f"{what} must be a StartingNodes (or None), got {type(nodes).__name__}"
        )
    text = _filter(nodes.filter_query, f"{what}.filter_query")
    if text is None:
        raise InvalidArgumentError("the starting nodes need a non-empty filter_query")
    return text


def _ending(nodes: Any, what: str) -> tuple[str | None, bool]:
    if nodes is None:
        return None, False
    if not isinstance(nodes, EndingNodes):
        raise InvalidArgumentError(
            f"{what} must be an EndingNodes (or None), got {type(nodes).__name__}"
        )
    include = flag_arg(nodes.include_ending_nodes, f"{what}.include_ending_nodes")
    return _filter(nodes.filter_query, f"{what}.filter_query"), include


def _fingerprint_arg(value: Any) -> None:
    if not isinstance(value, Fingerprint):
        raise InvalidArgumentError(
            f"expected a Fingerprint (from store.fingerprint or Fingerprint.of), got {short(value)}"
        )


def _read_mask(paths: Sequence[str] | None) -> frozenset[str]:
    if paths is None:
        return frozenset(_lineage.GRAPH_FIELDS)
    paths = texts_arg(paths, "field_mask_paths")
    if not paths:
        return frozenset(_lineage.GRAPH_FIELDS)
    unknown = sorted(set(paths) - set(_lineage.GRAPH_FIELDS))
    if unknown:
        raise InvalidArgumentError(
            f"unknown field mask path(s) {unknown}; use LineageGraph fields: "
            + ", ".join(_lineage.GRAPH_FIELDS)
        )
    return frozenset(paths)


def _identity(artifact: Artifact) -> str:
    if artifact.external_id:
        return artifact.external_id
    if artifact.uri:
        return f"uri:{artifact.uri}"
    return f"id:{artifact.id}"


def _input_name(artifact: Artifact) -> str:
    return artifact.name or artifact.uri or f"artifact {artifact.id}"


def _fingerprint_filter(digest: str) -> str:
    quoted = digest.replace("\\", "\\\\").replace("'", "\\'")
    return f"custom_properties.`{DIGEST_PROPERTY}`.string_value = '{quoted}'"


def _outputs(conn: Connection, execution_id: int) -> list[Artifact]:
    events = get_events(conn, "execution_id", [execution_id])
    ids = [e.artifact_id for e in events if e.type in OUTPUT_EVENT_TYPES and e.artifact_id]
    return read_by_ids(conn, ARTIFACTS, ids) if ids else []


def _earlier(conn: Connection, execution_id: int | None) -> Any:
    """The condition "recorded before execution ``execution_id``" on the execution table (true
    when None); an id no execution has is a NotFoundError."""
    t = EXECUTIONS.table
    if execution_id is None:
        return true()
    row = None
    if is_storable_id(execution_id):
        row = conn.execute(
            select(t.c.create_time_since_epoch).where(t.c.id == bindparam("before_id")),
            {"before_id": execution_id},
        ).first()
    if row is None:
        raise NotFoundError(f"no execution with id {execution_id} (before_execution_id)")
    created = int(row[0] or 0)
    return or_(
        t.c.create_time_since_epoch < created,
        and_(t.c.create_time_since_epoch == created, t.c.id < execution_id),
    )


def _cached(
    conn: Connection, fingerprint: Fingerprint, earlier: Any = None
) -> CachedExecution | None:
    t = EXECUTIONS.table
    where = and_(
        _compile_filter(TypeKind.EXECUTION, _fingerprint_filter(fingerprint.digest)),
        t.c.last_known_state == int(ExecutionState.COMPLETE),
        earlier if earlier is not None else true(),
    )
    rows = conn.execute(
        node_select(EXECUTIONS)
        .where(where)
        .order_by(t.c.create_time_since_epoch.desc(), t.c.id.desc())
        .limit(1)
    ).all()
    if not rows:
        return None
    [execution] = hydrate(conn, EXECUTIONS, rows)
    return CachedExecution(execution, _outputs(conn, execution.id), fingerprint.digest)


def _explain(
    conn: Connection, fingerprint: Fingerprint, candidates: int, earlier: Any
) -> CacheExplanation:
    cached = _cached(conn, fingerprint, earlier)
    if cached is not None:
        return CacheExplanation(fingerprint.digest, cached.execution, [], cached)
    t = EXECUTIONS.table
    types = schema.type_.alias("wanted_type")
    of_type = select(types.c.id).where(
        types.c.kind == TypeKind.EXECUTION,
        types.c.name == fingerprint.execution_type,
        types.c.version == (fingerprint.type_version or ""),
    )
    query = node_select(EXECUTIONS).where(t.c.type_id.in_(of_type), earlier)
    rows = conn.execute(
        query.order_by(t.c.create_time_since_epoch.desc(), t.c.id.desc()).limit(candidates)
    ).all()
    best: tuple[int, Execution, list[Any]] | None = None
    target = fingerprint.parts()
    for execution in hydrate(conn, EXECUTIONS, rows):
        parts = execution.custom_properties.get(PARTS_PROPERTY)
        if not isinstance(parts, dict):
            continue
        found = differences(parts, target)
        complete = execution.last_known_state == ExecutionState.COMPLETE
        score = len(found) * 2 + (0 if complete else 1)
        if best is None or score < best[0]:
            best = (score, execution, found)
    if best is None:
        return CacheExplanation(fingerprint.digest, None, [])
    return CacheExplanation(fingerprint.digest, best[1], best[2])


def _compared(conn: Connection, kind: str, ids: list[int]) -> Comparison:
    spec = ARTIFACTS if kind == "artifact" else EXECUTIONS
    found = {n.id: n for n in read_by_ids(conn, spec, storable_ids(ids))}
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFoundError(f"no {kind} with id {missing[0]} to compare")
    nodes = [found[i] for i in ids]
    if kind == "artifact":
        return compare_nodes(kind, nodes)
    events = get_events(conn, "execution_id", sorted(found))
    linked = sorted({e.artifact_id for e in events if e.artifact_id})
    artifacts = {a.id: a for a in read_by_ids(conn, ARTIFACTS, linked)} if linked else {}
    return compare_nodes(kind, nodes, events, artifacts)


def _context_dag(conn: Connection, context_id: int, include_children: bool) -> LineageGraph:
    _, artifact_ids, execution_ids = context_dag_ids(conn, context_id, include_children)
    return _lineage.load_subgraph(conn, artifact_ids, execution_ids)


def context_dag_ids(
    conn: Connection, context_id: int, include_children: bool
) -> tuple[set[int], set[int], set[int]]:
    """The ids of a context's DAG, in one statement: its contexts (itself and, with
    ``include_children``, every descendant), the artifacts and the executions."""
    pc, assoc, attr = schema.parent_context, schema.association, schema.attribution
    # Typed as an id: PostgreSQL wants the recursive CTE's anchor to have the column's type.
    contexts: Any = select(cast(literal(context_id), schema.Id).label("id"))
    if include_children:
        tree = contexts.cte("descendants", recursive=True)
        tree = tree.union(select(pc.c.context_id).join(tree, pc.c.parent_context_id == tree.c.id))
        contexts = select(tree.c.id)
    executions = select(assoc.c.execution_id).where(assoc.c.context_id.in_(contexts))
    members = union(
        select(literal(1).label("kind"), executions.subquery().c.execution_id.label("id")),
        select(literal(0), attr.c.artifact_id).where(attr.c.context_id.in_(contexts)),
        select(literal(0), E.c.artifact_id).where(E.c.execution_id.in_(executions)),
        select(literal(2), contexts.subquery().c.id),
    )
    found: tuple[set[int], set[int], set[int]] = (set(), set(), set())
    for kind, node_id in conn.execute(members):
        found[(1, 2, 0)[kind]].add(int(node_id))
    return found


def _compile_filter(kind: TypeKind, text: str) -> Any:
    from mltrail.query.filters import compile_filter  # Lark only when a filter is used

    return compile_filter(kind, text)
