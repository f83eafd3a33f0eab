"""A store's dump (JSON lines, nodes by global id) loaded into an empty store gives the same
graph, field for field and time for time, on every backend; a pipeline's dump carries that
pipeline; a damaged dump changes nothing."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _stores import NewStore, factory

import mltrail as m
from _backends import BACKENDS
from _canon import canon
from _dump import dump as content
from _servers import Server
from mltrail import sync
from mltrail.errors import InvalidArgumentError, NotFoundError

P = m.PropertyType


@pytest.fixture(params=BACKENDS)
def new_store(
    request: pytest.FixtureRequest, tmp_path: Path, servers: dict[str, Server]
) -> Iterator[NewStore]:
    """Fresh stores on the test's backend, SQLite in memory included."""
    yield from factory(str(request.param), tmp_path, servers)


def populate(store: m.MetadataStore, other: m.MetadataStore) -> None:
    """Every kind of thing a store holds: types with every field, every value type, states,
    event paths, memberships, parent links, a removed key, and nodes merged in from another
    site (so they carry that site's global ids)."""
    dataset_type = store.put_artifact_type(
        m.ArtifactType(
            name="Dataset",
            version="2",
            description="rows of examples",
            external_id="type:dataset:2",
            base_type=m.ArtifactBaseType.DATASET,
            properties={"rows": P.INT, "share": P.DOUBLE, "split": P.STRING, "schema": P.STRUCT},
        )
    )
    store.put_artifact_type(m.ArtifactType(name="Model", properties={"ok": P.BOOLEAN}))
    store.put_execution_type(
        m.ExecutionType(
            name="Train", base_type=m.ExecutionBaseType.TRAIN, properties={"lr": P.DOUBLE}
        )
    )
    store.put_context_type(m.ContextType(name="Pipeline", description="a pipeline"))
    store.put_context_type(m.ContextType(name="Run", properties={"seed": P.INT}))
    store.put_context_type(m.ContextType(name="Unused"))  # a type no node uses
    [pipeline] = store.put_contexts([m.Context(type="Pipeline", name="mnist")])
    for i in range(3):
        execution, _, [run] = store.put_execution(
            m.Execution(
                type="Train",
                name=f"train-{i}",
                properties={"lr": 0.1 * (i + 1)},
                custom_properties={"note": f"run {i}", "flags": {"a": [1, 2, {"b": None}]}},
                last_known_state=m.ExecutionState.COMPLETE if i else m.ExecutionState.FAILED,
            ),
            [
                (
                    m.Artifact(
                        type_id=dataset_type,
                        uri="s3://data/source",
                        external_id="sha256:source",
                        state=m.ArtifactState.LIVE,
                        properties={
                            "rows": 10**12,
                            "share": 0.25,
                            "split": "tr\u00e4in \u2603",
                            "schema": {"columns": ["x", "y"]},
                        },
                    ),
                    m.Event(type=m.EventType.INPUT, path=["examples", 0]),
                ),
                (
                    m.Artifact(
                        type="Model",
                        name=f"model-{i}",
                        uri=f"file:///models/{i}",
                        properties={"ok": i % 2 == 0},
                        custom_properties={"acc": 0.5 + i / 10, "big": -(2**62)},
                    ),
                    m.Event(type=m.EventType.OUTPUT, path=[0, "weights", 3]),
                ),
            ],
            [m.Context(type="Run", name=f"run-{i}", properties={"seed": i})],
            reuse_context_if_already_exist=True,
            reuse_artifact_if_already_exist_by_external_id=True,
        )
        store.put_parent_contexts([m.ParentContext(child_id=run, parent_id=pipeline)])
        store.put_attributions_and_associations(
            [], [m.Association(execution_id=execution, context_id=pipeline)]
        )
    [model] = store.get_artifacts_by_type("Model")[:1]
    del model.custom_properties["big"]  # a removal: a tombstone travels with the node
    model.state = m.ArtifactState.DELETED
    store.put_artifacts([model])
    # Nodes made at another site, merged here: a dump carries them under that site's ids.
    other.put_artifact_type(m.ArtifactType(name="Model", properties={"ok": P.BOOLEAN}))
    other.put_context_type(m.ContextType(name="Pipeline", description="a pipeline"))
    [elsewhere] = other.put_artifacts([m.Artifact(type="Model", name="elsewhere", uri="x://e")])
    [other_pipeline] = other.put_contexts([m.Context(type="Pipeline", name="mnist")])
    other.put_attributions_and_associations(
        [m.Attribution(artifact_id=elsewhere, context_id=other_pipeline)], []
    )
    sync.push(other, store)


