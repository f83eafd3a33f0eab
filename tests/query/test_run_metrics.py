"""A run's metrics read back (mltrail.query.metrics): Metrics values, and StepMetrics series
committed in parts joined in step order, gaps kept."""

from __future__ import annotations

import math
from pathlib import Path

import mltrail as m
from mltrail.query.metrics import StepSeries, join_series, metric_values, run_metrics


def step_artifact(
    i: int, name: str, steps: list[int], values: dict[str, list[object]]
) -> m.Artifact:
    series = {"steps": steps, "values": values}
    return m.Artifact(id=i, type="StepMetrics", properties={"metrics_name": name, "series": series})


def test_parts_are_joined_in_step_order() -> None:
    parts = [
        step_artifact(7, "train", [3, 4], {"loss": [0.3, 0.2], "acc": [0.8, None]}),
        step_artifact(5, "train", [0, 1, 2], {"loss": [0.9, None, 0.5]}),
        step_artifact(9, "val", [0], {"val": [1]}),
        step_artifact(11, "train", [4], {"loss": [0.25]}),  # step 4 again, a later part
        m.Artifact(id=12, type="StepMetrics", properties={"series": "not a series"}),
    ]
    joined = {s.label: s for s in join_series(parts)}
    assert list(joined) == ["train/acc", "train/loss", "val"]
    loss = joined["train/loss"]
    assert (loss.name, loss.key) == ("train", "loss")
    assert loss.steps == [0, 1, 2, 3, 4, 4]
    assert loss.values == [0.9, None, 0.5, 0.3, 0.2, 0.25]
    assert loss.artifact_ids == [7, 5, 11]
    assert (loss.first, loss.min, loss.max, loss.last) == (0.9, 0.2, 0.9, 0.25)
    acc = joined["train/acc"]
    assert (acc.steps, acc.values, acc.first, acc.last) == ([3, 4], [0.8, None], 0.8, 0.8)
    assert joined["val"].label == "val" and joined["val"].values == [1]
    empty = StepSeries("x", "x", [0], [None], [1])
    assert (empty.first, empty.min, empty.max, empty.last) == (None, None, None, None)


def test_values_that_are_not_finite_numbers_are_gaps() -> None:
    [series] = join_series(
        [step_artifact(1, "s", [0, 1, 2, 3, 4], {"s": [1, math.nan, "x", True, math.inf]})]
    )
    assert series.values == [1, None, None, None, None]


def test_metric_values_by_name() -> None:
    found = metric_values(
        [
            m.Artifact(id=3, type="Metrics", properties={"metrics_name": "test"},
                       custom_properties={"b": 2, "a": 1}),
            m.Artifact(id=2, type="Metrics", name="named", custom_properties={"x": 0.5}),
        ]
    )  # fmt: skip
    assert [(v.name, v.artifact_id, list(v.values.items())) for v in found] == [
        ("named", 2, [("x", 0.5)]),
        ("test", 3, [("a", 1), ("b", 2)]),
    ]


def test_run_metrics_of_a_tracked_run(store: m.MetadataStore, tmp_path: Path) -> None:
    tracker = m.Tracker(
        pipeline="p", store=store, root=tmp_path, git=False, environment=False, cache=False
    )
    with tracker.stage("train").execution(parameters={"lr": 0.1}) as run:
        for step in range(3):
            run.log_metric("loss", 1.0 / (step + 1))
        run.commit_metrics("loss")
        for step in range(3, 5):
            run.log_metric("loss", 1.0 / (step + 1))
        run.log_metric("train", {"acc": 0.5, "f1": 0.4})
        run.log_metric("train", {"acc": 0.7})
        run.log_metrics({"accuracy": 0.9, "n": 3})
        run.log_metrics({"auc": 0.8}, name="test")
    with tracker.stage("train").execution(parameters={"lr": 0.2}) as other:
        other.log_metric("loss", 5.0)
        other.log_metrics({"accuracy": 0.1})
    tracker.close()
    found = run_metrics(store, int(run.execution.id or 0))
    assert found.execution_id == run.execution.id
    assert [(v.name, v.values) for v in found.metrics] == [
        ("metrics", {"accuracy": 0.9, "n": 3}),
        ("test", {"auc": 0.8}),
    ]
    series = {s.label: s for s in found.series}
    assert list(series) == ["loss", "train/acc", "train/f1"]
    assert series["loss"].steps == [0, 1, 2, 3, 4]
    assert series["loss"].values == [1.0, 0.5, 1 / 3, 0.25, 0.2]
    assert len(series["loss"].artifact_ids) == 2  # committed in two parts
    assert series["train/f1"].values == [0.4, None]
    assert run_metrics(store, int(other.execution.id or 0)).series[0].values == [5.0]
    assert run_metrics(store, 10**6) == type(found)(10**6, [], [])
