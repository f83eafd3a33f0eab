"""Events: artifacts read and written by executions."""

from __future__ import annotations

import time
from typing import Any

import pytest

import mltrail as m
from _ids import stable_repr
from mltrail.errors import AlreadyExistsError, InvalidArgumentError

T = m.EventType


@pytest.fixture
def graph(store: m.MetadataStore) -> dict[str, list[int]]:
    """Three artifacts and two executions, no events."""
    at = store.put_artifact_type(m.ArtifactType(name="Shard"))
    et = store.put_execution_type(m.ExecutionType(name="Preprocess"))
    return {
        "artifacts": store.put_artifacts([m.Artifact(type_id=at, name=f"s{i}") for i in range(3)]),
        "executions": store.put_executions([m.Execution(type_id=et) for _ in range(2)]),
    }


def test_events_are_returned_by_artifact_and_by_execution_in_insertion_order(
    store: m.MetadataStore, graph: dict[str, list[int]]
) -> None:
    a0, a1, a2 = graph["artifacts"]
    e0, e1 = graph["executions"]
    first = [
        m.Event(artifact_id=a2, execution_id=e0, type=T.INPUT, milliseconds_since_epoch=10),
        m.Event(artifact_id=a0, execution_id=e0, type=T.INPUT, milliseconds_since_epoch=11),
        m.Event(artifact_id=a1, execution_id=e0, type=T.OUTPUT, milliseconds_since_epoch=12),
    ]
    second = [
        m.Event(artifact_id=a1, execution_id=e1, type=T.INPUT, milliseconds_since_epoch=13),
        m.Event(artifact_id=a0, execution_id=e1, type=T.OUTPUT, milliseconds_since_epoch=14),
    ]
    assert store.put_events(first) is None
    store.put_events(second)

    assert store.get_events_by_execution_ids([e0]) == first
    assert store.get_events_by_execution_ids([e1]) == second
    assert store.get_events_by_execution_ids([e1, e0]) == first + second
    assert store.get_events_by_artifact_ids([a0]) == [first[1], second[1]]
    assert store.get_events_by_artifact_ids([a1]) == [first[2], second[0]]
    assert store.get_events_by_artifact_ids([a2, a1, a0]) == first + second


def test_lookups_without_events_return_empty_lists(
    store: m.MetadataStore, graph: dict[str, list[int]]
) -> None:
    assert store.get_events_by_artifact_ids(graph["artifacts"]) == []
    assert store.get_events_by_execution_ids(graph["executions"]) == []
    assert store.get_events_by_artifact_ids([]) == []
    assert store.get_events_by_execution_ids([987_654]) == []


@pytest.mark.parametrize(
    "path",
    [
        [],
        [0],
        ["examples"],
        ["examples", 0, "split", 3],
        [7, "k", -1, ""],
        ["ünïcode", 2**40],
    ],
    ids=stable_repr,
)
def test_paths_round_trip_in_order(
    store: m.MetadataStore, graph: dict[str, list[int]], path: list[int | str]
) -> None:
    a, e = graph["artifacts"][0], graph["executions"][0]
    store.put_events([m.Event(artifact_id=a, execution_id=e, type=T.INPUT, path=list(path))])
    [event] = store.get_events_by_artifact_ids([a])
    assert event.path == path
    assert [type(s) for s in event.path] == [type(s) for s in path]


@pytest.mark.parametrize("path", [[1.5], [True], [None], [["nested"]], "examples"], ids=stable_repr)
def test_bad_paths_are_refused(
    store: m.MetadataStore, graph: dict[str, list[int]], path: Any
) -> None:
    a, e = graph["artifacts"][0], graph["executions"][0]
    with pytest.raises(InvalidArgumentError):
        store.put_events([m.Event(artifact_id=a, execution_id=e, type=T.INPUT, path=path)])
    assert store.get_events_by_artifact_ids([a]) == []


@pytest.mark.parametrize("how", ["member", "int", "name"])
def test_event_types_are_accepted_as_member_int_or_name(
    store: m.MetadataStore, graph: dict[str, list[int]], how: str
) -> None:
    a, e = graph["artifacts"][0], graph["executions"][0]
    kinds = [t for t in T if t is not T.UNKNOWN]
    store.put_events(
        [
            m.Event(
                artifact_id=a,
                execution_id=e,
                type={"member": t, "int": int(t), "name": t.name}[how],
            )
            for t in kinds
        ]
    )
    got = [ev.type for ev in store.get_events_by_execution_ids([e])]
    assert got == kinds
    assert all(type(t) is T for t in got)


@pytest.mark.parametrize(
    "fields",
    [
        {"artifact_id": None},
        {"execution_id": None},
        {"type": T.UNKNOWN},
        {"type": 0},
        {"type": "UNKNOWN"},
        {"type": 99},
        {"type": "READ"},
        {"type": None},
        {"type": m.ArtifactState.LIVE},
        {"milliseconds_since_epoch": "yesterday"},
    ],
    ids=stable_repr,
)
def test_incomplete_or_bad_events_are_refused(
    store: m.MetadataStore, graph: dict[str, list[int]], fields: dict[str, Any]
) -> None:
    a, e = graph["artifacts"][0], graph["executions"][0]
    good = m.Event(artifact_id=graph["artifacts"][1], execution_id=e, type=T.INPUT)
    bad = m.Event(**{"artifact_id": a, "execution_id": e, "type": T.OUTPUT, **fields})
    with pytest.raises(InvalidArgumentError):
        store.put_events([good, bad])
    assert store.get_events_by_execution_ids([e]) == []


