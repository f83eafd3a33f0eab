"""Nodes side by side: ``compare_nodes`` over two or more artifacts or executions (executions
with their inputs and outputs), and ``compare_artifacts`` built on it."""

from __future__ import annotations

import pytest

import mltrail as m
from mltrail.errors import InvalidArgumentError, NotFoundError
from mltrail.query.compare import ComparedField, Comparison, compare_nodes

EType = m.EventType


def by_field(comparison: Comparison) -> dict[str, tuple[list[object], bool]]:
    return {row.field: (row.values, row.differs) for row in comparison.fields}


def test_three_artifacts_side_by_side(store: m.MetadataStore) -> None:
    table = store.put_artifact_type(
        m.ArtifactType(name="Table", properties={"rows": m.PropertyType.INT})
    )
    ids = store.put_artifacts(
        [
            m.Artifact(type_id=table, uri="/t", properties={"rows": 1}, custom_properties={"a": 1}),
            m.Artifact(
                type_id=table, uri="/t", properties={"rows": 1}, custom_properties={"a": 1.0}
            ),
            m.Artifact(type_id=table, uri="/u", properties={"rows": 1}, custom_properties={"b": 2}),
        ]
    )
    order = [ids[2], ids[0], ids[1]]
    comparison = store.compare_nodes(artifact_ids=order)
    assert comparison.kind == "artifact"
    assert [n.id for n in comparison.nodes] == order  # the order given
    rows = by_field(comparison)
    assert [row.field for row in comparison.fields] == [
        "type",
        "name",
        "uri",
        "state",
        "external_id",
        "create_time_since_epoch",
        "properties.rows",
        "custom_properties.a",
        "custom_properties.b",
    ]
    assert rows["type"] == (["Table"] * 3, False)
    assert rows["uri"] == (["/u", "/t", "/t"], True)
    assert rows["properties.rows"] == ([1, 1, 1], False)
    assert rows["custom_properties.a"] == ([None, 1, 1.0], True)
    assert rows["custom_properties.b"] == ([2, None, None], True)
    differing = {row.field for row in comparison.differences} - {"create_time_since_epoch"}
    assert differing == {"uri", "custom_properties.a", "custom_properties.b"}
    # Two of them: the same rows as compare_artifacts gives.
    two = store.compare_nodes(artifact_ids=ids[:2])
    pairs = store.compare_artifacts(ids[0], ids[1])
    assert [(r.field, r.values, r.differs) for r in two.fields] == [
        (r.field, [r.left, r.right], r.differs) for r in pairs.rows
    ]
    assert {r.field for r in pairs.differences} - {"create_time_since_epoch"} == {
        "custom_properties.a"
    }
    text = str(comparison).splitlines()
    assert text[0].split()[:3] == ["field", "artifact", str(order[0])]
    assert text[3].split() == ["uri", "*/u", "|", "/t", "|", "/t"]


def test_executions_with_their_inputs_and_outputs(store: m.MetadataStore) -> None:
    data = store.put_artifact_type(m.ArtifactType(name="Data"))
    store.put_execution_type(m.ExecutionType(name="Train"))
    [train, extra, again] = store.put_artifacts(
        [
            m.Artifact(type_id=data, uri="/train.csv", external_id="sha256:t"),
            m.Artifact(type_id=data, name="extra"),
            m.Artifact(type_id=data, uri="/extra", external_id="sha256:e"),
        ]
    )

    def run(lr: float, model: str, inputs: list[tuple[int, list[int | str]]]) -> int:
        pairs: list[tuple[m.Artifact | None, m.Event]] = [
            (None, m.Event(artifact_id=a, type=EType.INPUT, path=path)) for a, path in inputs
        ]
        pairs.append(
            (
                m.Artifact(type_id=data, uri=f"/{model}"),
                m.Event(type=EType.OUTPUT, path=["model"]),
            )
        )
        execution = m.Execution(
            type="Train",
            last_known_state=m.ExecutionState.COMPLETE,
            custom_properties={"lr": lr},
        )
        return store.put_execution(execution, pairs, [])[0]

    first = run(0.1, "m1", [(train, ["train.csv"])])
    second = run(0.1, "m2", [(train, ["train.csv"]), (extra, [])])
    third = run(0.2, "m3", [(train, ["train.csv"]), (extra, []), (again, ["extra"])])
    comparison = store.compare_nodes(execution_ids=[first, second, third])
    assert comparison.kind == "execution"
    rows = by_field(comparison)
    assert [r.field for r in comparison.fields][:5] == [
        "type",
        "name",
        "last_known_state",
        "external_id",
        "create_time_since_epoch",
    ]
    assert rows["last_known_state"] == ([m.ExecutionState.COMPLETE] * 3, False)
    assert rows["custom_properties.lr"] == ([0.1, 0.1, 0.2], True)
    assert rows["inputs.train.csv"] == (["sha256:t"] * 3, False)
    # An input without a path is keyed by its name; the same key again gets #2.
    extra_id = f"artifact {extra}"
    assert rows["inputs.extra"] == ([None, extra_id, extra_id], True)
    assert rows["inputs.extra#2"] == ([None, None, "sha256:e"], True)
    # An artifact with no external id is told apart by its uri.
    assert rows["outputs.model"] == (["/m1", "/m2", "/m3"], True)
    assert [r.field for r in comparison.fields][-4:] == [
        "inputs.extra",
        "inputs.extra#2",
        "inputs.train.csv",
        "outputs.model",
    ]


def test_what_compare_nodes_refuses(store: m.MetadataStore) -> None:
    data = store.put_artifact_type(m.ArtifactType(name="Data"))
    a, b = store.put_artifacts([m.Artifact(type_id=data), m.Artifact(type_id=data)])
    with pytest.raises(InvalidArgumentError, match="exactly one of artifact_ids and execution_ids"):
        store.compare_nodes(artifact_ids=[a, b], execution_ids=[1, 2])
    with pytest.raises(InvalidArgumentError, match="exactly one"):
        store.compare_nodes()
    with pytest.raises(InvalidArgumentError, match="two or more artifact ids"):
        store.compare_nodes(artifact_ids=[a])
    for bad in ([a, "b"], [a, True], "12"):
        with pytest.raises(InvalidArgumentError, match="artifact_ids"):
            store.compare_nodes(artifact_ids=bad)  # type: ignore[arg-type]
    for missing in (b + 10, 0, 2**70):
        with pytest.raises(NotFoundError, match=f"no artifact with id {missing} to compare"):
            store.compare_nodes(artifact_ids=[a, missing])
    with pytest.raises(NotFoundError, match="no execution with id"):
        store.compare_nodes(execution_ids=[a, b])  # artifact ids name no execution here


def test_values_differ_by_type_too() -> None:
    assert ComparedField("x", [1, 1.0]).differs
    assert ComparedField("x", [True, 1]).differs
    assert not ComparedField("x", [None, None, None]).differs
    assert not ComparedField("x", [{"a": [1]}, {"a": [1]}]).differs
    assert ComparedField("x", [2, 2, 3]).differs
    empty = compare_nodes("artifact", [])
    assert empty.fields and not empty.differences
