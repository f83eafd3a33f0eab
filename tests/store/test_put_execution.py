"""``put_execution``: an execution with its artifacts, events and contexts in one call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

import mltrail as m
from mltrail.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError

T = m.EventType
Snapshot = dict[str, Any]


@dataclass
class Types:
    artifact: int
    execution: int
    context: int


@pytest.fixture
def types(store: m.MetadataStore) -> Types:
    return Types(
        artifact=store.put_artifact_type(
            m.ArtifactType(name="Examples", properties={"rows": m.PropertyType.INT})
        ),
        execution=store.put_execution_type(
            m.ExecutionType(name="Trainer", properties={"epochs": m.PropertyType.INT})
        ),
        context=store.put_context_type(
            m.ContextType(name="PipelineRun", properties={"owner": m.PropertyType.STRING})
        ),
    )


def ids(nodes: list[Any]) -> list[int]:
    return [n.id for n in nodes]


def event_keys(events: list[m.Event]) -> list[tuple[int | None, int | None, T]]:
    return [(e.artifact_id, e.execution_id, e.type) for e in events]


# ------------------------------------------------------------------------------------------ basics


@pytest.mark.parametrize("contexts", [[], None])
def test_an_execution_without_artifacts_or_contexts(
    store: m.MetadataStore, types: Types, contexts: list[m.Context] | None
) -> None:
    execution_id, artifact_ids, context_ids = store.put_execution(
        m.Execution(type_id=types.execution, properties={"epochs": 3}), [], contexts
    )
    assert (artifact_ids, context_ids) == ([], [])
    [execution] = store.get_executions_by_id([execution_id])
    assert execution.properties == {"epochs": 3}
    assert store.get_contexts() == []
    assert store.get_events_by_execution_ids([execution_id]) == []


def test_pairs_of_every_shape_give_aligned_artifact_ids(
    store: m.MetadataStore, types: Types
) -> None:
    [existing] = store.put_artifacts([m.Artifact(type_id=types.artifact, uri="/existing")])
    without_event = m.Artifact(type_id=types.artifact, uri="/no-event")
    with_event = m.Artifact(type_id=types.artifact, uri="/with-event")

    execution_id, artifact_ids, context_ids = store.put_execution(
        m.Execution(type_id=types.execution),
        [
            (without_event,),
            (with_event, m.Event(type=T.OUTPUT, path=["model"])),
            (None, m.Event(artifact_id=existing, type=T.INPUT, path=["examples", 0])),
            (),
        ],
        None,
    )
    assert len(artifact_ids) == 4
    assert artifact_ids[2] == existing
    assert artifact_ids[3] == -1
    by_id = {a.id: a for a in store.get_artifacts_by_id(artifact_ids[:3])}
    assert by_id[artifact_ids[0]].uri == "/no-event"
    assert by_id[artifact_ids[1]].uri == "/with-event"
    assert context_ids == []

    events = store.get_events_by_execution_ids([execution_id])
    assert event_keys(events) == [
        (artifact_ids[1], execution_id, T.OUTPUT),
        (existing, execution_id, T.INPUT),
    ]
    assert [e.path for e in events] == [["model"], ["examples", 0]]
    assert store.get_events_by_artifact_ids([artifact_ids[0]]) == []


def test_the_execution_and_every_artifact_join_every_context(
    store: m.MetadataStore, types: Types
) -> None:
    [loose] = store.put_artifacts([m.Artifact(type_id=types.artifact)])
    [elsewhere] = store.put_contexts([m.Context(type_id=types.context, name="elsewhere")])
    execution_id, artifact_ids, context_ids = store.put_execution(
        m.Execution(type_id=types.execution),
        [
            (m.Artifact(type_id=types.artifact), m.Event(type=T.OUTPUT)),
            (m.Artifact(type_id=types.artifact),),
            (None, m.Event(artifact_id=loose, type=T.INPUT)),
        ],
        [
            m.Context(type_id=types.context, name="run-1", properties={"owner": "ada"}),
            m.Context(type_id=types.context, name="run-2"),
        ],
    )
    assert len(context_ids) == 2
    assert [c.name for c in store.get_contexts_by_id(context_ids)] == ["run-1", "run-2"]
    assert store.get_contexts_by_id(context_ids[:1])[0].properties == {"owner": "ada"}
    for context_id in context_ids:
        assert ids(store.get_executions_by_context(context_id)) == [execution_id]
        assert ids(store.get_artifacts_by_context(context_id)) == sorted(artifact_ids)
    assert ids(store.get_contexts_by_execution(execution_id)) == context_ids
    for artifact_id in artifact_ids:
        assert ids(store.get_contexts_by_artifact(artifact_id)) == context_ids
    assert store.get_artifacts_by_context(elsewhere) == []


def test_existing_nodes_are_updated(store: m.MetadataStore, types: Types) -> None:
    [artifact_id] = store.put_artifacts([m.Artifact(type_id=types.artifact, uri="/v1")])
    [execution_id] = store.put_executions(
        [m.Execution(type_id=types.execution, last_known_state=m.ExecutionState.RUNNING)]
    )
    [context_id] = store.put_contexts([m.Context(type_id=types.context, name="ctx")])
    got = store.put_execution(
        m.Execution(
            id=execution_id, type_id=types.execution, last_known_state=m.ExecutionState.COMPLETE
        ),
        [(m.Artifact(id=artifact_id, type_id=types.artifact, uri="/v2"), m.Event(type=T.OUTPUT))],
        [m.Context(id=context_id, type_id=types.context, name="ctx-renamed")],
    )
    assert got == (execution_id, [artifact_id], [context_id])
    assert store.get_artifacts_by_id([artifact_id])[0].uri == "/v2"
    assert (
        store.get_executions_by_id([execution_id])[0].last_known_state is m.ExecutionState.COMPLETE
    )
    assert store.get_contexts_by_id([context_id])[0].name == "ctx-renamed"
    assert len(store.get_artifacts()) == 1
    assert len(store.get_executions()) == 1


def test_a_missing_execution_id_is_refused(
    store: m.MetadataStore, types: Types, snapshot: Callable[[m.MetadataStore], Snapshot]
) -> None:
    before = snapshot(store)
    with pytest.raises(InvalidArgumentError, match="1000"):
        store.put_execution(
            m.Execution(id=1000, type_id=types.execution),
            [(m.Artifact(type_id=types.artifact), m.Event(type=T.INPUT))],
            [m.Context(type_id=types.context, name="never-stored")],
        )
    assert snapshot(store) == before


# --------------------------------------------------------------------------------------- artifacts


def test_an_artifact_given_twice_is_stored_once(store: m.MetadataStore, types: Types) -> None:
    shared = m.Artifact(type_id=types.artifact, uri="/shared")
    execution_id, artifact_ids, _ = store.put_execution(
        m.Execution(type_id=types.execution),
        [(shared, m.Event(type=T.INPUT)), (shared, m.Event(type=T.OUTPUT)), (shared,)],
        [],
    )
    assert len(set(artifact_ids)) == 1
    assert len(store.get_artifacts()) == 1
    assert event_keys(store.get_events_by_execution_ids([execution_id])) == [
        (artifact_ids[0], execution_id, T.INPUT),
        (artifact_ids[0], execution_id, T.OUTPUT),
    ]


def test_an_existing_artifact_given_twice_by_id_is_linked_twice(
    store: m.MetadataStore, types: Types
) -> None:
    [artifact_id] = store.put_artifacts([m.Artifact(type_id=types.artifact)])
    execution_id, artifact_ids, _ = store.put_execution(
        m.Execution(type_id=types.execution),
        [
            (m.Artifact(id=artifact_id, type_id=types.artifact), m.Event(type=T.INPUT)),
            (None, m.Event(artifact_id=artifact_id, type=T.OUTPUT)),
        ],
        [],
    )
    assert artifact_ids == [artifact_id, artifact_id]
    assert [e.type for e in store.get_events_by_execution_ids([execution_id])] == [
        T.INPUT,
        T.OUTPUT,
    ]


def test_one_artifact_id_given_twice_stores_the_last_occurrence(
    store: m.MetadataStore, types: Types
) -> None:
    """MLMD's result: the second occurrence's fields win."""
    [artifact_id] = store.put_artifacts([m.Artifact(type_id=types.artifact, uri="/0")])
    _, artifact_ids, _ = store.put_execution(
        m.Execution(type_id=types.execution),
        [
            (m.Artifact(id=artifact_id, type_id=types.artifact, uri="/1"), m.Event(type=T.INPUT)),
            (m.Artifact(id=artifact_id, type_id=types.artifact, uri="/2"), m.Event(type=T.OUTPUT)),
        ],
        [],
    )
    assert artifact_ids == [artifact_id, artifact_id]
    assert [a.uri for a in store.get_artifacts()] == ["/2"]


def test_new_artifacts_sharing_an_external_id_are_one_when_reusing_by_external_id(
    store: m.MetadataStore, types: Types
) -> None:
    """Two identical files logged in one step: MLMD creates one artifact, returns its id twice
    and keeps the last one's fields."""
    execution_id, artifact_ids, _ = store.put_execution(
        m.Execution(type_id=types.execution),
        [
            (
                m.Artifact(type_id=types.artifact, external_id="sha:1", uri="/a"),
                m.Event(type=T.INPUT),
            ),
            (
                m.Artifact(type_id=types.artifact, external_id="sha:1", uri="/b"),
                m.Event(type=T.OUTPUT),
            ),
            (
                m.Artifact(type_id=types.artifact, external_id="sha:2", uri="/c"),
                m.Event(type=T.OUTPUT),
            ),
        ],
        [m.Context(type_id=types.context, name="run")],
        reuse_artifact_if_already_exist_by_external_id=True,
    )
    assert artifact_ids[0] == artifact_ids[1] != artifact_ids[2]
    assert [(a.external_id, a.uri) for a in store.get_artifacts()] == [
        ("sha:1", "/b"),
        ("sha:2", "/c"),
    ]
    assert event_keys(store.get_events_by_execution_ids([execution_id])) == [
        (artifact_ids[0], execution_id, T.INPUT),
        (artifact_ids[0], execution_id, T.OUTPUT),
        (artifact_ids[2], execution_id, T.OUTPUT),
    ]


