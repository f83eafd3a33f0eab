"""``mltrail artifact push|pull|checkout`` and ``mltrail gc`` on a real SQLite store holding a
pipeline logged by the Tracker, with a local directory as the remote."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import mltrail as m
from mltrail.cli.main import main
from mltrail.data import Cache, Oid
from mltrail.tracking import Tracker

FILES = {
    "data/train.csv": b"age,churned\n31,0\n47,1\n",
    "data/images/a.png": b"\x89PNG a",
    "data/images/sub/b.png": b"\x89PNG b",
    "model.pkl": b"trained weights",
}
#: Objects of the pipeline: 4 files and the directory's manifest.
OBJECTS = 5
BYTES = sum(len(data) for data in FILES.values())


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def ok(*args: str) -> Result:
    result = run(*args)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def failed(*args: str, code: int = 1) -> str:
    result = run(*args)
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    if code == 1:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return result.stderr


def sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working tree (the current directory) where a pipeline was logged: a dataset file, a
    dataset directory, a model and metrics."""
    root = tmp_path / "tree"
    (root / ".git").mkdir(parents=True)
    monkeypatch.chdir(root)
    for name in ("MLTRAIL_STORE", "MLTRAIL_CACHE", "MLTRAIL_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, data in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    with (
        Tracker("churn", git=False, environment=False) as tracker,
        tracker.stage("train").execution() as execution,
    ):
        execution.log_dataset("data/train.csv")
        execution.log_dataset("data/images")
        execution.log_model("model.pkl")
        execution.log_dataslice("hard", ["data/train.csv", "data/images/a.png"])
        execution.log_metrics({"accuracy": 0.9})
    return root


@pytest.fixture
def shelf(tree: Path) -> Path:
    """A local directory configured as the tree's only data remote."""
    directory = tree.parent / "shelf"
    ok("remote", "add", "shelf", str(directory), "--kind", "data")
    return directory


def artifact(tree: Path, path: str) -> m.Artifact:
    with m.connect(str(tree / ".mltrail" / "mltrail.db")) as store:
        [found] = [a for a in store.get_artifacts() if a.properties.get("path") == path]
        return found


def objects(directory: Path) -> set[str]:
    return {
        p.relative_to(directory).as_posix() for p in (directory / "files").rglob("*") if p.is_file()
    }


def test_push_sends_every_object_then_nothing(tree: Path, shelf: Path) -> None:
    pushed = ok("artifact", "push").stdout.splitlines()
    assert pushed == [
        f"pushed {OBJECTS} object(s), {BYTES + _manifest_size(tree):,} bytes to shelf; "
        "0 already there"
    ]
    assert objects(shelf) == objects(tree / ".mltrail" / "cache")
    assert len(objects(shelf)) == OBJECTS
    again = json.loads(ok("artifact", "push", "shelf", "--json").stdout)
    assert again == {
        "remote": "shelf",
        "transferred": 0,
        "skipped": 4,  # the 3 artifacts' objects, and a.png that the slice asks for by itself
        "bytes": 0,
        "missing": [],
        "failed": {},
    }


def test_push_of_one_artifact_or_one_pipeline(tree: Path, shelf: Path) -> None:
    model = artifact(tree, "model.pkl")
    one = ok("artifact", "push", "--artifact", str(model.id)).stdout
    assert one.startswith("pushed 1 object(s), 15 bytes to shelf")
    by_digest = ok("artifact", "push", "--artifact", sha256(FILES["data/train.csv"])).stdout
    assert by_digest.startswith("pushed 1 object(s)")
    assert ok("artifact", "push", "--context", "churn").stdout.startswith("pushed 3 object(s)")
    elsewhere = tree.parent / "elsewhere"
    assert "to " + str(elsewhere) in ok("artifact", "push", str(elsewhere), "--jobs", "1").stdout
    assert len(objects(elsewhere)) == OBJECTS
    assert "Invalid value for '--jobs'" in failed("artifact", "push", "--jobs", "0", code=2)


