"""Fixtures of the artifact-byte tests: remotes on a local directory, S3 and SSH.

The S3 and SSH servers are real (``_storage_servers.py``): one of each per test session (per
pytest-xdist worker), started on first use and stopped at the end. Each test gets a remote of its
own: a new directory, a new prefix of the session's bucket, a new directory served over SSH.
A server that cannot run here skips its tests, or fails them with ``MLTRAIL_REQUIRE_BACKENDS``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pytest

from _servers import unavailable
from _storage_servers import SeaweedServer, SshServer, StorageRemote

REMOTE_KINDS = ("local", "s3", "ssh")


class StorageServers:
    """The session's S3 and SSH servers, each started on first use."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self._s3: SeaweedServer | None = None
        self._ssh: SshServer | None = None

    def s3(self) -> SeaweedServer:
        if self._s3 is None:
            self._s3 = SeaweedServer(self.home / "seaweedfs", start=False)
            if self._s3.unavailable is None:
                self._s3.start()
        if self._s3.unavailable is not None:
            unavailable(self._s3.unavailable, "the S3 tests need it")
        return self._s3

    def ssh(self) -> SshServer:
        if self._ssh is None:
            self._ssh = SshServer(self.home / "sshd", start=False)
            if self._ssh.unavailable is None:
                self._ssh.start()
        if self._ssh.unavailable is not None:
            unavailable(self._ssh.unavailable, "the SSH tests need it")
        return self._ssh

    def close(self) -> None:
        for server in (self._s3, self._ssh):
            if server is not None:
                server.close()


@pytest.fixture(scope="session")
def storage_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StorageServers]:
    servers = StorageServers(tmp_path_factory.mktemp("storage-servers"))
    yield servers
    servers.close()


@pytest.fixture
def s3_server(storage_servers: StorageServers) -> SeaweedServer:
    return storage_servers.s3()


@pytest.fixture
def ssh_server(storage_servers: StorageServers) -> SshServer:
    return storage_servers.ssh()


def make_remote(
    kind: str, storage_servers: StorageServers, directory: Path, name: str = "remote"
) -> StorageRemote:
    """A new, empty remote of ``kind``: under ``directory`` (local, SSH) or a new prefix (S3)."""
    if kind == "local":
        root = directory / name
        root.mkdir(parents=True)
        fs = fsspec.filesystem("file", skip_instance_cache=True)
        return StorageRemote(kind, str(root), {}, fs, str(root))
    if kind == "s3":
        s3 = storage_servers.s3()
        prefix = f"{name}-{secrets.token_hex(4)}"
        fs = s3.filesystem()
        return StorageRemote(kind, s3.url(prefix), s3.options, fs, f"{s3.bucket}/{prefix}")
    if kind == "ssh":
        ssh = storage_servers.ssh()
        root = directory / name
        root.mkdir(parents=True)
        return StorageRemote(
            kind, ssh.url(root), ssh.options, ssh.filesystem(), str(root.resolve())
        )
    raise AssertionError(f"no remote kind {kind}")


@pytest.fixture(params=REMOTE_KINDS)
def remote(
    request: pytest.FixtureRequest, storage_servers: StorageServers, tmp_path: Path
) -> StorageRemote:
    """A new, empty remote of each kind."""
    return make_remote(request.param, storage_servers, tmp_path)


@pytest.fixture
def other_remote(
    remote: StorageRemote, storage_servers: StorageServers, tmp_path: Path
) -> StorageRemote:
    """A second new, empty remote of the same kind as ``remote``."""
    return make_remote(remote.kind, storage_servers, tmp_path, "other-remote")
