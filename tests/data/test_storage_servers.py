"""The storage servers of the test session really store bytes, through plain fsspec.

Before anything of mltrail's is tried on a remote, its server must take a write, return the same
bytes, list what it holds and delete: otherwise a failure of the storage suite could be the
server's. The servers check who connects: a wrong S3 secret or an unknown SSH key is refused.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import fsspec
import pytest

from _storage_servers import SeaweedServer, SshServer, StorageRemote


def test_plain_fsspec_round_trip(remote: StorageRemote) -> None:
    fs, root = fsspec.core.url_to_fs(remote.url, **remote.options)
    payload = bytes(range(256)) * 4096 + b"tail"  # 1 MiB and a bit, not a multiple of a block
    fs.makedirs(f"{root}/a/b", exist_ok=True)
    fs.pipe(f"{root}/a/b/one.bin", payload)
    fs.pipe(f"{root}/a/two.txt", b"two")
    assert fs.cat(f"{root}/a/b/one.bin") == payload
    with fs.open(f"{root}/a/b/one.bin", "rb") as stream:
        stream.seek(1_000_000)
        assert stream.read(10) == payload[1_000_000:1_000_010]
    found = sorted(p.rstrip("/").rsplit("/", 2)[-2:][-1] for p in fs.find(root))
    assert found == ["one.bin", "two.txt"]
    assert fs.info(f"{root}/a/b/one.bin")["size"] == len(payload)
    fs.rm(f"{root}/a/b/one.bin")
    assert not fs.exists(f"{root}/a/b/one.bin")
    assert [p.rsplit("/", 1)[-1] for p in fs.find(root)] == ["two.txt"]
    # the test's own view (no caches) sees the same place
    assert remote.fs.cat(f"{remote.root}/a/two.txt") == b"two"


def test_s3_refuses_a_wrong_secret(s3_server: SeaweedServer) -> None:
    import s3fs

    fs = s3fs.S3FileSystem(
        endpoint_url=s3_server.endpoint_url,
        key=s3_server.ACCESS_KEY,
        secret="not-the-secret",
        skip_instance_cache=True,
        use_listings_cache=False,
    )
    with pytest.raises(PermissionError):
        fs.pipe(f"{s3_server.bucket}/refused", b"x")
    assert not s3_server.filesystem().exists(f"{s3_server.bucket}/refused")


def test_ssh_refuses_an_unknown_key(ssh_server: SshServer, tmp_path: Path) -> None:
    import sshfs

    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", stranger], check=True)
    with pytest.raises(PermissionError, match="Permission denied"):
        sshfs.SSHFileSystem(
            "127.0.0.1",
            port=ssh_server.port,
            username=ssh_server.user,
            client_keys=[str(stranger)],
            known_hosts=None,
            skip_instance_cache=True,
        )
