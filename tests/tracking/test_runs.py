"""Runs: contexts, lifecycle states, typed parameters and what every execution records."""

from __future__ import annotations

import shlex
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

import mltrail as m
from mltrail import ExecutionState as S
from mltrail.errors import FailedPreconditionError, InvalidArgumentError
from mltrail.tracking import Tracker


def test_stage_contexts_are_children_of_the_pipeline(
    tracker: Tracker, store: m.MetadataStore
) -> None:
    train = tracker.stage("train", properties={"owner": "ana"})
    assert tracker.stage("train").context.id == train.context.id  # reused, not duplicated
    tracker.stage("evaluate")
    pipeline = tracker.context
    assert (pipeline.type, pipeline.name) == ("Pipeline", "demo")
    assert pipeline.id is not None and train.context.id is not None
    children = store.get_children_contexts_by_context(pipeline.id)
    assert sorted(c.name or "" for c in children) == ["demo/evaluate", "demo/train"]
    [stored] = store.get_contexts_by_id([train.context.id])
    assert (stored.type, stored.properties) == ("Stage", {"pipeline": "demo", "stage": "train"})
    assert stored.custom_properties == {"owner": "ana"}
    assert [p.id for p in store.get_parent_contexts_by_context(train.context.id)] == [pipeline.id]


def test_a_second_tracker_reuses_the_contexts(
    tracker: Tracker, store: m.MetadataStore, project: Path
) -> None:
    tracker.stage("train")
    with Tracker("demo", store=store, root=project) as again:
        again.stage("train")
    assert len(store.get_contexts()) == 2


def test_running_then_complete(tracker: Tracker, store: m.MetadataStore) -> None:
    with tracker.stage("train").execution() as run:
        [stored] = store.get_executions_by_id([run.id])
        assert stored.last_known_state == S.RUNNING
        assert "end_time" not in stored.properties
    [stored] = store.get_executions_by_id([run.id])
    assert stored.last_known_state == S.COMPLETE == run.state
    start, end = stored.properties["start_time"], stored.properties["end_time"]
    assert isinstance(start, int) and isinstance(end, int) and start <= end
    assert stored.type == "train"  # the execution type defaults to the stage's name


def test_failed_with_the_error_and_reraised(tracker: Tracker, store: m.MetadataStore) -> None:
    with pytest.raises(ZeroDivisionError), tracker.stage("train").execution() as run:
        1 / 0  # noqa: B018
    [stored] = store.get_executions_by_id([run.id])
    assert stored.last_known_state == S.FAILED
    assert stored.properties["error_type"] == "ZeroDivisionError"
    assert stored.properties["error_message"] == "division by zero"


def test_error_types_are_qualified_outside_builtins(
    tracker: Tracker, store: m.MetadataStore
) -> None:
    with pytest.raises(InvalidArgumentError), tracker.stage("s").execution() as run:
        raise InvalidArgumentError("bad input")
    [stored] = store.get_executions_by_id([run.id])
    assert stored.properties["error_type"] == "mltrail.errors.InvalidArgumentError"


def test_interrupt_is_canceled_and_exit_zero_is_complete(
    tracker: Tracker, store: m.MetadataStore
) -> None:
    with pytest.raises(KeyboardInterrupt), tracker.stage("s").execution() as interrupted:
        raise KeyboardInterrupt
    with pytest.raises(SystemExit), tracker.stage("s").execution() as exited:
        sys.exit(0)
    with pytest.raises(SystemExit), tracker.stage("s").execution() as failed:
        sys.exit(3)
    states = {e.id: e.last_known_state for e in store.get_executions()}
    assert states[interrupted.id] == S.CANCELED
    assert states[exited.id] == S.COMPLETE
    assert states[failed.id] == S.FAILED


def test_explicit_end_and_logging_after_it(
    tracker: Tracker, store: m.MetadataStore, project: Path
) -> None:
    run = tracker.stage("s").execution()
    run.end()
    run.end()  # ending twice does nothing
    assert store.get_executions_by_id([run.id])[0].last_known_state == S.COMPLETE
    (project / "x").write_text("x")
    with pytest.raises(FailedPreconditionError, match="has ended"):
        run.log_dataset(project / "x")
    with pytest.raises(FailedPreconditionError):
        run.log_metric("loss", 1.0)
    late = tracker.stage("s").execution()
    late.end("canceled")
    assert store.get_executions_by_id([late.id])[0].last_known_state == S.CANCELED


def test_parameters_keep_their_types_and_are_filterable(
    tracker: Tracker, store: m.MetadataStore
) -> None:
    parameters = {
        "epochs": 10,
        "lr": 0.05,
        "optimizer": "adam",
        "shuffle": True,
        "layers": [64, 32],
        "schedule": {"warmup": 2, "decay": 0.9},
    }
    with tracker.stage("train").execution(parameters=parameters) as run:
        run.log_parameters(seed=7, dropout=0.1)
    with tracker.stage("train").execution(parameters={**parameters, "lr": 0.5}):
        pass
    [stored] = store.get_executions_by_id([run.id])
    mine = {k: v for k, v in stored.custom_properties.items() if not k.startswith("mltrail.")}
    assert mine == {**parameters, "seed": 7, "dropout": 0.1}
    for key, value in mine.items():
        assert type(value) is type({**parameters, "seed": 7, "dropout": 0.1}[key]), key
    assert run.parameters == mine
    low = store.get_executions(filter_query="custom_properties.lr < 0.1")
    assert [e.id for e in low] == [run.id]
    flagged = store.get_executions(
        filter_query="custom_properties.shuffle = TRUE AND custom_properties.epochs = 10"
    )
    assert len(flagged) == 2


