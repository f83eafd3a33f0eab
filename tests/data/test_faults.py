"""Transfers that go wrong: corrupt and cut-short objects, a server that goes away in the middle
of a push or a pull, and a destination that fills up.

Each fault must give a clear error naming what went wrong, leave nothing half-written (no object
under its final name that does not hash to it; in a cache, nothing but the resumable partial
download of an object that was cut off) and let a rerun complete once the fault is gone.
"""

from __future__ import annotations

import hashlib
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _storage_objects import digest, make_files, payload, record

from _servers import unavailable
from _storage_servers import (
    SeaweedServer,
    SmallFilesystem,
    SshServer,
    StorageRemote,
    free_ports,
)
from mltrail.data import Cache, ObjectStore, Oid, open_remote, pull, push, transfer
from mltrail.data._oid import path_to_oid
from mltrail.errors import FailedPreconditionError, PermissionDeniedError, UnavailableError

# -------------------------------------------------------------------------------- what is left


def is_temporary(name: str) -> bool:
    """A write in progress (a dot name ending in ``.tmp``), never an object's name."""
    return name.startswith(".") and name.endswith(".tmp")


def remote_contents(fs: Any, root: str) -> tuple[dict[Oid, bytes], list[str]]:
    """(objects under their final names → bytes, other paths) of a remote."""
    root = root.rstrip("/")
    objects: dict[Oid, bytes] = {}
    others: list[str] = []
    for path in fs.find(root):
        relative = path[len(root) + 1 :]
        oid = path_to_oid(relative)
        if oid is None:
            others.append(relative)
        else:
            objects[oid] = fs.cat_file(path)
    return objects, others


def assert_objects_whole(objects: dict[Oid, bytes]) -> None:
    for oid, data in objects.items():
        assert hashlib.new(oid.algorithm, data).hexdigest() == oid.hexdigest, (
            f"{oid} is under its final name with bytes that do not hash to it"
        )


def assert_remote_whole(fs: Any, root: str, *, temporaries: bool = False) -> set[Oid]:
    """Every object on the remote hashes to its name; nothing else is there but (when allowed)
    temporaries of writes cut off. Returns the objects' ids."""
    objects, others = remote_contents(fs, root)
    assert_objects_whole(objects)
    stray = [p for p in others if not (temporaries and is_temporary(p.rsplit("/", 1)[-1]))]
    assert not stray, f"the remote holds files that are not objects: {stray}"
    return set(objects)


def assert_local_store_whole(cache: ObjectStore, truth: dict[Oid, bytes]) -> set[Oid]:
    """Every object of a local store (a cache, a directory remote) hashes to its name; its
    tmp/ holds nothing but partial downloads, each named for its object and a prefix of that
    object's true bytes."""
    objects, others = remote_contents(cache.fs, cache.root)
    assert_objects_whole(objects)
    for relative in others:
        assert relative.startswith("tmp/"), f"the cache holds a stray file {relative}"
        name = relative[len("tmp/") :]
        assert name.endswith(".partial"), f"the cache holds a leftover temporary {relative}"
        oid = next(o for o in truth if name == f"{o.algorithm}-{o.value}.partial")
        data = (Path(cache.root) / relative).read_bytes()
        assert truth[oid].startswith(data), f"{relative} is not a prefix of {oid}'s bytes"
    return set(objects)


def cache_of(directory: Path, objects: dict[Oid, Path]) -> Cache:
    cache = Cache(directory)
    for oid, path in objects.items():
        cache.add(path, oid)
    return cache


def truth_of(objects: dict[Oid, Path]) -> dict[Oid, bytes]:
    return {oid: path.read_bytes() for oid, path in objects.items()}


# ------------------------------------------------------------------- corrupt and short objects


