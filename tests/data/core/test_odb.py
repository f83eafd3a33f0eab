"""Object stores on a local directory and in memory: existence in batches, atomic writes,
listing, removal, manifests, and opening remotes by URL."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from data_helpers import CountingFS, oid_of, put, put_directory

from mltrail.data import ObjectStore, Oid, open_remote
from mltrail.data.odb import LISTING_THRESHOLD
from mltrail.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError

Counted = tuple[ObjectStore, CountingFS]


def test_put_and_read_back(odb: ObjectStore) -> None:
    oid = put(odb, b"hello")
    assert odb.exists(oid)
    with odb.open(oid) as stream:
        assert stream.read() == b"hello"
    assert odb.read_bytes(oid) == b"hello"
    assert odb.sizes([oid]) == {oid: 5}


def test_open_absent_object_is_not_found(odb: ObjectStore) -> None:
    with pytest.raises(NotFoundError, match="is not in"):
        odb.open(oid_of(b"never stored"))


@pytest.mark.parametrize("count", [3, LISTING_THRESHOLD + 1, 500])
def test_exists_many_answers_exactly(counted: Counted, count: int) -> None:
    odb, _ = counted
    stored = {put(odb, f"object {i}".encode()) for i in range(count)}
    absent = {oid_of(f"absent {i}".encode()) for i in range(count)}
    assert odb.exists_many(stored | absent) == stored
    assert odb.exists_many(absent) == set()


def test_exists_many_batches_many_ids(counted: Counted) -> None:
    """Many ids cost one listing, not one request per object."""
    odb, fs = counted
    stored = {put(odb, f"object {i}".encode()) for i in range(300)}
    asked = stored | {oid_of(f"absent {i}".encode()) for i in range(700)}
    fs.reset()
    assert odb.exists_many(asked) == stored
    assert fs.calls["info"] == 0
    assert fs.requests <= 2, fs.calls  # on a remote, a look at one fan-out directory first


def test_exists_many_asks_each_when_the_store_is_much_larger(counted: Counted) -> None:
    """Asking each of 70 ids beats listing a remote of 12,000 objects."""
    odb, fs = counted
    stored = [oid_of(f"object {i}".encode()) for i in range(12_000)]
    for oid in stored:
        path = odb.path(oid)
        if odb.is_local:
            os.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
            Path(path).write_bytes(b"x")
        else:
            fs.inner.pipe(path, b"x")
    asked = {*stored[:35], *(oid_of(f"absent {i}".encode()) for i in range(35))}
    fs.reset()
    assert odb.exists_many(asked) == set(stored[:35])
    if odb.is_local:
        assert fs.calls["find"] == 1 and fs.calls["info"] == 0
    else:
        assert fs.calls["find"] == 0 and fs.calls["info"] == 70 and fs.calls["ls"] == 1


def test_exists_many_for_few_ids_asks_each(counted: Counted) -> None:
    odb, fs = counted
    stored = [put(odb, f"object {i}".encode()) for i in range(3)]
    fs.reset()
    assert odb.exists_many([*stored, oid_of(b"absent")]) == set(stored)
    assert fs.calls["find"] == 0
    assert fs.calls["info"] == 4


def test_exists_many_of_two_algorithms(odb: ObjectStore) -> None:
    ids = {put(odb, f"{i}".encode(), "md5") for i in range(LISTING_THRESHOLD + 5)}
    ids |= {put(odb, f"{i}".encode(), "sha256") for i in range(3)}
    assert odb.exists_many(ids) == ids


class Checking(io.RawIOBase):
    """A source that checks, at each read, that the object is not visible yet; it can fail."""

    def __init__(self, store: ObjectStore, oid: Oid, data: bytes, fail_at: int | None = None):
        self.store, self.oid, self.data, self.fail_at = store, oid, data, fail_at
        self.position = 0
        self.checks = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        assert not self.store.fs.inner.exists(self.store.path(self.oid))
        self.checks += 1
        if self.fail_at is not None and self.position >= self.fail_at:
            raise ConnectionError("source went away")
        chunk = self.data[self.position : self.position + min(len(buffer), 1 << 16)]
        buffer[: len(chunk)] = chunk
        self.position += len(chunk)
        return len(chunk)


def _files(odb: ObjectStore) -> list[str]:
    fs = odb.fs.inner if isinstance(odb.fs, CountingFS) else odb.fs
    if not fs.exists(odb.root):
        return []
    return sorted(fs.find(odb.root))


def test_write_is_atomic(odb: ObjectStore) -> None:
    data = os.urandom(300_000)
    oid = oid_of(data)
    source = Checking(odb, oid, data)
    assert odb.write_stream(oid, source) == len(data)
    assert source.checks > 2  # the object was looked for while it was being written
    assert odb.read_bytes(oid) == data
    assert _files(odb) == [odb.path(oid)]  # no temporary left


def test_failed_write_leaves_nothing(odb: ObjectStore) -> None:
    data = os.urandom(300_000)
    oid = oid_of(data)
    with pytest.raises(ConnectionError):
        odb.write_stream(oid, Checking(odb, oid, data, fail_at=100_000))
    assert not odb.exists(oid)
    assert _files(odb) == []


def test_put_file_from_a_local_path(odb: ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "file.bin"
    source.write_bytes(b"x" * 5000)
    oid = oid_of(source.read_bytes())
    assert odb.put_file(oid, source) == 5000
    assert odb.read_bytes(oid) == source.read_bytes()
    assert _files(odb) == [odb.path(oid)]


def test_local_objects_are_read_only(tmp_path: Path) -> None:
    odb = open_remote(str(tmp_path / "objects"))
    oid = put(odb, b"data")
    assert os.stat(odb.path(oid)).st_mode & 0o777 == 0o444


def test_walk_lists_objects_and_skips_temporaries(counted: Counted) -> None:
    odb, fs = counted
    one, two = put(odb, b"one"), put(odb, b"two!")
    directory, members = put_directory(odb, {"a": b"one", "b/c": b"three"})
    stray = f"{odb.root}/files/sha256/{one.hexdigest[:2]}/.{one.hexdigest[2:]}.x.tmp"
    fs.inner.pipe(stray, b"partial")
    fs.inner.pipe(f"{odb.root}/files/README", b"not an object")
    manifest_size = len(odb.read_bytes(directory))
    fs.reset()
    walked = {oid: size for oid, size, _ in odb.walk()}
    assert walked == {one: 3, two: 4, members["b/c"]: 5, directory: manifest_size}
    assert fs.requests == 1  # one listing
    assert all(mtime > 0 for _, _, mtime in odb.walk())


def test_remove(odb: ObjectStore) -> None:
    keep, drop = put(odb, b"keep"), put(odb, b"drop")
    assert odb.remove([drop, oid_of(b"never there")]) == 1
    assert odb.exists_many([keep, drop]) == {keep}


def test_read_manifest(odb: ObjectStore) -> None:
    directory, members = put_directory(odb, {"x/y.txt": b"y", "a.txt": b"a"})
    assert odb.read_manifest(directory) == [
        ("a.txt", members["a.txt"]),
        ("x/y.txt", members["x/y.txt"]),
    ]
    with pytest.raises(InvalidArgumentError, match="not a directory manifest"):
        odb.read_manifest(members["a.txt"])


@pytest.mark.parametrize(
    ("manifest", "fault"),
    [
        (b"not json", "not a directory manifest"),
        (b'{"a": 1}', "expected a JSON list"),
        (b'[{"relpath": "../escape", "sha256": "' + b"0" * 64 + b'"}]', "unsafe relative path"),
        (b'[{"relpath": "/abs", "sha256": "' + b"0" * 64 + b'"}]', "unsafe relative path"),
        (b'[{"relpath": "a"}]', "without 'relpath'"),
        (b'[{"relpath": "a", "sha256": "xyz"}]', "bad digest"),
    ],
)
def test_bad_manifests_are_refused(odb: ObjectStore, manifest: bytes, fault: str) -> None:
    oid = Oid("sha256", oid_of(manifest).hexdigest, True)
    odb.write_stream(oid, io.BytesIO(manifest))
    with pytest.raises(InvalidArgumentError, match=fault):
        odb.read_manifest(oid)


def test_corrupt_small_object_is_refused(odb: ObjectStore) -> None:
    oid = oid_of(b"expected")
    odb.write_stream(oid, io.BytesIO(b"something else"))
    with pytest.raises(FailedPreconditionError, match=f"{oid}.*corrupt"):
        odb.read_bytes(oid)


def test_open_remote_by_url(tmp_path: Path) -> None:
    local = open_remote(str(tmp_path / "r"))
    assert local.is_local and local.root == str(tmp_path / "r")
    via_file_url = open_remote(f"file://{tmp_path / 'r'}")
    assert via_file_url.root == local.root
    oid = put(local, b"shared")
    assert via_file_url.exists(oid)
    memory = open_remote("memory://mltrail-open-odb/objects")
    assert not memory.is_local and memory.url == "memory://mltrail-open-odb/objects"
    put(memory, b"in memory")
    memory.fs.rm("/mltrail-open-odb", recursive=True)


@pytest.mark.parametrize(("url", "fault"), [("", "empty"), ("nosuchproto://x/y", "cannot use")])
def test_open_remote_refuses(url: str, fault: str) -> None:
    with pytest.raises(InvalidArgumentError, match=fault):
        open_remote(url)


def test_open_remote_names_the_missing_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def refuse_s3fs(name: str, *args: object, **kwargs: object) -> object:
        if name == "s3fs" or name.startswith("s3fs."):
            raise ImportError("No module named 's3fs'")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", refuse_s3fs)
    monkeypatch.delitem(__import__("sys").modules, "s3fs", raising=False)
    with pytest.raises(FailedPreconditionError, match=r"pip install 'mltrail\[s3\]'"):
        open_remote("s3://bucket/prefix", {"endpoint_url": "http://127.0.0.1:1"})
