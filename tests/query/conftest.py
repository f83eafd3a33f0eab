"""Fixtures of the query-layer tests (the ``store`` fixture itself is in tests/conftest.py)."""

from __future__ import annotations

import pytest
from mlmd_store import Mlmd, build_mlmd

import mltrail as m
from _backends import CONTRACT_BACKENDS


@pytest.fixture
def mlmd(store: m.MetadataStore) -> Mlmd:
    """The store of research/mlmd.md §3.5 on the current backend."""
    return build_mlmd(store)


@pytest.fixture(params=CONTRACT_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The contract suite runs on every SQL backend and through the remote client."""
    return str(request.param)