def test_a_stored_external_id_given_twice_updates_that_artifact_once(
    store: m.MetadataStore, types: Types
) -> None:
    [stored] = store.put_artifacts([m.Artifact(type_id=types.artifact, external_id="sha:1")])
    _, artifact_ids, _ = store.put_execution(
        m.Execution(type_id=types.execution),
        [
            (
                m.Artifact(type_id=types.artifact, external_id="sha:1", uri="/a"),
                m.Event(type=T.INPUT),
            ),
            (
                m.Artifact(type_id=types.artifact, external_id="sha:1", uri="/b"),
                m.Event(type=T.OUTPUT),
            ),
        ],
        [],
        reuse_artifact_if_already_exist_by_external_id=True,
    )
    assert artifact_ids == [stored, stored]
    assert [(a.id, a.uri) for a in store.get_artifacts()] == [(stored, "/b")]


def test_new_artifacts_sharing_an_external_id_without_reuse_are_a_duplicate(
    store: m.MetadataStore, types: Types, snapshot: Callable[[m.MetadataStore], Snapshot]
) -> None:
    before = snapshot(store)
    with pytest.raises(AlreadyExistsError, match="sha:1"):
        store.put_execution(
            m.Execution(type_id=types.execution),
            [
                (m.Artifact(type_id=types.artifact, external_id="sha:1"), m.Event(type=T.INPUT)),
                (m.Artifact(type_id=types.artifact, external_id="sha:1"), m.Event(type=T.OUTPUT)),
            ],
            [],
        )
    assert snapshot(store) == before