@pytest.mark.parametrize("damage", ["corrupted", "truncated"])
def test_a_damaged_object_on_the_remote(remote: StorageRemote, tmp_path: Path, damage: str) -> None:
    objects = make_files(tmp_path / "src", 6, size=300_000)
    first = cache_of(tmp_path / "first", objects)
    store = open_remote(remote.url, remote.options)
    assert transfer(first, store, objects).transferred == 6
    bad = sorted(objects)[2]
    good = objects[bad].read_bytes()
    if damage == "corrupted":  # same size, one byte changed
        damaged = good[:1000] + bytes([good[1000] ^ 0xFF]) + good[1001:]
    else:  # cut short, as by an upload that stopped
        damaged = good[: len(good) // 3]
    remote.fs.pipe(remote.object_path(bad.path), damaged)

    # one object: a typed error naming the object, the remote, and what to do; nothing lands
    out = tmp_path / "out.bin"
    with pytest.raises(FailedPreconditionError) as raised:
        open_remote(remote.url, remote.options).get_file(bad, out)
    message = str(raised.value)
    assert str(bad) in message and remote.url in message and "push it again" in message
    assert not out.exists()
    assert not list(tmp_path.glob(".out.bin*"))

    # a pull of all: the others arrive, the damaged one is reported and does not land
    second = Cache(tmp_path / "second")
    pulled = transfer(open_remote(remote.url, remote.options), second, objects)
    assert set(pulled.failed) == {bad}
    assert "corrupt or truncated" in pulled.failed[bad] and remote.url in pulled.failed[bad]
    assert pulled.transferred == 5
    assert assert_local_store_whole(second, truth_of(objects)) == set(objects) - {bad}
    assert not second.partial_path(bad).exists()  # a wrong download is not kept to resume

    # repaired on the remote (removed and pushed again from a good copy): the rerun completes
    open_remote(remote.url, remote.options).remove([bad])
    assert transfer(first, open_remote(remote.url, remote.options), [bad]).transferred == 1
    again = transfer(open_remote(remote.url, remote.options), second, objects)
    assert again.ok and (again.transferred, again.skipped) == (1, 5)
    assert second.local_path(bad).read_bytes() == good


def test_a_damaged_directory_manifest(remote: StorageRemote, tmp_path: Path) -> None:
    """A manifest whose bytes do not hash to its id is not trusted: none of its files are
    fetched by it and it does not land."""
    from _storage_objects import make_tree

    dir_oid, _ = make_tree(tmp_path / "tree")
    first = Cache(tmp_path / "first")
    first.add(tmp_path / "tree", dir_oid)
    store = open_remote(remote.url, remote.options)
    transfer(first, store, [dir_oid])
    manifest = remote.fs.cat(remote.object_path(dir_oid.path))
    remote.fs.pipe(remote.object_path(dir_oid.path), manifest.replace(b"sub/", b"bus/"))
    second = Cache(tmp_path / "second")
    pulled = transfer(open_remote(remote.url, remote.options), second, [dir_oid])
    assert set(pulled.failed) == {dir_oid}
    assert "corrupt" in pulled.failed[dir_oid]
    assert not second.has(dir_oid)
    assert assert_local_store_whole(second, {}) == set()


# --------------------------------------------------------------- a server that goes away


class KillAfter:
    """Progress that stops the server once ``after`` objects have arrived (once)."""

    def __init__(self, server: SeaweedServer | SshServer, *, after: int = 0, nbytes: int = 0):
        self.server = server
        self.after = after
        self.nbytes = nbytes
        self.objects = 0
        self.bytes = 0
        self.killed = threading.Event()

    def start(self, total_objects: int, total_bytes: int) -> None:
        pass

    def advance(self, objects: int, nbytes: int) -> None:
        self.objects += objects
        self.bytes += nbytes
        due = self.objects >= self.after if self.after else self.bytes >= self.nbytes
        if due and not self.killed.is_set():
            self.killed.set()
            self.server.kill()


@pytest.fixture(params=["s3", "ssh"])
def own_server(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[SeaweedServer | SshServer, StorageRemote]]:
    """A server of the test's own (it is stopped in the middle of the test), and a remote on it."""
    server: SeaweedServer | SshServer
    if request.param == "s3":
        server = SeaweedServer(tmp_path / "seaweedfs", start=False)
    else:
        server = SshServer(tmp_path / "sshd", start=False)
    if server.unavailable is not None:
        unavailable(server.unavailable, f"the {request.param} fault tests need it")
    server.start()
    try:
        if isinstance(server, SeaweedServer):
            # botocore retries a refused connection 5 times with a growing pause, for each
            # object: seconds per object once the server is gone. One attempt keeps the test
            # short; what is left behind is the same.
            options = {**server.options, "config_kwargs": {"retries": {"max_attempts": 1}}}
            remote = StorageRemote(
                "s3", server.url("faults"), options, None, f"{server.bucket}/faults"
            )
        else:
            root = tmp_path / "remote"
            root.mkdir()
            remote = StorageRemote("ssh", server.url(root), server.options, None, str(root))
        yield server, remote
    finally:
        server.close()


def test_the_remote_goes_away_in_the_middle_of_a_push(
    own_server: tuple[SeaweedServer | SshServer, StorageRemote], tmp_path: Path
) -> None:
    server, remote = own_server
    objects = make_files(tmp_path / "src", 80, size=200_000)
    cache = cache_of(tmp_path / "cache", objects)
    killer = KillAfter(server, after=10)
    report = transfer(
        cache, open_remote(remote.url, remote.options), objects, jobs=4, progress=killer
    )
    assert killer.killed.is_set()
    assert not report.ok and report.failed
    assert report.transferred + len(report.failed) == len(objects)
    assert report.transferred >= 10

    server.start()  # back, on the same port and data
    fs = server.filesystem()
    # SFTP writes a temporary and renames it: a write cut off by the server's death leaves its
    # temporary (a dot name, never read as an object); S3 shows an upload whole or not at all.
    landed = assert_remote_whole(fs, remote.root, temporaries=remote.kind == "ssh")
    assert landed <= set(objects)
    assert len(landed) >= report.transferred

    rerun = transfer(cache, open_remote(remote.url, remote.options), objects, jobs=4)
    assert rerun.ok, rerun.failed
    assert rerun.skipped == len(landed) and rerun.transferred == len(objects) - len(landed)
    assert assert_remote_whole(fs, remote.root, temporaries=remote.kind == "ssh") == set(objects)


def test_the_remote_goes_away_in_the_middle_of_a_pull(
    own_server: tuple[SeaweedServer | SshServer, StorageRemote], tmp_path: Path
) -> None:
    """A download cut off keeps its partial file; the rerun resumes it (asks only for the rest)
    and verifies the whole."""
    server, remote = own_server
    big = tmp_path / "big.bin"
    big.write_bytes(payload(12 << 20, 5))
    oid = Oid("sha256", digest(big.read_bytes()))
    smalls = make_files(tmp_path / "src", 5, size=1000)
    first = cache_of(tmp_path / "first", {oid: big, **smalls})
    assert transfer(first, open_remote(remote.url, remote.options), [oid, *smalls]).ok

    second = Cache(tmp_path / "second")
    killer = KillAfter(server, nbytes=3 << 20)
    report = transfer(
        open_remote(remote.url, remote.options), second, [oid], jobs=1, progress=killer
    )
    assert killer.killed.is_set()
    assert set(report.failed) == {oid}
    assert not second.has(oid)
    truth = {oid: big.read_bytes()}
    assert assert_local_store_whole(second, truth) == set()
    kept = second.partial_path(oid).stat().st_size
    assert kept >= 1 << 20  # what had arrived is kept to resume

    server.start()
    again = transfer(open_remote(remote.url, remote.options), second, [oid, *smalls])
    assert again.ok, again.failed
    assert again.transferred == 6
    assert again.bytes == (12 << 20) - kept + sum(p.stat().st_size for p in smalls.values())
    assert second.local_path(oid).read_bytes() == truth[oid]
    assert not second.partial_path(oid).exists()


# ------------------------------------------------------------------------ a full destination


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[SmallFilesystem]:
    """A 2 MB tmpfs (root only); grown with :func:`grow` when a test has seen it fill."""
    mounted = SmallFilesystem(tmp_path / "small", 2 << 20)
    if mounted.unavailable is not None:
        unavailable(mounted.unavailable, "the full-destination tests need root")
    try:
        yield mounted
    finally:
        mounted.close()


def grow(small: SmallFilesystem, size: int) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(small.directory)], check=True)


