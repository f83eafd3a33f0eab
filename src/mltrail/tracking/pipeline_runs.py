"""The runs of a pipeline side by side: each execution's parameters and the metrics it output.

This reads what :class:`~mltrail.tracking.Tracker` records: a pipeline context whose child
contexts are its stages (``<pipeline>/<stage>``), executions associated with a stage carrying
their parameters as custom properties (keys starting ``mltrail.`` are its bookkeeping, not
parameters), and ``Metrics`` / ``StepMetrics`` artifacts output by the executions.

Metric names (the keys of :attr:`PipelineRun.metrics`):

- a ``Metrics`` artifact's values by their key (``accuracy``) when it has the default name
  ``metrics``, else ``<name>.<key>`` (``eval.accuracy`` for ``log_metrics(..., name="eval")``);
- a step series' last value as ``<key>_last`` when the key is the series' name
  (``log_metric("loss", v)`` gives ``loss_last``), else ``<series>.<key>_last``: the names of the
  custom properties the filter language sees (``custom_properties.loss_last``).

When two artifacts of one execution give the same name, the one output later wins.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mltrail.errors import InvalidArgumentError, NotFoundError
from mltrail.model import (
    OUTPUT_EVENT_TYPES,
    Artifact,
    Context,
    Execution,
    ExecutionState,
    PropertyValue,
)
from mltrail.store import MetadataStore
from mltrail.tracking import _schema as S
from mltrail.tracking._values import RESERVED_PREFIX

#: The name ``log_metrics`` gives a Metrics artifact unless told otherwise.
DEFAULT_METRICS_NAME = "metrics"
#: Columns every run has, besides its parameters and metrics (see :func:`sort_runs`).
FIXED_COLUMNS = ("id", "stage", "state", "started", "duration")
_ENDED = {
    ExecutionState.COMPLETE,
    ExecutionState.FAILED,
    ExecutionState.CACHED,
    ExecutionState.CANCELED,
}


@dataclass(frozen=True)
class PipelineRun:
    """One execution of a pipeline: its stage, parameters, metrics and times (ms since the
    epoch; ``end_time`` is None while it runs)."""

    execution: Execution
    stage: str
    parameters: dict[str, PropertyValue] = field(default_factory=dict)
    metrics: dict[str, PropertyValue] = field(default_factory=dict)
    start_time: int | None = None
    end_time: int | None = None

    @property
    def id(self) -> int:
        return self.execution.id or 0

    @property
    def duration_ms(self) -> int | None:
        if self.start_time is None or self.end_time is None:
            return None
        return max(0, self.end_time - self.start_time)

    def value(self, column: str) -> Any:
        """The value of ``column``: a fixed column, else a parameter, else a metric (None when
        the run has none)."""
        fixed = {
            "id": self.id,
            "stage": self.stage,
            "state": self.execution.last_known_state,
            "started": self.start_time,
            "duration": self.duration_ms,
        }
        if column in fixed:
            return fixed[column]
        if column in self.parameters:
            return self.parameters[column]
        return self.metrics.get(column)


def pipeline_runs(
    store: MetadataStore, pipeline: Context | int | str, *, stage: str | None = None
) -> list[PipelineRun]:
    """Every execution of ``pipeline`` (or of its one stage named ``stage``), newest first,
    with its parameters and metrics.

    ``pipeline``: a context, its id, or the name of a ``Pipeline`` context. A context without
    child contexts is read as one stage (its own executions). An execution associated with the
    pipeline itself, or only with a context below a stage, is a run whose stage is ``""``;
    ``stage`` keeps the runs associated with that stage. Reads: the stages (one call) and the
    DAG of the pipeline or the stage (one call: its executions, the artifacts they read and
    output and the events between them), whatever the number of runs.
    """
    context = _pipeline(store, pipeline)
    stages = _stages(store, context, stage)
    # A stage's runs are the executions associated with it (those of contexts below it are
    # the pipeline's runs without a stage, as in the listing of every run).
    root = context if stage is None else stages[0][1]
    dag = store.get_context_dag(root.id or 0, include_child_contexts=stage is None)
    stage_of = {c.id: name for name, c in stages}
    in_stage: dict[int, str] = {}
    for link in sorted(dag.associations, key=lambda a: (a.execution_id, a.context_id)):
        name = stage_of.get(link.context_id)
        if name is not None:
            in_stage.setdefault(link.execution_id, name)
    artifacts = {a.id: a for a in dag.artifacts if _is_metrics(a)}
    metrics: dict[int, dict[str, PropertyValue]] = {}
    for event in dag.events:  # in the order they were recorded
        artifact = artifacts.get(event.artifact_id)
        if artifact is not None and event.type in OUTPUT_EVENT_TYPES:
            metrics.setdefault(event.execution_id or 0, {}).update(metric_values(artifact))
    runs = [
        _run(in_stage.get(e.id or 0, ""), e, metrics.get(e.id or 0, {})) for e in dag.executions
    ]
    runs.sort(key=lambda r: r.id, reverse=True)
    return runs


def metric_values(artifact: Artifact) -> dict[str, PropertyValue]:
    """The metrics of one ``Metrics`` or ``StepMetrics`` artifact, named as the module says."""
    name = artifact.properties.get("metrics_name")
    if artifact.type == S.STEP_METRICS:
        series = artifact.properties.get("series")
        keys = list(series.get("values", {})) if isinstance(series, dict) else []
        found: dict[str, PropertyValue] = {}
        for key in keys:
            last = artifact.custom_properties.get(f"{key}_last")
            if last is not None:
                found[f"{key}_last" if key == name or not name else f"{name}.{key}_last"] = last
        return found
    prefix = "" if name in (None, "", DEFAULT_METRICS_NAME) else f"{name}."
    return {
        f"{prefix}{key}": value
        for key, value in artifact.custom_properties.items()
        if not key.startswith(RESERVED_PREFIX)
    }


def sort_runs(
    runs: Sequence[PipelineRun], column: str, *, ascending: bool = False
) -> list[PipelineRun]:
    """``runs`` ordered by ``column`` (a fixed column, a parameter or a metric): numbers by
    value, then other values as text, runs without the value last in either direction; ties
    keep their order. InvalidArgumentError when there are runs and none has the column."""
    if (
        runs
        and column not in FIXED_COLUMNS
        and not any(column in r.parameters or column in r.metrics for r in runs)
    ):
        known = sorted({k for r in runs for k in (*r.parameters, *r.metrics)})
        raise InvalidArgumentError(
            f"no run has a column {column!r}; sort by one of " + ", ".join([*FIXED_COLUMNS, *known])
        )
    numbers, texts, missing = [], [], []
    for run in runs:
        value = run.value(column)
        if value is None:
            missing.append(run)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            if isinstance(value, float) and math.isnan(value):
                missing.append(run)
            else:
                numbers.append((value, run))
        else:
            texts.append((str(value), run))
    numbers.sort(key=lambda pair: pair[0], reverse=not ascending)
    texts.sort(key=lambda pair: pair[0], reverse=not ascending)
    return [r for _, r in numbers] + [r for _, r in texts] + missing


# -------------------------------------------------------------------------------- helpers


def _pipeline(store: MetadataStore, pipeline: Context | int | str) -> Context:
    if isinstance(pipeline, Context):
        return pipeline
    if isinstance(pipeline, int) and not isinstance(pipeline, bool):
        found = store.get_contexts_by_id([pipeline])
        if not found:
            raise NotFoundError(f"no context with id {pipeline}")
        return found[0]
    if isinstance(pipeline, str):
        context = store.get_context_by_type_and_name(S.PIPELINE, pipeline)
        if context is None:
            raise NotFoundError(f"no pipeline named {pipeline!r}")
        return context
    raise InvalidArgumentError(
        f"pipeline must be a Context, an id or a name, got {type(pipeline).__name__}"
    )


def _stages(
    store: MetadataStore, pipeline: Context, stage: str | None
) -> list[tuple[str, Context]]:
    children = store.get_children_contexts_by_context(pipeline.id or 0)
    named = [(_stage_name(pipeline, child), child) for child in children]
    if not named:
        named = [(_stage_name(None, pipeline), pipeline)]
    if stage is None:
        return named
    chosen = [(name, c) for name, c in named if stage in (name, c.name)]
    if not chosen:
        choices = ", ".join(sorted(name for name, _ in named)) or "none"
        raise NotFoundError(
            f"pipeline {pipeline.name!r} has no stage {stage!r}; its stages: {choices}"
        )
    return chosen[:1]  # the first stage of that name (one DAG is read)


def _stage_name(pipeline: Context | None, context: Context) -> str:
    given = context.properties.get("stage")
    if isinstance(given, str) and given:
        return given
    name = context.name or ""
    if pipeline is not None and pipeline.name and name.startswith(pipeline.name + "/"):
        return name[len(pipeline.name) + 1 :]
    return name


def _is_metrics(artifact: Artifact) -> bool:
    return artifact.type in (S.METRICS, S.STEP_METRICS)


def _run(stage: str, execution: Execution, metrics: dict[str, PropertyValue]) -> PipelineRun:
    parameters = {
        key: value
        for key, value in execution.custom_properties.items()
        if not key.startswith(RESERVED_PREFIX)
    }
    start = _ms(execution.properties.get("start_time")) or execution.create_time_since_epoch
    end = _ms(execution.properties.get("end_time"))
    if end is None and execution.last_known_state in _ENDED:
        end = execution.last_update_time_since_epoch
    return PipelineRun(execution, stage, parameters, metrics, start, end)


def _ms(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
