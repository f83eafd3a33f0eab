"""``put_lineage_subgraph``: many executions, artifacts, contexts and events in one call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

import mltrail as m
from mltrail.errors import AlreadyExistsError, InvalidArgumentError

T = m.EventType
Snapshot = dict[str, Any]


@dataclass
class World:
    """Types plus one stored artifact, execution and context."""

    artifact_type: int
    execution_type: int
    context_type: int
    artifact: int
    execution: int
    context: int


@pytest.fixture
def world(store: m.MetadataStore) -> World:
    at = store.put_artifact_type(m.ArtifactType(name="Table"))
    et = store.put_execution_type(m.ExecutionType(name="Join"))
    ct = store.put_context_type(m.ContextType(name="Experiment"))
    [artifact] = store.put_artifacts([m.Artifact(type_id=at, uri="/existing", external_id="t-1")])
    [execution] = store.put_executions([m.Execution(type_id=et, name="existing-join")])
    [context] = store.put_contexts([m.Context(type_id=ct, name="existing-context")])
    return World(at, et, ct, artifact, execution, context)


def ids(nodes: list[Any]) -> list[int]:
    return [n.id for n in nodes]


def keys(events: list[m.Event]) -> list[tuple[int | None, int | None, T]]:
    return [(e.artifact_id, e.execution_id, e.type) for e in events]


def test_new_and_existing_nodes_with_index_and_id_edges(
    store: m.MetadataStore, world: World
) -> None:
    executions = [
        m.Execution(id=world.execution, type_id=world.execution_type, name="existing-join"),
        m.Execution(type_id=world.execution_type, name="new-join"),
    ]
    artifacts = [
        m.Artifact(id=world.artifact, type_id=world.artifact_type, uri="/existing"),
        m.Artifact(type_id=world.artifact_type, uri="/new"),
    ]
    contexts = [
        m.Context(id=world.context, type_id=world.context_type, name="existing-context"),
        m.Context(type_id=world.context_type, name="new-context"),
    ]
    edges: list[tuple[int | None, int | None, m.Event]] = [
        (0, 0, m.Event(type=T.INPUT)),  # both by index
        (1, None, m.Event(artifact_id=world.artifact, type=T.INPUT)),  # artifact by id
        (None, 1, m.Event(execution_id=world.execution, type=T.OUTPUT)),  # execution by id
        (1, 1, m.Event(execution_id=None, artifact_id=None, type=T.OUTPUT, path=["out"])),
    ]
    execution_ids, artifact_ids, context_ids = store.put_lineage_subgraph(
        executions, artifacts, contexts, edges
    )

    assert execution_ids[0] == world.execution
    assert artifact_ids[0] == world.artifact
    assert context_ids[0] == world.context
    new_e, new_a, new_c = execution_ids[1], artifact_ids[1], context_ids[1]
    assert len({world.execution, new_e}) == len({world.artifact, new_a}) == 2
    assert store.get_executions_by_id([new_e])[0].name == "new-join"
    assert store.get_artifacts_by_id([new_a])[0].uri == "/new"
    assert store.get_contexts_by_id([new_c])[0].name == "new-context"

    assert keys(store.get_events_by_execution_ids([world.execution, new_e])) == [
        (world.artifact, world.execution, T.INPUT),
        (world.artifact, new_e, T.INPUT),
        (new_a, world.execution, T.OUTPUT),
        (new_a, new_e, T.OUTPUT),
    ]
    assert store.get_events_by_artifact_ids([new_a])[-1].path == ["out"]


def test_every_node_joins_every_context(store: m.MetadataStore, world: World) -> None:
    execution_ids, artifact_ids, context_ids = store.put_lineage_subgraph(
        [m.Execution(type_id=world.execution_type) for _ in range(2)],
        [m.Artifact(type_id=world.artifact_type) for _ in range(3)],
        [m.Context(type_id=world.context_type, name=f"c{i}") for i in range(2)],
        [],
    )
    for context_id in context_ids:
        assert ids(store.get_executions_by_context(context_id)) == execution_ids
        assert ids(store.get_artifacts_by_context(context_id)) == artifact_ids
    for artifact_id in artifact_ids:
        assert ids(store.get_contexts_by_artifact(artifact_id)) == context_ids
    assert store.get_artifacts_by_context(world.context) == []
    assert store.get_contexts_by_artifact(world.artifact) == []


def test_an_empty_call_does_nothing(
    store: m.MetadataStore, world: World, snapshot: Callable[[m.MetadataStore], Snapshot]
) -> None:
    before = snapshot(store)
    assert store.put_lineage_subgraph([], [], [], []) == ([], [], [])
    assert snapshot(store) == before


def test_an_existing_context_name_is_a_duplicate_without_reuse(
    store: m.MetadataStore, world: World, snapshot: Callable[[m.MetadataStore], Snapshot]
) -> None:
    before = snapshot(store)
    with pytest.raises(AlreadyExistsError):
        store.put_lineage_subgraph(
            [m.Execution(type_id=world.execution_type)],
            [m.Artifact(type_id=world.artifact_type)],
            [m.Context(type_id=world.context_type, name="existing-context")],
            [(0, 0, m.Event(type=T.OUTPUT))],
        )
    assert snapshot(store) == before


def test_reuse_context_if_already_exist(store: m.MetadataStore, world: World) -> None:
    [stored] = store.get_contexts_by_id([world.context])
    execution_ids, artifact_ids, context_ids = store.put_lineage_subgraph(
        [m.Execution(type_id=world.execution_type)],
        [m.Artifact(type_id=world.artifact_type)],
        [
            m.Context(
                type_id=world.context_type, name="existing-context", custom_properties={"x": 1}
            ),
            m.Context(type_id=world.context_type, name="brand-new"),
        ],
        [(0, 0, m.Event(type=T.OUTPUT))],
        reuse_context_if_already_exist=True,
    )
    assert context_ids[0] == world.context
    assert context_ids[1] != world.context
    assert store.get_contexts_by_id([world.context]) == [stored]
    assert ids(store.get_executions_by_context(world.context)) == execution_ids
    assert ids(store.get_artifacts_by_context(world.context)) == artifact_ids


def test_reuse_artifact_if_already_exist_by_external_id(
    store: m.MetadataStore, world: World
) -> None:
    _, artifact_ids, _ = store.put_lineage_subgraph(
        [m.Execution(type_id=world.execution_type)],
        [
            m.Artifact(type_id=world.artifact_type, external_id="t-1", uri="/updated"),
            m.Artifact(type_id=world.artifact_type, external_id="t-2"),
        ],
        [],
        [(0, 0, m.Event(type=T.INPUT)), (0, 1, m.Event(type=T.OUTPUT))],
        reuse_artifact_if_already_exist_by_external_id=True,
    )
    assert artifact_ids[0] == world.artifact
    assert artifact_ids[1] != world.artifact
    assert store.get_artifacts_by_id([world.artifact])[0].uri == "/updated"
    assert len(store.get_artifacts()) == 2


def test_without_reuse_an_existing_artifact_external_id_is_a_duplicate(
    store: m.MetadataStore, world: World, snapshot: Callable[[m.MetadataStore], Snapshot]
) -> None:
    before = snapshot(store)
    with pytest.raises(AlreadyExistsError):
        store.put_lineage_subgraph(
            [], [m.Artifact(type_id=world.artifact_type, external_id="t-1")], [], []
        )
    assert snapshot(store) == before


BAD_EDGES: list[Any] = [
    pytest.param((2, 0, m.Event(type=T.INPUT)), id="execution-index-out-of-range"),
    pytest.param((0, 2, m.Event(type=T.INPUT)), id="artifact-index-out-of-range"),
    pytest.param((-1, 0, m.Event(type=T.INPUT)), id="negative-index"),
    pytest.param((True, 0, m.Event(type=T.INPUT)), id="bool-index"),
    pytest.param((None, 0, m.Event(type=T.INPUT)), id="no-execution"),
    pytest.param((0, None, m.Event(type=T.INPUT)), id="no-artifact"),
    pytest.param((0, 0, m.Event(type=T.UNKNOWN)), id="no-event-type"),
    pytest.param((0, 0, None), id="no-event"),
    pytest.param((0, 0), id="two-items"),
    pytest.param((None, 0, m.Event(execution_id=55_555, type=T.INPUT)), id="missing-execution"),
    pytest.param((0, None, m.Event(artifact_id=55_555, type=T.INPUT)), id="missing-artifact"),
]


@pytest.mark.parametrize("edge", BAD_EDGES)
def test_bad_edges_are_refused_and_nothing_stored(
    store: m.MetadataStore,
    world: World,
    snapshot: Callable[[m.MetadataStore], Snapshot],
    edge: Any,
) -> None:
    before = snapshot(store)
    with pytest.raises(InvalidArgumentError):
        store.put_lineage_subgraph(
            [m.Execution(type_id=world.execution_type), m.Execution(type_id=world.execution_type)],
            [m.Artifact(type_id=world.artifact_type), m.Artifact(type_id=world.artifact_type)],
            [m.Context(type_id=world.context_type, name="never-stored")],
            [(0, 0, m.Event(type=T.INPUT)), edge],
        )
    assert snapshot(store) == before


def test_an_edge_whose_event_ids_contradict_its_indexes_is_refused(
    store: m.MetadataStore, world: World, snapshot: Callable[[m.MetadataStore], Snapshot]
) -> None:
    [other_artifact] = store.put_artifacts([m.Artifact(type_id=world.artifact_type)])
    [other_execution] = store.put_executions([m.Execution(type_id=world.execution_type)])
    existing_execution = m.Execution(id=world.execution, type_id=world.execution_type)
    existing_artifact = m.Artifact(id=world.artifact, type_id=world.artifact_type)
    before = snapshot(store)
    with pytest.raises(InvalidArgumentError):
        store.put_lineage_subgraph(
            [existing_execution],
            [existing_artifact],
            [],
            [(0, 0, m.Event(artifact_id=other_artifact, type=T.INPUT))],
        )
    with pytest.raises(InvalidArgumentError):
        store.put_lineage_subgraph(
            [existing_execution],
            [existing_artifact],
            [],
            [(0, 0, m.Event(execution_id=other_execution, type=T.INPUT))],
        )
    with pytest.raises(InvalidArgumentError):
        store.put_lineage_subgraph(
            [m.Execution(type_id=world.execution_type)],
            [existing_artifact],
            [],
            [(0, 0, m.Event(execution_id=world.execution, type=T.INPUT))],
        )
    assert snapshot(store) == before


def test_an_edge_with_matching_ids_and_indexes_is_accepted(
    store: m.MetadataStore, world: World
) -> None:
    store.put_lineage_subgraph(
        [m.Execution(id=world.execution, type_id=world.execution_type, name="existing-join")],
        [m.Artifact(id=world.artifact, type_id=world.artifact_type, uri="/existing")],
        [],
        [(0, 0, m.Event(artifact_id=world.artifact, execution_id=world.execution, type=T.INPUT))],
    )
    assert keys(store.get_events_by_artifact_ids([world.artifact])) == [
        (world.artifact, world.execution, T.INPUT)
    ]


def test_a_duplicate_event_is_refused(
    store: m.MetadataStore, world: World, snapshot: Callable[[m.MetadataStore], Snapshot]
) -> None:
    store.put_events(
        [m.Event(artifact_id=world.artifact, execution_id=world.execution, type=T.INPUT)]
    )
    before = snapshot(store)
    with pytest.raises(AlreadyExistsError):
        store.put_lineage_subgraph(
            [m.Execution(type_id=world.execution_type)],
            [],
            [m.Context(type_id=world.context_type, name="never-stored")],
            [
                (0, None, m.Event(artifact_id=world.artifact, type=T.INPUT)),
                (
                    None,
                    None,
                    m.Event(artifact_id=world.artifact, execution_id=world.execution, type=T.INPUT),
                ),
            ],
        )
    assert snapshot(store) == before


# --------------------------------------------------------------------------------------- repeats


def test_new_artifacts_sharing_an_external_id_are_one_when_reusing_by_external_id(
    store: m.MetadataStore, world: World
) -> None:
    """Like put_execution (MLMD's put_lineage_subgraph refuses this one: AlreadyExists)."""
    at, et = world.artifact_type, world.execution_type
    execution_ids, artifact_ids, _ = store.put_lineage_subgraph(
        [m.Execution(type_id=et)],
        [
            m.Artifact(type_id=at, external_id="sha:1", uri="/a"),
            m.Artifact(type_id=at, external_id="sha:1", uri="/b"),
        ],
        [],
        [(0, 0, m.Event(type=T.INPUT)), (0, 1, m.Event(type=T.OUTPUT))],
        reuse_artifact_if_already_exist_by_external_id=True,
    )
    assert artifact_ids[0] == artifact_ids[1]
    [artifact] = store.get_artifacts_by_external_ids(["sha:1"])
    assert (artifact.id, artifact.uri) == (artifact_ids[0], "/b")
    assert [e.type for e in store.get_events_by_execution_ids(execution_ids)] == [T.INPUT, T.OUTPUT]


def test_one_execution_id_given_twice_stores_the_last_occurrence(
    store: m.MetadataStore, world: World
) -> None:
    execution_ids, _, _ = store.put_lineage_subgraph(
        [
            m.Execution(id=world.execution, name="first"),
            m.Execution(id=world.execution, name="second"),
        ],
        [],
        [],
        [],
    )
    assert execution_ids == [world.execution, world.execution]
    [execution] = store.get_executions_by_id([world.execution])
    assert execution.name == "second"
