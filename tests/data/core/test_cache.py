"""The cache: files and directories added verified while copied, nothing left on refusal."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from data_helpers import oid_of

from mltrail.data import Cache, Oid, default_cache_dir
from mltrail.data._manifest import manifest_bytes
from mltrail.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from mltrail.tracking.hashing import Hasher


def _everything(cache: Cache) -> list[str]:
    root = Path(cache.root)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _digest(path: Path, algorithm: str = "sha256") -> Oid:
    return Oid.parse(Hasher(algorithm).digest(path).external_id)


def test_add_a_file(cache: Cache, tmp_path: Path) -> None:
    source = tmp_path / "data.csv"
    source.write_bytes(b"a,b\n1,2\n")
    oid = _digest(source)
    report = cache.add(source, oid)
    assert (report.added, report.skipped, report.bytes) == (1, 0, 8)
    assert cache.has(oid)
    assert cache.local_path(oid).read_bytes() == source.read_bytes()
    assert os.stat(cache.local_path(oid)).st_mode & 0o777 == 0o444
    assert _everything(cache) == [oid.path]
    again = cache.add(source, oid.external_id)
    assert (again.added, again.skipped) == (0, 1)


@pytest.mark.parametrize("algorithm", ["sha256", "md5"])
def test_add_a_directory(cache: Cache, tmp_path: Path, algorithm: str) -> None:
    source = tmp_path / "images"
    (source / "sub").mkdir(parents=True)
    (source / "a.png").write_bytes(b"A" * 100)
    (source / "sub" / "b.png").write_bytes(b"B" * 10)
    (source / "sub" / "same.png").write_bytes(b"A" * 100)
    oid = _digest(source, algorithm)
    assert oid.is_dir
    report = cache.add(source, oid)
    assert (report.added, report.skipped) == (3, 1)  # two files, one duplicate, the manifest
    manifest = cache.read_manifest(oid)
    assert [relpath for relpath, _ in manifest] == ["a.png", "sub/b.png", "sub/same.png"]
    assert all(cache.has(member) for _, member in manifest)
    expected = manifest_bytes([(r, m.hexdigest) for r, m in manifest], algorithm)
    assert cache.local_path(oid).read_bytes() == expected
    assert cache.add(source, oid).skipped == 1


def test_a_changed_file_is_refused_and_nothing_stays(cache: Cache, tmp_path: Path) -> None:
    source = tmp_path / "model.bin"
    source.write_bytes(b"version 1")
    logged = _digest(source)
    source.write_bytes(b"version 2")
    with pytest.raises(FailedPreconditionError, match="changed since it was logged"):
        cache.add(source, logged)
    assert _everything(cache) == []


def test_a_changed_directory_is_refused_and_nothing_stays(cache: Cache, tmp_path: Path) -> None:
    source = tmp_path / "data"
    source.mkdir()
    (source / "one").write_bytes(b"1")
    (source / "two").write_bytes(b"2")
    logged = _digest(source)
    (source / "two").write_bytes(b"22")
    with pytest.raises(FailedPreconditionError, match="changed since it was logged"):
        cache.add(source, logged)
    assert _everything(cache) == []


def test_objects_already_there_stay_when_a_directory_is_refused(
    cache: Cache, tmp_path: Path
) -> None:
    first = tmp_path / "first"
    first.write_bytes(b"1")
    cache.add(first, _digest(first))
    source = tmp_path / "data"
    source.mkdir()
    (source / "one").write_bytes(b"1")
    logged = _digest(source)
    (source / "new").write_bytes(b"new file")
    with pytest.raises(FailedPreconditionError):
        cache.add(source, logged)
    assert _everything(cache) == [_digest(first).path]


def test_kind_mismatch_and_missing_path(cache: Cache, tmp_path: Path) -> None:
    source = tmp_path / "f"
    source.write_bytes(b"f")
    directory = Oid("sha256", oid_of(b"f").hexdigest, True)
    with pytest.raises(InvalidArgumentError, match="is a file"):
        cache.add(source, directory)
    with pytest.raises(InvalidArgumentError, match="is a directory"):
        cache.add(tmp_path, oid_of(b"f"))
    with pytest.raises(NotFoundError):
        cache.add(tmp_path / "absent", oid_of(b"f"))


def test_default_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLTRAIL_CACHE", raising=False)
    assert default_cache_dir(tmp_path) == tmp_path / ".mltrail" / "cache"
    monkeypatch.setenv("MLTRAIL_CACHE", str(tmp_path / "shared"))
    assert default_cache_dir(tmp_path) == tmp_path / "shared"


def test_the_project_cache_is_git_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLTRAIL_CACHE", raising=False)
    cache = Cache(default_cache_dir(tmp_path))
    source = tmp_path / "f"
    source.write_bytes(b"f")
    cache.add(source, oid_of(b"f"))
    assert (tmp_path / ".mltrail" / ".gitignore").read_text().strip().endswith("*")


def test_a_large_file_is_copied_in_bounded_memory(cache: Cache, tmp_path: Path) -> None:
    import tracemalloc

    source = tmp_path / "big.bin"
    with open(source, "wb") as out:
        for _ in range(64):
            out.write(os.urandom(1 << 20))
    oid = _digest(source)
    tracemalloc.start()
    try:
        cache.add(source, oid)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, peak
    assert cache.local_path(oid).stat().st_size == 64 << 20


def test_a_large_directory_is_added_whole(cache: Cache, tmp_path: Path) -> None:
    source = tmp_path / "many"
    for i in range(200):
        (source / f"d{i % 7}").mkdir(parents=True, exist_ok=True)
        (source / f"d{i % 7}" / f"{i}.txt").write_bytes(f"file {i % 150}".encode())
    oid = _digest(source)
    report = cache.add(source, oid)
    assert (report.added, report.skipped) == (151, 50)  # 150 distinct files and the manifest
    manifest = cache.read_manifest(oid)
    assert len(manifest) == 200
    assert all(cache.has(member) for _, member in manifest)


def test_a_failed_reflink_is_not_tried_again_between_the_same_devices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a filesystem that cannot share blocks (the clone call answers EOPNOTSUPP, as ext4
    does), the first reflink between two devices tries and cleans up; the next fails at once,
    creating no file and making no call."""
    import errno
    import fcntl

    from mltrail.data import _files

    clones: list[int] = []

    def cannot_share(fd: int, request: int, arg: int) -> int:
        clones.append(request)
        raise OSError(errno.EOPNOTSUPP, "Operation not supported")

    monkeypatch.setattr(fcntl, "ioctl", cannot_share)
    monkeypatch.setattr(_files, "_NO_REFLINK", set())
    source = tmp_path / "source"
    source.write_bytes(b"x" * 4096)
    with pytest.raises(OSError):
        _files.reflink(source, tmp_path / "first")
    assert clones == [_files.FICLONE]
    assert (source.stat().st_dev, tmp_path.stat().st_dev) in _files._NO_REFLINK
    assert not (tmp_path / "first").exists()
    seen: list[str] = []
    real_open = os.open

    def watched(path: Any, *args: Any, **kwargs: Any) -> int:
        seen.append(str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", watched)
    with pytest.raises(OSError):
        _files.reflink(source, tmp_path / "second")
    assert clones == [_files.FICLONE]  # not asked again
    assert str(tmp_path / "second") not in seen and not (tmp_path / "second").exists()