def test_a_remote_by_url_with_options(tree: Path) -> None:
    target = tree.parent / "by-url"
    ok("remote", "add", "url", f"file://{target}", "--option", "auto_mkdir=true")
    assert ok("remote", "list", "--json").stdout.count('"auto_mkdir": true') == 1
    assert ok("artifact", "push", "url").stdout.startswith(f"pushed {OBJECTS} object(s)")
    assert len(objects(target)) == OBJECTS
    import fsspec

    memory = f"memory://{tree.parent.name}"  # an in-process filesystem: this process only
    try:
        assert ok("artifact", "push", memory).stdout.startswith(f"pushed {OBJECTS} object(s)")
        empty = tree.parent / "from-memory"
        pulled = ok("artifact", "pull", memory, "--cache", str(empty)).stdout
        assert pulled.startswith(f"pulled {OBJECTS} object(s)") and f"from {memory}" in pulled
    finally:
        fsspec.filesystem("memory").rm(f"/{tree.parent.name}", recursive=True)


def test_pull_into_an_empty_cache_then_checkout(tree: Path, shelf: Path) -> None:
    ok("artifact", "push")
    other = tree.parent / "other-cache"
    pulled = ok("artifact", "pull", "--cache", str(other)).stdout
    assert pulled.startswith(f"pulled {OBJECTS} object(s)") and "from shelf" in pulled
    for name, data in FILES.items():
        if "images" not in name:
            oid = Oid.parse(sha256(data))
            assert (other / oid.path).read_bytes() == data
    assert "pulled 0 object(s)" in ok("artifact", "pull", "--cache", str(other)).stdout
    images = artifact(tree, "data/images")
    out = tree.parent / "out"
    line = ok("artifact", "checkout", str(images.id), "--cache", str(other), "--to", str(out))
    assert line.stdout.strip() == f"checked out {images.external_id} at {out}"
    assert (out / "a.png").read_bytes() == FILES["data/images/a.png"]
    assert (out / "sub" / "b.png").read_bytes() == FILES["data/images/sub/b.png"]


def test_checkout_restores_refuses_and_forces(tree: Path, shelf: Path) -> None:
    model = artifact(tree, "model.pkl")
    (tree / "model.pkl").unlink()
    ok("artifact", "checkout", str(model.id))  # to the path it was logged at
    assert (tree / "model.pkl").read_bytes() == FILES["model.pkl"]
    ok("artifact", "checkout", str(model.id))  # identical: left alone
    (tree / "model.pkl").write_bytes(b"edited")
    assert "model.pkl" in failed("artifact", "checkout", str(model.id))
    assert (tree / "model.pkl").read_bytes() == b"edited"
    ok("artifact", "checkout", str(model.id), "--force", "--link", "copy")
    assert (tree / "model.pkl").read_bytes() == FILES["model.pkl"]
    # a digest, to a path, needs no store
    target = tree.parent / "copy.csv"
    digest = sha256(FILES["data/train.csv"])
    document = json.loads(ok("artifact", "checkout", digest, "--to", str(target), "--json").stdout)
    assert document == {"object": digest, "path": str(target), "pulled_bytes": 0}
    assert target.read_bytes() == FILES["data/train.csv"]


def test_checkout_of_a_data_slice(tree: Path) -> None:
    [piece] = [a for a in _artifacts(tree) if a.type == "DataSlice"]
    out = tree.parent / "slice"
    line = ok("artifact", "checkout", str(piece.id), "--to", str(out)).stdout.strip()
    assert line == f"checked out {piece.external_id} at {out}"
    assert (out / "data" / "train.csv").read_bytes() == FILES["data/train.csv"]
    assert (out / "data" / "images" / "a.png").read_bytes() == FILES["data/images/a.png"]
    assert not (out / "data" / "images" / "sub").exists()  # only the slice's members


def test_checkout_pulls_what_the_cache_lacks(tree: Path, shelf: Path) -> None:
    ok("artifact", "push")
    model = artifact(tree, "model.pkl")
    empty = tree.parent / "empty-cache"
    target = tree.parent / "model-copy.pkl"
    line = ok("artifact", "checkout", str(model.id), "--cache", str(empty), "--to", str(target))
    assert line.stdout.strip() == (
        f"checked out {model.external_id} at {target} (pulled 15 bytes from shelf)"
    )
    assert target.read_bytes() == FILES["model.pkl"]
    ok("remote", "remove", "shelf")
    message = failed(
        "artifact", "checkout", sha256(b"never logged"), "--cache", str(empty), "--to", "x"
    )
    assert "NotFoundError" in message and "not in the cache" in message


