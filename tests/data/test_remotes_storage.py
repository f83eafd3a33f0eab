"""The object store on every kind of remote: a local directory, S3 (SeaweedFS) and SSH (sshd).

Each test runs on a new, empty remote of each kind (``remote`` in conftest.py) opened by URL with
``open_remote`` as a user would; what lands there is checked through the test's own fsspec view
of the same place, and ids are computed here with hashlib.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest
from _storage_objects import digest, make_files, make_tree, manifest_of, payload

from _storage_servers import StorageRemote
from mltrail.data import Cache, ObjectStore, Oid, open_remote, transfer

ABSENT = Oid("sha256", "0" * 64)


def put_all(store: ObjectStore, objects: dict[Oid, Path]) -> None:
    for oid, path in objects.items():
        store.put_file(oid, path)


def listed(remote: StorageRemote) -> set[str]:
    """The object paths (relative to the remote) that the remote's filesystem holds."""
    root = remote.root.rstrip("/")
    return {p[len(root) + 1 :] for p in remote.fs.find(root)}


class Progress:
    def __init__(self) -> None:
        self.total: tuple[int, int] | None = None
        self.objects = 0
        self.bytes = 0

    def start(self, total_objects: int, total_bytes: int) -> None:
        self.total = (total_objects, total_bytes)

    def advance(self, objects: int, nbytes: int) -> None:
        self.objects += objects
        self.bytes += nbytes


def test_put_exists_get_walk_remove(remote: StorageRemote, tmp_path: Path) -> None:
    store = open_remote(remote.url, remote.options)
    objects = make_files(tmp_path / "src", 5, size=50_000)
    put_all(store, objects)

    # exactly the objects, under their DVC-style paths, and nothing else (no temporaries)
    assert listed(remote) == {oid.path for oid in objects}
    assert store.exists_many([*objects, ABSENT]) == set(objects)
    assert store.exists_many([]) == set()

    for oid, path in objects.items():
        out = tmp_path / "out" / oid.hexdigest
        out.parent.mkdir(exist_ok=True)
        store.get_file(oid, out)
        assert out.read_bytes() == path.read_bytes()
        with store.open(oid) as stream:
            assert hashlib.sha256(stream.read()).hexdigest() == oid.hexdigest

    walked = {oid: size for oid, size, _mtime in store.walk()}
    assert walked == {oid: path.stat().st_size for oid, path in objects.items()}

    gone = sorted(objects)[:2]
    store.remove([*gone, ABSENT])
    assert store.exists_many(objects) == set(objects) - set(gone)
    assert {oid for oid, _, _ in store.walk()} == set(objects) - set(gone)
    assert listed(remote) == {oid.path for oid in set(objects) - set(gone)}


def test_exists_many_on_many_objects(remote: StorageRemote, tmp_path: Path) -> None:
    """A large set is answered by a listing: the answer must still be exact, present and
    absent ids mixed, with an object at every level of the layout's two-character fan-out."""
    store = open_remote(remote.url, remote.options)
    cache = Cache(tmp_path / "cache")
    objects = make_files(tmp_path / "src", 300, size=10)
    for oid, path in objects.items():
        cache.add(path, oid)
    report = transfer(cache, store, objects, jobs=8)
    assert report.transferred == 300
    absent = {Oid("sha256", digest(str(i).encode())) for i in range(300)}
    assert store.exists_many([*objects, *absent]) == set(objects)
    assert store.exists_many(sorted(absent)) == set()


def test_transfer_cache_to_remote_to_another_cache(remote: StorageRemote, tmp_path: Path) -> None:
    first = Cache(tmp_path / "first")
    objects = make_files(tmp_path / "src", 20, size=20_000)
    for oid, path in objects.items():
        first.add(path, oid)
    store = open_remote(remote.url, remote.options)

    progress = Progress()
    pushed = transfer(first, store, objects, jobs=4, progress=progress)
    total = sum(path.stat().st_size for path in objects.values())
    assert (pushed.transferred, pushed.skipped, pushed.bytes) == (20, 0, total)
    assert not pushed.missing and not pushed.failed
    assert progress.total == (20, total)
    assert (progress.objects, progress.bytes) == (20, total)
    assert listed(remote) == {oid.path for oid in objects}

    second = Cache(tmp_path / "second")
    pulled = transfer(store, second, objects, jobs=4)
    assert (pulled.transferred, pulled.bytes) == (20, total)
    for oid, path in objects.items():
        assert second.has(oid)
        landed = second.local_path(oid)
        assert landed.read_bytes() == path.read_bytes()
        assert not stat.S_IMODE(landed.stat().st_mode) & 0o222  # read-only in the cache
    assert {oid for oid, _, _ in second.walk()} == set(objects)


