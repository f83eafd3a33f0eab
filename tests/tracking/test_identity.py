"""Artifact identity: content digests in external_id, deduplicated by the store itself."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from tracking_helpers import write

import mltrail as m
from mltrail import EventType as E
from mltrail.errors import NotFoundError
from mltrail.tracking import Tracker


def content_artifacts(store: m.MetadataStore) -> list[m.Artifact]:
    return [a for a in store.get_artifacts() if a.type != "Environment"]


def test_a_dataset_is_identified_by_its_digest(
    tracker: Tracker, store: m.MetadataStore, project: Path
) -> None:
    data = os.urandom(100_000)
    path = write(project / "data" / "train.csv", data)
    with tracker.stage("prepare").execution() as run:
        artifact = run.log_dataset(path)
    [stored] = store.get_artifacts_by_external_ids(["sha256:" + hashlib.sha256(data).hexdigest()])
    assert stored.id == artifact.id
    assert (stored.type, stored.uri, stored.name, stored.state) == (
        "Dataset",
        "data/train.csv",
        None,
        m.ArtifactState.LIVE,
    )
    assert stored.properties == {
        "path": "data/train.csv",
        "paths": ["data/train.csv"],
        "size": 100_000,
        "algorithm": "sha256",
        "kind": "file",
        "file_count": 1,
    }
    [event] = [e for e in store.get_events_by_artifact_ids([stored.id or 0])]
    assert (event.execution_id, event.type, event.path) == (run.id, E.INPUT, ["data/train.csv"])


def test_same_bytes_at_two_paths_are_one_artifact_with_both_paths(
    tracker: Tracker, store: m.MetadataStore, project: Path
) -> None:
    first = write(project / "raw" / "a.csv", "x,y\n1,2\n")
    copy = write(project / "copy" / "b.csv", "x,y\n1,2\n")
    with tracker.stage("s").execution() as one:
        a = one.log_dataset(first)
    with tracker.stage("s").execution() as two:
        b = two.log_dataset(copy)
    assert a.id == b.id
    [stored] = content_artifacts(store)
    assert stored.uri == "raw/a.csv"
    assert stored.properties["paths"] == ["raw/a.csv", "copy/b.csv"]
    paths = {e.execution_id: e.path for e in store.get_events_by_artifact_ids([stored.id or 0])}
    assert paths == {one.id: ["raw/a.csv"], two.id: ["copy/b.csv"]}


def test_two_paths_in_one_execution(
    tracker: Tracker, store: m.MetadataStore, project: Path
) -> None:
    with tracker.stage("s").execution() as run:
        run.log_dataset(write(project / "a", "same"))
        run.log_dataset(write(project / "b", "same"))  # one INPUT event per (artifact, execution)
    [stored] = content_artifacts(store)
    assert stored.properties["paths"] == ["a", "b"]
    events = [e for e in store.get_events_by_execution_ids([run.id]) if e.artifact_id == stored.id]
    assert [(e.type, e.path) for e in events] == [(E.INPUT, ["a"])]


def test_reuse_by_another_pipeline_and_stage_attributes_it_there_too(
    tracker: Tracker, store: m.MetadataStore, project: Path
) -> None:
    path = write(project / "shared.csv", "1,2,3\n")
    with tracker.stage("prepare").execution() as run:
        artifact = run.log_dataset(path, "output")
    with tracker.stage("train").execution() as run:
        run.log_dataset(path)
    with (
        Tracker("other", store=store, root=project) as other,
        other.stage("score").execution() as run,
    ):
        run.log_dataset(path)
    assert artifact.id is not None
    names = {c.name for c in store.get_contexts_by_artifact(artifact.id)}
    assert names == {"demo", "demo/prepare", "demo/train", "other", "other/score"}
    other_context = store.get_context_by_type_and_name("Pipeline", "other")
    assert other_context is not None and other_context.id is not None
    assert [
        a.id for a in store.get_artifacts_by_context(other_context.id) if a.type == "Dataset"
    ] == [artifact.id]
    assert len(content_artifacts(store)) == 1


def test_input_and_output_of_one_execution(
    tracker: Tracker, store: m.MetadataStore, project: Path
) -> None:
    path = write(project / "state.json", "{}")
    with tracker.stage("s").execution() as run:
        a = run.log_dataset(path, "input")
        b = run.log_dataset(path, "output")  # e.g. a file read, then rewritten unchanged
    assert a.id == b.id
    events = store.get_events_by_execution_ids([run.id])
    assert sorted(e.type for e in events if e.artifact_id == a.id) == [E.INPUT, E.OUTPUT]


def test_rerun_on_unchanged_data_adds_executions_not_artifacts(
    tracker: Tracker, store: m.MetadataStore, project: Path
) -> None:
    raw = write(project / "raw.txt", "raw")

    def pipeline() -> None:
        with tracker.stage("prepare").execution(parameters={"k": 1}) as run:
            run.log_dataset(raw)
            run.log_dataset(write(project / "clean.txt", "clean"), "output")
        with tracker.stage("train").execution() as run:
            run.log_dataset(project / "clean.txt")
            run.log_model(write(project / "model.bin", b"\x00\x01"), framework="none")
            run.log_metric("loss", 0.5)
            run.log_metric("loss", 0.25)
            run.log_metrics({"accuracy": 0.75})

    pipeline()
    before = {a.id: a for a in store.get_artifacts()}
    pipeline()
    after = {a.id: a for a in store.get_artifacts()}
    assert after.keys() == before.keys()
    assert len(before) == 6  # raw, clean, model, step metrics, metrics, environment
    assert len(store.get_executions()) == 4
    for artifact in after.values():  # and each artifact is unchanged
        assert artifact.properties == before[artifact.id].properties


def test_changed_content_is_a_new_artifact(
    tracker: Tracker, store: m.MetadataStore, project: Path
) -> None:
    path = write(project / "data.csv", "v1")
    with tracker.stage("s").execution() as run:
        first = run.log_dataset(path)
        write(path, "v2")
        second = run.log_dataset(path)
    assert first.id != second.id
    assert first.uri == second.uri == "data.csv"


def test_directories(tracker: Tracker, store: m.MetadataStore, project: Path) -> None:
    write(project / "images" / "a.png", b"a")
    write(project / "images" / "sub" / "b.png", b"bb")
    with tracker.stage("s").execution() as run:
        artifact = run.log_dataset(project / "images")
    assert artifact.external_id is not None and artifact.external_id.endswith(".dir")
    assert artifact.properties["kind"] == "directory"
    assert (artifact.properties["file_count"], artifact.properties["size"]) == (2, 3)
    assert artifact.external_id == tracker.digest(project / "images").external_id


def test_md5_for_dvc_compatibility(store: m.MetadataStore, project: Path) -> None:
    path = write(project / "data.xml", "<xml/>")
    with (
        Tracker("p", store=store, root=project, hash_algorithm="md5") as tracker,
        tracker.stage("s").execution() as run,
    ):
        artifact = run.log_dataset(path)
    assert artifact.external_id == "md5:" + hashlib.md5(b"<xml/>").hexdigest()
    assert artifact.properties["algorithm"] == "md5"


def test_model_properties_and_first_log_wins(
    tracker: Tracker, store: m.MetadataStore, project: Path
) -> None:
    path = write(project / "model.pkl", b"weights")
    with tracker.stage("train").execution() as run:
        model = run.log_model(
            path,
            framework="sklearn",
            model_type="RandomForest",
            model_name="rf",
            properties={"n": 3},
        )
    with tracker.stage("evaluate").execution() as run:
        again = run.log_model(
            path, "input", framework="SKLEARN", properties={"n": 4, "split": "test"}
        )
    assert again.id == model.id
    [stored] = store.get_artifacts_by_type("Model")
    assert stored.properties["framework"] == "sklearn"
    assert (stored.properties["model_type"], stored.properties["model_name"]) == (
        "RandomForest",
        "rf",
    )
    assert stored.custom_properties == {"n": 4, "split": "test"}  # custom properties: newest wins


def test_content_logged_under_another_type_keeps_its_first_type(
    tracker: Tracker, store: m.MetadataStore, project: Path
) -> None:
    path = write(project / "model.bin", b"bytes")
    with tracker.stage("s").execution() as run:
        run.log_dataset(path, "output")
        model = run.log_model(path, "input", framework="torch")
    assert model.type == "Dataset"
    assert model.custom_properties == {"framework": "torch"}
    assert len(content_artifacts(store)) == 1


def test_labels_name_their_dataset(tracker: Tracker, store: m.MetadataStore, project: Path) -> None:
    with tracker.stage("s").execution() as run:
        data = run.log_dataset(write(project / "data.csv", "1\n2\n"))
        other = run.log_dataset(write(project / "more.csv", "3\n"))
        run.log_label(
            write(project / "labels.csv", "a\nb\n"), dataset=data, properties={"annotator": "ana"}
        )
        label = run.log_label(project / "labels.csv", dataset=other)
    assert label.type == "Label"
    assert label.properties["datasets"] == [data.external_id, other.external_id]
    assert label.custom_properties == {"annotator": "ana"}


def test_missing_files_are_clear_errors(tracker: Tracker, project: Path) -> None:
    with (
        tracker.stage("s").execution() as run,
        pytest.raises(NotFoundError, match="does not exist"),
    ):
        run.log_dataset(project / "missing.csv")


def test_returned_artifacts_carry_their_ids(
    tracker: Tracker, store: m.MetadataStore, project: Path
) -> None:
    with tracker.stage("s").execution() as run:
        artifact = run.log_dataset(write(project / "x", "x"), properties={"rows": 1})
    assert artifact.id is not None
    [stored] = store.get_artifacts_by_id([artifact.id])
    assert stored.custom_properties == artifact.custom_properties == {"rows": 1}


def test_losing_a_creation_race_merges_into_the_winner(
    tracker: Tracker, store: m.MetadataStore, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer creates the same content between our lookup and our insert: the insert
    fails on the unique external id, and the sighting is merged into the winner's artifact."""
    path = write(project / "mine.csv", "same bytes")
    with tracker.stage("other").execution() as winner:
        winner.log_dataset(write(project / "theirs.csv", "same bytes"))
    real = store.get_artifacts_by_external_ids
    calls: list[int] = []

    def stale_first(ids: list[str]) -> list[m.Artifact]:
        calls.append(1)
        return [] if len(calls) == 1 else real(ids)

    monkeypatch.setattr(store, "get_artifacts_by_external_ids", stale_first)
    with tracker.stage("s").execution() as run:
        artifact = run.log_dataset(path)
    assert len(calls) == 2
    [stored] = content_artifacts(store)
    assert stored.id == artifact.id
    assert stored.properties["paths"] == ["theirs.csv", "mine.csv"]
    assert {e.execution_id for e in store.get_events_by_artifact_ids([stored.id or 0])} == {
        winner.id,
        run.id,
    }


def test_paths_are_never_parsed(tracker: Tracker, store: m.MetadataStore, project: Path) -> None:
    odd = write(project / "runs:2024" / "data:v1.csv", "a:b:c")
    with tracker.stage("s").execution() as run:
        artifact = run.log_dataset(odd)
    assert artifact.uri == "runs:2024/data:v1.csv"
    [stored] = content_artifacts(store)
    assert stored.properties["paths"] == ["runs:2024/data:v1.csv"]
