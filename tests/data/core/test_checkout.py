"""Checkout: cache objects materialized in the work tree by copy, hard link or reflink."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from data_helpers import oid_of, put, put_directory

from mltrail.data import Cache, checkout
from mltrail.data._files import reflink
from mltrail.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError


def _can_reflink(directory: Path) -> bool:
    probe = directory / "probe"
    probe.write_bytes(b"probe")
    try:
        reflink(probe, directory / "probe-clone")
    except OSError:
        return False
    finally:
        probe.unlink()
    (directory / "probe-clone").unlink()
    return True


@pytest.mark.parametrize("link", ["copy", "auto", "hardlink"])
def test_checkout_a_file(cache: Cache, tmp_path: Path, link: str) -> None:
    oid = put(cache, b"weights")
    dest = tmp_path / "work" / "model.bin"
    report = checkout(cache, oid, dest, link=link)
    assert dest.read_bytes() == b"weights" and report.written == ["model.bin"]
    same_inode = os.stat(dest).st_ino == os.stat(cache.local_path(oid)).st_ino
    assert same_inode == (link == "hardlink")
    if link != "hardlink":
        dest.write_bytes(b"edited")  # a copy is the user's to edit
        assert cache.local_path(oid).read_bytes() == b"weights"
    assert [p.name for p in dest.parent.iterdir()] == [dest.name]  # no temporary left


def test_reflink_or_a_clear_refusal(cache: Cache, tmp_path: Path) -> None:
    oid = put(cache, b"blocks")
    dest = tmp_path / "cloned"
    if _can_reflink(tmp_path):
        checkout(cache, oid, dest, link="reflink")
        assert dest.read_bytes() == b"blocks"
        assert os.stat(dest).st_ino != os.stat(cache.local_path(oid)).st_ino
    else:
        with pytest.raises(FailedPreconditionError, match="cannot reflink"):
            checkout(cache, oid, dest, link="reflink")
        assert not dest.exists() and list(tmp_path.glob(".cloned*")) == []
        checkout(cache, oid, dest, link="auto")  # falls back to a copy
        assert dest.read_bytes() == b"blocks"


def test_checkout_a_directory(cache: Cache, tmp_path: Path) -> None:
    directory, _ = put_directory(cache, {"a.txt": b"A", "deep/er/b.txt": b"B"})
    dest = tmp_path / "data"
    report = checkout(cache, directory.external_id, dest)
    assert sorted(report.written) == ["a.txt", "deep/er/b.txt"]
    assert (dest / "a.txt").read_bytes() == b"A"
    assert (dest / "deep" / "er" / "b.txt").read_bytes() == b"B"


def test_identical_files_are_left_alone(cache: Cache, tmp_path: Path) -> None:
    directory, _ = put_directory(cache, {"a.txt": b"A", "b.txt": b"B"})
    dest = tmp_path / "data"
    checkout(cache, directory, dest)
    before = os.stat(dest / "a.txt")
    (dest / "extra.txt").write_bytes(b"mine")
    report = checkout(cache, directory, dest)
    assert report.written == [] and sorted(report.unchanged) == ["a.txt", "b.txt"]
    after = os.stat(dest / "a.txt")
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)
    assert (dest / "extra.txt").read_bytes() == b"mine"


def test_a_differing_file_is_refused_unless_forced(cache: Cache, tmp_path: Path) -> None:
    directory, _ = put_directory(cache, {"a.txt": b"A", "b.txt": b"B"})
    dest = tmp_path / "data"
    dest.mkdir()
    (dest / "b.txt").write_bytes(b"local edit")
    with pytest.raises(FailedPreconditionError, match=r"differ.*b\.txt.*force=True"):
        checkout(cache, directory, dest)
    assert sorted(p.name for p in dest.iterdir()) == ["b.txt"]  # nothing written
    assert (dest / "b.txt").read_bytes() == b"local edit"
    report = checkout(cache, directory, dest, force=True)
    assert sorted(report.written) == ["a.txt", "b.txt"]
    assert (dest / "b.txt").read_bytes() == b"B"


def test_same_size_different_bytes_is_a_difference(cache: Cache, tmp_path: Path) -> None:
    oid = put(cache, b"AAAA")
    dest = tmp_path / "f"
    dest.write_bytes(b"BBBB")
    with pytest.raises(FailedPreconditionError):
        checkout(cache, oid, dest)


def test_absent_objects_and_bad_modes(cache: Cache, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="pull it"):
        checkout(cache, oid_of(b"absent"), tmp_path / "x")
    directory, members = put_directory(cache, {"a": b"A", "b": b"B"})
    cache.remove([members["b"]])
    with pytest.raises(NotFoundError, match="not in the cache"):
        checkout(cache, directory, tmp_path / "d")
    assert not (tmp_path / "d").exists()
    with pytest.raises(InvalidArgumentError, match="link must be one of"):
        checkout(cache, members["a"], tmp_path / "x", link="symlink")
