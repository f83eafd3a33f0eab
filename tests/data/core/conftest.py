"""Fixtures of the object-store layer's tests: an object store (``odb``) on a local directory
and in fsspec's memory filesystem (every test taking it runs on both), a cache, a SQLite store
and a project directory."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from data_helpers import CountingFS
from fsspec.implementations.local import LocalFileSystem
from fsspec.implementations.memory import MemoryFileSystem

import mltrail
from mltrail import MetadataStore
from mltrail.data import Cache, ObjectStore

KINDS = ("local", "memory")


def make_store(kind: str, tmp_path: Path, name: str = "remote") -> tuple[ObjectStore, CountingFS]:
    """An object store of ``kind`` over a counting filesystem, and the counter."""
    if kind == "local":
        fs = CountingFS(LocalFileSystem())
        root = str(tmp_path / name)
    else:
        fs = CountingFS(MemoryFileSystem())
        root = f"/mltrail-tests-{uuid.uuid4().hex}/{name}"
    return ObjectStore(fs, root), fs


@pytest.fixture(params=KINDS)
def fs_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def counted(fs_kind: str, tmp_path: Path) -> Iterator[tuple[ObjectStore, CountingFS]]:
    """An empty object store (local directory or memory) and its counting filesystem."""
    store, fs = make_store(fs_kind, tmp_path)
    yield store, fs
    if fs_kind == "memory":  # fsspec's memory is one per process: forget this test's files
        top = store.root.rsplit("/", 1)[0]
        memory = fs.inner
        for key in [k for k in memory.store if k.startswith(top + "/")]:
            del memory.store[key]
        memory.pseudo_dirs[:] = [
            d for d in memory.pseudo_dirs if d != top and not d.startswith(top + "/")
        ]


@pytest.fixture
def odb(counted: tuple[ObjectStore, CountingFS]) -> ObjectStore:
    return counted[0]


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "cache")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project directory, the current directory, with no MLTRAIL_* settings."""
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    for name in ("MLTRAIL_STORE", "MLTRAIL_CACHE"):
        monkeypatch.delenv(name, raising=False)
    return root


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MetadataStore]:
    """A SQLite file store."""
    opened = mltrail.connect(f"sqlite:///{tmp_path / 'ml.db'}")
    yield opened
    opened.close()
