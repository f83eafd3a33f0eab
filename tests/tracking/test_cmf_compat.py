"""``mltrail.compat.cmf.Cmf``: CMF's calls, recorded into mltrail, without CMF's side effects."""

from __future__ import annotations

import inspect
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tracking_helpers import write

import mltrail as m
from mltrail.compat.cmf import Cmf
from mltrail.errors import FailedPreconditionError, InvalidArgumentError

#: CMF's signatures (cmflib 0.1.0): parameter names and defaults a ported script relies on.
CMF_SIGNATURES: dict[str, list[tuple[str, Any]]] = {
    "__init__": [
        ("filepath", "mlmd"),
        ("pipeline_name", ""),
        ("custom_properties", None),
        ("graph", False),
        ("is_server", False),
    ],
    "create_context": [("pipeline_stage", ...), ("custom_properties", None)],
    "create_execution": [
        ("execution_type", ...),
        ("custom_properties", None),
        ("cmd", None),
        ("create_new_execution", True),
    ],
    "update_execution": [("execution_id", ...), ("custom_properties", None)],
    "log_dataset": [
        ("url", ...),
        ("event", ...),
        ("custom_properties", None),
        ("label", None),
        ("label_properties", None),
        ("external", False),
    ],
    "log_model": [
        ("path", ...),
        ("event", ...),
        ("model_framework", "Default"),
        ("model_type", "Default"),
        ("model_name", "Default"),
        ("custom_properties", None),
    ],
    "log_execution_metrics": [("metrics_name", ...), ("custom_properties", None)],
    "log_metric": [("metrics_name", ...), ("custom_properties", None)],
    "commit_metrics": [("metrics_name", ...)],
    "create_dataslice": [("name", ...)],
    "log_label": [("url", ...), ("dataset_name", ...), ("custom_properties", None)],
    "finalize": [],
    "log_python_env": [("url", ...)],
    "update_dataslice": [("name", ...), ("record", ...), ("custom_properties", ...)],
    "log_validation_output": [("version", ...), ("custom_properties", None)],
    "update_dataset_url": [("artifact", ...), ("updated_url", ...)],
    "update_model_url": [("dup_artifact", ...), ("updated_url", ...)],
}


@pytest.mark.parametrize("method", sorted(CMF_SIGNATURES))
def test_signatures_are_cmfs(method: str) -> None:
    parameters = [
        p
        for p in inspect.signature(getattr(Cmf, method)).parameters.values()
        if p.name != "self" and p.kind != p.KEYWORD_ONLY
    ]
    got = [(p.name, ... if p.default is p.empty else p.default) for p in parameters]
    assert got == CMF_SIGNATURES[method]


def test_dataslice_signatures() -> None:
    add = inspect.signature(Cmf.DataSlice.add_data).parameters
    commit = inspect.signature(Cmf.DataSlice.commit).parameters
    assert [(n, p.default) for n, p in add.items()][1:] == [
        ("path", inspect.Parameter.empty),
        ("custom_properties", None),
    ]
    assert [(n, p.default) for n, p in commit.items()][1:] == [("custom_properties", None)]


@pytest.fixture
def cmf_factory(store: m.MetadataStore, project: Path) -> Iterator[Callable[..., Cmf]]:
    made: list[Cmf] = []

    def make(**kwargs: Any) -> Cmf:
        kwargs.setdefault("pipeline_name", "Test-env")
        writer = Cmf(store=store, **kwargs)
        made.append(writer)
        return writer

    yield make
    for writer in made:
        writer.close()


