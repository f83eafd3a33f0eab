"""Objects for the storage tests: files and directories made on disk, and their ids computed
here with hashlib (not by the code under test), so a wrong digest anywhere is caught."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any

from mltrail.data import Oid
from mltrail.data._manifest import manifest_bytes


def payload(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def digest(data: bytes, algorithm: str = "sha256") -> str:
    return hashlib.new(algorithm, data).hexdigest()


def file_oid(path: Path, algorithm: str = "sha256") -> Oid:
    hasher = hashlib.new(algorithm)
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            hasher.update(chunk)
    return Oid(algorithm, hasher.hexdigest())


def make_file(path: Path, size: int, seed: int, algorithm: str = "sha256") -> Oid:
    """A file of ``size`` pseudo-random bytes; returns its id."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = payload(size, seed)
    path.write_bytes(data)
    return Oid(algorithm, digest(data, algorithm))


def make_files(directory: Path, count: int, size: int = 1000, seed: int = 0) -> dict[Oid, Path]:
    """``count`` distinct files of about ``size`` bytes (sizes vary a little); id → path."""
    made: dict[Oid, Path] = {}
    for i in range(count):
        path = directory / f"file-{seed}-{i:05d}.bin"
        made[make_file(path, size + i % 7, seed * 1_000_003 + i)] = path
    return made


def make_tree(root: Path, seed: int = 0, algorithm: str = "sha256") -> tuple[Oid, dict[Oid, Path]]:
    """A directory with nested files, one duplicated under two names, and an empty file;
    returns the directory's id (the digest of its manifest) and its file ids → a path."""
    layout = {
        "a.txt": payload(100, seed),
        "sub/b.bin": payload(70_000, seed + 1),
        "sub/deeper/c.bin": payload(3, seed + 2),
        "sub/deeper/copy-of-a.txt": payload(100, seed),
        "empty": b"",
    }
    files: dict[Oid, Path] = {}
    entries = []
    for relpath, data in layout.items():
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        hexdigest = digest(data, algorithm)
        entries.append((relpath, hexdigest))
        files.setdefault(Oid(algorithm, hexdigest), path)
    manifest = manifest_bytes(entries, algorithm)
    return Oid(algorithm, digest(manifest, algorithm), is_dir=True), files


def manifest_of(root: Path, algorithm: str = "sha256") -> bytes:
    """The manifest bytes of the directory ``root`` as made by :func:`make_tree`."""
    entries = [
        (path.relative_to(root).as_posix(), digest(path.read_bytes(), algorithm))
        for path in sorted(root.rglob("*"))
        if path.is_file()
    ]
    return manifest_bytes(entries, algorithm)


def record(objects: dict[Oid, Path], project: Path) -> Any:
    """A SQLite store (in ``project``) with a file artifact for each of ``objects``, recorded at
    its path relative to ``project``, as a Tracker records a logged file."""
    import mltrail
    from mltrail.tracking._artifacts import file_artifact
    from mltrail.tracking._schema import ARTIFACT_TYPES, DATASET
    from mltrail.tracking.hashing import Hasher

    store = mltrail.connect(f"sqlite:///{project / 'store.db'}")
    store.put_artifact_type(ARTIFACT_TYPES[DATASET], can_add_fields=True, can_omit_fields=True)
    hasher = Hasher("sha256")
    artifacts = []
    for oid, path in objects.items():
        content = hasher.digest(path)
        assert content.external_id == oid.external_id
        artifacts.append(file_artifact(DATASET, content, path.relative_to(project).as_posix()))
    store.put_artifacts(artifacts)
    return store
