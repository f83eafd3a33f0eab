"""Two or more artifacts, or two or more executions, side by side: the compare page's model.

A pure function over nodes already read from the store. Rows are aligned by field, property
name and (for executions) event path; a row differs when its values are not all equal, value
and type (``1`` and ``1.0`` differ, as in :mod:`mltrail.query.compare`). Executions also get
their parameters (custom properties outside the ``mltrail.`` namespace tracking writes), their
inputs and outputs, the values of their Metrics artifacts and charts of their step series.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mltrail.model import INPUT_EVENT_TYPES, OUTPUT_EVENT_TYPES, Artifact, Event, Execution
from mltrail.query.compare import same
from mltrail.server.ui import _series
from mltrail.server.ui._lineage import artifact_label, execution_label, path_text

Node = Artifact | Execution

#: Fields compared, by kind: (attribute, row name, how it is shown).
FIELDS = {
    "artifact": (
        ("type", "type", "value"),
        ("name", "name", "value"),
        ("uri", "uri", "value"),
        ("state", "state", "value"),
        ("external_id", "external id", "value"),
        ("create_time_since_epoch", "created", "time"),
        ("last_update_time_since_epoch", "updated", "time"),
    ),
    "execution": (
        ("type", "type", "value"),
        ("name", "name", "value"),
        ("last_known_state", "state", "value"),
        ("external_id", "external id", "value"),
        ("create_time_since_epoch", "created", "time"),
        ("last_update_time_since_epoch", "updated", "time"),
    ),
}
#: The custom properties tracking writes for itself; the others of an execution are parameters.
INTERNAL = "mltrail."


def differs(values: Sequence[Any]) -> bool:
    return not same(values)


def _row(field: str, values: list[Any], shown: str = "value") -> dict[str, Any]:
    return {"field": field, "values": values, "differs": differs(values), "format": shown}


def _plain(value: Any) -> Any:
    return value.name if hasattr(value, "name") and hasattr(value, "value") else value


def _grouped(title: str, maps: Sequence[Mapping[str, Any]], shown: str = "value") -> dict[str, Any]:
    keys = sorted({key for values in maps for key in values})
    return {"title": title, "rows": [_row(k, [m.get(k) for m in maps], shown) for k in keys]}


def _ref(artifact: Artifact) -> dict[str, Any]:
    return {
        "kind": "artifact",
        "id": artifact.id,
        "type": artifact.type,
        "label": artifact_label(artifact),
    }


def _events_section(
    title: str,
    nodes: Sequence[Execution],
    events: Iterable[Event],
    artifacts: Mapping[int, Artifact],
    types: frozenset[Any],
) -> dict[str, Any]:
    """One row per event path; rows of one artifact type that no column has twice merge (runs
    that wrote their model to ``model-0.1.json`` and ``model-0.2.json`` share a row)."""
    column = {node.id: n for n, node in enumerate(nodes)}
    cells: dict[str, list[list[int]]] = {}
    for event in events:
        artifact = artifacts.get(event.artifact_id or 0)
        if event.type not in types or artifact is None or artifact.id is None:
            continue
        where = path_text(event.path) or f"({artifact.type})"
        ids = cells.setdefault(where, [[] for _ in nodes])[column[event.execution_id]]
        if artifact.id not in ids:
            ids.append(artifact.id)
    merged: list[tuple[list[str], list[list[int]]]] = []
    for where in sorted(cells):
        row = [sorted(cell) for cell in cells[where]]
        kinds = {artifacts[i].type for cell in row for i in cell}
        for paths, cells_before in merged:
            if (
                len(kinds) == 1
                and {artifacts[i].type for cell in cells_before for i in cell} == kinds
                and not any(a and b for a, b in zip(cells_before, row, strict=True))
            ):
                paths.append(where)
                cells_before[:] = [a or b for a, b in zip(cells_before, row, strict=True)]
                break
        else:
            merged.append(([where], row))
    rows = []
    for paths, found in merged:
        refs = [[_ref(artifacts[i]) for i in cell] or None for cell in found]
        field = ", ".join(paths)
        rows.append({"field": field, "values": refs, "differs": differs(found), "format": "refs"})
    return {"title": title, "rows": rows}


def _column(kind: str, node: Node) -> dict[str, Any]:
    label = artifact_label(node) if isinstance(node, Artifact) else execution_label(node)
    return {"kind": kind, "id": node.id, "type": node.type, "label": label}


def _charts(columns: Sequence[dict[str, Any]], per_node: Sequence[list[Artifact]]) -> list[Any]:
    """One chart per series and key, one line per node that has it."""
    lines: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for column, artifacts in zip(columns, per_node, strict=True):
        for series in _series.join_series(artifacts):
            for key, values in series["values"].items():
                label = column["label"]
                if label != f"{column['type']} #{column['id']}":
                    label = f"{label} (#{column['id']})"
                lines[(series["name"], key)].append((label, series["steps"], values))
    return [
        _series.chart(name if key == name else f"{name}: {key}", lines[(name, key)])
        for name, key in sorted(lines)
    ]


def _outputs(
    nodes: Sequence[Execution], events: Iterable[Event], artifacts: Mapping[int, Artifact]
) -> list[list[Artifact]]:
    """The artifacts each execution wrote, in event order."""
    written: dict[int, list[Artifact]] = defaultdict(list)
    for event in events:
        output = artifacts.get(event.artifact_id or 0)
        if event.type in OUTPUT_EVENT_TYPES and output is not None:
            made = written[event.execution_id or 0]
            if output not in made:
                made.append(output)
    return [written.get(node.id or 0, []) for node in nodes]


def _metrics(per_node: Sequence[list[Artifact]]) -> list[dict[str, Any]]:
    """Each node's Metrics values as ``name.key``."""
    found = []
    for made in per_node:
        values: dict[str, Any] = {}
        for entry in _series.metrics_values(made):
            values.update({f"{entry['name']}.{k}": v for k, v in entry["values"].items()})
        found.append(values)
    return found


