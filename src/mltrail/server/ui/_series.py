"""Metric values of executions as the charts and tables of the UI draw them.

A tracked run writes its step series as ``StepMetrics`` artifacts (``properties.series`` =
``{"steps": [...], "values": {key: [...]}}``, one artifact per commit) and its final values as
``Metrics`` artifacts (the values are custom properties); see docs/tracking-tutorial.md. The
StepMetrics artifacts of one series (one ``metrics_name``) join in step order into one series.
Anything that is not a finite number is a gap (``None``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from mltrail.model import Artifact
from mltrail.tracking._schema import METRICS, STEP_METRICS

Number = int | float


def _number(value: Any) -> Number | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if isinstance(value, int) or math.isfinite(value) else None


def _chunk(artifact: Artifact) -> tuple[list[int], dict[str, list[Number | None]]] | None:
    """The steps and columns an artifact carries, or None when it carries no readable series."""
    series = artifact.properties.get("series")
    if not isinstance(series, dict):
        return None
    steps, values = series.get("steps"), series.get("values")
    if not isinstance(steps, list) or not isinstance(values, dict):
        return None
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in steps):
        return None
    columns: dict[str, list[Number | None]] = {}
    for key, column in values.items():
        column = column if isinstance(column, list) else []
        cells = [_number(v) for v in column[: len(steps)]]
        columns[str(key)] = cells + [None] * (len(steps) - len(cells))
    return steps, columns


def series_name(artifact: Artifact) -> str:
    name = artifact.properties.get("metrics_name")
    return (
        name
        if isinstance(name, str) and name
        else artifact.name or f"{artifact.type} #{artifact.id}"
    )


def is_step_metrics(artifact: Artifact) -> bool:
    return artifact.type == STEP_METRICS or _chunk(artifact) is not None


def join_series(artifacts: Iterable[Artifact]) -> list[dict[str, Any]]:
    """The step series of some StepMetrics artifacts, one per ``metrics_name``, by name: each
    ``{"name", "artifacts", "steps", "values": {key: [...]}}`` with its chunks joined in step
    order (a key missing from a chunk is a gap over that chunk's steps)."""
    chunks: dict[str, list[tuple[Artifact, list[int], dict[str, list[Number | None]]]]]
    chunks = defaultdict(list)
    for artifact in artifacts:
        read = _chunk(artifact)
        if read is not None:
            chunks[series_name(artifact)].append((artifact, *read))
    joined = []
    for name in sorted(chunks):
        parts = sorted(chunks[name], key=lambda c: (c[1][0] if c[1] else 0, c[0].id or 0))
        keys = sorted({key for _, _, columns in parts for key in columns})
        rows: list[tuple[int, int, dict[str, Number | None]]] = []
        for order, (_, steps, columns) in enumerate(parts):
            for i, step in enumerate(steps):
                rows.append((step, order, {k: columns[k][i] for k in columns}))
        rows.sort(key=lambda r: (r[0], r[1]))
        joined.append(
            {
                "name": name,
                "artifacts": [artifact.id for artifact, _, _ in parts],
                "steps": [step for step, _, _ in rows],
                "values": {key: [cells.get(key) for _, _, cells in rows] for key in keys},
            }
        )
    return joined


def summary(series: dict[str, Any]) -> list[dict[str, Any]]:
    """Per key of a joined series: how many values, the first/last step, last, min and max."""
    rows = []
    for key, column in series["values"].items():
        present = [(s, v) for s, v in zip(series["steps"], column, strict=True) if v is not None]
        values = [v for _, v in present]
        rows.append(
            {
                "key": key,
                "count": len(values),
                "gaps": len(column) - len(values),
                "last_step": present[-1][0] if present else None,
                "last": values[-1] if values else None,
                "min": min(values) if values else None,
                "max": max(values) if values else None,
            }
        )
    return rows


def metrics_values(artifacts: Iterable[Artifact]) -> list[dict[str, Any]]:
    """The Metrics artifacts' values (their custom properties), oldest first."""
    found = [a for a in artifacts if a.type == METRICS]
    found.sort(key=lambda a: a.id or 0)
    return [
        {
            "name": series_name(a),
            "artifact": a.id,
            "values": dict(sorted(a.custom_properties.items())),
        }
        for a in found
    ]


def chart(
    title: str, lines: Iterable[tuple[str, list[int], list[Number | None]]]
) -> dict[str, Any]:
    """A chart of the UI: a title and lines of (label, steps, values); x is the step."""
    return {
        "title": title,
        "lines": [
            {"label": label, "steps": steps, "values": values} for label, steps, values in lines
        ],
    }
