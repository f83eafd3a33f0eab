"""The store MLMD's filter language was verified on (research/mlmd.md §3.5), rebuilt through the
public API, answering filter queries by node name so that tests read like that table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import mltrail as m

P = m.PropertyType
State = m.ArtifactState
EState = m.ExecutionState
EType = m.EventType


@dataclass
class Mlmd:
    """The §3.5 store: artifacts d1 d2 d3 m1 m2, executions train1 train2, contexts run1 run2 pipe.

    ``ids`` maps every node name (and every type name) to its id; ``names(kind, query)`` lists
    the names of the nodes of ``kind`` ("a", "e" or "c") matching ``query``, sorted.
    """

    store: m.MetadataStore
    ids: dict[str, int] = field(default_factory=dict)

    def lister(self, kind: str) -> Callable[..., m.ResultPage[Any]]:
        return {  # type: ignore[return-value]
            "a": self.store.get_artifacts,
            "e": self.store.get_executions,
            "c": self.store.get_contexts,
        }[kind]

    def names(self, kind: str, query: str, **options: Any) -> list[str]:
        found = self.lister(kind)(filter_query=query.format(**self.ids), **options)
        return sorted(str(node.name) for node in found)

    def answers(self, kind: str, queries: dict[str, list[str]]) -> dict[str, list[str]]:
        """``{query: names}`` for every query; compare with the expected dict in one assert."""
        return {query: self.names(kind, query) for query in queries}


def build_mlmd(store: m.MetadataStore) -> Mlmd:
    """The verified fixture of research/mlmd.md §3.5, node for node."""
    fx = Mlmd(store)
    ids = fx.ids
    dataset = m.ArtifactType(
        name="Dataset",
        properties={"span": P.INT, "acc": P.DOUBLE, "split": P.STRING, "ok": P.BOOLEAN},
    )
    ids["Dataset"] = store.put_artifact_type(dataset)
    ids["Model"] = store.put_artifact_type(m.ArtifactType(name="Model"))
    ids["Trainer"] = store.put_execution_type(m.ExecutionType(name="Trainer"))
    ids["Run"] = store.put_context_type(m.ContextType(name="Run"))
    ids["Pipeline"] = store.put_context_type(m.ContextType(name="Pipeline"))
    artifacts = [
        m.Artifact(
            type_id=ids["Dataset"],
            name="d1",
            uri="/data/d1",
            state=State.LIVE,
            external_id="ext-d1",
            properties={"span": 1, "acc": 0.5, "split": "train", "ok": True},
            custom_properties={"my prop": "x", "n": 7},
        ),
        m.Artifact(
            type_id=ids["Dataset"],
            name="d2",
            uri="/data/d2",
            state=State.PENDING,
            properties={"span": 2, "acc": 0.97, "split": "eval", "ok": False},
        ),
        m.Artifact(type_id=ids["Dataset"], name="d3", uri="/other/d3", state=State.ABANDONED),
        m.Artifact(type_id=ids["Model"], name="m1", uri="/models/m1"),
        m.Artifact(
            type_id=ids["Model"],
            name="m2",
            uri="/models/m2",
            state=State.REFERENCE,
            custom_properties={"n": 3},
        ),
    ]
    for artifact, new_id in zip(artifacts, store.put_artifacts(artifacts)):
        ids[str(artifact.name)] = new_id
    executions = [
        m.Execution(type_id=ids["Trainer"], name="train1", last_known_state=EState.COMPLETE),
        m.Execution(type_id=ids["Trainer"], name="train2", last_known_state=EState.RUNNING),
    ]
    for execution, new_id in zip(executions, store.put_executions(executions)):
        ids[str(execution.name)] = new_id
    store.put_events(
        [
            m.Event(artifact_id=ids["d1"], execution_id=ids["train1"], type=EType.INPUT),
            m.Event(artifact_id=ids["m1"], execution_id=ids["train1"], type=EType.OUTPUT),
            m.Event(artifact_id=ids["d2"], execution_id=ids["train2"], type=EType.INPUT),
            m.Event(artifact_id=ids["m2"], execution_id=ids["train2"], type=EType.PENDING_OUTPUT),
        ]
    )
    contexts = [
        m.Context(type_id=ids["Run"], name="run1"),
        m.Context(type_id=ids["Run"], name="run2"),
        m.Context(type_id=ids["Pipeline"], name="pipe"),
    ]
    for context, new_id in zip(contexts, store.put_contexts(contexts)):
        ids[str(context.name)] = new_id
    store.put_attributions_and_associations(
        [
            m.Attribution(artifact_id=ids["d1"], context_id=ids["run1"]),
            m.Attribution(artifact_id=ids["m1"], context_id=ids["run1"]),
            m.Attribution(artifact_id=ids["d1"], context_id=ids["pipe"]),
            m.Attribution(artifact_id=ids["d2"], context_id=ids["run2"]),
        ],
        [
            m.Association(execution_id=ids["train1"], context_id=ids["run1"]),
            m.Association(execution_id=ids["train2"], context_id=ids["run2"]),
        ],
    )
    store.put_parent_contexts(
        [
            m.ParentContext(child_id=ids["run1"], parent_id=ids["pipe"]),
            m.ParentContext(child_id=ids["run2"], parent_id=ids["pipe"]),
        ]
    )
    return fx