def test_a_full_remote_directory(small_fs: SmallFilesystem, tmp_path: Path) -> None:
    objects = make_files(tmp_path / "src", 12, size=256_000)  # 3 MB into 2 MB
    cache = cache_of(tmp_path / "cache", objects)
    url = str(small_fs.directory / "remote")
    report = transfer(cache, open_remote(url), objects, jobs=4)
    assert report.failed and not report.ok
    assert all("No space left" in message for message in report.failed.values()), report.failed
    assert report.transferred + len(report.failed) == 12
    truth = truth_of(objects)
    # a directory remote is written as a cache is: what was cut off stays as a partial to resume
    landed = assert_local_store_whole(open_remote(url), truth)
    assert len(landed) == report.transferred

    grow(small_fs, 8 << 20)
    rerun = transfer(cache, open_remote(url), objects, jobs=4)
    assert rerun.ok, rerun.failed
    assert (rerun.skipped, rerun.transferred) == (len(landed), 12 - len(landed))
    assert assert_local_store_whole(open_remote(url), truth) == set(objects)
    assert not list((small_fs.directory / "remote" / "tmp").iterdir())


def test_a_full_cache(small_fs: SmallFilesystem, remote: StorageRemote, tmp_path: Path) -> None:
    project = tmp_path / "project"
    objects = make_files(project / "data", 12, size=256_000)
    store = record(objects, project)
    try:
        first = Cache(tmp_path / "first")
        assert push(store, open_remote(remote.url, remote.options), cache=first, root=project).ok
        remote_options = dict(remote.options)
        cache = Cache(small_fs.directory / "cache")
        with pytest.raises(FailedPreconditionError) as raised:
            pull(store, open_remote(remote.url, remote_options), cache=cache, jobs=4)
        message = str(raised.value)
        assert "failed to arrive" in message and "No space left" in message
        assert "pull again" in message
        truth = truth_of(objects)
        landed = assert_local_store_whole(cache, truth)
        assert 0 < len(landed) < 12

        grow(small_fs, 8 << 20)
        rerun = pull(store, open_remote(remote.url, remote_options), cache=cache, jobs=4)
        assert rerun.ok and rerun.transferred == 12 - len(landed)
        assert assert_local_store_whole(cache, truth) == set(objects)
        assert not list((small_fs.directory / "cache" / "tmp").iterdir())
    finally:
        store.close()


