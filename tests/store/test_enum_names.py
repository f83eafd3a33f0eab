"""States, event types and property types read as names everywhere a person sees them.

They stay IntEnums (``ExecutionState.FAILED == 4``, as in MLMD), but ``str``, f-strings,
``format``, reprs and :func:`mltrail.to_dict` (for JSON) give names; inputs take members, numbers
and names in any case, and the store always returns members.
"""

from __future__ import annotations

import enum
import json
from typing import Any

import pytest

import mltrail as m
from mltrail.errors import InvalidArgumentError

ENUMS: list[type[enum.IntEnum]] = [
    m.PropertyType,
    m.ArtifactState,
    m.ExecutionState,
    m.EventType,
    m.ArtifactBaseType,
    m.ExecutionBaseType,
    m.LineageDirection,
]
MEMBERS = [member for cls in ENUMS for member in cls]


@pytest.mark.parametrize("member", MEMBERS, ids=lambda x: f"{type(x).__name__}.{x.name}")
def test_a_member_prints_as_its_name(member: enum.IntEnum) -> None:
    name = member.name
    assert str(member) == name
    assert f"{member}" == name
    assert format(member) == name
    assert "{}".format(member) == name  # noqa: UP032
    assert "%s" % member == name  # noqa: UP031
    assert f"{member:>30}" == name.rjust(30)
    assert f"{member:d}" == str(member.value)  # a numeric format still gives the number
    assert repr(member) == f"<{type(member).__name__}.{name}: {member.value}>"
    assert json.dumps(m.to_dict({"value": member})) == json.dumps({"value": name})


@pytest.mark.parametrize("member", MEMBERS, ids=lambda x: f"{type(x).__name__}.{x.name}")
def test_a_member_is_still_its_number(member: enum.IntEnum) -> None:
    cls = type(member)
    assert member == member.value
    assert int(member) == member.value
    assert cls(member.value) is member
    assert cls[member.name] is member
    assert hash(member) == hash(member.value)
    assert isinstance(member, int)
    assert json.loads(json.dumps(member)) == member.value  # plain json.dumps: MLMD's numbers


def test_order_by_fields_print_as_names() -> None:
    assert [str(f) for f in m.OrderByField] == ["ID", "CREATE_TIME", "UPDATE_TIME"]
    assert m.OrderByField.UPDATE_TIME.value == "update_time"


def test_nodes_show_states_by_name() -> None:
    execution = m.Execution(type_id=1, last_known_state=m.ExecutionState.FAILED)
    assert "last_known_state=<ExecutionState.FAILED: 4>" in repr(execution)
    assert f"{execution.last_known_state}" == "FAILED"
    artifact = m.Artifact(type_id=1, state=m.ArtifactState.LIVE)
    assert "state=<ArtifactState.LIVE: 2>" in repr(artifact)
    event = m.Event(artifact_id=1, execution_id=2, type=m.EventType.OUTPUT)
    assert "type=<EventType.OUTPUT: 4>" in repr(event)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("complete", m.ExecutionState.COMPLETE),
        ("COMPLETE", m.ExecutionState.COMPLETE),
        ("Failed", m.ExecutionState.FAILED),
        (3, m.ExecutionState.COMPLETE),
        (m.ExecutionState.CACHED, m.ExecutionState.CACHED),
        (None, None),
    ],
)
def test_constructors_take_names_and_numbers(given: Any, expected: Any) -> None:
    execution = m.Execution(type_id=1, last_known_state=given)
    assert execution.last_known_state is expected
    assert execution == m.Execution(type_id=1, last_known_state=expected)


def test_every_model_enum_field_takes_names() -> None:
    assert m.Artifact(state="live").state is m.ArtifactState.LIVE
    assert m.Event(type="declared_output").type is m.EventType.DECLARED_OUTPUT
    kind = m.ArtifactType(name="T", properties={"a": "int", "b": 2}, base_type="model")
    assert kind.properties == {"a": m.PropertyType.INT, "b": m.PropertyType.DOUBLE}
    assert all(type(v) is m.PropertyType for v in kind.properties.values())
    assert kind.base_type is m.ArtifactBaseType.MODEL
    assert m.ExecutionType(name="E", base_type="TRAIN").base_type is m.ExecutionBaseType.TRAIN
    assert m.ContextType(name="C", properties={"x": "string"}).properties == {
        "x": m.PropertyType.STRING
    }
    options = m.LineageSubgraphQueryOptions(direction="upstream")
    assert options.direction is m.LineageDirection.UPSTREAM


def test_a_types_properties_are_not_modified_in_place() -> None:
    given = {"a": "int"}
    kind = m.ArtifactType(name="T", properties=given)
    assert given == {"a": "int"}
    assert kind.properties == {"a": m.PropertyType.INT}
    members = {"a": m.PropertyType.INT}
    assert m.ArtifactType(name="T", properties=members).properties is members


