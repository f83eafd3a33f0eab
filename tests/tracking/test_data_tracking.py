"""The tracker and artifact bytes: logged files go into the cache, a pipeline's data is pushed
to a remote, and a run at another site fetches it, verified."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from tracking_helpers import write

import mltrail
from mltrail import sync
from mltrail.data import Cache, Oid
from mltrail.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from mltrail.model import EventType
from mltrail.sync import remotes
from mltrail.tracking import Tracker


@pytest.fixture(autouse=True)
def no_cache_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLTRAIL_CACHE", raising=False)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def cached(cache_dir: Path, external_id: str) -> Path:
    return cache_dir / Oid.parse(external_id).path


def tracked(root: Path, **options: Any) -> Tracker:
    """A tracker of pipeline "vision" at ``root`` with its own SQLite store there."""
    options.setdefault("git", False)
    options.setdefault("environment", False)
    return Tracker("vision", store=str(root / "site.db"), root=root, **options)


def test_logged_files_and_directories_go_into_the_cache(project: Path) -> None:
    write(project / "data" / "train.csv", "a,b\n1,2\n")
    write(project / "data" / "images" / "x.png", b"\x89PNG x")
    write(project / "data" / "images" / "sub" / "y.png", b"\x89PNG y")
    write(project / "model.pkl", b"weights")
    write(project / "labels.csv", "x,cat\n")
    with tracked(project) as tracker, tracker.stage("train").execution() as run:
        train = run.log_dataset("data/train.csv")
        images = run.log_dataset("data/images")
        model = run.log_model("model.pkl")
        labels = run.log_label("labels.csv", dataset=images)
    cache = project / ".mltrail" / "cache"
    assert tracker.cache is not None and tracker.cache.directory == cache
    for artifact, data in ((train, b"a,b\n1,2\n"), (model, b"weights"), (labels, b"x,cat\n")):
        assert artifact.external_id == f"sha256:{sha256(data)}"
        entry = cached(cache, artifact.external_id)
        assert entry.read_bytes() == data
        assert stat.S_IMODE(entry.stat().st_mode) == 0o444  # read-only
    assert images.external_id is not None and images.external_id.endswith(".dir")
    manifest = cached(cache, images.external_id)
    assert sha256(manifest.read_bytes()) == Oid.parse(images.external_id).hexdigest
    for data in (b"\x89PNG x", b"\x89PNG y"):
        assert cached(cache, f"sha256:{sha256(data)}").read_bytes() == data


def test_data_slice_members_go_into_the_cache(project: Path) -> None:
    write(project / "raw" / "a.txt", "alpha")
    write(project / "raw" / "b.txt", "beta")
    with tracked(project) as tracker, tracker.stage("split").execution() as run:
        run.log_dataslice("fold-1", ["raw/a.txt", "raw/b.txt"])
    for data in (b"alpha", b"beta"):
        entry = cached(project / ".mltrail" / "cache", f"sha256:{sha256(data)}")
        assert entry.read_bytes() == data


def test_another_cache_or_none(project: Path, tmp_path: Path) -> None:
    write(project / "a.txt", "alpha")
    with (
        tracked(project, cache=tmp_path / "shared") as tracker,
        tracker.stage("s").execution() as run,
    ):
        logged = run.log_dataset("a.txt")
    assert logged.external_id is not None
    assert cached(tmp_path / "shared", logged.external_id).read_bytes() == b"alpha"
    assert not (project / ".mltrail" / "cache").exists()
    with tracked(project, cache=False) as tracker:
        assert tracker.cache is None
        with tracker.stage("s").execution() as run:
            run.log_dataset("a.txt")
    assert not (project / ".mltrail" / "cache").exists()
    with pytest.raises(InvalidArgumentError, match="cache must be True"):
        tracked(project, cache=3)


def test_md5_objects_are_laid_out_as_dvc_does(project: Path) -> None:
    write(project / "a.txt", "alpha")
    with tracked(project, hash_algorithm="md5") as tracker, tracker.stage("s").execution() as run:
        logged = run.log_dataset("a.txt")
    digest = hashlib.md5(b"alpha").hexdigest()
    assert logged.external_id == f"md5:{digest}"
    entry = project / ".mltrail" / "cache" / "files" / "md5" / digest[:2] / digest[2:]
    assert entry.read_bytes() == b"alpha"


def test_relogging_unchanged_files_copies_nothing(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project / "a.txt", "alpha")
    write(project / "d" / "x.txt", "x")
    added: list[Any] = []
    original = Cache.add

    def counting(self: Cache, path: Any, oid: Any) -> Any:
        added.append(oid)
        return original(self, path, oid)

    monkeypatch.setattr(Cache, "add", counting)
    with tracked(project) as tracker:
        for _ in range(3):
            with tracker.stage("s").execution() as run:
                run.log_dataset("a.txt")
                run.log_dataset("d")
    assert len(added) == 2  # the first log of each; later ones found the objects present
    write(project / "a.txt", "changed")
    with tracked(project) as tracker, tracker.stage("s").execution() as run:
        run.log_dataset("a.txt")
    assert len(added) == 3


def test_a_file_missing_from_the_cache_is_added_again(project: Path) -> None:
    write(project / "a.txt", "alpha")
    with tracked(project) as tracker:
        with tracker.stage("s").execution() as run:
            logged = run.log_dataset("a.txt")
        assert logged.external_id is not None
        entry = cached(project / ".mltrail" / "cache", logged.external_id)
        os.chmod(entry, 0o644)
        entry.unlink()
        with tracker.stage("s").execution() as run:
            run.log_dataset("a.txt")
    assert entry.read_bytes() == b"alpha"


def test_bytes_that_no_longer_match_the_digest_are_refused(project: Path) -> None:
    # The memo vouches for a digest (same size, mtime and inode) that the bytes no longer
    # have: the copy into the cache hashes them, refuses them, and the log records nothing.
    path = write(project / "a.txt", "alpha", old=True)
    with tracked(project) as tracker:
        with tracker.stage("s").execution() as run:
            logged = run.log_dataset("a.txt")
        assert logged.external_id is not None
        entry = cached(project / ".mltrail" / "cache", logged.external_id)
        os.chmod(entry, 0o644)
        entry.unlink()
        before = path.stat()
        with open(path, "r+b") as stream:  # same size, same inode
            stream.write(b"ALPHA")
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        run = tracker.stage("s").execution()
        with pytest.raises(FailedPreconditionError, match="changed since it was logged"):
            run.log_dataset("a.txt")
        run.end()
        assert not entry.exists()
        assert tracker.store.get_events_by_execution_ids([run.id]) == []


# ---------------------------------------------------------------------------- two sites


def test_a_model_logged_at_one_site_is_fetched_at_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site_a, site_b, shelf = tmp_path / "a", tmp_path / "b", tmp_path / "shelf"
    site_a.mkdir()
    monkeypatch.chdir(site_a)
    write(site_a / "data" / "train.csv", "a,b\n1,2\n")
    write(site_a / "data" / "images" / "x.png", b"\x89PNG x")
    write(site_a / "models" / "model.pkl", b"trained weights")
    remotes.add("shelf", str(shelf), kind="data", path=site_a / ".mltrail" / "config.toml")
    with tracked(site_a) as tracker:
        with tracker.stage("train").execution() as run:
            run.log_dataset("data/train.csv")
            images = run.log_dataset("data/images")
            model = run.log_model("models/model.pkl")
        pushed = tracker.push_data()  # the only remote with a data end
        assert pushed.transferred == 4 and pushed.failed == {}  # 2 files, 1 image, 1 manifest
        assert tracker.push_data().transferred == 0  # only what the remote lacks
        sync.push(tracker.store, str(tmp_path / "carry.mltrail"))
    assert model.external_id is not None and images.external_id is not None

    site_b.mkdir()
    monkeypatch.chdir(site_b)
    with mltrail.connect(str(site_b / "site.db")) as store_b:
        sync.pull(store_b, str(tmp_path / "carry.mltrail"))
        with (
            Tracker("vision", store=store_b, root=site_b, git=False, environment=False) as b,
            b.stage("evaluate").execution() as run,
        ):
            got = run.fetch(model.external_id, remote=str(shelf))
            folder = run.fetch(
                images.external_id, remote=str(shelf), to=site_b / "elsewhere" / "imgs"
            )
        assert got == site_b / "models" / "model.pkl"
        assert got.read_bytes() == b"trained weights"
        assert (folder / "x.png").read_bytes() == b"\x89PNG x"
        assert folder == site_b / "elsewhere" / "imgs"
        assert cached(site_b / ".mltrail" / "cache", model.external_id).is_file()
        # the fetched artifacts are inputs of the run, at their new paths too
        events = store_b.get_events_by_execution_ids([run.id])
        assert {e.type for e in events} == {EventType.INPUT}
        [stored] = store_b.get_artifacts_by_external_ids([images.external_id])
        assert stored.properties["paths"] == ["data/images", "elsewhere/imgs"]
        assert {e.artifact_id for e in events} >= {stored.id}
        assert run.fingerprint().parts()["inputs"]["models/model.pkl"] == model.external_id


def test_fetch_verifies_the_bytes_and_says_what_is_wrong(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site_a, site_b, shelf = tmp_path / "a", tmp_path / "b", tmp_path / "shelf"
    write(site_a / "model.pkl", b"trained weights")
    site_b.mkdir()
    monkeypatch.chdir(site_a)
    with tracked(site_a) as tracker:
        with tracker.stage("train").execution() as run:
            model = run.log_model("model.pkl")
        tracker.push_data(str(shelf))
        sync.push(tracker.store, str(site_b / "site.db"))
    monkeypatch.chdir(site_b)
    assert model.external_id is not None
    on_shelf = cached(shelf, model.external_id)
    os.chmod(on_shelf, 0o644)
    on_shelf.write_bytes(b"trained weightz")  # corrupted on the remote
    with tracked(site_b) as tracker, tracker.stage("evaluate").execution() as run:
        with pytest.raises(NotFoundError, match="not in the cache"):
            run.fetch(model.external_id)  # no remote configured here
        with pytest.raises(FailedPreconditionError, match=model.external_id.split(":")[1][:12]):
            run.fetch(model.external_id, remote=str(shelf))
        assert not (site_b / "model.pkl").exists()  # nothing half-written
        assert not cached(site_b / ".mltrail" / "cache", model.external_id).exists()
        with pytest.raises(InvalidArgumentError, match="has no bytes of its own"):
            metrics = run.log_metrics({"accuracy": 0.9})
            run.fetch(metrics)
        on_shelf.write_bytes(b"trained weights")  # repaired: the next attempt completes
        assert run.fetch(model.external_id, remote=str(shelf)).read_bytes() == b"trained weights"


def test_push_data_needs_the_bytes_and_a_remote(project: Path, tmp_path: Path) -> None:
    write(project / "model.pkl", b"weights")
    with tracked(project, cache=False) as tracker:
        with tracker.stage("train").execution() as run:
            run.log_model("model.pkl")
        with pytest.raises(NotFoundError, match="no remote is configured"):
            tracker.push_data()
        # not in the cache (cache=False): added from the path it was logged at, then sent
        assert tracker.push_data(str(tmp_path / "shelf")).transferred == 1
        (project / "model.pkl").unlink()
        tracker.data.cache.remove([Oid.parse(f"sha256:{sha256(b'weights')}")])
        with pytest.raises(FailedPreconditionError):
            tracker.push_data(str(tmp_path / "elsewhere"))


def test_a_data_slice_is_fetched_member_by_member(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site_a, site_b, shelf = tmp_path / "a", tmp_path / "b", tmp_path / "shelf"
    write(site_a / "raw" / "0.txt", "zero")
    write(site_a / "raw" / "deep" / "1.txt", "one")
    monkeypatch.chdir(site_a)
    with tracked(site_a) as tracker:
        with tracker.stage("split").execution() as run:
            piece = run.log_dataslice("hard", ["raw/0.txt", "raw/deep/1.txt"])
        assert tracker.push_data(str(shelf)).transferred == 2
        sync.push(tracker.store, str(tmp_path / "carry.mltrail"))
    site_b.mkdir()
    monkeypatch.chdir(site_b)
    with tracked(site_b) as tracker:
        sync.pull(tracker.store, str(tmp_path / "carry.mltrail"))
        with tracker.stage("train").execution() as run:
            assert piece.external_id is not None
            assert run.fetch(piece.external_id, remote=str(shelf)) == site_b
            copied = run.fetch(piece.external_id, to=tmp_path / "copy")
        assert (site_b / "raw" / "0.txt").read_text() == "zero"
        assert (site_b / "raw" / "deep" / "1.txt").read_text() == "one"
        assert (copied / "raw" / "deep" / "1.txt").read_text() == "one"
        [event] = tracker.store.get_events_by_execution_ids([run.id])
        assert event.type == EventType.INPUT and event.path == ["hard"]
        assert run.fingerprint().parts()["inputs"] == {"dataslice hard": piece.external_id}


# ---------------------------------------------------------------------------- CMF's calls


def test_cmf_artifact_push_and_pull(project: Path, tmp_path: Path) -> None:
    import shutil

    from mltrail.compat import cmf

    write(project / "data" / "raw.csv", "a\n1\n")
    write(project / "model.pkl", b"weights")
    shelf = tmp_path / "shelf"
    with cmf.Cmf(pipeline_name="pipe") as metawriter:
        metawriter.create_context(pipeline_stage="train")
        metawriter.create_execution(execution_type="train")
        metawriter.log_dataset("data/raw.csv", "input")
        metawriter.log_model("model.pkl", "output")
    report = cmf.artifact_push("pipe", remote=str(shelf))
    assert (report.transferred, report.skipped) == (2, 0)
    assert cmf.artifact_push("pipe", "mlmd", remote=str(shelf)).transferred == 0
    (project / "model.pkl").unlink()
    (project / "data" / "raw.csv").unlink()
    shutil.rmtree(project / ".mltrail" / "cache")
    assert cmf.artifact_pull("pipe", artifact_name="model.pkl:abc", remote=str(shelf)) == [
        project / "model.pkl"
    ]
    assert (project / "model.pkl").read_bytes() == b"weights"
    assert not (project / "data" / "raw.csv").exists()
    pulled = cmf.artifact_pull("pipe", remote=str(shelf))
    assert sorted(pulled) == [project / "data" / "raw.csv", project / "model.pkl"]
    assert (project / "data" / "raw.csv").read_text() == "a\n1\n"
    with pytest.raises(NotFoundError, match="pipeline 'other' has logged nothing"):
        cmf.artifact_push("other", remote=str(shelf))
    with pytest.raises(InvalidArgumentError, match=r"has no file or directory 'nothing\.csv'"):
        cmf.artifact_pull("pipe", artifact_name="nothing.csv", remote=str(shelf))


def test_a_cache_that_cannot_be_written_is_a_clear_error(project: Path, tmp_path: Path) -> None:
    write(project / "a.txt", "alpha")
    blocker = write(tmp_path / "not-a-directory", "a file where the cache's parent should be")
    with tracked(project, cache=blocker / "cache") as tracker:
        run = tracker.stage("s").execution()
        with pytest.raises(
            FailedPreconditionError, match=r"cannot copy .* into the cache .*cache=False"
        ):
            run.log_dataset("a.txt")
        run.end()
        assert tracker.store.get_artifacts(filter_query="type = 'Dataset'") == []  # nothing


@pytest.mark.parametrize("recorded", ["../outside/model.pkl", "/tmp/elsewhere/model.pkl"])
def test_a_recorded_path_outside_the_project_is_not_written_by_default(
    project: Path, tmp_path: Path, recorded: str
) -> None:
    """A path in the metadata may come from any site that pushed: fetching never writes
    outside the project root unless told where (to=)."""
    write(project / "models" / "model.pkl", b"weights")
    with tracked(project) as tracker:
        with tracker.stage("train").execution() as run:
            model = run.log_model("models/model.pkl")
        assert model.id is not None
        forged = tracker.store.get_artifacts_by_id([model.id])[0]
        forged.properties["path"] = recorded
        tracker.store.put_artifacts([forged])
        with tracker.stage("use").execution() as run:
            with pytest.raises(InvalidArgumentError, match="leads outside"):
                run.fetch(model.id)
            assert not (project.parent / "outside").exists()
            assert not Path("/tmp/elsewhere/model.pkl").exists()
            placed = run.fetch(model.id, to=tmp_path / "chosen.pkl")
            assert placed.read_bytes() == b"weights"
