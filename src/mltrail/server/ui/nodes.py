"""The page of one artifact, execution or context: its fields, properties and neighbours.

Each page is a few set-based store calls whatever the node's degree: the node, its type, its
events (the executions or artifacts at their other end read in one call, the first
:data:`SHOWN` of each direction), its contexts; for a context its parents, children and the
first members of each kind with their counts by type (one grouped query per kind). Longer lists
link to the table filtered to them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from mltrail.errors import InvalidArgumentError, NotFoundError
from mltrail.model import INPUT_EVENT_TYPES, OUTPUT_EVENT_TYPES
from mltrail.server.ui import _links
from mltrail.server.ui.tables import node_row

if TYPE_CHECKING:
    from mltrail.model import Event
    from mltrail.server.ui import Pages
    from mltrail.store import MetadataStore

#: Neighbours of each list a page shows at most (the rest are one link away).
SHOWN = 100
#: Characters of a property value a page shows at most (the JSON twin has it whole).
VALUE_LIMIT = 20_000
#: A string longer than this (or with a line break) is shown as a block.
INLINE = 80

_INPUTS = frozenset(t.name for t in INPUT_EVENT_TYPES)
_OUTPUTS = frozenset(t.name for t in OUTPUT_EVENT_TYPES)


def _shown(value: Any) -> dict[str, Any]:
    """A property value as a page shows it: ``text``, and ``block`` when it needs lines."""
    if isinstance(value, dict | list):
        text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
        block = True
    elif isinstance(value, bool):
        text, block = ("true" if value else "false"), False
    elif isinstance(value, float):
        text, block = repr(value), False
    else:
        text = str(value)
        block = len(text) > INLINE or "\n" in text
    if len(text) > VALUE_LIMIT:
        rest = len(text) - VALUE_LIMIT
        text = f"{text[:VALUE_LIMIT]}\n\u2026 {rest:,} more characters (the page's JSON has all)"
        block = True
    return {"text": text, "block": block}


def properties(values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Properties by name, each with its value and how it is shown."""
    return [{"name": k, "value": v, **_shown(v)} for k, v in sorted(values.items())]


def _type(types: list[Any]) -> dict[str, Any] | None:
    if not types:
        return None
    found = types[0]
    return {
        "id": found.id,
        "name": found.name,
        "version": found.version,
        "description": found.description,
    }


def _path(event: Event) -> str:
    return " / ".join(str(step) for step in event.path)


def _fields(kind: str, node: Any, types: list[Any]) -> dict[str, Any]:
    return {
        "node": node_row(kind, node),
        "node_type": _type(types),
        "properties": properties(node.properties),
        "custom_properties": properties(node.custom_properties),
    }


def _storage(artifact: Any) -> dict[str, Any]:
    """Where an artifact's bytes are: its uri, and the object path of its content digest."""
    from mltrail.data import Oid

    digest = artifact.external_id
    object_path = None
    if isinstance(digest, str) and ":" in digest:
        try:
            object_path = Oid.parse(digest).path
        except InvalidArgumentError:
            object_path = None  # an external id that is not a content digest
    return {
        "uri": artifact.uri,
        "uri_link": _links.web_link(artifact.uri),
        "digest": digest if object_path is not None else None,
        "object_path": object_path,
    }


def _ids(values: Iterable[int | None]) -> list[int]:
    return sorted({v for v in values if v is not None})


def _by_id(found: Iterable[Any]) -> dict[int, Any]:
    return {node.id: node for node in found}


def _split(events: list[Event]) -> tuple[list[Event], list[Event]]:
    inputs = [e for e in events if e.type.name in _INPUTS]
    outputs = [e for e in events if e.type.name in _OUTPUTS]
    return inputs, outputs


def _edges(events: list[Event], key: str, nodes: dict[int, Any], kind: str) -> list[Any]:
    out = []
    for event in events[:SHOWN]:
        other = nodes.get(getattr(event, key))
        if other is not None:
            out.append(
                {
                    "node": node_row(kind, other),
                    "event_type": event.type.name,
                    "path": list(event.path),
                    "path_text": _path(event),
                    "time": event.milliseconds_since_epoch,
                }
            )
    return out


def _direction_filter(key: str, node_id: int, types: frozenset[str]) -> str:
    names = ", ".join(sorted(types))
    return f"events_e.{key} = {node_id} AND events_e.type IN ({names})"


