"""Every public call is one transaction: when it fails, the store is exactly as before.

Each test builds a populated store, takes a full snapshot (types, nodes, events, memberships,
parent links), makes a call that fails late — after it could already have written something —
and compares.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

import mltrail as m
from _backends import BACKENDS
from mltrail.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    MltrailError,
    NotFoundError,
)

T = m.EventType
P = m.PropertyType
Snapshot = dict[str, Any]


@dataclass
class Populated:
    artifact_type: int
    execution_type: int
    context_type: int
    artifacts: list[int]
    executions: list[int]
    contexts: list[int]


@pytest.fixture
def world(store: m.MetadataStore) -> Populated:
    """A small pipeline: types, nodes, events, memberships and parent links."""
    at = store.put_artifact_type(
        m.ArtifactType(
            name="Dataset",
            properties={"rows": P.INT},
            external_id="dataset-type",
            base_type=m.ArtifactBaseType.DATASET,
        )
    )
    et = store.put_execution_type(
        m.ExecutionType(name="Train", base_type=m.ExecutionBaseType.TRAIN)
    )
    ct = store.put_context_type(m.ContextType(name="Pipeline"))
    artifacts = store.put_artifacts(
        [
            m.Artifact(type_id=at, name="raw", uri="/raw", properties={"rows": 10}),
            m.Artifact(
                type_id=at, name="clean", external_id="clean-ext", custom_properties={"x": [1]}
            ),
        ]
    )
    executions = store.put_executions(
        [m.Execution(type_id=et, name="run-1", last_known_state=m.ExecutionState.COMPLETE)]
    )
    contexts = store.put_contexts(
        [m.Context(type_id=ct, name="pipeline"), m.Context(type_id=ct, name="stage")]
    )
    store.put_events(
        [
            m.Event(
                artifact_id=artifacts[0], execution_id=executions[0], type=T.INPUT, path=["in"]
            ),
            m.Event(artifact_id=artifacts[1], execution_id=executions[0], type=T.OUTPUT),
        ]
    )
    store.put_attributions_and_associations(
        [m.Attribution(artifact_id=a, context_id=contexts[1]) for a in artifacts],
        [m.Association(execution_id=executions[0], context_id=contexts[1])],
    )
    store.put_parent_contexts([m.ParentContext(child_id=contexts[1], parent_id=contexts[0])])
    return Populated(at, et, ct, artifacts, executions, contexts)


@pytest.fixture
def unchanged(
    store: m.MetadataStore, world: Populated, snapshot: Callable[[m.MetadataStore], Snapshot]
) -> Callable[[type[MltrailError], Callable[[], object]], None]:
    """``unchanged(error, call)``: ``call()`` raises ``error`` and leaves the store as it was,
    and the store keeps working afterwards."""

    def check(error: type[MltrailError], call: Callable[[], object]) -> None:
        before = snapshot(store)
        assert before["artifacts"], "the world fixture should have populated the store"
        with pytest.raises(error):
            call()
        assert snapshot(store) == before
        # The store still takes writes, and reuses nothing it half-wrote.
        [fresh] = store.put_artifacts(
            [m.Artifact(type_id=world.artifact_type, custom_properties={"written": "after"})]
        )
        assert fresh not in world.artifacts
        [written] = store.get_artifacts_by_id([fresh])
        assert written.custom_properties == {"written": "after"}

    return check


Unchanged = Callable[[type[MltrailError], Callable[[], object]], None]


# ------------------------------------------------------------------------------------------- nodes


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param({"properties": {"undeclared": 1}}, id="undeclared-property"),
        pytest.param({"name": "raw"}, id="duplicate-name"),
        pytest.param({"external_id": "clean-ext"}, id="duplicate-external-id"),
        pytest.param({"custom_properties": {"n": None}}, id="empty-value"),
        pytest.param({"id": 9_999}, id="missing-id"),
        pytest.param({"type_id": 9_999}, id="missing-type"),
    ],
)
def test_put_artifacts_with_a_bad_artifact_last(
    store: m.MetadataStore, world: Populated, unchanged: Unchanged, bad: dict[str, Any]
) -> None:
    at = world.artifact_type
    batch = [
        m.Artifact(type_id=at, name="good-new", properties={"rows": 1}),
        m.Artifact(id=world.artifacts[0], type_id=at, name="raw", uri="/changed"),
        m.Artifact(**{"type_id": at, **bad}),
    ]
    error = NotFoundError if "type_id" in bad else MltrailError
    unchanged(error, lambda: store.put_artifacts(batch))


def test_a_masked_update_batch_with_a_bad_update_last(
    store: m.MetadataStore, world: Populated, unchanged: Unchanged
) -> None:
    batch = [
        m.Artifact(id=world.artifacts[0], properties={"rows": 11}),
        m.Artifact(id=world.artifacts[1], properties={"rows": "eleven"}),
    ]
    unchanged(
        InvalidArgumentError,
        lambda: store.put_artifacts(batch, field_mask_paths=["properties.rows"]),
    )


def test_put_executions_with_a_duplicate_last(
    store: m.MetadataStore, world: Populated, unchanged: Unchanged
) -> None:
    et = world.execution_type
    batch = [
        m.Execution(id=world.executions[0], type_id=et, name="run-1", last_known_state="FAILED"),
        m.Execution(type_id=et, name="run-2"),
        m.Execution(type_id=et, name="run-2"),
    ]
    unchanged(AlreadyExistsError, lambda: store.put_executions(batch))


def test_put_contexts_with_a_nameless_context_last(
    store: m.MetadataStore, world: Populated, unchanged: Unchanged
) -> None:
    ct = world.context_type
    batch = [
        m.Context(id=world.contexts[0], type_id=ct, name="renamed"),
        m.Context(type_id=ct, name="new"),
        m.Context(type_id=ct, name=""),
    ]
    unchanged(InvalidArgumentError, lambda: store.put_contexts(batch))


# ------------------------------------------------------------------------------------------- edges


def test_put_events_with_a_bad_event_last(
    store: m.MetadataStore, world: Populated, unchanged: Unchanged
) -> None:
    a, e = world.artifacts, world.executions[0]
    batch = [
        m.Event(artifact_id=a[1], execution_id=e, type=T.DECLARED_OUTPUT),
        m.Event(artifact_id=a[0], execution_id=e, type=T.INPUT),  # already stored
    ]
    unchanged(AlreadyExistsError, lambda: store.put_events(batch))


def test_put_attributions_and_associations_with_a_missing_node_last(
    store: m.MetadataStore, world: Populated, unchanged: Unchanged
) -> None:
    c = world.contexts[0]
    unchanged(
        InvalidArgumentError,
        lambda: store.put_attributions_and_associations(
            [m.Attribution(artifact_id=a, context_id=c) for a in world.artifacts],
            [
                m.Association(execution_id=world.executions[0], context_id=c),
                m.Association(execution_id=8_888, context_id=c),
            ],
        ),
    )


def test_put_parent_contexts_creating_a_cycle_last(
    store: m.MetadataStore, world: Populated, unchanged: Unchanged
) -> None:
    [extra] = store.put_contexts([m.Context(type_id=world.context_type, name="extra")])
    pipeline, stage = world.contexts
    unchanged(
        InvalidArgumentError,
        lambda: store.put_parent_contexts(
            [
                m.ParentContext(child_id=extra, parent_id=stage),
                m.ParentContext(child_id=pipeline, parent_id=extra),  # stage -> extra -> pipeline
            ]
        ),
    )


# --------------------------------------------------------------------------------------- composites


def test_put_execution_whose_last_event_is_a_duplicate(
    store: m.MetadataStore, world: Populated, unchanged: Unchanged
) -> None:
    new_artifact = m.Artifact(type_id=world.artifact_type, name="model")
    unchanged(
        AlreadyExistsError,
        lambda: store.put_execution(
            m.Execution(
                id=world.executions[0],
                type_id=world.execution_type,
                name="run-1",
                last_known_state=m.ExecutionState.RUNNING,
            ),
            [
                (new_artifact, m.Event(type=T.OUTPUT)),
                (
                    m.Artifact(id=world.artifacts[0], type_id=world.artifact_type, name="raw"),
                    m.Event(type=T.INPUT),
                ),
            ],
            [m.Context(type_id=world.context_type, name="new-context")],
        ),
    )


def test_put_execution_whose_last_context_is_refused(
    store: m.MetadataStore, world: Populated, unchanged: Unchanged
) -> None:
    unchanged(
        AlreadyExistsError,
        lambda: store.put_execution(
            m.Execution(type_id=world.execution_type, name="run-2"),
            [(m.Artifact(type_id=world.artifact_type, name="model"), m.Event(type=T.OUTPUT))],
            [
                m.Context(type_id=world.context_type, name="brand-new"),
                m.Context(type_id=world.context_type, name="pipeline"),
            ],
        ),
    )


def test_put_lineage_subgraph_with_a_bad_edge_last(
    store: m.MetadataStore, world: Populated, unchanged: Unchanged
) -> None:
    unchanged(
        InvalidArgumentError,
        lambda: store.put_lineage_subgraph(
            [m.Execution(type_id=world.execution_type, name="run-2")],
            [m.Artifact(type_id=world.artifact_type, name="model")],
            [m.Context(type_id=world.context_type, name="new-context")],
            [
                (0, 0, m.Event(type=T.OUTPUT)),
                (0, None, m.Event(artifact_id=world.artifacts[0], type=T.INPUT)),
                (0, None, m.Event(artifact_id=7_777, type=T.INPUT)),
            ],
        ),
    )


def test_put_lineage_subgraph_with_a_duplicate_event_last(
    store: m.MetadataStore, world: Populated, unchanged: Unchanged
) -> None:
    unchanged(
        AlreadyExistsError,
        lambda: store.put_lineage_subgraph(
            [m.Execution(id=world.executions[0], type_id=world.execution_type, name="run-1")],
            [m.Artifact(type_id=world.artifact_type, name="model")],
            [m.Context(type_id=world.context_type, name="pipeline")],
            [
                (0, 0, m.Event(type=T.OUTPUT)),
                (0, None, m.Event(artifact_id=world.artifacts[0], type=T.INPUT)),
            ],
            reuse_context_if_already_exist=True,
        ),
    )


# ------------------------------------------------------------------------------------------- types


def test_put_artifact_type_after_a_partial_evolution(
    store: m.MetadataStore, world: Populated, unchanged: Unchanged
) -> None:
    # An earlier evolution went through...
    store.put_artifact_type(
        m.ArtifactType(name="Dataset", properties={"rows": P.INT, "split": P.STRING}),
        can_add_fields=True,
    )
    # ...a later one that would add properties is refused for another reason.
    unchanged(
        AlreadyExistsError,
        lambda: store.put_artifact_type(
            m.ArtifactType(
                name="Dataset",
                properties={"rows": P.INT, "split": P.STRING, "size": P.INT},
                base_type=m.ArtifactBaseType.MODEL,
                external_id="dataset-type-2",
                description="changed",
            ),
            can_add_fields=True,
        ),
    )
    unchanged(
        AlreadyExistsError,
        lambda: store.put_artifact_type(
            m.ArtifactType(
                name="Dataset", properties={"size": P.INT, "rows": P.DOUBLE}, description="x"
            ),
            can_add_fields=True,
            can_omit_fields=True,
        ),
    )
    unchanged(
        AlreadyExistsError,
        lambda: store.put_execution_type(
            m.ExecutionType(
                name="Train",
                properties={"lr": P.DOUBLE},
                base_type=m.ExecutionBaseType.DEPLOY,
            ),
            can_add_fields=True,
        ),
    )
    # A new property that a failed call would have added is still unknown to nodes.
    with pytest.raises(InvalidArgumentError):
        store.put_artifacts([m.Artifact(type_id=world.artifact_type, properties={"size": 1})])


def test_put_artifact_type_with_a_taken_external_id(
    store: m.MetadataStore, world: Populated, unchanged: Unchanged
) -> None:
    store.put_context_type(m.ContextType(name="Holder", external_id="holder-type"))
    unchanged(
        AlreadyExistsError,
        lambda: store.put_artifact_type(
            m.ArtifactType(
                name="Dataset", properties={"rows": P.INT, "new": P.INT}, external_id="holder-type"
            ),
            can_add_fields=True,
        ),
    )


# ----------------------------------------------------------------- several calls, one transaction


def is_remote(store: Any) -> bool:
    return not isinstance(store, m.MetadataStore)


def test_calls_in_a_transaction_are_written_together(
    store: Any, world: Populated, snapshot: Callable[[m.MetadataStore], Snapshot]
) -> None:
    if is_remote(store):
        with pytest.raises(FailedPreconditionError, match="each call is one transaction"):
            store.transaction()
        return
    with store.transaction() as same:
        assert same is store
        [found] = store.get_artifacts_by_external_ids(["clean-ext"])
        [execution, _, _] = store.put_execution(
            m.Execution(type_id=world.execution_type, name="run-2"),
            [(found, m.Event(type=T.INPUT))],
            [],
        )
        store.put_attributions_and_associations(
            [], [m.Association(execution_id=execution, context_id=world.contexts[0])]
        )
        # Calls in the block see what the block wrote.
        assert [e.name for e in store.get_executions_by_context(world.contexts[0])] == ["run-2"]
    [written] = store.get_executions_by_id([execution])
    assert written.name == "run-2"
    assert [e.execution_id for e in store.get_events_by_artifact_ids([found.id])] == [
        world.executions[0],
        execution,
    ]


@pytest.mark.parametrize("backend", BACKENDS)  # a server store has none
def test_a_transaction_that_raises_writes_nothing(
    store: Any, world: Populated, snapshot: Callable[[m.MetadataStore], Snapshot]
) -> None:
    before = snapshot(store)
    with pytest.raises(RuntimeError, match="stop"), store.transaction():
        store.put_artifact_type(m.ArtifactType(name="Model"))
        store.put_artifacts([m.Artifact(type_id=world.artifact_type, name="written")])
        [extra] = store.put_contexts([m.Context(type_id=world.context_type, name="extra")])
        store.put_parent_contexts([m.ParentContext(child_id=extra, parent_id=world.contexts[0])])
        raise RuntimeError("stop")
    assert snapshot(store) == before
    # The type made in the rolled-back block is not remembered by the store's type cache.
    with pytest.raises(NotFoundError):
        store.put_artifacts([m.Artifact(type="Model")])
    with store.transaction():  # the store takes transactions again
        store.put_artifacts([m.Artifact(type_id=world.artifact_type, name="after")])
    assert [a.name for a in store.get_artifacts_by_type("Dataset")][-1] == "after"


@pytest.mark.parametrize("backend", BACKENDS)  # a server store has none
def test_a_failed_call_rolls_the_transaction_back_even_when_caught(
    store: Any, world: Populated, snapshot: Callable[[m.MetadataStore], Snapshot]
) -> None:
    before = snapshot(store)
    failed = pytest.raises(FailedPreconditionError, match="AlreadyExistsError")
    with failed, store.transaction():
        store.put_artifacts([m.Artifact(type_id=world.artifact_type, name="written")])
        with pytest.raises(AlreadyExistsError):
            store.put_artifacts([m.Artifact(type_id=world.artifact_type, name="raw")])
        with pytest.raises(FailedPreconditionError, match="failed already"):
            store.get_artifacts()
    assert snapshot(store) == before


@pytest.mark.parametrize("backend", BACKENDS)  # a server store has none
def test_transactions_do_not_nest(store: Any, world: Populated) -> None:
    nested = pytest.raises(FailedPreconditionError, match="do not nest")
    with nested, store.transaction(), store.transaction():
        pass
    assert [a.name for a in store.get_artifacts()] == ["raw", "clean"]
