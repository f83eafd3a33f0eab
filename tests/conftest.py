"""Shared fixtures: a ``store`` parametrized over every backend the machine offers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import mltrail
from mltrail import MetadataStore

BACKENDS = ["sqlite-memory", "sqlite-file"]


def store_url(backend: str, tmp_path: Path) -> str | None:
    if backend == "sqlite-memory":
        return None
    if backend == "sqlite-file":
        return f"sqlite:///{tmp_path / 'store.db'}"
    raise AssertionError(f"unknown backend {backend}")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(backend: str, tmp_path: Path) -> Iterator[MetadataStore]:
    """A fresh, empty store on the current backend."""
    with mltrail.connect(store_url(backend, tmp_path)) as opened:
        yield opened