def test_merged_artifacts_with_the_same_event_type_are_a_duplicate_event(
    store: m.MetadataStore, types: Types, snapshot: Callable[[m.MetadataStore], Snapshot]
) -> None:
    """As in MLMD: one artifact, so two OUTPUT events to it are one event twice."""
    before = snapshot(store)
    with pytest.raises(AlreadyExistsError, match="OUTPUT"):
        store.put_execution(
            m.Execution(type_id=types.execution),
            [
                (m.Artifact(type_id=types.artifact, external_id="sha:1"), m.Event(type=T.OUTPUT)),
                (m.Artifact(type_id=types.artifact, external_id="sha:1"), m.Event(type=T.OUTPUT)),
            ],
            [],
            reuse_artifact_if_already_exist_by_external_id=True,
        )
    assert snapshot(store) == before


def test_merged_artifacts_must_share_their_type(
    store: m.MetadataStore, types: Types, snapshot: Callable[[m.MetadataStore], Snapshot]
) -> None:
    other = store.put_artifact_type(m.ArtifactType(name="Other"))
    before = snapshot(store)
    with pytest.raises(InvalidArgumentError, match="two types"):
        store.put_execution(
            m.Execution(type_id=types.execution),
            [
                (m.Artifact(type_id=types.artifact, external_id="sha:1"), m.Event(type=T.INPUT)),
                (m.Artifact(type_id=other, external_id="sha:1"), m.Event(type=T.OUTPUT)),
            ],
            [],
            reuse_artifact_if_already_exist_by_external_id=True,
        )
    assert snapshot(store) == before