def test_events_to_missing_nodes_are_refused(
    store: m.MetadataStore, graph: dict[str, list[int]]
) -> None:
    a, e = graph["artifacts"][0], graph["executions"][0]
    good = m.Event(artifact_id=a, execution_id=e, type=T.INPUT)
    with pytest.raises(InvalidArgumentError, match="55555"):
        store.put_events([good, m.Event(artifact_id=55_555, execution_id=e, type=T.OUTPUT)])
    with pytest.raises(InvalidArgumentError, match="66666"):
        store.put_events([good, m.Event(artifact_id=a, execution_id=66_666, type=T.OUTPUT)])
    assert store.get_events_by_execution_ids([e]) == []


def test_an_event_is_unique_per_artifact_execution_and_type(
    store: m.MetadataStore, graph: dict[str, list[int]]
) -> None:
    a0, a1, _ = graph["artifacts"]
    e = graph["executions"][0]
    with pytest.raises(AlreadyExistsError):
        store.put_events(
            [
                m.Event(artifact_id=a0, execution_id=e, type=T.INPUT),
                m.Event(artifact_id=a0, execution_id=e, type=T.INPUT, path=["other"]),
            ]
        )
    assert store.get_events_by_execution_ids([e]) == []

    store.put_events([m.Event(artifact_id=a0, execution_id=e, type=T.INPUT)])
    with pytest.raises(AlreadyExistsError):
        store.put_events(
            [
                m.Event(artifact_id=a1, execution_id=e, type=T.INPUT),
                m.Event(artifact_id=a0, execution_id=e, type=T.INPUT),
            ]
        )
    assert [(ev.artifact_id, ev.type) for ev in store.get_events_by_execution_ids([e])] == [
        (a0, T.INPUT)
    ]


def test_the_same_pair_may_have_events_of_different_types(
    store: m.MetadataStore, graph: dict[str, list[int]]
) -> None:
    a, e = graph["artifacts"][0], graph["executions"][0]
    store.put_events([m.Event(artifact_id=a, execution_id=e, type=T.DECLARED_INPUT)])
    store.put_events(
        [
            m.Event(artifact_id=a, execution_id=e, type=T.INPUT),
            m.Event(artifact_id=a, execution_id=e, type=T.OUTPUT),
        ]
    )
    assert [ev.type for ev in store.get_events_by_artifact_ids([a])] == [
        T.DECLARED_INPUT,
        T.INPUT,
        T.OUTPUT,
    ]


def test_event_time_is_kept_when_given_and_set_by_the_store_otherwise(
    store: m.MetadataStore, graph: dict[str, list[int]]
) -> None:
    a0, a1, _ = graph["artifacts"]
    e = graph["executions"][0]
    start = time.time_ns() // 1_000_000
    store.put_events(
        [
            m.Event(artifact_id=a0, execution_id=e, type=T.INPUT, milliseconds_since_epoch=5),
            m.Event(artifact_id=a1, execution_id=e, type=T.OUTPUT),
        ]
    )
    end = time.time_ns() // 1_000_000
    given, stamped = store.get_events_by_execution_ids([e])
    assert given.milliseconds_since_epoch == 5
    assert stamped.milliseconds_since_epoch is not None
    assert start <= stamped.milliseconds_since_epoch <= end


def test_put_events_refuses_other_objects(
    store: m.MetadataStore, graph: dict[str, list[int]]
) -> None:
    with pytest.raises(InvalidArgumentError):
        store.put_events(
            [m.Attribution(artifact_id=graph["artifacts"][0], context_id=1)]  # type: ignore[list-item]
        )


def test_large_batches_of_events(store: m.MetadataStore) -> None:
    at = store.put_artifact_type(m.ArtifactType(name="Piece"))
    et = store.put_execution_type(m.ExecutionType(name="Assemble"))
    artifacts = store.put_artifacts([m.Artifact(type_id=at) for _ in range(1_500)])
    [e1, e2] = store.put_executions([m.Execution(type_id=et) for _ in range(2)])
    store.put_events(
        [
            m.Event(artifact_id=a, execution_id=e1, type=T.INPUT, path=[i])
            for i, a in enumerate(artifacts)
        ]
        + [m.Event(artifact_id=a, execution_id=e2, type=T.OUTPUT) for a in artifacts]
    )
    by_execution = store.get_events_by_execution_ids([e1])
    assert [e.artifact_id for e in by_execution] == artifacts
    assert [e.path for e in by_execution] == [[i] for i in range(1_500)]
    by_artifact = store.get_events_by_artifact_ids(artifacts + artifacts)
    assert len(by_artifact) == 3_000
    assert [e.execution_id for e in by_artifact] == [e1] * 1_500 + [e2] * 1_500


def test_put_events_needs_a_list(store: m.MetadataStore, graph: dict[str, list[int]]) -> None:
    a, e = graph["artifacts"][0], graph["executions"][0]
    with pytest.raises(InvalidArgumentError, match="list"):
        store.put_events(m.Event(artifact_id=a, execution_id=e, type=T.INPUT))  # type: ignore[arg-type]
    assert store.get_events_by_artifact_ids([a]) == []