def test_numpy_like_values_become_plain_numbers(tracker: Tracker, store: m.MetadataStore) -> None:
    from fractions import Fraction

    with tracker.stage("s").execution(parameters={"ratio": Fraction(1, 4), "pair": (1, 2)}) as run:
        pass
    stored = store.get_executions_by_id([run.id])[0].custom_properties
    assert stored["ratio"] == 0.25 and type(stored["ratio"]) is float
    assert stored["pair"] == [1, 2]


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"lr": None}, "None"),
        ({"lr": float("nan")}, "nan"),
        ({"mltrail.fingerprint": "x"}, "reserved"),
        ({"when": object()}, "object"),
    ],
)
def test_bad_parameters_are_refused_before_anything_is_written(
    tracker: Tracker, store: m.MetadataStore, parameters: dict[str, object], message: str
) -> None:
    stage = tracker.stage("s")
    with pytest.raises(InvalidArgumentError, match=message):
        stage.execution(parameters=parameters)
    assert store.get_executions() == []


def test_identity_command_host_and_times(tracker: Tracker, store: m.MetadataStore) -> None:
    with (
        tracker.stage("s").execution() as first,
        tracker.stage("s").execution(command="python train.py --lr 0.1") as second,
    ):
        pass
    assert uuid.UUID(first.uuid).version == 4 and first.uuid != second.uuid
    [a, b] = store.get_executions_by_external_ids([first.uuid, second.uuid])
    assert a.properties["command"] == shlex.join(sys.argv)
    assert a.properties["argv"] == sys.argv
    assert b.properties["command"] == "python train.py --lr 0.1"
    assert b.properties["argv"] == ["python", "train.py", "--lr", "0.1"]
    assert a.properties["pipeline"] == "demo" and a.properties["stage"] == "s"
    assert isinstance(a.properties["hostname"], str) and a.properties["hostname"]


def test_executions_belong_to_the_stage_and_the_pipeline(
    tracker: Tracker, store: m.MetadataStore
) -> None:
    stage = tracker.stage("s")
    with stage.execution() as run:
        pass
    assert {c.name for c in store.get_contexts_by_execution(run.id)} == {"demo", "demo/s"}
    assert [e.id for e in stage.executions()] == [run.id]


def test_environment_is_one_input_artifact_shared_by_runs(
    tracker: Tracker, store: m.MetadataStore
) -> None:
    with tracker.stage("a").execution() as first, tracker.stage("b").execution() as second:
        pass
    [environment] = store.get_artifacts_by_type("Environment")
    assert environment.properties["python_version"] == __import__("platform").python_version()
    assert environment.external_id is not None and environment.external_id.startswith("sha256:")
    for run in (first, second):
        [event] = [
            e
            for e in store.get_events_by_execution_ids([run.id])
            if e.artifact_id == environment.id
        ]
        assert event.type == m.EventType.INPUT
    # A new tracker (a new process, later) finds the same environment artifact.
    with Tracker("other", store=store, root=tracker.root) as other, other.stage("c").execution():
        pass
    assert len(store.get_artifacts_by_type("Environment")) == 1


def test_git_is_recorded_in_a_repository(
    tracker: Tracker, store: m.MetadataStore, git_repo: Callable[..., str], project: Path
) -> None:
    commit = git_repo("rev-parse", "HEAD")
    with tracker.stage("s").execution() as clean:
        pass
    (project / "code.py").write_text("print('changed')\n")
    with tracker.stage("s").execution() as dirty:
        pass
    [a, b] = store.get_executions_by_id([clean.id, dirty.id])
    assert a.properties["git_commit"] == commit and a.properties["git_branch"] == "main"
    assert a.properties["git_dirty"] is False and "git_diff_digest" not in a.properties
    assert a.properties["code_version"] == commit
    assert b.properties["git_dirty"] is True
    digest = b.properties["git_diff_digest"]
    assert isinstance(digest, str) and digest.startswith("sha256:")
    assert b.properties["code_version"] == f"{commit}+{digest}"


def test_no_git_needed(tracker: Tracker, store: m.MetadataStore) -> None:
    with tracker.stage("s").execution() as run:
        pass
    stored = store.get_executions_by_id([run.id])[0]
    assert not any(key.startswith("git_") for key in stored.properties)
    assert stored.last_known_state == S.COMPLETE


def test_git_and_environment_capture_can_be_switched_off(
    store: m.MetadataStore, project: Path, git_repo: Callable[..., str]
) -> None:
    with (
        Tracker("p", store=store, root=project, git=False, environment=False) as tracker,
        tracker.stage("s").execution() as run,
    ):
        pass
    assert store.get_artifacts() == []
    assert "git_commit" not in store.get_executions_by_id([run.id])[0].properties


def test_explicit_code_version(tracker: Tracker, store: m.MetadataStore) -> None:
    with tracker.stage("s").execution(code_version="v1.2.3") as run:
        pass
    assert store.get_executions_by_id([run.id])[0].properties["code_version"] == "v1.2.3"