def test_the_same_event_type_twice_for_one_artifact_is_refused(
    store: m.MetadataStore, types: Types, snapshot: Callable[[m.MetadataStore], Snapshot]
) -> None:
    shared = m.Artifact(type_id=types.artifact)
    before = snapshot(store)
    with pytest.raises(AlreadyExistsError):
        store.put_execution(
            m.Execution(type_id=types.execution),
            [(shared, m.Event(type=T.OUTPUT)), (shared, m.Event(type=T.OUTPUT))],
            [],
        )
    assert snapshot(store) == before


def test_an_event_already_stored_for_an_existing_execution_is_refused(
    store: m.MetadataStore, types: Types, snapshot: Callable[[m.MetadataStore], Snapshot]
) -> None:
    [artifact_id] = store.put_artifacts([m.Artifact(type_id=types.artifact)])
    execution_id, _, _ = store.put_execution(
        m.Execution(type_id=types.execution),
        [(None, m.Event(artifact_id=artifact_id, type=T.INPUT))],
        [],
    )
    before = snapshot(store)
    with pytest.raises(AlreadyExistsError):
        store.put_execution(
            m.Execution(id=execution_id, type_id=types.execution),
            [(None, m.Event(artifact_id=artifact_id, type=T.INPUT))],
            [],
        )
    assert snapshot(store) == before


def test_reuse_artifact_by_external_id_updates_the_stored_artifact(
    store: m.MetadataStore, types: Types
) -> None:
    """MLMD's behaviour: the stored artifact's id is reused and it takes the request's fields."""
    [stored] = store.put_artifacts(
        [m.Artifact(type_id=types.artifact, external_id="ds-1", uri="/old", properties={"rows": 1})]
    )
    _, artifact_ids, _ = store.put_execution(
        m.Execution(type_id=types.execution),
        [
            (
                m.Artifact(
                    type_id=types.artifact, external_id="ds-1", uri="/new", properties={"rows": 2}
                ),
                m.Event(type=T.INPUT),
            ),
            (m.Artifact(type_id=types.artifact, external_id="ds-2"), m.Event(type=T.OUTPUT)),
        ],
        [],
        reuse_artifact_if_already_exist_by_external_id=True,
    )
    assert artifact_ids[0] == stored
    assert artifact_ids[1] != stored
    [artifact] = store.get_artifacts_by_id([stored])
    assert (artifact.uri, artifact.properties, artifact.external_id) == (
        "/new",
        {"rows": 2},
        "ds-1",
    )
    assert len(store.get_artifacts()) == 2


