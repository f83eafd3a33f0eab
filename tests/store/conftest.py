"""Helpers shared by the store contract tests (the ``store`` fixture is in tests/conftest.py).

Everything here goes through the public API only, so the same tests hold on every backend.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

import mltrail as m
from _backends import CONTRACT_BACKENDS

Snapshot = dict[str, Any]


def take_snapshot(store: m.MetadataStore) -> Snapshot:
    """Everything a store holds, read through the public API, in a comparable form."""
    artifacts = list(store.get_artifacts())
    executions = list(store.get_executions())
    contexts = list(store.get_contexts())
    artifact_ids = [a.id for a in artifacts]
    execution_ids = [e.id for e in executions]
    return {
        "artifact_types": store.get_artifact_types(),
        "execution_types": store.get_execution_types(),
        "context_types": store.get_context_types(),
        "artifacts": artifacts,
        "executions": executions,
        "contexts": contexts,
        "events_by_artifact": store.get_events_by_artifact_ids(artifact_ids),
        "events_by_execution": store.get_events_by_execution_ids(execution_ids),
        "attributions": sorted(
            (c.id, a.id) for c in contexts for a in store.get_artifacts_by_context(c.id)
        ),
        "associations": sorted(
            (c.id, e.id) for c in contexts for e in store.get_executions_by_context(c.id)
        ),
        "contexts_of_artifacts": sorted(
            (a, c.id) for a in artifact_ids for c in store.get_contexts_by_artifact(a)
        ),
        "contexts_of_executions": sorted(
            (e, c.id) for e in execution_ids for c in store.get_contexts_by_execution(e)
        ),
        "parents": sorted(
            (c.id, p.id) for c in contexts for p in store.get_parent_contexts_by_context(c.id)
        ),
        "children": sorted(
            (c.id, k.id) for c in contexts for k in store.get_children_contexts_by_context(c.id)
        ),
    }


@pytest.fixture
def snapshot() -> Callable[[m.MetadataStore], Snapshot]:
    """``snapshot(store)``: the whole content of a store, for before/after comparisons."""
    return take_snapshot


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@pytest.fixture
def clock_past() -> Callable[[int], None]:
    """``clock_past(ms)`` returns once the wall clock has passed ``ms`` (a store timestamp).

    Used before a write whose timestamp must differ from an earlier one; it waits for a condition
    on a value the store returned, never for a guessed duration (at most ~1 ms).
    """

    def wait(ms: int) -> None:
        while now_ms() <= ms:
            pass

    return wait


def assert_same_values(got: Any, expected: Any, where: str = "value") -> None:
    """Equality that also requires the same Python types (so 1 != 1.0 != True)."""
    assert type(got) is type(expected), (
        f"{where}: {got!r} is {type(got).__name__}, not {expected!r}"
    )
    if isinstance(expected, dict):
        assert set(got) == set(expected), f"{where}: keys {sorted(got)} != {sorted(expected)}"
        for key in expected:
            assert_same_values(got[key], expected[key], f"{where}[{key!r}]")
    elif isinstance(expected, list):
        assert len(got) == len(expected), f"{where}: {got!r} != {expected!r}"
        for i, (g, e) in enumerate(zip(got, expected)):
            assert_same_values(g, e, f"{where}[{i}]")
    else:
        assert got == expected, f"{where}: {got!r} != {expected!r}"


@pytest.fixture
def same_values() -> Callable[[Any, Any], None]:
    """``same_values(got, expected)``: equal, with the same types all the way down."""
    return assert_same_values


@pytest.fixture(params=CONTRACT_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The contract suite runs on every SQL backend and through the remote client."""
    return str(request.param)
