"""Data slices: a named set of files with per-file properties."""

from __future__ import annotations

from pathlib import Path

import pytest
from tracking_helpers import write

import mltrail as m
from mltrail.errors import InvalidArgumentError
from mltrail.tracking import Tracker


@pytest.fixture
def files(project: Path) -> list[Path]:
    return [write(project / "raw" / f"{i}.txt", f"file {i}") for i in range(4)]


def test_a_slice_records_its_members(
    tracker: Tracker, store: m.MetadataStore, files: list[Path]
) -> None:
    with tracker.stage("slice").execution() as run:
        piece = run.log_dataslice(
            "hard-cases",
            {files[2]: {"difficulty": 3, "reviewed": True}, files[0]: None},
            properties={"owner": "ana"},
        )
    [stored] = store.get_artifacts_by_type("DataSlice")
    assert stored.id == piece.id
    assert stored.properties["slice_name"] == "hard-cases"
    assert (stored.properties["file_count"], stored.properties["size"]) == (2, 12)
    assert stored.properties["files"] == [
        {
            "path": "raw/0.txt",
            "digest": tracker.digest(files[0]).external_id,
            "size": 6,
            "properties": {},
        },
        {
            "path": "raw/2.txt",
            "digest": tracker.digest(files[2]).external_id,
            "size": 6,
            "properties": {"difficulty": 3, "reviewed": True},
        },
    ]
    assert stored.custom_properties == {"owner": "ana"}
    [event] = store.get_events_by_artifact_ids([stored.id or 0])
    assert (event.type, event.path) == (m.EventType.OUTPUT, ["hard-cases"])


def test_the_same_members_are_the_same_slice(
    tracker: Tracker, store: m.MetadataStore, files: list[Path]
) -> None:
    with tracker.stage("slice").execution() as run:
        a = run.log_dataslice("s", [files[0], files[1]])
    with tracker.stage("slice").execution() as run:
        b = run.log_dataslice("s", [files[1], files[0]])  # order does not matter
        c = run.log_dataslice("s", {files[0]: {"x": 1}, files[1]: None})  # properties do
        write(files[0], "changed")
        d = run.log_dataslice("s", [files[0], files[1]])  # and so do contents
    assert a.id == b.id
    assert len({a.id, c.id, d.id}) == 3


def test_a_slice_as_input_counts_for_the_fingerprint(tracker: Tracker, files: list[Path]) -> None:
    with tracker.stage("slice").execution() as run:
        piece = run.log_dataslice("s", files, "input")
    assert run.fingerprint().inputs == {"dataslice s": piece.external_id}


def test_empty_slices_and_names_are_refused(tracker: Tracker, files: list[Path]) -> None:
    with tracker.stage("s").execution() as run:
        with pytest.raises(InvalidArgumentError, match="no files"):
            run.log_dataslice("empty", [])
        with pytest.raises(InvalidArgumentError, match="name"):
            run.log_dataslice("", files)