def test_without_reuse_an_existing_artifact_external_id_is_a_duplicate(
    store: m.MetadataStore, types: Types, snapshot: Callable[[m.MetadataStore], Snapshot]
) -> None:
    store.put_artifacts([m.Artifact(type_id=types.artifact, external_id="ds-1")])
    before = snapshot(store)
    with pytest.raises(AlreadyExistsError):
        store.put_execution(
            m.Execution(type_id=types.execution),
            [(m.Artifact(type_id=types.artifact, external_id="ds-1"), m.Event(type=T.INPUT))],
            [],
        )
    assert snapshot(store) == before


# ------------------------------------------------------------------------------------------ events


def test_event_ids_that_contradict_the_call_are_refused(
    store: m.MetadataStore, types: Types, snapshot: Callable[[m.MetadataStore], Snapshot]
) -> None:
    [a, other] = store.put_artifacts([m.Artifact(type_id=types.artifact) for _ in range(2)])
    [e_other] = store.put_executions([m.Execution(type_id=types.execution)])
    before = snapshot(store)
    with pytest.raises(InvalidArgumentError):
        store.put_execution(
            m.Execution(type_id=types.execution),
            [(m.Artifact(id=a, type_id=types.artifact), m.Event(artifact_id=other, type=T.INPUT))],
            [],
        )
    with pytest.raises(InvalidArgumentError):
        store.put_execution(
            m.Execution(type_id=types.execution),
            [(None, m.Event(artifact_id=a, execution_id=e_other, type=T.INPUT))],
            [],
        )
    assert snapshot(store) == before


@pytest.mark.parametrize(
    "pair",
    [
        pytest.param((None, m.Event(type=T.INPUT)), id="no-artifact-at-all"),
        pytest.param((None, m.Event(artifact_id=98_765, type=T.INPUT)), id="missing-artifact"),
        pytest.param((None, m.Event(artifact_id=1, type=T.UNKNOWN)), id="unknown-event-type"),
        pytest.param(("not an artifact",), id="not-an-artifact"),
        pytest.param((None, "not an event"), id="not-an-event"),
        pytest.param((None, None, None), id="three-items"),
    ],
)
def test_bad_pairs_are_refused(
    store: m.MetadataStore,
    types: Types,
    snapshot: Callable[[m.MetadataStore], Snapshot],
    pair: Any,
) -> None:
    store.put_artifacts([m.Artifact(type_id=types.artifact)])
    before = snapshot(store)
    with pytest.raises(InvalidArgumentError):
        store.put_execution(
            m.Execution(type_id=types.execution),
            [(m.Artifact(type_id=types.artifact), m.Event(type=T.OUTPUT)), pair],
            [m.Context(type_id=types.context, name="never-stored")],
        )
    assert snapshot(store) == before


def test_event_times_are_kept_when_given(store: m.MetadataStore, types: Types) -> None:
    execution_id, _, _ = store.put_execution(
        m.Execution(type_id=types.execution),
        [
            (m.Artifact(type_id=types.artifact), m.Event(type=T.INPUT, milliseconds_since_epoch=7)),
            (m.Artifact(type_id=types.artifact), m.Event(type=T.OUTPUT)),
        ],
        [],
    )
    given, stamped = store.get_events_by_execution_ids([execution_id])
    assert given.milliseconds_since_epoch == 7
    [execution] = store.get_executions_by_id([execution_id])
    assert stamped.milliseconds_since_epoch is not None
    assert stamped.milliseconds_since_epoch >= execution.create_time_since_epoch


