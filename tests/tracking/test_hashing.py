"""Content digests: files, directories (DVC's manifest), algorithms, and the memo."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path

import pytest
from tracking_helpers import OLD_NS, write

from mltrail.errors import InvalidArgumentError, NotFoundError
from mltrail.tracking import hashing
from mltrail.tracking._memo import HashMemo
from mltrail.tracking.hashing import ContentDigest, Hasher, digest_document


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the files actually read by any hasher (one entry per read)."""
    seen: list[int] = []
    real = hashing._hash_open_file

    def counting(fd: int, algorithm: str) -> tuple[str, int]:
        seen.append(fd)
        return real(fd, algorithm)

    monkeypatch.setattr(hashing, "_hash_open_file", counting)
    return seen


def test_file_digest_is_the_hash_of_its_bytes(tmp_path: Path) -> None:
    data = os.urandom(3 * hashing.CHUNK_SIZE + 123)  # several chunks and a partial one
    path = write(tmp_path / "blob.bin", data)
    digest = Hasher().digest(path)
    assert digest == ContentDigest("sha256", hashlib.sha256(data).hexdigest(), len(data))
    assert digest.external_id == "sha256:" + hashlib.sha256(data).hexdigest()


def test_md5_gives_dvc_file_hashes(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", "hello\n")
    digest = Hasher("md5").digest(path)
    assert digest.external_id == "md5:" + hashlib.md5(b"hello\n").hexdigest()


def test_empty_file(tmp_path: Path) -> None:
    digest = Hasher().digest(write(tmp_path / "empty", b""))
    assert digest.hexdigest == hashlib.sha256(b"").hexdigest() and digest.size == 0


def test_directory_digest_is_dvc_manifest_hash(tmp_path: Path) -> None:
    write(tmp_path / "d" / "b.txt", "bee")
    write(tmp_path / "d" / "a.txt", "ay")
    write(tmp_path / "d" / "sub" / "c.txt", "sea")
    manifest = [
        {"md5": hashlib.md5(b"ay").hexdigest(), "relpath": "a.txt"},
        {"md5": hashlib.md5(b"bee").hexdigest(), "relpath": "b.txt"},
        {"md5": hashlib.md5(b"sea").hexdigest(), "relpath": "sub/c.txt"},
    ]
    expected = hashlib.md5(json.dumps(manifest, sort_keys=True).encode()).hexdigest()
    digest = Hasher("md5").digest(tmp_path / "d")
    assert digest.external_id == f"md5:{expected}.dir"
    assert (digest.is_directory, digest.file_count, digest.size) == (True, 3, 8)


def test_directory_digest_depends_on_names_and_contents(tmp_path: Path) -> None:
    write(tmp_path / "d" / "a.txt", "x")
    hasher = Hasher(memo=None)
    first = hasher.digest(tmp_path / "d")
    (tmp_path / "d" / "a.txt").rename(tmp_path / "d" / "b.txt")
    renamed = hasher.digest(tmp_path / "d")
    write(tmp_path / "d" / "b.txt", "y")
    changed = hasher.digest(tmp_path / "d")
    assert len({first.value, renamed.value, changed.value}) == 3


def test_a_file_and_a_directory_of_the_same_manifest_differ(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    manifest_bytes = json.dumps([], sort_keys=True).encode()
    as_dir = Hasher().digest(tmp_path / "empty")
    as_file = Hasher().digest(write(tmp_path / "m.json", manifest_bytes))
    assert as_dir.hexdigest == as_file.hexdigest
    assert as_dir.external_id != as_file.external_id


def test_missing_path_and_unknown_algorithm(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        Hasher().digest(tmp_path / "nope")
    with pytest.raises(InvalidArgumentError, match="sha1"):
        Hasher("sha1")


def test_document_digest_is_canonical() -> None:
    assert digest_document({"b": 1, "a": [1.5, "x"]}) == digest_document({"a": [1.5, "x"], "b": 1})
    assert digest_document({"a": 1}) != digest_document({"a": 1.0})


# ------------------------------------------------------------------------------------------ memo


def test_memo_spares_rereading_unchanged_files(tmp_path: Path, reads: list[int]) -> None:
    path = write(tmp_path / "data.bin", os.urandom(50_000), old=True)
    memo_file = tmp_path / "memo.db"
    first = Hasher(memo=HashMemo(memo_file)).digest(path)
    assert len(reads) == 1
    # Another hasher (another process, later) trusts the persistent memo.
    again = Hasher(memo=HashMemo(memo_file)).digest(path)
    assert again == first and len(reads) == 1


@pytest.mark.parametrize("change", ["content", "size", "mtime", "inode"])
def test_memo_rehashes_changed_files(tmp_path: Path, reads: list[int], change: str) -> None:
    path = write(tmp_path / "data.bin", b"a" * 100, old=True)
    hasher = Hasher(memo=HashMemo(tmp_path / "memo.db"))
    before = hasher.digest(path)
    if change == "content":  # same size, new mtime
        write(path, b"b" * 100)
        os.utime(path, ns=(OLD_NS + 10**9, OLD_NS + 10**9))
    elif change == "size":  # same mtime
        write(path, b"a" * 101)
        os.utime(path, ns=(OLD_NS, OLD_NS))
    elif change == "mtime":  # same bytes
        os.utime(path, ns=(OLD_NS + 1, OLD_NS + 1))
    else:  # replaced by another file with the same size and mtime
        write(tmp_path / "other.bin", b"c" * 100)
        os.utime(tmp_path / "other.bin", ns=(OLD_NS, OLD_NS))
        os.replace(tmp_path / "other.bin", path)
    after = hasher.digest(path)
    assert len(reads) == 2
    assert (after == before) is (change == "mtime")


def test_recently_modified_files_are_not_memoized(tmp_path: Path, reads: list[int]) -> None:
    # A file written "now" could be rewritten within the same timestamp tick: like git's racily
    # clean entries, its digest is not trusted later.
    path = write(tmp_path / "fresh.bin", b"1" * 64)
    stamp = os.stat(path).st_mtime_ns
    hasher = Hasher(memo=HashMemo(tmp_path / "memo.db"))
    first = hasher.digest(path)
    write(path, b"2" * 64)
    os.utime(path, ns=(stamp, stamp))  # same size, same mtime, same inode
    second = hasher.digest(path)
    assert len(reads) == 2
    assert second.hexdigest == hashlib.sha256(b"2" * 64).hexdigest() != first.hexdigest


def test_directory_files_use_the_memo(tmp_path: Path, reads: list[int]) -> None:
    for name in ("a", "b", "c"):
        write(tmp_path / "d" / name, name * 10, old=True)
    hasher = Hasher(memo=HashMemo(tmp_path / "memo.db"))
    first = hasher.digest(tmp_path / "d")
    assert len(reads) == 3
    write(tmp_path / "d" / "b", "B" * 10, old=False)
    second = hasher.digest(tmp_path / "d")
    assert len(reads) == 4 and second != first


def test_a_broken_memo_file_only_costs_rehashing(tmp_path: Path, reads: list[int]) -> None:
    memo_file = write(tmp_path / "memo.db", b"this is not a database" * 100)
    path = write(tmp_path / "x", b"x", old=True)
    hasher = Hasher(memo=HashMemo(memo_file))
    assert hasher.digest(path) == hasher.digest(path)
    assert len(reads) == 2


def test_memo_is_plain_sqlite(tmp_path: Path) -> None:
    path = write(tmp_path / "x", b"xyz", old=True)
    memo = HashMemo(tmp_path / "memo.db")
    Hasher(memo=memo).digest(path)
    memo.close()
    with sqlite3.connect(tmp_path / "memo.db") as conn:
        rows = conn.execute("SELECT path, algorithm, size, hexdigest FROM digest_memo").fetchall()
    assert rows == [(str(path), "sha256", 3, hashlib.sha256(b"xyz").hexdigest())]
