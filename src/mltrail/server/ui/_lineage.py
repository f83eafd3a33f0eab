"""The model of a lineage picture: a store's lineage graph as nodes, edges and collapsed groups.

A pure function of a :class:`~mltrail.model.LineageGraph`, so the page, its JSON twin and the
tests see the same model. Nodes are keyed ``a<id>`` (artifacts) and ``x<id>`` (executions);
edges follow the data: input artifact -> execution, execution -> output artifact.

Repeated runs collapse into one group: executions of the same type that read exactly the same
set of artifacts and wrote artifacts of the same set of types (many runs of ``train`` on one
dataset with different parameters), when there are at least ``min_group`` of them. A group
holds those executions and their own outputs: the artifacts only its members wrote (and none
of them read). The starting node is never folded into a group.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from mltrail.model import (
    INPUT_EVENT_TYPES,
    OUTPUT_EVENT_TYPES,
    Artifact,
    Event,
    Execution,
    LineageGraph,
)

#: Groups of at least this many repeated runs are collapsed unless the page asks otherwise.
MIN_GROUP = 3


def node_key(kind: str, node_id: int) -> str:
    return ("a" if kind == "artifact" else "x") + str(node_id)


def artifact_label(artifact: Artifact) -> str:
    """What a node shows: the name, else the last part of the uri, else ``Type #id``."""
    if artifact.name:
        return artifact.name
    if artifact.uri:
        tail = artifact.uri.rstrip("/").rsplit("/", 1)[-1]
        return tail or artifact.uri
    metrics = artifact.properties.get("metrics_name")
    if isinstance(metrics, str) and metrics:
        return f"{metrics} ({artifact.type})"
    return f"{artifact.type} #{artifact.id}"


def execution_label(execution: Execution) -> str:
    return execution.name or f"{execution.type} #{execution.id}"


def path_text(path: Sequence[int | str]) -> str:
    """An event path as text: ``["examples", 0]`` -> ``examples[0]``."""
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f"/{step}" if text else str(step))
    return text


def _artifact_node(artifact: Artifact) -> dict[str, Any]:
    return {
        "key": node_key("artifact", artifact.id or 0),
        "kind": "artifact",
        "id": artifact.id,
        "type": artifact.type,
        "name": artifact.name,
        "uri": artifact.uri,
        "label": artifact_label(artifact),
        "state": artifact.state.name if artifact.state is not None else None,
        "external_id": artifact.external_id,
        "created": artifact.create_time_since_epoch,
        "group": None,
    }


def _execution_node(execution: Execution) -> dict[str, Any]:
    state = execution.last_known_state
    return {
        "key": node_key("execution", execution.id or 0),
        "kind": "execution",
        "id": execution.id,
        "type": execution.type,
        "name": execution.name,
        "uri": None,
        "label": execution_label(execution),
        "state": state.name if state is not None else None,
        "external_id": execution.external_id,
        "created": execution.create_time_since_epoch,
        "group": None,
    }


def _edges(events: Iterable[Event], present: set[str]) -> list[dict[str, Any]]:
    edges: dict[str, dict[str, Any]] = {}
    for event in events:
        artifact = node_key("artifact", event.artifact_id or 0)
        execution = node_key("execution", event.execution_id or 0)
        if artifact not in present or execution not in present:
            continue
        if event.type in INPUT_EVENT_TYPES:
            source, target = artifact, execution
        elif event.type in OUTPUT_EVENT_TYPES:
            source, target = execution, artifact
        else:
            continue  # UNKNOWN: no direction to draw
        key = f"{source}>{target}"
        if key not in edges:  # two events of one kind between the same nodes: one edge
            edges[key] = {
                "key": key,
                "source": source,
                "target": target,
                "type": event.type.name,
                "path": path_text(event.path),
            }
    return list(edges.values())


