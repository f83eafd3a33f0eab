"""A pipeline's runs side by side: parameters, metrics and times of each execution, read in a
few calls whatever the number of runs."""

from __future__ import annotations

from typing import Any

import pytest

import mltrail as m
from mltrail.errors import InvalidArgumentError, NotFoundError
from mltrail.tracking import PipelineRun, Tracker, pipeline_runs, sort_runs


class Counting:
    """A store whose method calls are counted by name."""

    def __init__(self, store: m.MetadataStore) -> None:
        self.store = store
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.store, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return method(*args, **kwargs)

        return counted


def log(tracker: Tracker) -> None:
    """A prepare run, then two train runs (lr 0.1, 0.3) each with metrics and a loss series."""
    with tracker.stage("prepare").execution(parameters={"threshold": 0.5}):
        pass
    for lr in (0.1, 0.3):
        with tracker.stage("train").execution(parameters={"lr": lr, "epochs": 3}) as run:
            for epoch in range(3):
                run.log_metric("loss", 1.0 / (epoch + 1 + lr))
            run.log_metric("curve", {"tp": 1, "fp": 2})
            run.log_metrics({"accuracy": 0.5 + lr})
            run.log_metrics({"accuracy": lr}, name="eval")


def test_every_run_with_its_parameters_and_metrics_newest_first(
    tracker: Tracker, store: m.MetadataStore
) -> None:
    log(tracker)
    runs = pipeline_runs(store, "demo")
    assert [(r.stage, r.parameters) for r in runs] == [
        ("train", {"epochs": 3, "lr": 0.3}),
        ("train", {"epochs": 3, "lr": 0.1}),
        ("prepare", {"threshold": 0.5}),
    ]
    assert [r.id for r in runs] == sorted((r.id for r in runs), reverse=True)
    assert runs[0].metrics == {
        "accuracy": 0.8,
        "eval.accuracy": 0.3,
        "loss_last": pytest.approx(1.0 / 3.3),
        "curve.tp_last": 1,
        "curve.fp_last": 2,
    }
    assert runs[2].metrics == {}
    for run in runs:
        assert run.execution.last_known_state == m.ExecutionState.COMPLETE
        assert run.start_time == run.execution.properties["start_time"]
        assert run.end_time == run.execution.properties["end_time"]
        assert run.duration_ms is not None and run.duration_ms >= 0


def test_a_pipeline_is_read_in_a_few_calls_whatever_its_runs(
    tracker: Tracker, store: m.MetadataStore
) -> None:
    log(tracker)
    log(tracker)
    counting = Counting(store)
    runs = pipeline_runs(counting, tracker.context.id)  # type: ignore[arg-type]
    assert len(runs) == 6
    assert counting.calls == [
        "get_contexts_by_id",
        "get_children_contexts_by_context",
        "get_context_dag",  # not one call per stage
    ]
    counting.calls.clear()
    assert len(pipeline_runs(counting, tracker.context, stage="train")) == 4  # type: ignore[arg-type]
    assert counting.calls == ["get_children_contexts_by_context", "get_context_dag"]


def test_runs_outside_the_stages_are_listed_without_a_stage(
    tracker: Tracker, store: m.MetadataStore
) -> None:
    """An execution associated with the pipeline itself, or only with a context below a
    stage, is one of the pipeline's runs too, without a stage."""
    log(tracker)
    step = store.put_execution_type(m.ExecutionType(name="Manual"))
    pipeline = tracker.context
    [train] = [c for c in store.get_contexts_by_type("Stage") if c.name == "demo/train"]
    below = m.Context(type_id=store.put_context_type(m.ContextType(name="Trial")), name="t1")
    [below.id] = store.put_contexts([below])
    store.put_parent_contexts([m.ParentContext(child_id=below.id, parent_id=train.id or 0)])
    loose = m.Execution(type_id=step, custom_properties={"by": "hand"})
    nested = m.Execution(type_id=step, custom_properties={"trial": 1})
    [loose.id] = store.put_executions([loose])
    [nested.id] = store.put_executions([nested])
    store.put_attributions_and_associations(
        [],
        [
            m.Association(execution_id=loose.id, context_id=pipeline.id or 0),
            m.Association(execution_id=nested.id, context_id=below.id),
        ],
    )
    runs = {r.id: r for r in pipeline_runs(store, "demo")}
    assert len(runs) == 5
    assert (runs[loose.id].stage, runs[loose.id].parameters) == ("", {"by": "hand"})
    assert (runs[nested.id].stage, runs[nested.id].parameters) == ("", {"trial": 1})
    trained = {r.id: r.stage for r in pipeline_runs(store, "demo", stage="train")}
    assert trained == {i: "train" for i, r in runs.items() if r.stage == "train"}
    assert len(trained) == 2


def test_one_stage_and_unknown_stages(tracker: Tracker, store: m.MetadataStore) -> None:
    log(tracker)
    trained = pipeline_runs(store, tracker.context, stage="train")
    assert [r.stage for r in trained] == ["train", "train"]
    assert [r.id for r in pipeline_runs(store, "demo", stage="demo/train")] == [
        r.id for r in trained
    ]
    with pytest.raises(NotFoundError, match=r"no stage 'evaluate'; its stages: prepare, train"):
        pipeline_runs(store, "demo", stage="evaluate")
    with pytest.raises(NotFoundError, match="no pipeline named 'nope'"):
        pipeline_runs(store, "nope")
    with pytest.raises(NotFoundError, match="no context with id 999"):
        pipeline_runs(store, 999)


def test_a_context_without_stages_is_read_as_one_stage(
    tracker: Tracker, store: m.MetadataStore
) -> None:
    log(tracker)
    [stage] = [c for c in store.get_contexts_by_type("Stage") if c.name == "demo/prepare"]
    [run] = pipeline_runs(store, stage)
    assert (run.stage, run.parameters) == ("prepare", {"threshold": 0.5})


def test_a_running_execution_has_no_end_yet(tracker: Tracker, store: m.MetadataStore) -> None:
    run = tracker.stage("train").execution(parameters={"lr": 1})
    try:
        [listed] = pipeline_runs(store, "demo")
        assert listed.execution.last_known_state == m.ExecutionState.RUNNING
        assert listed.start_time is not None
        assert (listed.end_time, listed.duration_ms) == (None, None)
    finally:
        run.end()


def made(ident: int, **values: Any) -> PipelineRun:
    execution = m.Execution(type="train", id=ident)
    return PipelineRun(execution, "train", parameters={"p": ident}, metrics=values)


def test_runs_sort_numerically_with_missing_values_last() -> None:
    runs = [
        made(1, acc=0.5),
        made(2, acc=10),
        made(3),
        made(4, acc=2.0),
        made(5, acc="n/a"),
        made(6, acc=float("nan")),
    ]
    assert [r.id for r in sort_runs(runs, "acc")] == [2, 4, 1, 5, 3, 6]
    assert [r.id for r in sort_runs(runs, "acc", ascending=True)] == [1, 4, 2, 5, 3, 6]
    assert [r.id for r in sort_runs(runs, "p", ascending=True)] == [1, 2, 3, 4, 5, 6]
    assert [r.id for r in sort_runs(runs, "id")] == [6, 5, 4, 3, 2, 1]
    with pytest.raises(InvalidArgumentError, match=r"no run has a column 'los'; .* acc, p"):
        sort_runs(runs, "los")
    assert sort_runs([], "los") == []