def test_a_stage_as_cmf_scripts_log_it(
    cmf_factory: Callable[..., Cmf], store: m.MetadataStore, project: Path
) -> None:
    data = write(project / "artifacts" / "data.xml", "<posts/>")
    labels = write(project / "artifacts" / "labels.csv", "id,label\n")
    cmf = cmf_factory(custom_properties={"team": "nlp"})
    context = cmf.create_context("Prepare", {"user-metadata1": "metadata_value"})
    execution = cmf.create_execution("Prepare", {"split": 0.2, "seed": 20170428, "unset": None})
    dataset = cmf.log_dataset(
        "artifacts/data.xml",
        "input",
        {"origin": "web"},
        label="artifacts/labels.csv",
        label_properties={"user1": "xyz"},
    )
    parsed = cmf.log_dataset(
        str(write(project / "artifacts" / "parsed.tsv", "1\t0\tx\n")), "output"
    )
    cmf.finalize()

    assert (context.name, context.type) == ("Test-env/Prepare", "Stage")
    assert context.custom_properties == {"user-metadata1": "metadata_value"}
    assert cmf.parent_context.custom_properties == {"team": "nlp"}
    [stored] = store.get_executions_by_id([execution.id or 0])
    assert stored.last_known_state == m.ExecutionState.COMPLETE
    assert stored.type == "Prepare"
    assert stored.custom_properties["split"] == 0.2  # a float, not CMF's '0.2'
    assert "unset" not in stored.custom_properties
    assert dataset.custom_properties == {"origin": "web"}
    assert dataset.external_id == cmf.tracker.digest(data).external_id
    [label] = store.get_artifacts_by_type("Label")
    assert label.properties["datasets"] == [dataset.external_id]
    assert label.custom_properties == {"user1": "xyz"}
    assert label.external_id == cmf.tracker.digest(labels).external_id
    kinds = {(e.artifact_id, e.type) for e in store.get_events_by_execution_ids([stored.id or 0])}
    assert {
        (dataset.id, m.EventType.INPUT),
        (label.id, m.EventType.INPUT),
        (parsed.id, m.EventType.OUTPUT),
    } <= kinds


def test_metrics_models_and_logging_after_finalize(
    cmf_factory: Callable[..., Cmf], store: m.MetadataStore, project: Path
) -> None:
    cmf = cmf_factory()
    cmf.create_context("Train")
    execution = cmf.create_execution("Train-execution", {"n_est": 100})
    for loss in (10, 7.5):
        cmf.log_metric("training_metrics", {"train_loss": loss})
    step_metrics = cmf.commit_metrics("training_metrics")
    model = cmf.log_model(
        str(write(project / "model.pkl", b"m")),
        "output",
        model_framework="SKlearn",
        model_type="RandomForestClassifier",
        model_name="RandomForestClassifier:default",
    )
    cmf.finalize()
    metrics = cmf.log_execution_metrics("metrics", {"avg_prec": 0.9, "roc_auc": 0.95})
    assert step_metrics.properties["series"] == {
        "steps": [1, 2],
        "values": {"train_loss": [10, 7.5]},
    }
    assert (model.properties["framework"], model.properties["model_type"]) == (
        "SKlearn",
        "RandomForestClassifier",
    )
    assert metrics.custom_properties == {"avg_prec": 0.9, "roc_auc": 0.95}
    outputs = {
        e.artifact_id
        for e in store.get_events_by_execution_ids([execution.id or 0])
        if e.type == m.EventType.OUTPUT
    }
    assert outputs == {step_metrics.id, model.id, metrics.id}
    [stored] = store.get_executions_by_id([execution.id or 0])
    assert stored.last_known_state == m.ExecutionState.COMPLETE


def test_implicit_mode_names_stage_and_execution_after_the_script(
    cmf_factory: Callable[..., Cmf],
    store: m.MetadataStore,
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "argv", ["/somewhere/nano_step.py", "--fast"])
    cmf = cmf_factory()
    dataset = cmf.log_dataset(str(write(project / "in.csv", "1")), "input")
    assert cmf.child_context is not None and cmf.child_context.name == "Test-env/nano_step"
    assert cmf.execution is not None and cmf.execution.type == "nano_step"
    assert cmf.execution.properties["command"] == "/somewhere/nano_step.py --fast"
    assert dataset.id in {a.id for a in store.get_artifacts_by_context(cmf.child_context.id or 0)}


