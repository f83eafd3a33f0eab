"""A lineage graph as W3C PROV, built with the ``prov`` library (``pip install 'mltrail[prov]'``).

MLMD's model borrowed its words from PROV, and the mapping follows them:

* an artifact is a ``prov:Entity``, an execution a ``prov:Activity`` (started at its create
  time, ended at its last update once it is COMPLETE, FAILED, CACHED or CANCELED), a context a
  ``prov:Agent``;
* an input event is ``used`` (activity, entity), an output event ``wasGeneratedBy`` (entity,
  activity), both at the event's time; an attribution is ``wasAttributedTo`` (entity, agent),
  an association ``wasAssociatedWith`` (activity, agent), a parent context ``actedOnBehalfOf``
  (child agent, parent agent);
* a node's type is its ``prov:type`` (``mltrail:type/NAME``), its name its ``prov:label``, an
  artifact's URI its ``prov:location``; ids, external ids, states, times and every property
  are attributes in the ``mltrail`` namespace (``mltrail:property/NAME`` and
  ``mltrail:custom_property/NAME``; a name's characters other than letters, digits, ``_``,
  ``-`` and ``.`` are percent-encoded). Struct values are written as JSON text.

Identifiers are ``mltrail:artifact/ID``, ``mltrail:execution/ID``, ``mltrail:context/ID``, ids of
the store the graph was read from. Every kind of input event (declared, internal) is ``used``
and every kind of output event (declared, internal, pending) ``wasGeneratedBy``; the kind is
kept as ``mltrail:event_type``, an event's path as ``mltrail:path`` (JSON text).
"""

from __future__ import annotations

import datetime
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from mltrail.errors import FailedPreconditionError
from mltrail.model import (
    INPUT_EVENT_TYPES,
    OUTPUT_EVENT_TYPES,
    Artifact,
    Context,
    Execution,
    ExecutionState,
    LineageGraph,
)

if TYPE_CHECKING:
    from prov.model import ProvDocument

#: The namespace of mltrail's identifiers and attributes.
NAMESPACE = "https://mltrail.dev/ns/prov#"
PREFIX = "mltrail"
#: States after which an execution has ended.
ENDED = {
    ExecutionState.COMPLETE,
    ExecutionState.FAILED,
    ExecutionState.CACHED,
    ExecutionState.CANCELED,
}


def _time(ms: int | None) -> datetime.datetime | None:
    if ms is None:
        return None
    return datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)


def _local(name: str) -> str:
    return quote(name, safe="-_.")


def _value(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return value


def _attributes(node: Artifact | Execution | Context) -> dict[str, Any]:
    out: dict[str, Any] = {f"{PREFIX}:id": node.id}
    if node.type is not None:
        out["prov:type"] = f"{PREFIX}:type/{_local(node.type)}"
    if node.name is not None:
        out["prov:label"] = node.name
    if node.external_id is not None:
        out[f"{PREFIX}:external_id"] = node.external_id
    for label, ms in (
        ("create_time", node.create_time_since_epoch),
        ("last_update_time", node.last_update_time_since_epoch),
    ):
        if ms is not None:
            out[f"{PREFIX}:{label}"] = _time(ms)
    slots = (("property", node.properties), ("custom_property", node.custom_properties))
    for slot, values in slots:
        for name, value in sorted(values.items()):
            out[f"{PREFIX}:{slot}/{_local(name)}"] = _value(value)
    return out


def to_prov(graph: LineageGraph) -> ProvDocument:
    """``graph`` as a PROV document (see the module's text for the mapping).

    Raises FailedPreconditionError when the ``prov`` library is not installed."""
    try:
        from prov.model import ProvDocument
    except ImportError:
        raise FailedPreconditionError(
            "a PROV export needs the prov library: pip install 'mltrail[prov]'"
        ) from None
    document = ProvDocument()
    document.add_namespace(PREFIX, NAMESPACE)

    def ref(kind: str, node_id: int | None) -> str:
        return f"{PREFIX}:{kind}/{node_id}"

    for artifact in graph.artifacts:
        attributes = _attributes(artifact)
        if artifact.uri:
            attributes["prov:location"] = artifact.uri
        if artifact.state is not None:
            attributes[f"{PREFIX}:state"] = artifact.state.name
        document.entity(ref("artifact", artifact.id), attributes)
    for execution in graph.executions:
        attributes = _attributes(execution)
        state = execution.last_known_state
        if state is not None:
            attributes[f"{PREFIX}:state"] = state.name
        ended = state in ENDED
        end = _time(execution.last_update_time_since_epoch) if ended else None
        document.activity(
            ref("execution", execution.id),
            _time(execution.create_time_since_epoch),
            end,
            attributes,
        )
    for context in graph.contexts:
        document.agent(ref("context", context.id), _attributes(context))
    shown = {("artifact", a.id) for a in graph.artifacts}
    shown |= {("execution", e.id) for e in graph.executions}
    shown |= {("context", c.id) for c in graph.contexts}
    for event in graph.events:
        if ("artifact", event.artifact_id) not in shown:
            continue
        if ("execution", event.execution_id) not in shown:
            continue
        entity = ref("artifact", event.artifact_id)
        activity = ref("execution", event.execution_id)
        when = _time(event.milliseconds_since_epoch)
        about = {f"{PREFIX}:event_type": event.type.name}
        if event.path:
            about[f"{PREFIX}:path"] = json.dumps(list(event.path))
        if event.type in INPUT_EVENT_TYPES:
            document.used(activity, entity, when, other_attributes=about)
        elif event.type in OUTPUT_EVENT_TYPES:
            document.wasGeneratedBy(entity, activity, when, other_attributes=about)
    for attribution in graph.attributions:
        if {("artifact", attribution.artifact_id), ("context", attribution.context_id)} <= shown:
            document.wasAttributedTo(
                ref("artifact", attribution.artifact_id), ref("context", attribution.context_id)
            )
    for association in graph.associations:
        if {("execution", association.execution_id), ("context", association.context_id)} <= shown:
            document.wasAssociatedWith(
                ref("execution", association.execution_id), ref("context", association.context_id)
            )
    for link in graph.parent_contexts:
        if {("context", link.child_id), ("context", link.parent_id)} <= shown:
            document.actedOnBehalfOf(ref("context", link.child_id), ref("context", link.parent_id))
    return document


def to_prov_json(graph: LineageGraph) -> str:
    """``graph`` as PROV-JSON text (see :func:`to_prov`)."""
    return str(to_prov(graph).serialize(format="json", indent=2))
