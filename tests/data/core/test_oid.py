"""Object ids: parsing, the one path layout, and DVC 3 caches read as object stores."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from fsspec.implementations.local import LocalFileSystem

from mltrail.data import ObjectStore, Oid
from mltrail.data._oid import oid_to_path, path_to_oid
from mltrail.errors import InvalidArgumentError

SHA = hashlib.sha256(b"x").hexdigest()
MD5 = hashlib.md5(b"x").hexdigest()


@pytest.mark.parametrize(
    ("text", "algorithm", "hexdigest", "is_dir"),
    [
        (f"sha256:{SHA}", "sha256", SHA, False),
        (f"sha256:{SHA}.dir", "sha256", SHA, True),
        (f"md5:{MD5}", "md5", MD5, False),
        (f"md5:{MD5.upper()}.dir", "md5", MD5, True),
    ],
)
def test_parse_reads_external_ids(text: str, algorithm: str, hexdigest: str, is_dir: bool) -> None:
    oid = Oid.parse(text)
    assert (oid.algorithm, oid.hexdigest, oid.is_dir) == (algorithm, hexdigest, is_dir)
    assert oid.external_id == text.lower()
    assert Oid.parse(oid.external_id) == oid
    assert str(oid) == oid.external_id


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        (SHA, "not an object id"),
        (f"sha1:{SHA[:40]}", "unknown digest algorithm"),
        (f"sha256:{SHA[:-1]}", "64"),
        (f"sha256:{SHA}0", "64"),
        (f"md5:{SHA}", "32"),
        (f"md5:{MD5[:-1]}g", "hex"),
        (f"sha256:{SHA}.tar", "64"),
        ("", "not an object id"),
    ],
)
def test_parse_refuses_bad_text(text: str, fault: str) -> None:
    with pytest.raises(InvalidArgumentError, match=fault):
        Oid.parse(text)


def test_parse_refuses_non_text() -> None:
    with pytest.raises(InvalidArgumentError, match="as text"):
        Oid.parse(42)  # type: ignore[arg-type]


def test_path_layout_is_dvc3() -> None:
    assert Oid.parse(f"md5:{MD5}").path == f"files/md5/{MD5[:2]}/{MD5[2:]}"
    assert Oid.parse(f"sha256:{SHA}.dir").path == f"files/sha256/{SHA[:2]}/{SHA[2:]}.dir"
    for oid in (Oid.parse(f"md5:{MD5}.dir"), Oid.parse(f"sha256:{SHA}")):
        assert path_to_oid(oid_to_path(oid)) == oid


@pytest.mark.parametrize(
    "path",
    [
        f"files/sha256/{SHA[:2]}/{SHA[2:]}.1234.tmp",
        f"files/sha256/{SHA[:2]}/.{SHA[2:]}.abc.tmp",
        f"files/sha256/{SHA[:3]}/{SHA[3:]}",
        f"files/sha1/{SHA[:2]}/{SHA[2:]}",
        f"other/sha256/{SHA[:2]}/{SHA[2:]}",
        f"files/sha256/{SHA}",
        "files/md5/ab",
    ],
)
def test_paths_that_are_not_objects(path: str) -> None:
    assert path_to_oid(path) is None


def test_a_dvc_cache_reads_as_an_object_store(tmp_path: Path) -> None:
    """A directory laid out by DVC 3 (``.dvc/cache/files/md5/...``) serves its objects,
    directory manifests included."""
    cache = tmp_path / ".dvc" / "cache"
    contents = {"a.csv": b"1,2\n", "sub/b.csv": b"3,4\n"}
    entries = []
    for relpath, data in contents.items():
        digest = hashlib.md5(data).hexdigest()
        target = cache / "files" / "md5" / digest[:2] / digest[2:]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        entries.append({"md5": digest, "relpath": relpath})
    manifest = json.dumps(sorted(entries, key=lambda e: e["relpath"]), sort_keys=True).encode()
    dir_digest = hashlib.md5(manifest).hexdigest()
    (cache / "files" / "md5" / dir_digest[:2] / (dir_digest[2:] + ".dir")).parent.mkdir(
        parents=True, exist_ok=True
    )
    (cache / "files" / "md5" / dir_digest[:2] / (dir_digest[2:] + ".dir")).write_bytes(manifest)

    store = ObjectStore(LocalFileSystem(), str(cache))
    directory = Oid.parse(f"md5:{dir_digest}.dir")
    members = store.read_manifest(directory)
    assert [relpath for relpath, _ in members] == ["a.csv", "sub/b.csv"]
    assert store.exists_many([directory, *(oid for _, oid in members)]) == {
        directory,
        *(oid for _, oid in members),
    }
    assert {oid for oid, _, _ in store.walk()} == {directory, *(oid for _, oid in members)}
    with store.open(members[1][1]) as stream:
        assert stream.read() == b"3,4\n"