def test_a_new_execution_ends_the_previous_one(
    cmf_factory: Callable[..., Cmf], store: m.MetadataStore
) -> None:
    cmf = cmf_factory()
    cmf.create_context("Train")
    first = cmf.create_execution("Train-execution")
    second = cmf.create_execution("Train-execution", cmd="python train.py")
    states = {e.id: e.last_known_state for e in store.get_executions()}
    assert states == {first.id: m.ExecutionState.COMPLETE, second.id: m.ExecutionState.RUNNING}
    assert second.properties["command"] == "python train.py"
    cmf.close()
    assert (
        store.get_executions_by_id([second.id or 0])[0].last_known_state
        == m.ExecutionState.COMPLETE
    )


def test_update_execution_merges_typed_values(
    cmf_factory: Callable[..., Cmf], store: m.MetadataStore
) -> None:
    cmf = cmf_factory()
    cmf.create_context("Train")
    earlier = cmf.create_execution("Train-execution", {"a": 1})
    current = cmf.create_execution("Train-execution", {"a": 2})
    cmf.update_execution(current.id or 0, {"b": 0.5, "c": True})
    cmf.update_execution(earlier.id or 0, {"note": "baseline", "a": 10})
    stored = {e.id: e.custom_properties for e in store.get_executions()}
    assert {k: v for k, v in stored[current.id].items() if not k.startswith("mltrail.")} == {
        "a": 2,
        "b": 0.5,
        "c": True,
    }
    assert {k: v for k, v in stored[earlier.id].items() if not k.startswith("mltrail.")} == {
        "a": 10,
        "note": "baseline",
    }
    with pytest.raises(InvalidArgumentError, match="no execution"):
        cmf.update_execution(999_999, {"x": 1})


def test_reusable_executions(cmf_factory: Callable[..., Cmf], store: m.MetadataStore) -> None:
    cmf = cmf_factory()
    cmf.create_context("Tune")
    first = cmf.create_execution("Trial_1", {"lr": 0.1}, create_new_execution=False)
    cmf.finalize()
    again = cmf.create_execution("Trial_1", {"epoch": 2}, create_new_execution=False)
    assert again.id == first.id and again.name == "Trial_1"
    [stored] = store.get_executions()
    assert stored.last_known_state == m.ExecutionState.RUNNING
    assert (stored.custom_properties["lr"], stored.custom_properties["epoch"]) == (0.1, 2)


def test_dataslice(cmf_factory: Callable[..., Cmf], store: m.MetadataStore, project: Path) -> None:
    files = [write(project / "raw" / f"{i}.txt", str(i)) for i in range(3)]
    cmf = cmf_factory()
    cmf.create_context("Slice")
    cmf.create_execution("Slice-execution")
    dataslice = cmf.create_dataslice("slice-a")
    for path in files[:2]:
        dataslice.add_data(str(path), {"key1": "value1"})
    artifact = dataslice.commit({"purpose": "test"})
    assert artifact.type == "DataSlice" and artifact.properties["file_count"] == 2
    members = artifact.properties["files"]
    assert isinstance(members, list)
    assert [f["properties"] for f in members] == [{"key1": "value1"}] * 2
    assert artifact.custom_properties == {"purpose": "test"}