def test_a_full_cache_when_pushing(small_fs: SmallFilesystem, tmp_path: Path) -> None:
    """The files are added to the cache before they are sent: a cache that fills is a clear
    error naming it, nothing half-added stays, and the push completes once there is room."""
    project = tmp_path / "project"
    objects = make_files(project / "data", 3, size=1 << 20)
    store = record(objects, project)
    try:
        cache = Cache(small_fs.directory / "cache")
        remote = tmp_path / "remote"
        with pytest.raises(FailedPreconditionError) as raised:
            push(store, str(remote), cache=cache, root=project, jobs=1)
        message = str(raised.value)
        assert "no space left in the cache" in message and str(cache.root) in message
        truth = truth_of(objects)
        in_cache = assert_local_store_whole(cache, truth)
        assert len(in_cache) < 3
        assert not list((small_fs.directory / "cache").rglob("*.tmp"))
        assert assert_local_store_whole(open_remote(str(remote)), truth) == in_cache

        grow(small_fs, 8 << 20)
        assert push(store, str(remote), cache=cache, root=project).ok
        assert assert_local_store_whole(open_remote(str(remote)), truth) == set(objects)
    finally:
        store.close()


# ------------------------------------------------------------- a remote that cannot be used


@pytest.mark.parametrize("kind", ["s3", "ssh"])
def test_a_remote_that_does_not_answer(kind: str, tmp_path: Path) -> None:
    port = free_ports(1)[0]  # nothing listens there
    if kind == "s3":
        url = "s3://nobody-home/prefix"
        options: dict[str, Any] = {
            "endpoint_url": f"http://127.0.0.1:{port}",
            "key": "k",
            "secret": "s",
            "config_kwargs": {"retries": {"max_attempts": 1}},
        }
    else:
        url, options = f"ssh://root@127.0.0.1:{port}/srv/data", {"known_hosts": None}
    objects = make_files(tmp_path / "src", 3)
    cache = cache_of(tmp_path / "cache", objects)
    with pytest.raises(UnavailableError) as raised:
        transfer(cache, open_remote(url, options), objects)
    assert f"cannot reach the data remote {url}" in str(raised.value)
    with pytest.raises(UnavailableError):
        transfer(open_remote(url, options), Cache(tmp_path / "other"), objects)
    assert not (tmp_path / "other").exists() or not list((tmp_path / "other").rglob("*.*"))


def test_s3_credentials_refused(s3_server: SeaweedServer, tmp_path: Path) -> None:
    project = tmp_path / "project"
    objects = make_files(project / "data", 3)
    store = record(objects, project)
    options = {**s3_server.options, "secret": "wrong"}
    url = s3_server.url("refused")
    try:
        with pytest.raises(PermissionDeniedError) as raised:
            print(
                "PUSHED",
                push(store, open_remote(url, options), cache=Cache(tmp_path / "c"), root=project),
            )
        assert f"the data remote {url} refused access" in str(raised.value)
        with pytest.raises(PermissionDeniedError):  # into another cache: the first has them
            pull(store, open_remote(url, options), cache=Cache(tmp_path / "other"))
    finally:
        store.close()
    assert not s3_server.filesystem().exists(f"{s3_server.bucket}/refused")


def test_ssh_key_refused(ssh_server: SshServer, tmp_path: Path) -> None:
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", stranger], check=True)
    url = ssh_server.url(tmp_path / "remote")
    with pytest.raises(PermissionDeniedError) as raised:
        open_remote(url, {"client_keys": [str(stranger)], "known_hosts": None})
    assert f"the data remote {url} refused access" in str(raised.value)