def groups_of(
    nodes: dict[str, dict[str, Any]],
    edges: Sequence[dict[str, Any]],
    *,
    min_group: int,
    keep: str | None = None,
) -> list[dict[str, Any]]:
    """The collapsible groups of repeated runs (see the module's docstring); marks members'
    ``group``. ``keep`` (the starting node) is never a member."""
    if min_group < 2:
        return []
    inputs: dict[str, set[str]] = defaultdict(set)
    outputs: dict[str, set[str]] = defaultdict(set)
    producers: dict[str, set[str]] = defaultdict(set)
    readers: dict[str, set[str]] = defaultdict(set)
    for edge in edges:
        if nodes[edge["source"]]["kind"] == "artifact":
            inputs[edge["target"]].add(edge["source"])
            readers[edge["source"]].add(edge["target"])
        else:
            outputs[edge["source"]].add(edge["target"])
            producers[edge["target"]].add(edge["source"])
    runs: dict[tuple[Any, ...], list[str]] = defaultdict(list)
    for key, node in nodes.items():
        if node["kind"] != "execution" or key == keep:
            continue
        made = frozenset(str(nodes[a]["type"]) for a in outputs[key])
        runs[(str(node["type"]), frozenset(inputs[key]), made)].append(key)
    groups: list[dict[str, Any]] = []
    for (run_type, read, _), members in runs.items():
        if len(members) < min_group:
            continue
        member_set = set(members)
        own = sorted(
            {
                artifact
                for run in members
                for artifact in outputs[run]
                if artifact != keep
                and producers[artifact] <= member_set
                and not readers[artifact] & member_set
                and artifact not in read
            },
            key=_order,
        )
        key = f"g{len(groups)}"
        executions = sorted(members, key=_order)
        for member in (*executions, *own):
            nodes[member]["group"] = key
        groups.append(
            {
                "key": key,
                "type": run_type,
                "label": f"{run_type} \u00d7{len(members)}",
                "count": len(members),
                "executions": [nodes[m]["id"] for m in executions],
                "members": [*executions, *own],
                "inputs": sorted(read, key=_order),
            }
        )
    return groups


def _order(key: str) -> tuple[str, int]:
    return key[0], int(key[1:])


def cut(graph: LineageGraph, limit: int) -> LineageGraph:
    """``graph`` with at most ``limit`` nodes (executions first, oldest first, then artifacts),
    ``truncated`` when any was left out: the DAG of a context has no limit of its own."""
    if len(graph.artifacts) + len(graph.executions) <= limit:
        return graph
    executions = sorted(graph.executions, key=lambda e: e.id or 0)[:limit]
    artifacts = sorted(graph.artifacts, key=lambda a: a.id or 0)[: limit - len(executions)]
    kept_a, kept_x = {a.id for a in artifacts}, {e.id for e in executions}
    events = [e for e in graph.events if e.artifact_id in kept_a and e.execution_id in kept_x]
    return LineageGraph(artifacts=artifacts, executions=executions, events=events, truncated=True)


def lineage_model(
    graph: LineageGraph, *, focus: str | None = None, min_group: int = MIN_GROUP
) -> dict[str, Any]:
    """Nodes, edges and groups of ``graph``; ``focus`` is the starting node's key, if any."""
    nodes: dict[str, dict[str, Any]] = {}
    for artifact in sorted(graph.artifacts, key=lambda a: a.id or 0):
        node = _artifact_node(artifact)
        nodes[node["key"]] = node
    for execution in sorted(graph.executions, key=lambda e: e.id or 0):
        node = _execution_node(execution)
        nodes[node["key"]] = node
    edges = _edges(graph.events, set(nodes))
    groups = groups_of(nodes, edges, min_group=min_group, keep=focus)
    return {
        "focus": focus if focus in nodes else None,
        "nodes": list(nodes.values()),
        "edges": edges,
        "groups": groups,
        "truncated": graph.truncated,
        "counts": {
            "artifacts": len(graph.artifacts),
            "executions": len(graph.executions),
            "edges": len(edges),
        },
    }
