"""Execution metrics (typed, filterable) and step metrics (series stored for plotting)."""

from __future__ import annotations

import pytest

import mltrail as m
from mltrail.errors import InvalidArgumentError
from mltrail.tracking import Tracker


def test_execution_metrics_are_typed_custom_properties(
    tracker: Tracker, store: m.MetadataStore
) -> None:
    with tracker.stage("evaluate").execution() as run:
        metrics = run.log_metrics({"accuracy": 0.93, "errors": 7, "auc": float("nan")})
    [stored] = store.get_artifacts_by_type("Metrics")
    assert stored.id == metrics.id
    assert stored.properties == {"metrics_name": "metrics"}
    assert stored.custom_properties == {"accuracy": 0.93, "errors": 7, "auc": "nan"}
    assert type(stored.custom_properties["errors"]) is int
    found = store.get_artifacts(
        filter_query="type = 'Metrics' AND custom_properties.accuracy > 0.9"
    )
    assert [a.id for a in found] == [metrics.id]
    [event] = store.get_events_by_artifact_ids([metrics.id or 0])
    assert (event.execution_id, event.type, event.path) == (run.id, m.EventType.OUTPUT, ["metrics"])


def test_identical_metrics_are_one_artifact(tracker: Tracker, store: m.MetadataStore) -> None:
    for _ in range(2):
        with tracker.stage("evaluate").execution() as run:
            run.log_metrics({"accuracy": 0.5}, name="eval")
            run.log_metrics({"accuracy": 0.5}, name="eval")  # again in the same run: no new event
    with tracker.stage("evaluate").execution() as run:
        run.log_metrics({"accuracy": 0.6}, name="eval")
    metrics = store.get_artifacts_by_type("Metrics")
    assert len(metrics) == 2
    assert len(store.get_events_by_artifact_ids([metrics[0].id or 0])) == 2


def test_step_metrics_are_written_when_the_run_ends(
    tracker: Tracker, store: m.MetadataStore
) -> None:
    with tracker.stage("train").execution() as run:
        assert run.log_metric("loss", 0.9) == 0
        assert run.log_metric("loss", 0.5) == 1
        assert run.log_metric("loss", {"loss": 0.4, "acc": 0.8}, step=5) == 5
        run.log_metric("loss", 0.3)
        assert store.get_artifacts_by_type("StepMetrics") == []  # buffered until the end
    [series] = store.get_artifacts_by_type("StepMetrics")
    assert series.properties["metrics_name"] == "loss"
    assert series.properties["num_steps"] == 4
    assert series.properties["series"] == {
        "steps": [0, 1, 5, 6],
        "values": {"loss": [0.9, 0.5, 0.4, 0.3], "acc": [None, None, 0.8, None]},
    }
    assert series.custom_properties == {
        "loss_last": 0.3,
        "loss_min": 0.3,
        "loss_max": 0.9,
        "acc_last": 0.8,
        "acc_min": 0.8,
        "acc_max": 0.8,
    }
    assert [
        a.id for a in store.get_artifacts(filter_query="custom_properties.loss_min < 0.35")
    ] == [series.id]
    [event] = store.get_events_by_artifact_ids([series.id or 0])
    assert (event.execution_id, event.type) == (run.id, m.EventType.OUTPUT)


def test_non_finite_steps_are_gaps(tracker: Tracker, store: m.MetadataStore) -> None:
    with tracker.stage("train").execution() as run:
        run.log_metric("loss", 1.0)
        run.log_metric("loss", float("inf"))
    [series] = store.get_artifacts_by_type("StepMetrics")
    assert series.properties["series"] == {"steps": [0, 1], "values": {"loss": [1.0, None]}}


def test_commit_metrics_writes_now_and_starts_a_new_segment(
    tracker: Tracker, store: m.MetadataStore
) -> None:
    with tracker.stage("train").execution() as run:
        run.log_metric("loss", 0.9)
        run.log_metric("acc", 0.1)
        [committed] = run.commit_metrics("loss")
        assert [a.id for a in store.get_artifacts_by_type("StepMetrics")] == [committed.id]
        run.log_metric("loss", 0.8)
    segments: dict[int, m.Artifact] = {}
    for artifact in store.get_artifacts_by_type("StepMetrics"):
        series = artifact.properties["series"]
        if artifact.properties["metrics_name"] == "loss" and isinstance(series, dict):
            segments[series["steps"][0]] = artifact
    assert sorted(segments) == [0, 1]
    assert segments[1].properties["series"] == {"steps": [1], "values": {"loss": [0.8]}}
    names = sorted(
        str(a.properties["metrics_name"]) for a in store.get_artifacts_by_type("StepMetrics")
    )
    assert names == ["acc", "loss", "loss"]


def test_step_metrics_of_a_failed_run_are_kept(tracker: Tracker, store: m.MetadataStore) -> None:
    with pytest.raises(RuntimeError), tracker.stage("train").execution() as run:
        run.log_metric("loss", 2.0)
        raise RuntimeError("diverged")
    [series] = store.get_artifacts_by_type("StepMetrics")
    assert store.get_events_by_artifact_ids([series.id or 0])[0].execution_id == run.id


def test_identical_series_are_one_artifact(tracker: Tracker, store: m.MetadataStore) -> None:
    for _ in range(2):
        with tracker.stage("train").execution() as run:
            for loss in (0.5, 0.4):
                run.log_metric("loss", loss)
    [series] = store.get_artifacts_by_type("StepMetrics")
    assert len(store.get_events_by_artifact_ids([series.id or 0])) == 2


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda run: run.log_metric("loss", "high"), "number"),
        (lambda run: run.log_metric("loss", 1.0, step=1.5), "step"),
        (lambda run: run.log_metric("loss", {}), "at least one"),
        (lambda run: run.log_metric("", 1.0), "name"),
        (lambda run: run.commit_metrics("never-logged"), "never-logged"),
        (lambda run: run.log_metrics({"a": [1]}), "number"),
    ],
)
def test_bad_metrics_are_refused(tracker: Tracker, call: object, message: str) -> None:
    with tracker.stage("s").execution() as run, pytest.raises(InvalidArgumentError, match=message):
        call(run)  # type: ignore[operator]
