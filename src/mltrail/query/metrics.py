"""The metrics of a run as the Tracker records them (docs/tracking-tutorial.md, "Metrics").

A ``Metrics`` artifact holds named values (its custom properties; ``properties.metrics_name``
names the set). A ``StepMetrics`` artifact holds steps of a series: ``properties.series =
{"steps": [...], "values": {key: [...]}}``, the values aligned on the steps, None for a gap. A
series committed in parts is several StepMetrics artifacts of one ``metrics_name``; joined, its
steps are in step order (a step logged in two parts keeps both values, the earlier part first).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mltrail.model import OUTPUT_EVENT_TYPES, Artifact, PropertyValue

if TYPE_CHECKING:
    from mltrail.store import MetadataStore

METRICS = "Metrics"
STEP_METRICS = "StepMetrics"

Number = int | float


@dataclass(frozen=True)
class MetricValues:
    """One Metrics artifact: its name (``metrics_name``) and its values."""

    name: str
    artifact_id: int
    values: dict[str, PropertyValue]


@dataclass(frozen=True)
class StepSeries:
    """One key of a step series, its parts joined: ``steps`` and ``values`` aligned (None is a
    gap: nothing logged for the key at that step, or a NaN or an infinity)."""

    name: str
    key: str
    steps: list[int]
    values: list[Number | None]
    artifact_ids: list[int]

    @property
    def label(self) -> str:
        """The key, prefixed with the series' name when they differ (``train/loss``)."""
        return self.key if self.key == self.name else f"{self.name}/{self.key}"

    def _present(self) -> list[Number]:
        return [v for v in self.values if v is not None]

    @property
    def first(self) -> Number | None:
        present = self._present()
        return present[0] if present else None

    @property
    def last(self) -> Number | None:
        present = self._present()
        return present[-1] if present else None

    @property
    def min(self) -> Number | None:
        return min(self._present(), default=None)

    @property
    def max(self) -> Number | None:
        return max(self._present(), default=None)


@dataclass(frozen=True)
class RunMetrics:
    """The Metrics and StepMetrics an execution output, by name (series by label)."""

    execution_id: int
    metrics: list[MetricValues]
    series: list[StepSeries]


def _number(value: Any) -> Number | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if not isinstance(value, float) or math.isfinite(value) else None


def _name(artifact: Artifact) -> str:
    name = artifact.properties.get("metrics_name")
    return name if isinstance(name, str) and name else artifact.name or f"artifact {artifact.id}"


def join_series(artifacts: Iterable[Artifact]) -> list[StepSeries]:
    """The series of StepMetrics ``artifacts``: parts of one name joined in step order (parts
    in the order given, which breaks ties), one entry per key, sorted by label."""
    points: dict[tuple[str, str], list[tuple[int, int, Number | None]]] = {}
    parts: dict[tuple[str, str], list[int]] = {}
    for order, artifact in enumerate(artifacts):
        series = artifact.properties.get("series")
        if not isinstance(series, dict):
            continue
        steps, values = series.get("steps"), series.get("values")
        if not isinstance(steps, list) or not isinstance(values, dict):
            continue
        name = _name(artifact)
        for key, column in values.items():
            if not isinstance(column, list):
                continue
            wanted = (name, str(key))
            for step, value in zip(steps, column):
                if isinstance(step, int) and not isinstance(step, bool):
                    points.setdefault(wanted, []).append((step, order, _number(value)))
            if artifact.id is not None and artifact.id not in parts.setdefault(wanted, []):
                parts[wanted].append(artifact.id)
    out = []
    for (name, key), found in points.items():
        found.sort(key=lambda p: (p[0], p[1]))
        out.append(
            StepSeries(
                name=name,
                key=key,
                steps=[p[0] for p in found],
                values=[p[2] for p in found],
                artifact_ids=parts.get((name, key), []),
            )
        )
    return sorted(out, key=lambda s: s.label)


def metric_values(artifacts: Iterable[Artifact]) -> list[MetricValues]:
    """The values of Metrics ``artifacts``, by name (then id)."""
    found = [
        MetricValues(_name(a), a.id, dict(sorted(a.custom_properties.items())))
        for a in artifacts
        if a.id is not None
    ]
    return sorted(found, key=lambda m: (m.name, m.artifact_id))


def run_metrics(store: MetadataStore, execution_id: int) -> RunMetrics:
    """The metrics execution ``execution_id`` output, read in one call (on a server, one
    request): the artifacts of both types with an output event of the execution."""
    outputs = ", ".join(sorted(t.name for t in OUTPUT_EVENT_TYPES))
    query = (
        f"events_o.execution_id = {int(execution_id)} AND events_o.type IN ({outputs}) "
        f"AND type IN ('{METRICS}', '{STEP_METRICS}')"
    )
    artifacts = store.get_artifacts(filter_query=query, order_by="id")
    return RunMetrics(
        execution_id=int(execution_id),
        metrics=metric_values(a for a in artifacts if a.type == METRICS),
        series=join_series(a for a in artifacts if a.type == STEP_METRICS),
    )
