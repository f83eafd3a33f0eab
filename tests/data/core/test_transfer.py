"""Transfers between object stores: only what is missing, manifests last, downloads verified
and resumable, uploads atomic, memory bounded."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import pytest
from data_helpers import CountingFS, oid_of, overwrite, put, put_directory
from fsspec.implementations.local import LocalFileSystem

from mltrail.data import Cache, ObjectStore, Oid, TransferReport, transfer
from mltrail.data._files import CHUNK_SIZE
from mltrail.errors import FailedPreconditionError

Counted = tuple[ObjectStore, CountingFS]


def _files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


class Recorder:
    def __init__(self) -> None:
        self.started: tuple[int, int] | None = None
        self.objects = 0
        self.nbytes = 0

    def start(self, total_objects: int, total_bytes: int) -> None:
        self.started = (total_objects, total_bytes)

    def advance(self, objects: int, nbytes: int) -> None:
        self.objects += objects
        self.nbytes += nbytes


def test_pull_into_the_cache(odb: ObjectStore, cache: Cache) -> None:
    files = [put(odb, f"file {i}".encode() * 100) for i in range(20)]
    progress = Recorder()
    report = transfer(odb, cache, files, jobs=4, progress=progress)
    assert (report.transferred, report.skipped, report.ok) == (20, 0, True)
    assert report.bytes == sum(odb.sizes(files).values())
    assert progress.started == (20, report.bytes)
    assert (progress.objects, progress.nbytes) == (20, report.bytes)
    assert all(cache.has(oid) for oid in files)
    assert _files_under(cache.tmp_dir) == []


def test_push_from_the_cache(odb: ObjectStore, cache: Cache) -> None:
    files = [put(cache, f"file {i}".encode()) for i in range(10)]
    report = transfer(cache, odb, [oid.external_id for oid in files])
    assert report.transferred == 10 and report.ok
    assert odb.exists_many(files) == set(files)


def test_only_missing_objects_are_copied(counted: Counted, cache: Cache) -> None:
    odb, fs = counted
    files = [put(odb, f"file {i}".encode()) for i in range(100)]
    transfer(odb, cache, files[:60])
    fs.reset()
    report = transfer(odb, cache, files)
    assert (report.transferred, report.skipped) == (40, 60)
    assert fs.calls["open"] == 40  # one read per missing object, nothing for the others
    assert fs.requests <= 80, fs.calls  # and the sizes (an info each, for so few)
    again = transfer(odb, cache, files)
    assert (again.transferred, again.skipped) == (0, 100)


def test_only_missing_objects_are_sent(odb: ObjectStore, cache: Cache) -> None:
    files = [put(cache, f"file {i}".encode()) for i in range(100)]
    transfer(cache, odb, files[:60])
    report = transfer(cache, odb, files)
    assert (report.transferred, report.skipped) == (40, 60)
    assert odb.exists_many(files) == set(files)


def test_directories_travel_with_their_files(odb: ObjectStore, cache: Cache) -> None:
    directory, members = put_directory(odb, {"a": b"A", "b/c": b"C", "d": b"D"})
    report = transfer(odb, cache, [directory])
    assert report.transferred == 4 and report.ok
    assert cache.read_manifest(directory) == sorted(members.items())
    assert all(cache.has(oid) for oid in members.values())
    # Members already there are not copied again.
    other, _ = put_directory(odb, {"a": b"A", "e": b"E"})
    report = transfer(odb, cache, [other])
    assert (report.transferred, report.skipped) == (2, 1)


def test_a_manifest_lands_after_its_files(
    odb: ObjectStore, cache: Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = importlib.import_module("mltrail.data.transfer")

    directory, members = put_directory(cache, {f"f{i}": f"{i}".encode() for i in range(30)})
    landed: list[Oid] = []
    copy, write = module._copy, odb.write_stream

    def copy_recording(
        src: ObjectStore, dst: ObjectStore, oid: Oid, size: int, on_bytes: Any
    ) -> int:
        written: int = copy(src, dst, oid, size, on_bytes)
        landed.append(oid)
        return written

    def write_recording(oid: Oid, source: Any, on_bytes: Any = None, **kw: Any) -> int:
        written = write(oid, source, on_bytes, **kw)
        landed.append(oid)
        return written

    monkeypatch.setattr(module, "_copy", copy_recording)
    monkeypatch.setattr(odb, "write_stream", write_recording)
    transfer(cache, odb, [directory], jobs=8)
    assert landed[-1] == directory and landed.count(directory) == 1
    assert set(landed[:-1]) == set(members.values())


def test_a_directory_with_a_missing_file_gets_no_manifest(odb: ObjectStore, cache: Cache) -> None:
    directory, members = put_directory(odb, {"a": b"A", "b": b"B"})
    odb.remove([members["b"]])
    report = transfer(odb, cache, [directory])
    assert report.missing == {members["b"]}
    assert directory in report.failed and "did not arrive" in report.failed[directory]
    assert not cache.has(directory) and cache.has(members["a"])


def test_missing_objects_are_reported(odb: ObjectStore, cache: Cache) -> None:
    present = put(odb, b"here")
    absent = oid_of(b"not here")
    absent_dir = Oid("sha256", oid_of(b"no manifest").hexdigest, True)
    report = transfer(odb, cache, [present, absent, absent_dir])
    assert report.transferred == 1
    assert report.missing == {absent, absent_dir}
    assert not report.ok


@pytest.mark.parametrize("damage", ["corrupt", "truncated"])
def test_a_bad_object_on_the_remote_lands_nowhere(
    odb: ObjectStore, cache: Cache, damage: str
) -> None:
    data = os.urandom(3 * CHUNK_SIZE + 5)
    oid = put(odb, data)
    good = put(odb, b"fine")
    bad = bytearray(data)
    if damage == "corrupt":
        bad[CHUNK_SIZE] ^= 0xFF
    else:
        del bad[2 * CHUNK_SIZE :]
    overwrite(odb, oid, bytes(bad))
    report = transfer(odb, cache, [oid, good])
    assert set(report.failed) == {oid}
    assert str(oid) in report.failed[oid] and "corrupt or truncated" in report.failed[oid]
    assert cache.has(good) and not cache.has(oid)
    assert _files_under(cache.tmp_dir) == []
    with pytest.raises(FailedPreconditionError, match=f"{oid}.*{odb.url}"):
        odb.get_file(oid, cache.directory / "elsewhere")
    assert not (cache.directory / "elsewhere").exists()


def test_a_corrupt_manifest_is_refused(odb: ObjectStore, cache: Cache) -> None:
    directory, members = put_directory(odb, {"a": b"A"})
    overwrite(odb, directory, b"[]")
    report = transfer(odb, cache, [directory])
    assert directory in report.failed and "corrupt" in report.failed[directory]
    assert report.transferred == 0 and not cache.has(members["a"])


def test_an_interrupted_download_resumes(counted: Counted, cache: Cache) -> None:
    odb, fs = counted
    data = os.urandom(8 * CHUNK_SIZE)
    oid = put(odb, data)
    fs.reset()
    fs.fail_after = 5 * CHUNK_SIZE
    first = transfer(odb, cache, [oid])
    assert oid in first.failed and "connection reset" in first.failed[oid]
    partial = cache.partial_path(oid)
    kept = partial.stat().st_size
    assert kept >= 4 * CHUNK_SIZE and not cache.has(oid)

    fs.reset()
    fs.fail_after = None
    second = transfer(odb, cache, [oid])
    assert second.ok and second.transferred == 1
    assert fs.bytes_read == len(data) - kept < len(data)  # continued, not restarted
    assert second.bytes == len(data) - kept
    assert cache.local_path(oid).read_bytes() == data
    assert not partial.exists()


def test_a_bad_partial_download_is_fetched_again(counted: Counted, cache: Cache) -> None:
    odb, fs = counted
    data = os.urandom(2 * CHUNK_SIZE)
    oid = put(odb, data)
    partial = cache.partial_path(oid)
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"garbage that is not a prefix")
    fs.reset()
    report = transfer(odb, cache, [oid])
    assert report.ok
    assert fs.bytes_read > len(data)  # the resumed copy did not verify: fetched whole again
    assert cache.local_path(oid).read_bytes() == data
    assert not partial.exists()


def test_transfers_stream_in_bounded_chunks(tmp_path: Path) -> None:
    """A 64 MB object goes up and down without being read whole."""
    import tracemalloc

    fs = CountingFS(LocalFileSystem())
    odb = ObjectStore(fs, str(tmp_path / "odb"))
    first, second = Cache(tmp_path / "one"), Cache(tmp_path / "two")
    source = tmp_path / "big.bin"
    with open(source, "wb") as out:
        for _ in range(64):
            out.write(os.urandom(1 << 20))
    import hashlib

    h = hashlib.sha256()
    with open(source, "rb") as stream:
        while chunk := stream.read(1 << 20):
            h.update(chunk)
    oid = Oid("sha256", h.hexdigest())
    first.add(source, oid)
    tracemalloc.start()
    try:
        up = transfer(first, odb, [oid])
        down = transfer(odb, second, [oid])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert up.ok and down.ok
    assert peak < 8 << 20, peak
    assert 0 < fs.largest_read <= CHUNK_SIZE
    assert second.local_path(oid).stat().st_size == 64 << 20


def test_report_defaults() -> None:
    report = TransferReport()
    assert report.ok and report.missing == set() and report.failed == {}


def test_simultaneous_downloads_of_one_object_take_turns(odb: ObjectStore, cache: Cache) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from mltrail.data._download import download

    data = os.urandom(4 * CHUNK_SIZE + 3)
    oid = put(odb, data)

    def fetch(_: int) -> int:
        return download(odb, oid, cache.local_path(oid), cache.partial_path(oid))

    with ThreadPoolExecutor(4) as pool:
        received = list(pool.map(fetch, range(4)))
    assert sum(received) == len(data)  # one download; the others found the object there
    assert cache.local_path(oid).read_bytes() == data
    assert _files_under(cache.tmp_dir) == []


def test_get_file_to_any_local_path(odb: ObjectStore, tmp_path: Path) -> None:
    oid = put(odb, b"payload")
    target = tmp_path / "out" / "payload.bin"
    assert odb.get_file(oid, target) == 7
    assert target.read_bytes() == b"payload"
    assert sorted(p.name for p in target.parent.iterdir()) == ["payload.bin"]


def test_a_destination_that_cannot_be_written_is_a_failure_not_a_missing_object(
    odb: ObjectStore, cache: Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    oid = put(cache, b"to send")

    def no_bucket(*args: Any, **kwargs: Any) -> int:
        raise FileNotFoundError("The specified bucket does not exist")

    monkeypatch.setattr(odb, "write_stream", no_bucket)
    monkeypatch.setattr(odb, "put_file", no_bucket)
    report = transfer(cache, odb, [oid])
    assert report.missing == set()
    assert "bucket does not exist" in report.failed[oid]


def test_an_object_gone_from_the_cache_is_missing(odb: ObjectStore, cache: Cache) -> None:
    """Listed when the sizes were asked, removed before it was copied (a gc meanwhile)."""
    oid = put(cache, b"here, then not")
    cache.remove([oid])
    cache.sizes = lambda oids, jobs=None: {oid: 14}  # type: ignore[method-assign]
    report = transfer(cache, odb, [oid])
    assert report.missing == {oid} and report.failed == {}