def view(store: m.MetadataStore) -> dict[str, Any]:
    """Everything the public API returns, with local ids replaced by the nodes' names."""
    artifacts = {a.id: a for a in store.get_artifacts()}
    executions = {e.id: e for e in store.get_executions()}
    contexts = {c.id: c for c in store.get_contexts()}
    types = {
        t.id: t
        for t in [
            *store.get_artifact_types(),
            *store.get_execution_types(),
            *store.get_context_types(),
        ]
    }

    def type_view(t: Any) -> str:
        return json.dumps({**vars(t), "id": None}, sort_keys=True)

    def node_view(n: Any) -> str:
        fields = {**vars(n), "id": None, "type_id": None, "type": types[n.type_id].name}
        return json.dumps(fields, sort_keys=True)

    def name(n: Any) -> str:
        return str(n.name or n.external_id)

    events = sorted(
        (
            name(artifacts[e.artifact_id]),
            name(executions[e.execution_id]),
            int(e.type),
            str(e.path),
            e.milliseconds_since_epoch,
        )
        for e in store.get_events_by_execution_ids(list(executions))
    )
    return {
        "types": sorted((type(t).__name__, type_view(t)) for t in types.values()),
        "artifacts": sorted(node_view(a) for a in artifacts.values()),
        "executions": sorted(node_view(e) for e in executions.values()),
        "contexts": sorted(node_view(c) for c in contexts.values()),
        "events": events,
        "attributions": sorted(
            (name(a), c.name)
            for a in artifacts.values()
            for c in store.get_contexts_by_artifact(int(a.id or 0))
        ),
        "associations": sorted(
            (name(e), c.name)
            for e in executions.values()
            for c in store.get_contexts_by_execution(int(e.id or 0))
        ),
        "parents": sorted(
            (c.name, p.name)
            for c in contexts.values()
            for p in store.get_parent_contexts_by_context(int(c.id or 0))
        ),
    }


@pytest.mark.parametrize("batch_size", [3, sync.BATCH_SIZE])
def test_a_dump_loaded_into_an_empty_store_is_the_same_graph(
    new_store: NewStore, tmp_path: Path, batch_size: int
) -> None:
    source, other, target = new_store(), new_store(), new_store()
    populate(source, other)
    file = tmp_path / "store.jsonl"
    written = sync.dump(source, file, batch_size=batch_size)
    lines = file.read_bytes().splitlines()
    assert len(lines) == written.batches > (1 if batch_size == 3 else 0)
    assert all(json.loads(line)["batch"]["format"] == 1 for line in lines)

    report = sync.load(target, file)
    assert report.created == len(view(source)["artifacts"]) + len(view(source)["executions"]) + len(
        view(source)["contexts"]
    )
    assert report.types == len(view(source)["types"])  # those without properties too
    assert view(target) == view(source)  # fields, values, states, times, paths, edges
    assert canon(target, whole=True) == canon(source, whole=True)  # global ids, stamps, removals

    before = content(target.database)
    again = sync.load(target, file)
    assert again.created == again.updated == again.edges == 0
    assert content(target.database) == before


def test_a_pipeline_dump_carries_that_pipeline(new_store: NewStore, tmp_path: Path) -> None:
    source, other, target = new_store(), new_store(), new_store()
    populate(source, other)
    run = source.get_context_by_type_and_name("Run", "run-1")
    assert run is not None
    file = tmp_path / "run-1.jsonl"
    sync.dump(source, file, context="run-1")

    sync.load(target, file)
    [execution] = target.get_executions()
    assert execution.name == "train-1"
    got = target.get_context_by_type_and_name("Run", "run-1")
    assert got is not None
    assert got.properties == {"seed": 1}
    assert got.create_time_since_epoch == run.create_time_since_epoch
    assert sorted(a.name or a.external_id for a in target.get_artifacts()) == [
        "model-1",
        "sha256:source",
    ]
    [model] = target.get_artifacts_by_type("Model")
    [original] = [a for a in source.get_artifacts_by_type("Model") if a.name == "model-1"]
    assert model.custom_properties == original.custom_properties
    assert model.last_update_time_since_epoch == original.last_update_time_since_epoch
    events = target.get_events_by_execution_ids([int(execution.id or 0)])
    assert sorted((e.path for e in events), key=str) == [["examples", 0], [0, "weights", 3]]
    assert sync.load(target, file).created == 0


def test_a_damaged_dump_stops_at_the_damaged_batch(new_store: NewStore, tmp_path: Path) -> None:
    source, other = new_store(), new_store()
    populate(source, other)
    file = tmp_path / "store.jsonl"
    sync.dump(source, file, batch_size=4)
    lines = file.read_bytes().splitlines()
    assert len(lines) >= 3
    first, damaged = tmp_path / "first.jsonl", tmp_path / "damaged.jsonl"
    first.write_bytes(lines[0] + b"\n")
    altered = re.sub(rb'"to":(\d+)}}$', lambda t: b'"to":%d}}' % (int(t[1]) + 1), lines[1])
    assert altered != lines[1]
    damaged.write_bytes(b"\n".join([lines[0], altered, *lines[2:]]) + b"\n")

    only_first, target = new_store(), new_store()
    sync.load(only_first, first)
    with pytest.raises(InvalidArgumentError, match="digest"):
        sync.load(target, damaged)
    # The batch before the damaged one is applied (each batch is whole), nothing after it.
    assert view(target) == view(only_first)
    sync.load(target, file)  # the good dump completes it
    assert view(target) == view(source)
    with pytest.raises(NotFoundError, match="no bundle file"):
        sync.load(target, tmp_path / "missing.jsonl")


def test_a_dump_put_together_from_two_is_refused_where_they_meet(
    new_store: NewStore, tmp_path: Path
) -> None:
    source, other = new_store(), new_store()
    populate(source, other)
    whole, part = tmp_path / "whole.jsonl", tmp_path / "part.jsonl"
    sync.dump(source, whole)
    sync.dump(source, part, context="run-1")
    joined = tmp_path / "joined.jsonl"
    joined.write_bytes(whole.read_bytes() + part.read_bytes())
    target = new_store()
    with pytest.raises(InvalidArgumentError, match=r"joined.jsonl, line 2: .*two pushes"):
        sync.load(target, joined)
    assert view(target) == view(source)  # the first line, whole, was applied before it