def test_values_that_name_no_member_are_left_for_the_store_to_refuse(
    store: m.MetadataStore,
) -> None:
    kind = store.put_execution_type(m.ExecutionType(name="Step"))
    for bad in ("finished", 99, True, m.ArtifactState.LIVE, 2.0):
        execution = m.Execution(type_id=kind, last_known_state=bad)
        assert execution.last_known_state is bad
        with pytest.raises(InvalidArgumentError, match="last_known_state"):
            store.put_executions([execution])
    assert store.get_executions() == []


# ---------------------------------------------------------------------------------- round trips


def test_names_round_trip_through_the_store(store: m.MetadataStore) -> None:
    props = {"rows": "int", "score": "double", "tag": "STRING", "ok": "boolean", "cfg": "struct"}
    data = store.put_artifact_type(
        m.ArtifactType(name="Data", properties=props, base_type="dataset")
    )
    step = store.put_execution_type(m.ExecutionType(name="Step", base_type="evaluate"))
    stored_type = store.get_artifact_type("Data")
    assert {k: str(v) for k, v in stored_type.properties.items()} == {
        k: v.upper() for k, v in props.items()
    }
    assert all(type(v) is m.PropertyType for v in stored_type.properties.values())
    assert f"{stored_type.base_type}" == "DATASET"
    assert str(store.get_execution_type("Step").base_type) == "EVALUATE"

    artifact = m.Artifact(type_id=data, uri="/d")
    artifact.state = "marked_for_deletion"  # type: ignore[assignment]  # set after construction
    (artifact_id,) = store.put_artifacts([artifact])
    (execution_id,) = store.put_executions([m.Execution(type_id=step, last_known_state="failed")])
    store.put_events(
        [m.Event(artifact_id=artifact_id, execution_id=execution_id, type="output")]  # type: ignore[arg-type]
    )

    (got_artifact,) = store.get_artifacts_by_id([artifact_id])
    (got_execution,) = store.get_executions_by_id([execution_id])
    (got_event,) = store.get_events_by_execution_ids([execution_id])
    assert got_artifact.state is m.ArtifactState.MARKED_FOR_DELETION
    assert str(got_artifact.state) == "MARKED_FOR_DELETION"
    assert got_execution.last_known_state is m.ExecutionState.FAILED
    assert f"{got_execution.last_known_state}" == "FAILED"
    assert got_event.type is m.EventType.OUTPUT and str(got_event.type) == "OUTPUT"
    assert got_execution.last_known_state == 4  # MLMD-style numbers still compare

    # the filter language takes the same names
    assert [e.id for e in store.get_executions(filter_query="last_known_state = FAILED")] == [
        execution_id
    ]
    assert store.count_artifacts("state = MARKED_FOR_DELETION") == 1


def test_json_of_store_answers_shows_names(store: m.MetadataStore) -> None:
    data = store.put_artifact_type(m.ArtifactType(name="Data"))
    step = store.put_execution_type(m.ExecutionType(name="Step"))
    left, right = store.put_artifacts(
        [
            m.Artifact(type_id=data, uri="/a", state="live"),
            m.Artifact(type_id=data, uri="/b", state="deleted", custom_properties={"k": [1]}),
        ]
    )
    store.put_execution(
        m.Execution(type_id=step, last_known_state="complete"),
        [
            (m.Artifact(id=left, type_id=data, uri="/a", state="live"), m.Event(type="input")),
            (m.Artifact(id=right, type_id=data, uri="/b", state="deleted"), m.Event(type="output")),
        ],
        [],
    )
    graph = store.get_provenance(right)
    text = json.dumps(m.to_dict(graph))
    decoded = json.loads(text)
    assert {a["state"] for a in decoded["artifacts"]} == {"LIVE", "DELETED"}
    assert [e["last_known_state"] for e in decoded["executions"]] == ["COMPLETE"]
    assert sorted(e["type"] for e in decoded["events"]) == ["INPUT", "OUTPUT"]
    assert decoded["truncated"] is False

    comparison = store.compare_artifacts(left, right)
    rows = {r["field"]: r for r in m.to_dict(comparison)["rows"]}
    assert (rows["state"]["left"], rows["state"]["right"]) == ("LIVE", "DELETED")
    assert "LIVE" in str(comparison) and "DELETED" in str(comparison)

    page = store.get_artifacts(order_by="id")
    assert [a["state"] for a in m.to_dict(page)] == ["LIVE", "DELETED"]
    assert json.loads(json.dumps(m.to_dict(store.get_artifact_type("Data"))))["name"] == "Data"