def artifact(store: MetadataStore, params: Mapping[str, Any]) -> dict[str, Any]:
    """The model of an artifact's page."""
    artifact_id = _links.node_id(params, "artifact")
    found, types = store.get_artifacts_and_types_by_artifact_ids([artifact_id])
    if not found:
        raise NotFoundError(f"no artifact with id {artifact_id} in this project")
    node = found[0]
    events = store.get_events_by_artifact_ids([artifact_id])
    consumed, produced = _split(events)
    wanted = _ids(e.execution_id for e in consumed[:SHOWN] + produced[:SHOWN])
    executions = _by_id(store.get_executions_by_id(wanted)) if wanted else {}
    contexts = store.get_contexts_by_artifact(artifact_id)
    return {
        "kind": "artifact",
        "plural": "artifacts",
        **_fields("artifacts", node, types),
        "storage": _storage(node),
        "producers": _edges(produced, "execution_id", executions, "executions"),
        "producers_total": len(produced),
        "consumers": _edges(consumed, "execution_id", executions, "executions"),
        "consumers_total": len(consumed),
        "contexts": [node_row("contexts", c) for c in contexts],
        "links": {
            "lineage": f"/lineage/artifact/{artifact_id}",
            "producers": "/executions"
            + _links.query({"filter": _direction_filter("artifact_id", artifact_id, _OUTPUTS)}),
            "consumers": "/executions"
            + _links.query({"filter": _direction_filter("artifact_id", artifact_id, _INPUTS)}),
            "same_type": "/artifacts" + _links.query({"type": node.type}),
        },
    }


def execution(store: MetadataStore, params: Mapping[str, Any]) -> dict[str, Any]:
    """The model of an execution's page."""
    execution_id = _links.node_id(params, "execution")
    found = store.get_executions_by_id([execution_id])
    if not found:
        raise NotFoundError(f"no execution with id {execution_id} in this project")
    node = found[0]
    types = store.get_execution_types_by_id([node.type_id]) if node.type_id else []
    events = store.get_events_by_execution_ids([execution_id])
    inputs, outputs = _split(events)
    wanted = _ids(e.artifact_id for e in inputs[:SHOWN] + outputs[:SHOWN])
    artifacts = _by_id(store.get_artifacts_by_id(wanted)) if wanted else {}
    contexts = store.get_contexts_by_execution(execution_id)
    return {
        "kind": "execution",
        "plural": "executions",
        **_fields("executions", node, types),
        "inputs": _edges(inputs, "artifact_id", artifacts, "artifacts"),
        "inputs_total": len(inputs),
        "outputs": _edges(outputs, "artifact_id", artifacts, "artifacts"),
        "outputs_total": len(outputs),
        "contexts": [node_row("contexts", c) for c in contexts],
        "links": {
            "lineage": f"/lineage/execution/{execution_id}",
            "metrics": f"/executions/{execution_id}/metrics",
            "inputs": "/artifacts"
            + _links.query({"filter": _direction_filter("execution_id", execution_id, _INPUTS)}),
            "outputs": "/artifacts"
            + _links.query({"filter": _direction_filter("execution_id", execution_id, _OUTPUTS)}),
            "same_type": "/executions" + _links.query({"type": node.type}),
        },
    }


def _members(store: MetadataStore, plural: str, context_id: int) -> dict[str, Any]:
    member_filter = f"contexts_c.id = {context_id}"
    counts: dict[str, int] = getattr(store, f"count_{plural}_by_type")(member_filter)
    page = getattr(store, f"get_{plural}_by_context")(
        context_id, order_by="id", ascending=False, limit=SHOWN
    )
    return {
        "rows": [node_row(plural, n) for n in page],
        "total": sum(counts.values()),
        "by_type": [
            {
                "type": name,
                "count": n,
                "link": f"/{plural}" + _links.query({"filter": member_filter, "type": name}),
            }
            for name, n in counts.items()
        ],
        "link": f"/{plural}" + _links.query({"filter": member_filter}),
    }


def context(store: MetadataStore, params: Mapping[str, Any]) -> dict[str, Any]:
    """The model of a context's page."""
    context_id = _links.node_id(params, "context")
    found = store.get_contexts_by_id([context_id])
    if not found:
        raise NotFoundError(f"no context with id {context_id} in this project")
    node = found[0]
    types = store.get_context_types_by_id([node.type_id]) if node.type_id else []
    return {
        "kind": "context",
        "plural": "contexts",
        **_fields("contexts", node, types),
        "parents": [
            node_row("contexts", c) for c in store.get_parent_contexts_by_context(context_id)
        ],
        "children": [
            node_row("contexts", c) for c in store.get_children_contexts_by_context(context_id)
        ],
        "artifacts": _members(store, "artifacts", context_id),
        "executions": _members(store, "executions", context_id),
        "links": {
            "lineage": f"/lineage/context/{context_id}",
            "same_type": "/contexts" + _links.query({"type": node.type}),
        },
    }


def install(pages: Pages) -> None:
    """Register ``/artifacts/{id}``, ``/executions/{id}`` and ``/contexts/{id}``."""
    pages.page("/artifacts/{id}", "artifact.html")(artifact)
    pages.page("/executions/{id}", "execution.html")(execution)
    pages.page("/contexts/{id}", "context.html")(context)