def test_gc_says_then_removes_what_nothing_refers_to(tree: Path) -> None:
    cache_dir = tree / ".mltrail" / "cache"
    stray = tree / "stray.txt"
    stray.write_bytes(b"logged by nobody")
    Cache(cache_dir).add(stray, sha256(b"logged by nobody"))
    kept = objects(cache_dir) - {Oid.parse(sha256(b"logged by nobody")).path}
    young = ok("gc").stdout.strip()  # younger than an hour: kept (a log in flight)
    assert young.startswith("would remove 0 object(s), 0 bytes;")
    dry = ok("gc", "--min-age", "0").stdout.splitlines()
    assert dry == [
        f"would remove {sha256(b'logged by nobody')}",
        f"would remove 1 object(s), 16 bytes; kept {OBJECTS} object(s), "
        f"{BYTES + _manifest_size(tree):,} bytes (dry run: --force removes them)",
    ]
    assert len(objects(cache_dir)) == OBJECTS + 1  # a dry run removes nothing
    document = json.loads(ok("gc", "--min-age", "0", "--force", "--json").stdout)
    assert document["dry_run"] is False
    assert document["removed"] == [sha256(b"logged by nobody")]
    assert objects(cache_dir) == kept
    assert ok("gc", "--min-age", "0", "--force").stdout.startswith("removed 0 object(s)")


def test_bad_input_is_a_one_line_error(tree: Path, shelf: Path) -> None:
    assert "InvalidArgumentError" in failed("artifact", "checkout", "sha256:xyz")
    assert "NotFoundError: there is no artifact 99999" in failed("artifact", "checkout", "99999")
    accuracy = [a for a in _artifacts(tree) if a.type == "Metrics"]
    assert "has no bytes of its own" in failed("artifact", "checkout", str(accuracy[0].id))
    assert "is not a data end" in failed("artifact", "push", "https://ml.example.org")
    ok("remote", "add", "central", "http://ml.example.org")
    assert "remote 'central' has no data end" in failed("artifact", "push", "central")
    assert "there is no remote named 'nope'" in failed("artifact", "pull", "nope")
    assert "give --context or --artifact, not both" in failed(
        "artifact", "push", "--context", "churn", "--artifact", "1", code=2
    )
    assert "Invalid value for '--link'" in failed(
        "artifact", "checkout", "1", "--link", "symlink", code=2
    )
    # bytes that are nowhere: neither in the cache nor at the path they were logged at
    (tree / "model.pkl").unlink()
    cache = Cache(tree / ".mltrail" / "cache")
    cache.remove([Oid.parse(sha256(FILES["model.pkl"]))])
    message = failed("artifact", "push")
    assert "FailedPreconditionError" in message and "model.pkl" in message


def test_the_transfer_bar_draws_objects_and_bytes(tree: Path) -> None:
    import io

    from rich.console import Console

    from mltrail import data
    from mltrail.cli._progress import transfer_bar

    out = io.StringIO()
    cache = Cache(tree / ".mltrail" / "cache")
    remote = data.open_remote(str(tree.parent / "drawn"))
    console = Console(file=out, force_terminal=True, width=150)
    with transfer_bar("push -> drawn", console) as progress:
        oids = [oid for oid, _, _ in cache.walk()]
        report = data.transfer(cache, remote, oids, progress=progress)
    assert report.transferred == OBJECTS
    assert "push -> drawn" in out.getvalue() and f"{OBJECTS}/{OBJECTS} object(s)" in out.getvalue()
    quiet = io.StringIO()
    with transfer_bar("pull", Console(file=quiet)) as progress:  # not a terminal
        progress.start(1, 10)
        progress.advance(1, 10)
    assert quiet.getvalue() == ""


def test_the_command_line_starts_without_the_data_machinery() -> None:
    code = (
        "import json, sys; import mltrail.cli.main; "
        "heavy = ('rich', 'fsspec', 'mltrail.data', 'mltrail.tracking', 'mltrail.sync'); "
        "print(json.dumps([m in sys.modules for m in heavy]))"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(m.__file__).resolve().parents[1])}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert json.loads(done.stdout) == [False] * 5
    help_text = ok("--help").stdout
    for command in ("artifact", "gc"):
        assert f"  {command} " in help_text
    for command in ("push", "pull", "checkout"):
        assert f"  {command} " in ok("artifact", "--help").stdout


def _artifacts(tree: Path) -> list[m.Artifact]:
    with m.connect(str(tree / ".mltrail" / "mltrail.db")) as store:
        return list(store.get_artifacts())


def _manifest_size(tree: Path) -> int:
    images = artifact(tree, "data/images")
    assert images.external_id is not None
    return (tree / ".mltrail" / "cache" / Oid.parse(images.external_id).path).stat().st_size
