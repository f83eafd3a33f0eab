"""Execution caching: "has this already run?", its outputs, and why not."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tracking_helpers import write

import mltrail as m
from mltrail.query.fingerprint import DIGEST_PROPERTY, Fingerprint
from mltrail.tracking import Tracker


def train(tracker: Tracker, project: Path, lr: float = 0.1) -> m.Execution:
    with tracker.stage("train").execution(parameters={"lr": lr, "layers": [8, 8]}) as run:
        run.log_dataset(project / "train.csv")
        run.log_model(write(project / "model.bin", f"model lr={lr}"))
    return run.execution


def test_every_execution_records_its_fingerprint(
    tracker: Tracker, store: m.MetadataStore, project: Path
) -> None:
    write(project / "train.csv", "a,b\n")
    execution = train(tracker, project)
    expected = Fingerprint.of(
        "train",
        parameters={"lr": 0.1, "layers": [8, 8]},
        inputs={"train.csv": tracker.digest(project / "train.csv").external_id},
    )
    [stored] = store.get_executions_by_id([execution.id or 0])
    assert stored.custom_properties[DIGEST_PROPERTY] == expected.digest


def test_ask_before_doing_the_work(tracker: Tracker, store: m.MetadataStore, project: Path) -> None:
    write(project / "train.csv", "a,b\n")
    stage = tracker.stage("train")
    ask = {"parameters": {"lr": 0.1, "layers": [8, 8]}, "inputs": [project / "train.csv"]}
    assert stage.find_cached(**ask) is None
    assert "no earlier execution" in str(stage.explain_cache_miss(**ask))
    execution = train(tracker, project)
    hit = stage.find_cached(**ask)
    assert hit is not None and hit.execution.id == execution.id
    assert [a.type for a in hit.outputs] == ["Model"]
    assert hit.outputs[0].uri == "model.bin"


def test_why_not_parameters_inputs_code(
    tracker: Tracker, project: Path, git_repo: Callable[..., str]
) -> None:
    write(project / "train.csv", "a,b\n")
    train(tracker, project)
    stage = tracker.stage("train")
    miss = stage.explain_cache_miss(
        parameters={"lr": 0.2, "layers": [8, 8]}, inputs=[project / "train.csv"]
    )
    assert miss.nearest is not None
    assert [(d.part, d.name, d.before, d.after) for d in miss.differences] == [
        ("parameter", "lr", 0.1, 0.2)
    ]
    write(project / "train.csv", "a,b\n1,2\n")
    miss = stage.explain_cache_miss(
        parameters={"lr": 0.1, "layers": [8, 8]}, inputs=[project / "train.csv"]
    )
    assert [(d.part, d.name) for d in miss.differences] == [("input", "train.csv")]
    assert "changed content" in str(miss)
    write(project / "train.csv", "a,b\n")
    (project / "code.py").write_text("print('v2')\n")  # uncommitted code is a new code version
    miss = stage.explain_cache_miss(
        parameters={"lr": 0.1, "layers": [8, 8]}, inputs=[project / "train.csv"]
    )
    assert [d.part for d in miss.differences] == ["code_version"]
    git_repo("checkout", "--", "code.py")
    assert (
        stage.find_cached(parameters={"lr": 0.1, "layers": [8, 8]}, inputs=[project / "train.csv"])
        is not None
    )


def test_failed_executions_are_not_reused(tracker: Tracker, project: Path) -> None:
    write(project / "train.csv", "a,b\n")
    stage = tracker.stage("train")
    try:
        with stage.execution(parameters={"lr": 0.1}) as run:
            run.log_dataset(project / "train.csv")
            raise ValueError("out of memory")
    except ValueError:
        pass
    ask = {"parameters": {"lr": 0.1}, "inputs": [project / "train.csv"]}
    assert stage.find_cached(**ask) is None
    assert "did not complete (FAILED)" in str(stage.explain_cache_miss(**ask))


def test_inside_a_run_reuse_the_earlier_outputs(
    tracker: Tracker, store: m.MetadataStore, project: Path
) -> None:
    write(project / "train.csv", "a,b\n")
    first = train(tracker, project)
    with tracker.stage("train").execution(parameters={"lr": 0.1, "layers": [8, 8]}) as run:
        run.log_dataset(project / "train.csv")
        hit = run.find_cached()
        assert hit is not None and hit.execution.id == first.id
        run.use_cached(hit)
    [stored] = store.get_executions_by_id([run.id])
    assert stored.last_known_state == m.ExecutionState.CACHED
    [model] = store.get_artifacts_by_type("Model")
    assert [e.id for e in store.get_artifact_producers(model.id or 0)] == [first.id, run.id]
    # The original stays the one the cache answers with.
    again = tracker.stage("train").find_cached(
        parameters={"lr": 0.1, "layers": [8, 8]}, inputs=[project / "train.csv"]
    )
    assert again is not None and again.execution.id == first.id


def test_a_miss_inside_a_run(tracker: Tracker, project: Path) -> None:
    write(project / "train.csv", "a,b\n")
    train(tracker, project)
    with tracker.stage("train").execution(parameters={"lr": 0.3, "layers": [8, 8]}) as run:
        run.log_dataset(project / "train.csv")
        assert run.find_cached() is None
        assert [d.name for d in run.explain_cache_miss().differences] == ["lr"]


def test_parameters_added_late_are_part_of_the_fingerprint(
    tracker: Tracker, store: m.MetadataStore
) -> None:
    with tracker.stage("s").execution() as run:
        pass
    run._allow_after_end = True
    run.log_parameters(seed=3)
    [stored] = store.get_executions_by_id([run.id])
    assert (
        stored.custom_properties[DIGEST_PROPERTY]
        == Fingerprint.of("s", parameters={"seed": 3}).digest
    )