def test_directory_objects(remote: StorageRemote, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    dir_oid, files = make_tree(tree)
    first = Cache(tmp_path / "first")
    first.add(tree, dir_oid)
    store = open_remote(remote.url, remote.options)

    pushed = transfer(first, store, [dir_oid])
    assert pushed.transferred == len(files) + 1  # the files once each, and the manifest
    assert listed(remote) == {dir_oid.path, *(oid.path for oid in files)}
    assert remote.fs.cat(remote.object_path(dir_oid.path)) == manifest_of(tree)
    manifest = dict(store.read_manifest(dir_oid))
    assert manifest["sub/deeper/copy-of-a.txt"] == manifest["a.txt"]
    assert set(manifest.values()) == set(files)

    second = Cache(tmp_path / "second")
    pulled = transfer(store, second, [dir_oid])
    assert pulled.transferred == len(files) + 1
    assert second.has(dir_oid)
    for oid, path in files.items():
        assert second.local_path(oid).read_bytes() == path.read_bytes()


def test_only_missing_objects_are_pushed_again(remote: StorageRemote, tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    objects = make_files(tmp_path / "src", 12, size=5_000)
    tree = tmp_path / "tree"
    dir_oid, files = make_tree(tree, seed=50)
    for oid, path in objects.items():
        cache.add(path, oid)
    cache.add(tree, dir_oid)
    store = open_remote(remote.url, remote.options)
    wanted = [*objects, dir_oid]
    first = transfer(cache, store, wanted)
    assert first.transferred == len(objects) + len(files) + 1

    # a present manifest stands for its files: it is one object to check, not five
    again = transfer(cache, store, wanted)
    assert (again.transferred, again.bytes, again.skipped) == (0, 0, len(objects) + 1)

    # lost on the remote: one file, and a directory's manifest with one of its files (as when a
    # push stopped before the manifest landed): exactly those three go again
    lost_file = sorted(objects)[3]
    lost_member = sorted(files)[0]
    for oid in (lost_file, lost_member, dir_oid):
        remote.fs.rm(remote.object_path(oid.path))
    third = transfer(cache, open_remote(remote.url, remote.options), wanted)
    assert third.transferred == 3
    assert third.skipped == len(objects) - 1 + len(files) - 1
    manifest = cache.local_path(dir_oid).stat().st_size
    assert third.bytes == (
        objects[lost_file].stat().st_size + files[lost_member].stat().st_size + manifest
    )
    assert listed(remote) == {o.path for o in [*objects, dir_oid, *files]}


def test_missing_source_objects_are_reported(remote: StorageRemote, tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    objects = make_files(tmp_path / "src", 3)
    for oid, path in objects.items():
        cache.add(path, oid)
    store = open_remote(remote.url, remote.options)
    report = transfer(cache, store, [*objects, ABSENT])
    assert report.transferred == 3
    assert set(report.missing) == {ABSENT}
    pulled = transfer(store, Cache(tmp_path / "other"), [ABSENT, *objects])
    assert set(pulled.missing) == {ABSENT}
    assert pulled.transferred == 3


def test_a_dvc_remote_reads_as_a_remote(remote: StorageRemote, tmp_path: Path) -> None:
    """Objects laid out as DVC 3 lays out its remotes (md5, ``files/md5/xx/rest``, a ``.dir``
    manifest of ``{"md5", "relpath"}`` entries) are listed, verified and pulled."""
    members = {"data/train.csv": payload(4000, 1), "data/test.csv": payload(900, 2), "x": b"x"}
    entries = [(relpath, digest(data, "md5")) for relpath, data in members.items()]
    manifest = (
        "[" + ", ".join(f'{{"md5": "{h}", "relpath": "{r}"}}' for r, h in sorted(entries)) + "]"
    ).encode()  # DVC's own serialization, written out by hand
    dir_oid = Oid("md5", digest(manifest, "md5"), is_dir=True)
    written = {dir_oid: manifest}
    for data in members.values():
        written[Oid("md5", digest(data, "md5"))] = data
    for oid, data in written.items():
        hexdigest = oid.value
        path = remote.object_path(f"files/md5/{hexdigest[:2]}/{hexdigest[2:]}")
        remote.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        remote.fs.pipe(path, data)

    store = open_remote(remote.url, remote.options)
    assert {oid for oid, _, _ in store.walk()} == set(written)
    assert dict(store.read_manifest(dir_oid)) == {r: Oid("md5", h) for r, h in entries}
    cache = Cache(tmp_path / "cache")
    report = transfer(store, cache, [dir_oid])
    assert report.transferred == len(written)
    for oid, data in written.items():
        assert cache.local_path(oid).read_bytes() == data
        assert (
            cache.local_path(oid)
            .relative_to(tmp_path / "cache")
            .as_posix()
            .endswith(f"{oid.hexdigest[:2]}/{oid.hexdigest[2:]}" + (".dir" if oid.is_dir else ""))
        )


def test_a_large_object_streams(remote: StorageRemote, tmp_path: Path) -> None:
    """An object larger than the multipart part size goes up and down whole."""
    big = tmp_path / "big.bin"
    with big.open("wb") as out:
        for i in range(20):
            out.write(payload(1 << 20, 1000 + i))
    oid = Oid("sha256", digest(big.read_bytes()))
    cache = Cache(tmp_path / "cache")
    cache.add(big, oid)
    store = open_remote(remote.url, remote.options)
    assert transfer(cache, store, [oid]).bytes == 20 << 20
    assert remote.fs.info(remote.object_path(oid.path))["size"] == 20 << 20
    other = Cache(tmp_path / "other")
    transfer(store, other, [oid])
    assert os.path.getsize(other.local_path(oid)) == 20 << 20
    assert digest(other.local_path(oid).read_bytes()) == oid.hexdigest


@pytest.mark.parametrize("algorithm", ["sha256", "md5"])
def test_both_algorithms_share_a_remote(
    remote: StorageRemote, tmp_path: Path, algorithm: str
) -> None:
    source = tmp_path / "one.bin"
    source.write_bytes(payload(1234, 7))
    oid = Oid(algorithm, digest(source.read_bytes(), algorithm))
    cache = Cache(tmp_path / "cache")
    cache.add(source, oid)
    store = open_remote(remote.url, remote.options)
    transfer(cache, store, [oid])
    assert listed(remote) == {f"files/{algorithm}/{oid.hexdigest[:2]}/{oid.hexdigest[2:]}"}