def compare_nodes(
    kind: str,
    nodes: Sequence[Node],
    events: Iterable[Event] = (),
    artifacts: Mapping[int, Artifact] | None = None,
) -> dict[str, Any]:
    """The comparison of ``nodes`` (all of ``kind``, in the order asked). For executions,
    ``events`` are theirs and ``artifacts`` the artifacts those events name, by id; their
    sections start with what tells runs apart: parameters, metrics, inputs and outputs."""
    columns = [_column(kind, node) for node in nodes]
    fields = {
        "title": "Fields",
        "rows": [
            _row(name, [_plain(getattr(node, attribute)) for node in nodes], shown)
            for attribute, name, shown in FIELDS[kind]
        ],
    }
    properties = _grouped("Properties", [node.properties for node in nodes])
    custom = [node.custom_properties for node in nodes]
    if kind == "execution":
        runs = [node for node in nodes if isinstance(node, Execution)]
        found, events = artifacts or {}, list(events)
        per_node = _outputs(runs, events, found)
        sections = [
            _grouped(
                "Parameters",
                [{k: v for k, v in c.items() if not k.startswith(INTERNAL)} for c in custom],
            ),
            _grouped("Metrics", _metrics(per_node)),
            _events_section("Inputs", runs, events, found, INPUT_EVENT_TYPES),
            _events_section("Outputs", runs, events, found, OUTPUT_EVENT_TYPES),
            fields,
            properties,
            _grouped(
                "Custom properties",
                [{k: v for k, v in c.items() if k.startswith(INTERNAL)} for c in custom],
            ),
        ]
        series = [[a for a in made if _series.is_step_metrics(a)] for made in per_node]
    else:
        sections = [fields, properties, _grouped("Custom properties", custom)]
        series = [
            [node] if isinstance(node, Artifact) and _series.is_step_metrics(node) else []
            for node in nodes
        ]
    sections = [s for s in sections if s["rows"]]
    return {
        "kind": kind,
        "columns": columns,
        "sections": sections,
        "charts": _charts(columns, series) if any(series) else [],
        "differences": sum(1 for s in sections for row in s["rows"] if row["differs"]),
    }