@pytest.mark.parametrize("bad", ["7", 7.5, True])
def test_a_bad_event_time_is_refused(
    store: m.MetadataStore,
    types: Types,
    snapshot: Callable[[m.MetadataStore], Snapshot],
    bad: Any,
) -> None:
    before = snapshot(store)
    with pytest.raises(InvalidArgumentError, match="milliseconds_since_epoch"):
        store.put_execution(
            m.Execution(type_id=types.execution),
            [
                (
                    m.Artifact(type_id=types.artifact),
                    m.Event(type=T.INPUT, milliseconds_since_epoch=bad),
                )
            ],
            [],
        )
    assert snapshot(store) == before


# ---------------------------------------------------------------------------------------- contexts


def test_a_second_context_with_the_same_name_is_a_duplicate_without_reuse(
    store: m.MetadataStore, types: Types, snapshot: Callable[[m.MetadataStore], Snapshot]
) -> None:
    store.put_execution(
        m.Execution(type_id=types.execution), [], [m.Context(type_id=types.context, name="run")]
    )
    before = snapshot(store)
    with pytest.raises(AlreadyExistsError):
        store.put_execution(
            m.Execution(type_id=types.execution),
            [(m.Artifact(type_id=types.artifact),)],
            [m.Context(type_id=types.context, name="run")],
        )
    assert snapshot(store) == before


def test_one_context_id_given_twice_stores_the_last_occurrence(
    store: m.MetadataStore, types: Types
) -> None:
    """MLMD's result: the context's id twice, the second occurrence's fields."""
    [context_id] = store.put_contexts([m.Context(type_id=types.context, name="c0")])
    execution_id, _, context_ids = store.put_execution(
        m.Execution(type_id=types.execution),
        [],
        [
            m.Context(id=context_id, type_id=types.context, name="c1", properties={"owner": "a"}),
            m.Context(id=context_id, type_id=types.context, name="c2", custom_properties={"y": 2}),
        ],
    )
    assert context_ids == [context_id, context_id]
    [context] = store.get_contexts_by_id([context_id])
    assert (context.name, context.properties, context.custom_properties) == ("c2", {}, {"y": 2})
    assert [c.id for c in store.get_contexts_by_execution(execution_id)] == [context_id]


def test_one_new_context_given_twice_without_reuse_is_a_duplicate(
    store: m.MetadataStore, types: Types, snapshot: Callable[[m.MetadataStore], Snapshot]
) -> None:
    before = snapshot(store)
    context = m.Context(type_id=types.context, name="doubled")
    with pytest.raises(AlreadyExistsError, match="doubled"):
        store.put_execution(m.Execution(type_id=types.execution), [], [context, context])
    assert snapshot(store) == before


def test_reuse_context_if_already_exist(store: m.MetadataStore, types: Types) -> None:
    first, _, [context_id] = store.put_execution(
        m.Execution(type_id=types.execution),
        [],
        [m.Context(type_id=types.context, name="run", properties={"owner": "ada"})],
    )
    [stored] = store.get_contexts_by_id([context_id])
    second, [artifact_id], [again] = store.put_execution(
        m.Execution(type_id=types.execution),
        [(m.Artifact(type_id=types.artifact), m.Event(type=T.OUTPUT))],
        [
            m.Context(
                type_id=types.context,
                name="run",
                properties={"owner": "grace"},
                custom_properties={"note": "ignored"},
            )
        ],
        reuse_context_if_already_exist=True,
    )
    assert again == context_id
    assert second != first
    assert store.get_contexts_by_id([context_id]) == [stored]
    assert ids(store.get_executions_by_context(context_id)) == [first, second]
    assert ids(store.get_artifacts_by_context(context_id)) == [artifact_id]
    assert len(store.get_contexts()) == 1


def test_reuse_context_creates_a_context_that_does_not_exist_yet(
    store: m.MetadataStore, types: Types
) -> None:
    _, _, context_ids = store.put_execution(
        m.Execution(type_id=types.execution),
        [],
        [m.Context(type="PipelineRun", name="fresh"), m.Context(type="PipelineRun", name="fresh")],
        reuse_context_if_already_exist=True,
    )
    assert len(context_ids) == 2
    assert context_ids[0] == context_ids[1]
    assert [c.name for c in store.get_contexts()] == ["fresh"]


