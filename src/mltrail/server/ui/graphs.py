"""The UI's pictures: lineage graphs, a context's DAG, comparisons and metric plots.

Each page's model is built here from a few set-based store calls; the pure parts live in
``_lineage`` (graph model, collapsed runs), ``_compare`` (nodes side by side) and ``_series``
(step series and metrics values).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mltrail._plain import short
from mltrail.errors import InvalidArgumentError, NotFoundError
from mltrail.model import OUTPUT_EVENT_TYPES
from mltrail.server.ui import _compare, _lineage, _series
from mltrail.server.ui._links import int_param

if TYPE_CHECKING:
    from mltrail.server.ui import Pages
    from mltrail.store import MetadataStore

KINDS = ("artifact", "execution", "context")
DIRECTIONS = ("upstream", "downstream", "both")
#: How the page lays the graph out: dagre up to 300 nodes and its own layers above (auto).
LAYOUTS = ("auto", "dagre", "layers")
#: Hops walked when the page does not say (artifact -> execution is one hop).
DEPTH = 4
#: Nodes drawn at most unless the page asks for more (up to LIMIT_MAX).
LIMIT, LIMIT_MAX = 2000, 10000
#: Nodes compared side by side at most.
COMPARE_MAX = 20


def _node_id(text: Any, what: str) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        value = 0
    if value <= 0:
        raise InvalidArgumentError(f"{what} must be a positive whole number, got {short(text)}")
    return value


def _lineage_options(params: Mapping[str, Any]) -> dict[str, Any]:
    direction = str(params.get("direction") or "both").strip().lower()
    if direction not in DIRECTIONS:
        raise InvalidArgumentError(
            f"direction {short(direction)} is not valid; use upstream, downstream or both"
        )
    layout = str(params.get("layout") or "auto").strip().lower()
    if layout not in LAYOUTS:
        raise InvalidArgumentError(
            f"layout {short(layout)} is not valid; use auto, dagre or layers"
        )
    depth_text = str(params.get("depth") or "").strip().lower()
    depth = None if depth_text == "all" else int_param(params, "depth", DEPTH, 0, 10000)
    return {
        "direction": direction,
        "depth": depth,
        "collapse": int_param(params, "collapse", _lineage.MIN_GROUP, 0, 1_000_000),
        "limit": int_param(params, "limit", LIMIT, 1, LIMIT_MAX),
        "layout": layout,
    }


def _start(store: MetadataStore, kind: str, node_id: int) -> dict[str, Any]:
    """The node a lineage page starts from (NotFoundError when there is none)."""
    label: str | None = None
    if kind == "artifact":
        for artifact in store.get_artifacts_by_id([node_id]):
            label, kind_of = _lineage.artifact_label(artifact), artifact.type
    elif kind == "execution":
        for execution in store.get_executions_by_id([node_id]):
            label, kind_of = _lineage.execution_label(execution), execution.type
    else:
        for context in store.get_contexts_by_id([node_id]):
            label, kind_of = context.name or f"{context.type} #{node_id}", context.type
    if label is None:
        raise NotFoundError(f"no {kind} with id {node_id}")
    return {"kind": kind, "id": node_id, "type": kind_of, "label": label}


def lineage(store: MetadataStore, params: Mapping[str, Any]) -> dict[str, Any]:
    """The lineage around a node (``kind`` artifact or execution), or the DAG of a context."""
    kind = str(params.get("kind", ""))
    if kind not in KINDS:
        raise NotFoundError(f"no lineage of {short(kind)}: use artifact, execution or context")
    node_id = _node_id(params.get("id"), f"the {kind} id")
    options = _lineage_options(params)
    start = _start(store, kind, node_id)
    if kind == "context":
        graph = _lineage.cut(store.get_context_dag(node_id), options["limit"])
        focus = None
    else:
        graph = store.lineage(
            artifact_ids=[node_id] if kind == "artifact" else None,
            execution_ids=[node_id] if kind == "execution" else None,
            direction=options["direction"],
            max_hops=options["depth"],
            max_nodes=options["limit"],
        )
        focus = _lineage.node_key(kind, node_id)
    model = _lineage.lineage_model(graph, focus=focus, min_group=options["collapse"])
    model["start"] = start
    model["options"] = {**options, "depth": "all" if options["depth"] is None else options["depth"]}
    return model


def _compared(params: Mapping[str, Any]) -> tuple[str, list[int]]:
    given = [str(v) for v in params.get("_multi", {}).get("id", [])]
    if len(given) < 2:
        raise InvalidArgumentError(
            "give two or more nodes to compare, e.g. ?id=execution:2&id=execution:3"
        )
    if len(given) > COMPARE_MAX:
        raise InvalidArgumentError(f"compare at most {COMPARE_MAX} nodes at once, got {len(given)}")
    kinds, ids = set(), []
    for text in given:
        kind, colon, number = text.strip().partition(":")
        if not colon or kind not in ("artifact", "execution"):
            raise InvalidArgumentError(
                f"{short(text)} is not a node to compare; write artifact:ID or execution:ID"
            )
        kinds.add(kind)
        ids.append(_node_id(number, f"the id in {short(text)}"))
    if len(kinds) > 1:
        raise InvalidArgumentError(
            "compare artifacts with artifacts or executions with executions, not both at once"
        )
    if len(set(ids)) < len(ids):
        raise InvalidArgumentError("each node can be compared once; an id was given twice")
    return kinds.pop(), ids


def compare(store: MetadataStore, params: Mapping[str, Any]) -> dict[str, Any]:
    """Two or more artifacts, or two or more executions, side by side."""
    kind, ids = _compared(params)
    read = store.get_artifacts_by_id if kind == "artifact" else store.get_executions_by_id
    by_id = {node.id: node for node in read(ids)}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise NotFoundError(f"no {kind} with id {missing[0]} to compare")
    nodes = [by_id[i] for i in ids]
    if kind == "artifact":
        return _compare.compare_nodes(kind, nodes)
    events = store.get_events_by_execution_ids(ids)
    artifact_ids = sorted({e.artifact_id for e in events if e.artifact_id is not None})
    artifacts = {a.id or 0: a for a in store.get_artifacts_by_id(artifact_ids)}
    return _compare.compare_nodes(kind, nodes, events, artifacts)


def metrics(store: MetadataStore, params: Mapping[str, Any]) -> dict[str, Any]:
    """An execution's step series (one chart each, x = step) and its Metrics values."""
    execution_id = _node_id(params.get("id"), "the execution id")
    found = store.get_executions_by_id([execution_id])
    if not found:
        raise NotFoundError(f"no execution with id {execution_id}")
    execution = found[0]
    events = store.get_events_by_execution_ids([execution_id])
    made = sorted({e.artifact_id for e in events if e.type in OUTPUT_EVENT_TYPES and e.artifact_id})
    outputs = store.get_artifacts_by_id(made)
    series = _series.join_series(a for a in outputs if _series.is_step_metrics(a))
    return {
        "execution": {
            "kind": "execution",
            "id": execution.id,
            "type": execution.type,
            "label": _lineage.execution_label(execution),
            "state": execution.last_known_state.name if execution.last_known_state else None,
        },
        "series": [
            {"name": s["name"], "artifacts": s["artifacts"], "summary": _series.summary(s)}
            for s in series
        ],
        "charts": [
            _series.chart(s["name"], [(k, s["steps"], v) for k, v in s["values"].items()])
            for s in series
        ],
        "metrics": _series.metrics_values(outputs),
    }


def install(pages: Pages) -> None:
    """Register the graph, comparison and metric pages."""
    pages.page("/lineage/{kind}/{id}", "lineage.html")(lineage)
    pages.page("/compare", "compare.html")(compare)
    pages.page("/executions/{id}/metrics", "metrics.html")(metrics)
