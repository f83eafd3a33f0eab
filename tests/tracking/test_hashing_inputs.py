"""Awkward inputs to the hasher: symbolic links, loops, empty paths, files written while read."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tracking_helpers import write

from mltrail.errors import FailedPreconditionError, InvalidArgumentError
from mltrail.tracking import Tracker, hashing
from mltrail.tracking._memo import HashMemo
from mltrail.tracking.hashing import Hasher


def manifest_digest(files: dict[str, bytes]) -> str:
    manifest = [
        {"sha256": hashlib.sha256(data).hexdigest(), "relpath": relpath}
        for relpath, data in sorted(files.items())
    ]
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()


# -------------------------------------------------------------------------------- symbolic links


def test_linked_subdirectories_are_followed(tmp_path: Path) -> None:
    write(tmp_path / "store" / "one" / "x.csv", "1")
    write(tmp_path / "store" / "two" / "x.csv", "2")
    for name in ("one", "two"):
        (tmp_path / f"view-{name}").mkdir()
        (tmp_path / f"view-{name}" / "part").symlink_to(tmp_path / "store" / name)
    hasher = Hasher()
    one, two = hasher.digest(tmp_path / "view-one"), hasher.digest(tmp_path / "view-two")
    assert one != two  # two datasets, two artifacts
    assert one.hexdigest == manifest_digest({"part/x.csv": b"1"})
    assert (one.file_count, one.size) == (1, 1)


def test_linked_files_enter_the_manifest_under_their_own_path(tmp_path: Path) -> None:
    target = write(tmp_path / "elsewhere" / "real.bin", b"payload")
    write(tmp_path / "d" / "plain.txt", b"p")
    (tmp_path / "d" / "link.bin").symlink_to(target)
    digest = Hasher().digest(tmp_path / "d")
    assert digest.hexdigest == manifest_digest({"link.bin": b"payload", "plain.txt": b"p"})


def test_the_same_directory_linked_twice_is_not_a_loop(tmp_path: Path) -> None:
    write(tmp_path / "shared" / "a", b"a")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "first").symlink_to(tmp_path / "shared")
    (tmp_path / "d" / "second").symlink_to(tmp_path / "shared")
    digest = Hasher().digest(tmp_path / "d")
    assert digest.hexdigest == manifest_digest({"first/a": b"a", "second/a": b"a"})


def test_dangling_links_are_left_out(tmp_path: Path) -> None:
    write(tmp_path / "d" / "a", b"a")
    (tmp_path / "d" / "gone").symlink_to(tmp_path / "missing")
    assert Hasher().digest(tmp_path / "d").hexdigest == manifest_digest({"a": b"a"})


@pytest.mark.parametrize("target", ["self", "parent", "root"])
def test_a_link_back_into_the_walk_is_an_error(tmp_path: Path, target: str) -> None:
    write(tmp_path / "d" / "sub" / "a", b"a")
    link = tmp_path / "d" / "sub" / "loop"
    link.symlink_to({"self": ".", "parent": "..", "root": str(tmp_path / "d")}[target])
    with pytest.raises(InvalidArgumentError, match="loop") as caught:
        Hasher().digest(tmp_path / "d")
    assert str(link) in str(caught.value)


def test_a_loop_of_links_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(InvalidArgumentError, match="loop of symbolic links") as caught:
        Hasher().digest(tmp_path / "a")
    assert str(tmp_path / "a") in str(caught.value)
    write(tmp_path / "d" / "ok", b"1")
    (tmp_path / "d" / "x").symlink_to(tmp_path / "a")
    with pytest.raises(InvalidArgumentError, match="loop of symbolic links") as inside:
        Hasher().digest(tmp_path / "d")
    assert str(tmp_path / "d" / "x") in str(inside.value)


# ------------------------------------------------------------------------------------ empty paths


@pytest.mark.parametrize("path", ["", None, b"data.csv", 3])
def test_empty_or_non_paths_are_refused(tmp_path: Path, path: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="path"):
        Hasher().digest(path)


@pytest.mark.parametrize("path", ["", None])
def test_log_dataset_refuses_an_empty_path(tracker: Tracker, project: Path, path: Any) -> None:
    write(project / "big.csv", "everything in the working directory")
    with tracker.stage("s").execution() as run:
        with pytest.raises(InvalidArgumentError, match=r"empty|path"):
            run.log_dataset(path)
        with pytest.raises(InvalidArgumentError):
            run.log_dataslice("slice", [path])
    assert tracker.store.get_artifacts_by_type("Dataset") == []


def test_a_nul_in_a_path_is_an_invalid_argument(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="not a valid path"):
        Hasher().digest(str(tmp_path / "a\0b"))


# ----------------------------------------------------------------------- files written while read


class Meddler:
    """Makes ``hashlib.new`` return hashes that run ``action`` after their first chunk, as a
    writer that changes the file in the middle of a read would (no threads, no sleeps)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, times: int, action: Callable[[], None]):
        self.left = times
        self.action = action
        real_new = hashlib.new
        meddler = self

        class Hash:
            def __init__(self, name: str, data: bytes = b"") -> None:
                self.inner = real_new(name, data)
                self.chunks = 0

            def update(self, data: Any) -> None:
                self.inner.update(data)
                self.chunks += 1
                if self.chunks == 1 and meddler.left > 0:
                    meddler.left -= 1
                    meddler.action()

            def hexdigest(self) -> str:
                return self.inner.hexdigest()

        class Module:
            new = Hash

        monkeypatch.setattr(hashing, "hashlib", Module)
        monkeypatch.setattr(hashing, "CHUNK_SIZE", 4)