def test_force_reuse_context_takes_the_stored_context_as_it_is(
    store: m.MetadataStore, types: Types
) -> None:
    [context_id] = store.put_contexts(
        [m.Context(type_id=types.context, name="run", custom_properties={"keep": "me"})]
    )
    [stored] = store.get_contexts_by_id([context_id])
    execution_id, _, got = store.put_execution(
        m.Execution(type_id=types.execution),
        [],
        [
            m.Context(
                id=context_id,
                type_id=types.context,
                name="other-name",
                custom_properties={"keep": "overwritten?"},
            )
        ],
        force_reuse_context=True,
    )
    assert got == [context_id]
    assert store.get_contexts_by_id([context_id]) == [stored]
    assert ids(store.get_executions_by_context(context_id)) == [execution_id]


def test_force_reuse_context_with_a_missing_id_is_not_found(
    store: m.MetadataStore, types: Types, snapshot: Callable[[m.MetadataStore], Snapshot]
) -> None:
    [context_id] = store.put_contexts(
        [m.Context(type_id=types.context, name="run", custom_properties={"keep": "me"})]
    )
    before = snapshot(store)
    with pytest.raises(NotFoundError, match="4242"):
        store.put_execution(
            m.Execution(type_id=types.execution),
            [(m.Artifact(type_id=types.artifact),)],
            [
                m.Context(id=context_id, type_id=types.context, name="run", custom_properties={}),
                m.Context(id=4242, type_id=types.context, name="ghost"),
            ],
            force_reuse_context=True,
        )
    assert snapshot(store) == before


def test_without_force_reuse_a_context_with_an_id_is_updated(
    store: m.MetadataStore, types: Types
) -> None:
    [context_id] = store.put_contexts(
        [m.Context(type_id=types.context, name="run", custom_properties={"keep": "me"})]
    )
    store.put_execution(
        m.Execution(type_id=types.execution),
        [],
        [m.Context(id=context_id, type_id=types.context, name="run", custom_properties={"v": 2})],
    )
    assert store.get_contexts_by_id([context_id])[0].custom_properties == {"v": 2}


@pytest.mark.parametrize(
    "context",
    [
        pytest.param(m.Context(name="no-type"), id="no-type"),
        pytest.param(m.Context(type="PipelineRun"), id="no-name"),
        pytest.param(m.Context(type="PipelineRun", name=""), id="empty-name"),
    ],
)
@pytest.mark.parametrize("reuse", [False, True])
def test_a_context_needs_a_type_and_a_name(
    store: m.MetadataStore,
    types: Types,
    snapshot: Callable[[m.MetadataStore], Snapshot],
    context: m.Context,
    reuse: bool,
) -> None:
    before = snapshot(store)
    with pytest.raises(InvalidArgumentError):
        store.put_execution(
            m.Execution(type_id=types.execution),
            [(m.Artifact(type_id=types.artifact),)],
            [context],
            reuse_context_if_already_exist=reuse,
        )
    assert snapshot(store) == before


# ------------------------------------------------------------------------------------------- times


def test_force_update_time_bumps_an_unchanged_execution(
    store: m.MetadataStore, types: Types, clock_past: Callable[[int], None]
) -> None:
    execution_id, _, _ = store.put_execution(
        m.Execution(type_id=types.execution, name="train"), [], []
    )
    [created] = store.get_executions_by_id([execution_id])
    clock_past(created.last_update_time_since_epoch)

    unchanged = m.Execution(id=execution_id, type_id=types.execution, name="train")
    store.put_execution(unchanged, [], [])
    assert store.get_executions_by_id([execution_id]) == [created]

    store.put_execution(unchanged, [], [], force_update_time=True)
    [bumped] = store.get_executions_by_id([execution_id])
    assert bumped.last_update_time_since_epoch > created.last_update_time_since_epoch
    assert bumped.create_time_since_epoch == created.create_time_since_epoch