def test_no_git_no_dvc_no_chdir_no_exit(
    project: Path, git_repo: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    head, branch = git_repo("rev-parse", "HEAD"), git_repo("branch", "--show-current")
    commands: list[list[str]] = []

    class RecordingPopen(subprocess.Popen):  # type: ignore[type-arg]
        def __init__(self, args: Any, *rest: Any, **kwargs: Any) -> None:
            commands.append([str(a) for a in args])
            super().__init__(args, *rest, **kwargs)

    def no_exit(*args: Any) -> None:
        raise AssertionError("Cmf must never exit the process")

    monkeypatch.setattr(subprocess, "Popen", RecordingPopen)
    monkeypatch.setattr(os, "system", lambda *a: pytest.fail("Cmf must never run a shell"))
    monkeypatch.setattr(sys, "exit", no_exit)
    monkeypatch.setattr(os, "chdir", lambda *a: pytest.fail("Cmf must never chdir"))
    data = write(project / "data.csv", "1,2\n")
    with Cmf(pipeline_name="Test-env") as cmf:  # filepath="mlmd": the store file ./mlmd
        cmf.create_context("Prepare")
        cmf.create_execution("Prepare")
        cmf.log_dataset(str(data), "input")
        cmf.log_model(str(write(project / "model.pkl", b"m")), "output")
        cmf.finalize()
    recorded = list(commands)
    assert Path.cwd() == project
    assert (git_repo("rev-parse", "HEAD"), git_repo("branch", "--show-current")) == (head, branch)
    assert git_repo("branch", "--list") == "* main"
    assert recorded and all(c[0] == "git" and "diff" in c for c in recorded), recorded
    with m.connect(project / "mlmd") as store:  # the file at filepath is an mltrail store
        assert [e.type for e in store.get_executions()] == ["Prepare"]
    assert not (project / ".mltrail" / "mltrail.db").exists()
    assert not list(project.glob("*.dvc")) and not (project / ".dvc").exists()
    assert git_repo("status", "--porcelain", "--untracked-files=no") == ""


def test_another_filepath_is_an_mltrail_store(project: Path) -> None:
    with Cmf(filepath="mlmd2", pipeline_name="p") as cmf:
        cmf.create_context("s")
    with m.connect(project / "mlmd2") as store:
        assert [c.name for c in store.get_contexts()] == ["p", "p/s"]


def test_scripts_query_and_command_line_share_the_filepath(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two scripts append to ./mlmd; the query facade and `mltrail --store mlmd` read it."""
    from click.testing import CliRunner

    from mltrail.cli import main

    (project / "sub").mkdir()
    for stage in ("Prepare", "Train"):
        with Cmf(pipeline_name="Test-env") as cmf:
            cmf.create_context(stage)
            cmf.create_execution(f"{stage}-execution")
            cmf.log_execution_metrics("metrics", {"acc": 0.5})
    with Cmf(filepath=str(project / "sub" / "other.db"), pipeline_name="Other") as cmf:
        cmf.create_context("Only")
    assert sorted(p.name for p in project.iterdir()) == [".mltrail", "mlmd", "sub"]
    with m.connect("mlmd") as store:
        assert [e.type for e in store.get_executions()] == ["Prepare-execution", "Train-execution"]
    with m.connect(f"sqlite:///{project / 'sub' / 'other.db'}") as store:
        assert [c.name for c in store.get_contexts()] == ["Other", "Other/Only"]
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(main, ["--store", "mlmd", "ls", "executions", "--json"])
    assert result.exit_code == 0, result.output
    assert '"Train-execution"' in result.output and '"Prepare-execution"' in result.output


def test_filepath_none_is_the_default_store_and_store_wins(
    project: Path, store: m.MetadataStore
) -> None:
    with Cmf(filepath=None, pipeline_name="p") as cmf:
        cmf.create_context("s")
    assert (project / ".mltrail" / "mltrail.db").is_file()
    with Cmf(filepath="ignored-when-store-is-given", store=store, pipeline_name="q") as cmf:
        cmf.create_context("t")
    assert not (project / "ignored-when-store-is-given").exists()
    assert [c.name for c in store.get_contexts()] == ["q", "q/t"]


def test_a_cmf_mlmd_file_is_never_written(project: Path) -> None:
    mlmd = project / "mlmd-cmf"
    with sqlite3.connect(mlmd) as conn:
        conn.execute("CREATE TABLE MLMDEnv (schema_version INTEGER PRIMARY KEY)")
    before = mlmd.read_bytes()
    with pytest.raises(FailedPreconditionError, match="ML Metadata") as refused:
        Cmf(filepath=str(mlmd), pipeline_name="p")
    assert f"mltrail import mlmd {mlmd}" in str(refused.value)
    assert mlmd.read_bytes() == before


def test_server_mode_is_refused(project: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="is_server"):
        Cmf(pipeline_name="p", is_server=True)


def test_default_pipeline_name_is_the_folder(store: m.MetadataStore, project: Path) -> None:
    with Cmf(store=store) as cmf:
        assert cmf.pipeline_name == project.name


# ---------------------------------------------------------------------------- more of CMF's calls


def test_log_python_env_records_the_file_as_an_input(
    cmf_factory: Callable[..., Cmf], store: m.MetadataStore, project: Path
) -> None:
    frozen = write(project / "cmf_artifacts" / "python_env.txt", "numpy==2.0.0\npandas==3.1\n")
    cmf = cmf_factory()
    cmf.create_context("Prepare")
    execution = cmf.create_execution("Prepare")
    environment = cmf.log_python_env(str(frozen))
    again = cmf.log_python_env("cmf_artifacts/python_env.txt")
    assert again.id == environment.id
    assert environment.type == "Environment"
    assert environment.external_id == cmf.tracker.digest(frozen).external_id
    assert environment.properties["path"] == "cmf_artifacts/python_env.txt"
    inputs = {
        e.artifact_id
        for e in store.get_events_by_execution_ids([execution.id or 0])
        if e.type == m.EventType.INPUT
    }
    automatic = [a for a in store.get_artifacts_by_type("Environment") if a.id != environment.id]
    assert inputs == {environment.id, automatic[0].id}  # the interpreter's, recorded anyway


def test_update_dataslice_records_a_new_version(
    cmf_factory: Callable[..., Cmf], store: m.MetadataStore, project: Path
) -> None:
    files = [write(project / "raw" / f"{i}.txt", str(i)) for i in range(2)]
    cmf = cmf_factory()
    cmf.create_context("Slice")
    execution = cmf.create_execution("Slice-execution")
    piece = cmf.create_dataslice("slice-a")
    for path in files:
        piece.add_data(str(path), {"key1": "value1"})
    first = piece.commit()
    second = cmf.update_dataslice("slice-a", "raw/1.txt", {"key1": "changed", "n": 2})
    assert second.id != first.id and second.properties["slice_name"] == "slice-a"
    members = {f["path"]: f["properties"] for f in second.properties["files"]}  # type: ignore[union-attr]
    assert members == {"raw/0.txt": {"key1": "value1"}, "raw/1.txt": {"key1": "changed", "n": 2}}
    [kept] = store.get_artifacts_by_id([first.id or 0])
    assert [f["properties"] for f in kept.properties["files"]] == [{"key1": "value1"}] * 2  # type: ignore[union-attr]
    outputs = {
        e.artifact_id
        for e in store.get_events_by_execution_ids([execution.id or 0])
        if e.type == m.EventType.OUTPUT
    }
    assert outputs == {first.id, second.id}
    with pytest.raises(InvalidArgumentError, match=r"has no file 'raw/9\.txt'"):
        cmf.update_dataslice("slice-a", "raw/9.txt", {"x": 1})
    with pytest.raises(m.errors.NotFoundError, match="no data slice named 'other'"):
        cmf.update_dataslice("other", "raw/0.txt", {"x": 1})


def test_log_validation_output(cmf_factory: Callable[..., Cmf], store: m.MetadataStore) -> None:
    from mltrail.compat.cmfquery import CmfQuery

    cmf = cmf_factory()
    cmf.create_context("Validate")
    execution = cmf.create_execution("Validate-execution")
    output = cmf.log_validation_output("1.0", {"passed": True, "score": 0.97})
    assert cmf.log_validation_output("1.0", {"passed": True, "score": 0.97}).id == output.id
    assert (output.type, output.properties) == ("ValidationOutput", {"version": "1.0"})
    assert output.custom_properties == {"passed": True, "score": 0.97}
    [event] = [
        e
        for e in store.get_events_by_execution_ids([execution.id or 0])
        if e.artifact_id == output.id
    ]
    assert event.type == m.EventType.INTERNAL_OUTPUT
    assert "Validation_output" in CmfQuery(store=store).get_all_artifact_types()
    with pytest.raises(InvalidArgumentError, match="version must be a non-empty string"):
        cmf.log_validation_output("")


def test_update_dataset_and_model_urls(
    cmf_factory: Callable[..., Cmf], store: m.MetadataStore, project: Path
) -> None:
    cmf = cmf_factory()
    cmf.create_context("Train")
    cmf.create_execution("Train-execution")
    dataset = cmf.log_dataset(str(write(project / "d.csv", "1")), "input")
    model = cmf.log_model(str(write(project / "m.pkl", b"m")), "output")
    cmf.update_dataset_url(dataset, "s3://bucket/d.csv")
    cmf.update_dataset_url(dataset.id or 0, "s3://bucket/d.csv")  # already there: kept once
    updated = cmf.update_dataset_url(dataset, "ssh://host/d.csv")
    assert updated.custom_properties["url"] == ["s3://bucket/d.csv", "ssh://host/d.csv"]
    [a, b] = cmf.update_model_url([model, dataset], "s3://bucket/m")
    assert a.custom_properties["url"] == ["s3://bucket/m"]
    assert b.custom_properties["url"] == ["s3://bucket/d.csv", "ssh://host/d.csv", "s3://bucket/m"]
    [stored] = store.get_artifacts_by_id([model.id or 0])
    assert stored.custom_properties["url"] == ["s3://bucket/m"]
    assert stored.properties["path"] == "m.pkl"
    with pytest.raises(m.errors.NotFoundError, match="no artifact with id 999999"):
        cmf.update_dataset_url(999_999, "s3://x")


def test_datasets_and_models_by_url(
    cmf_factory: Callable[..., Cmf], store: m.MetadataStore, project: Path, request: Any
) -> None:
    import fsspec

    memory = fsspec.filesystem("memory")
    root = f"/cmf-{request.node.name}".replace("[", "-").replace("]", "")
    memory.pipe(f"{root}/train.csv", b"a,b\n1,2\n")
    memory.pipe(f"{root}/images/x.png", b"x")
    memory.pipe(f"{root}/images/sub/y.png", b"y")
    try:
        local = write(project / "copy" / "train.csv", "a,b\n1,2\n")
        write(project / "images" / "x.png", "x")
        write(project / "images" / "sub" / "y.png", "y")
        cmf = cmf_factory()
        cmf.create_context("Prepare")
        execution = cmf.create_execution("Prepare")
        remote = cmf.log_dataset(f"memory://{root}/train.csv", "input", {"source": "s3"})
        assert remote.external_id == cmf.tracker.digest(local).external_id
        assert (remote.uri, remote.properties["kind"], remote.properties["size"]) == (
            f"memory://{root}/train.csv",
            "url",
            8,
        )
        folder = cmf.log_dataset(f"memory://{root}/images", "input")
        assert folder.external_id == cmf.tracker.digest(project / "images").external_id
        assert folder.properties["file_count"] == 2
        missing = cmf.log_dataset(f"memory://{root}/missing.csv", "input")
        assert missing.external_id == f"url:memory://{root}/missing.csv"
        elsewhere = cmf.log_model(
            "nosuchprotocol://user:secret@host/model.pkl", "output", model_framework="torch"
        )
        assert elsewhere.external_id == "url:nosuchprotocol://user@host/model.pkl"
        assert elsewhere.properties["framework"] == "torch"
        assert "size" not in elsewhere.properties
        kinds = {
            (e.artifact_id, e.type) for e in store.get_events_by_execution_ids([execution.id or 0])
        }
        assert {
            (remote.id, m.EventType.INPUT),
            (folder.id, m.EventType.INPUT),
            (missing.id, m.EventType.INPUT),
            (elsewhere.id, m.EventType.OUTPUT),
        } <= kinds
        # The same bytes logged from the disk later are the same artifact, now with both paths.
        same = cmf.log_dataset(str(local), "input")
        assert same.id == remote.id
        assert same.properties["paths"] == [f"memory://{root}/train.csv", "copy/train.csv"]
    finally:
        memory.rm(root, recursive=True)
