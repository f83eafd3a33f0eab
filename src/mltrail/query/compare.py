"""Nodes side by side: two or more artifacts, or two or more executions, field by field.

A comparison aligns the nodes' fields, then their properties and custom properties (the union
of the keys, in key order). Executions also line up their inputs and outputs, keyed by the
event's path (the path or metrics name the Tracker logged them under; else the artifact's name,
uri or type), each valued by the artifact's identity: its external id (a content digest where
artifacts are tracked by content), else its uri, else ``artifact <id>``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mltrail.model import INPUT_EVENT_TYPES, OUTPUT_EVENT_TYPES, Artifact, Event, Execution

ARTIFACT_FIELDS = ("type", "name", "uri", "state", "external_id", "create_time_since_epoch")
EXECUTION_FIELDS = ("type", "name", "last_known_state", "external_id", "create_time_since_epoch")


def same(values: Sequence[Any]) -> bool:
    """Whether every value equals the first, of the same type (1 and 1.0, True and 1 differ):
    the rule every comparison of mltrail marks differences by."""
    first = values[0] if values else None
    return all(v == first and type(v) is type(first) for v in values[1:])


@dataclass(frozen=True)
class ComparedField:
    """One field across the compared nodes: ``field`` is e.g. "uri", "properties.rows",
    "custom_properties.lr", "inputs.data/train.csv"; ``values`` holds one value per node, in
    the order of the nodes (None where a node lacks it)."""

    field: str
    values: list[Any]

    @property
    def differs(self) -> bool:
        return not same(self.values)


@dataclass(frozen=True)
class Comparison:
    """Nodes of one kind (``"artifact"`` or ``"execution"``) side by side; ``differences``
    keeps the fields whose values differ."""

    kind: str
    nodes: list[Artifact | Execution]
    fields: list[ComparedField]

    @property
    def differences(self) -> list[ComparedField]:
        return [row for row in self.fields if row.differs]

    def __str__(self) -> str:
        width = max((len(r.field) for r in self.fields), default=5)
        heads = "  |  ".join(f"{self.kind} {node.id}" for node in self.nodes)
        lines = [f"{'field':<{width}}  {heads}"]
        for row in self.fields:
            mark = "*" if row.differs else " "
            cells = "  |  ".join(_show(value) for value in row.values)
            lines.append(f"{row.field:<{width}} {mark}{cells}")
        return "\n".join(lines)


def compare_nodes(
    kind: str,
    nodes: Sequence[Artifact | Execution],
    events: Sequence[Event] = (),
    artifacts: Mapping[int, Artifact] | None = None,
) -> Comparison:
    """``nodes`` (all artifacts or all executions, as ``kind`` says) side by side. For
    executions, ``events`` are their events and ``artifacts`` the artifacts those name, by id."""
    names = ARTIFACT_FIELDS if kind == "artifact" else EXECUTION_FIELDS
    rows = [ComparedField(name, [getattr(n, name) for n in nodes]) for name in names]
    for group in ("properties", "custom_properties"):
        maps = [getattr(n, group) for n in nodes]
        for key in sorted(set().union(*maps)):
            rows.append(ComparedField(f"{group}.{key}", [m.get(key) for m in maps]))
    if kind == "execution":
        known = artifacts or {}
        for group, types in (("inputs", INPUT_EVENT_TYPES), ("outputs", OUTPUT_EVENT_TYPES)):
            sides = [_linked(n.id, events, types, known) for n in nodes]
            for key in sorted(set().union(*sides)):
                rows.append(ComparedField(f"{group}.{key}", [side.get(key) for side in sides]))
    return Comparison(kind=kind, nodes=list(nodes), fields=rows)


def _linked(
    execution_id: int | None,
    events: Sequence[Event],
    types: frozenset[Any],
    artifacts: Mapping[int, Artifact],
) -> dict[str, str]:
    """An execution's inputs (or outputs) by key, valued by identity; a key met again within
    the execution gets ``#2``, ``#3``... in the order of the events."""
    found: dict[str, str] = {}
    mine = [e for e in events if e.execution_id == execution_id and e.type in types]
    mine.sort(key=lambda e: (e.milliseconds_since_epoch or 0, e.artifact_id or 0))
    for event in mine:
        artifact = artifacts.get(event.artifact_id or 0)
        base = _key(event, artifact)
        key, count = base, 1
        while key in found:
            count += 1
            key = f"{base}#{count}"
        found[key] = identity(artifact) if artifact is not None else f"artifact {event.artifact_id}"
    return found


def _key(event: Event, artifact: Artifact | None) -> str:
    if event.path:
        return "/".join(str(step) for step in event.path)
    if artifact is not None:
        return artifact.name or artifact.uri or str(artifact.type or f"artifact {artifact.id}")
    return f"artifact {event.artifact_id}"


def identity(artifact: Artifact) -> str:
    """How an artifact is told apart: its external id, else its uri, else ``artifact <id>``."""
    return artifact.external_id or artifact.uri or f"artifact {artifact.id}"


def _show(value: Any) -> str:
    if value is None:
        return "—"
    text = getattr(value, "name", None) if hasattr(value, "value") else None
    return str(text if text is not None else value)


# -------------------------------------------------------------------------------- two artifacts


@dataclass(frozen=True)
class ComparisonRow:
    """One compared field of two artifacts: ``field`` is e.g. "uri", "properties.rows" or
    "custom_properties.x"; a value missing on one side is None."""

    field: str
    left: Any
    right: Any

    @property
    def differs(self) -> bool:
        return not same([self.left, self.right])


@dataclass(frozen=True)
class ArtifactComparison:
    """The fields and properties of two artifacts, aligned; ``differences`` keeps what differs."""

    left: Artifact
    right: Artifact
    rows: list[ComparisonRow]

    @property
    def differences(self) -> list[ComparisonRow]:
        return [row for row in self.rows if row.differs]

    def __str__(self) -> str:
        width = max((len(r.field) for r in self.rows), default=5)
        lines = [f"{'field':<{width}}  artifact {self.left.id}  |  artifact {self.right.id}"]
        for row in self.rows:
            mark = "*" if row.differs else " "
            lines.append(f"{row.field:<{width}} {mark}{_show(row.left)}  |  {_show(row.right)}")
        return "\n".join(lines)


def compare(left: Artifact, right: Artifact) -> ArtifactComparison:
    """Two artifacts side by side (:func:`compare_nodes` for two, as left and right)."""
    found = compare_nodes("artifact", [left, right])
    rows = [ComparisonRow(row.field, *row.values) for row in found.fields]
    return ArtifactComparison(left=left, right=right, rows=rows)