def appender(path: Path) -> Callable[[], None]:
    """Appends to ``path`` and puts its old mtime back (only size and ctime tell)."""

    def append() -> None:
        before = os.stat(path)
        with open(path, "ab") as stream:
            stream.write(b"+more")
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))

    return append


def memo_rows(memo: HashMemo) -> list[tuple[str, int, str]]:
    memo.close()
    with sqlite3.connect(memo.location) as conn:
        return conn.execute("SELECT path, size, hexdigest FROM digest_memo").fetchall()


def test_a_file_appended_to_once_while_read_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "log.txt", b"0123456789", old=True)
    memo = HashMemo(tmp_path / "memo.db")
    Meddler(monkeypatch, times=1, action=appender(path))
    digest = Hasher(memo=memo).digest(path)
    final = hashlib.sha256(b"0123456789+more").hexdigest()
    assert (digest.hexdigest, digest.size) == (final, 15)
    assert memo_rows(memo) == [(str(path), 15, final)]


def test_a_file_that_keeps_changing_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "log.txt", b"0123456789", old=True)
    memo = HashMemo(tmp_path / "memo.db")
    meddler = Meddler(monkeypatch, times=hashing.READ_ATTEMPTS, action=appender(path))
    with pytest.raises(FailedPreconditionError, match="changed while it was being hashed") as err:
        Hasher(memo=memo).digest(path)
    assert meddler.left == 0 and str(path) in str(err.value)
    assert "no longer being written" in str(err.value)
    assert memo_rows(memo) == []  # nothing torn was remembered


def test_a_same_size_rewrite_while_read_is_detected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Same size, same inode, mtime put back: only ctime shows the write.
    path = write(tmp_path / "w.bin", b"aaaaaaaa", old=True)
    memo = HashMemo(tmp_path / "memo.db")
    old = os.stat(path)

    def rewrite() -> None:
        path.write_bytes(b"bbbbbbbb")  # after "aaaa" was read: a torn read gives "aaaabbbb"
        os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns))

    Meddler(monkeypatch, times=1, action=rewrite)
    final = hashlib.sha256(b"bbbbbbbb").hexdigest()
    assert Hasher(memo=memo).digest(path).hexdigest == final
    assert memo_rows(memo) == [(str(path), 8, final)]
    monkeypatch.undo()
    assert Hasher(memo=HashMemo(memo.location)).digest(path).hexdigest == final


def test_a_file_changing_inside_a_directory_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "d" / "a", b"steady")
    path = write(tmp_path / "d" / "b", b"growing")
    Meddler(monkeypatch, times=99, action=appender(path))
    with pytest.raises(FailedPreconditionError, match=str(path)):
        Hasher().digest(tmp_path / "d")
