"""Artifacts, executions and contexts: create, read, validate, update (with and without masks)."""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

import mltrail as m
from _ids import stable_repr
from mltrail.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError

# The remote client is exercised on one server here (one_remote, see tests/conftest.py).
pytestmark = pytest.mark.one_remote

P = m.PropertyType

_names = itertools.count()


@dataclass(frozen=True)
class NodeKind:
    """One node kind and the store methods that handle it."""

    label: str
    cls: type[Any]
    type_cls: type[Any]
    #: the kind's state field and its enum, if any
    state: str | None = None
    state_enum: type[Any] | None = None

    def put_type(self, store: m.MetadataStore, name: str, **fields: Any) -> int:
        return int(getattr(store, f"put_{self.label}_type")(self.type_cls(name=name, **fields)))

    def put(
        self, store: m.MetadataStore, nodes: list[Any], mask: list[str] | None = None
    ) -> list[int]:
        return list(getattr(store, f"put_{self.label}s")(nodes, field_mask_paths=mask))

    def by_id(self, store: m.MetadataStore, ids: Any) -> list[Any]:
        return list(getattr(store, f"get_{self.label}s_by_id")(ids))

    def one(self, store: m.MetadataStore, node_id: int) -> Any:
        [got] = self.by_id(store, [node_id])
        return got

    def all(self, store: m.MetadataStore) -> list[Any]:
        return list(getattr(store, f"get_{self.label}s")())

    def by_type(self, store: m.MetadataStore, name: str, version: str | None = None) -> list[Any]:
        return list(getattr(store, f"get_{self.label}s_by_type")(name, version))

    def by_type_and_name(
        self, store: m.MetadataStore, type_name: str, name: str, version: str | None = None
    ) -> Any:
        return getattr(store, f"get_{self.label}_by_type_and_name")(type_name, name, version)

    def by_external_ids(self, store: m.MetadataStore, ids: list[str]) -> list[Any]:
        return list(getattr(store, f"get_{self.label}s_by_external_ids")(ids))

    def new(self, **fields: Any) -> Any:
        """A node; contexts get a fresh name unless one is given (they need one)."""
        if self.label == "context" and "name" not in fields:
            fields["name"] = f"context-{next(_names)}"
        return self.cls(**fields)


ARTIFACT = NodeKind("artifact", m.Artifact, m.ArtifactType, "state", m.ArtifactState)
EXECUTION = NodeKind(
    "execution", m.Execution, m.ExecutionType, "last_known_state", m.ExecutionState
)
CONTEXT = NodeKind("context", m.Context, m.ContextType)
KINDS = [ARTIFACT, EXECUTION, CONTEXT]
STATEFUL = [ARTIFACT, EXECUTION]


@pytest.fixture(params=KINDS, ids=[k.label for k in KINDS])
def kind(request: pytest.FixtureRequest) -> NodeKind:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=STATEFUL, ids=[k.label for k in STATEFUL])
def stateful(request: pytest.FixtureRequest) -> NodeKind:
    return request.param  # type: ignore[no-any-return]


DECLARED = {
    "rows": P.INT,
    "ratio": P.DOUBLE,
    "split": P.STRING,
    "schema": P.STRUCT,
    "shuffled": P.BOOLEAN,
}
DECLARED_VALUES: dict[str, Any] = {
    "rows": 1_000,
    "ratio": 0.25,
    "split": "train",
    "schema": {"columns": ["a", "b"], "nullable": False},
    "shuffled": True,
}


def full_node(kind: NodeKind, type_id: int, **overrides: Any) -> Any:
    """A node with every field set."""
    fields: dict[str, Any] = {
        "type_id": type_id,
        "name": "full-node",
        "external_id": "full-node-ext",
        "properties": dict(DECLARED_VALUES),
        "custom_properties": {"owner": "ada", "attempt": 2},
    }
    if kind is ARTIFACT:
        fields.update(uri="s3://bucket/full", state=m.ArtifactState.LIVE)
    if kind is EXECUTION:
        fields.update(last_known_state=m.ExecutionState.RUNNING)
    fields.update(overrides)
    return kind.new(**fields)


def stored_fields(node: Any) -> dict[str, Any]:
    """The fields a client sets (not id, type and times)."""
    skip = {"id", "type_id", "type", "create_time_since_epoch", "last_update_time_since_epoch"}
    return {k: v for k, v in dataclasses.asdict(node).items() if k not in skip}


# ---------------------------------------------------------------------------------- create and get


def test_create_then_get_by_id_returns_every_field(store: m.MetadataStore, kind: NodeKind) -> None:
    type_id = kind.put_type(store, "Everything", properties=DECLARED)
    given = full_node(kind, type_id)
    [node_id] = kind.put(store, [given])

    got = kind.one(store, node_id)
    assert isinstance(got, kind.cls)
    assert got.id == node_id
    assert got.type_id == type_id
    assert got.type == "Everything"
    assert stored_fields(got) == stored_fields(given)
    if kind.state:
        assert type(getattr(got, kind.state)) is kind.state_enum


def test_put_returns_ids_in_request_order(store: m.MetadataStore, kind: NodeKind) -> None:
    type_id = kind.put_type(store, "Ordered")
    ids = kind.put(store, [kind.new(type_id=type_id, name=f"node-{i}") for i in range(5)])
    assert len(set(ids)) == 5
    assert [kind.one(store, i).name for i in ids] == [f"node-{i}" for i in range(5)]


def test_get_by_id_skips_unknown_ids_and_returns_each_node_once(
    store: m.MetadataStore, kind: NodeKind
) -> None:
    type_id = kind.put_type(store, "Lookup")
    ids = kind.put(store, [kind.new(type_id=type_id) for _ in range(3)])
    got = kind.by_id(store, [ids[2], 99_999, ids[0], ids[2]])
    assert sorted(n.id for n in got) == sorted([ids[0], ids[2]])
    assert len(got) == 2
    assert kind.by_id(store, []) == []
    assert kind.by_id(store, {ids[1]}) == kind.by_id(store, [ids[1]])


def test_get_by_id_does_not_return_nodes_of_other_kinds(store: m.MetadataStore) -> None:
    at = store.put_artifact_type(m.ArtifactType(name="Only"))
    [artifact_id] = store.put_artifacts([m.Artifact(type_id=at)])
    assert store.get_artifacts_by_id([artifact_id])
    assert store.get_executions_by_id([artifact_id]) == []
    assert store.get_contexts_by_id([artifact_id]) == []


def test_get_all(store: m.MetadataStore, kind: NodeKind) -> None:
    assert kind.all(store) == []
    first = kind.put_type(store, "First")
    second = kind.put_type(store, "Second")
    ids = kind.put(store, [kind.new(type_id=first), kind.new(type_id=second)])
    ids += kind.put(store, [kind.new(type_id=first)])
    assert [n.id for n in kind.all(store)] == sorted(ids)


def test_get_by_type(store: m.MetadataStore, kind: NodeKind) -> None:
    images = kind.put_type(store, "Images")
    texts = kind.put_type(store, "Texts")
    images_v2 = kind.put_type(store, "Images", version="v2")
    image_ids = kind.put(store, [kind.new(type_id=images), kind.new(type_id=images)])
    kind.put(store, [kind.new(type_id=texts)])
    [v2_id] = kind.put(store, [kind.new(type_id=images_v2)])

    assert [n.id for n in kind.by_type(store, "Images")] == image_ids
    assert [n.id for n in kind.by_type(store, "Images", "v2")] == [v2_id]
    assert [n.id for n in kind.by_type(store, "Images", "")] == image_ids
    assert kind.by_type(store, "Images", "v3") == []
    assert kind.by_type(store, "Unknown") == []


def test_get_by_type_and_name(store: m.MetadataStore, kind: NodeKind) -> None:
    plain = kind.put_type(store, "Doc")
    versioned = kind.put_type(store, "Doc", version="v1")
    kind.put_type(store, "OtherDoc")
    [plain_id] = kind.put(store, [kind.new(type_id=plain, name="readme")])
    [versioned_id] = kind.put(store, [kind.new(type_id=versioned, name="guide")])

    assert kind.by_type_and_name(store, "Doc", "readme").id == plain_id
    assert kind.by_type_and_name(store, "Doc", "guide", "v1").id == versioned_id
    assert kind.by_type_and_name(store, "Doc", "readme", "").id == plain_id

    assert kind.by_type_and_name(store, "Doc", "guide") is None  # unversioned type has no "guide"
    assert kind.by_type_and_name(store, "Doc", "readme", "v1") is None
    assert kind.by_type_and_name(store, "Doc", "guide", "v2") is None
    assert kind.by_type_and_name(store, "OtherDoc", "readme") is None
    assert kind.by_type_and_name(store, "NoSuchType", "readme") is None
    assert kind.by_type_and_name(store, "Doc", "no-such-node") is None


def test_get_by_type_and_name_ignores_types_of_other_kinds(store: m.MetadataStore) -> None:
    at = store.put_artifact_type(m.ArtifactType(name="Twin"))
    store.put_execution_type(m.ExecutionType(name="Twin"))
    store.put_artifacts([m.Artifact(type_id=at, name="twin-node")])
    assert store.get_artifact_by_type_and_name("Twin", "twin-node") is not None
    assert store.get_execution_by_type_and_name("Twin", "twin-node") is None
    assert store.get_executions_by_type("Twin") == []


def test_get_artifacts_by_uri(store: m.MetadataStore) -> None:
    at = store.put_artifact_type(m.ArtifactType(name="Blob"))
    ids = store.put_artifacts(
        [
            m.Artifact(type_id=at, uri="file:///data/a"),
            m.Artifact(type_id=at, uri="file:///data/b"),
            m.Artifact(type_id=at, uri="file:///data/a"),
            m.Artifact(type_id=at),
        ]
    )
    assert [a.id for a in store.get_artifacts_by_uri("file:///data/a")] == [ids[0], ids[2]]
    assert [a.id for a in store.get_artifacts_by_uri("file:///data/b")] == [ids[1]]
    assert store.get_artifacts_by_uri("file:///data") == []
    assert store.get_artifacts_by_uri("file:///data/A") == []


def test_get_by_external_ids(store: m.MetadataStore, kind: NodeKind) -> None:
    """MLMD raises NotFound when nothing matches; an empty lookup result is [] here."""
    type_id = kind.put_type(store, "External")
    ids = kind.put(
        store,
        [
            kind.new(type_id=type_id, external_id="ext-1"),
            kind.new(type_id=type_id, external_id="ext-2"),
            kind.new(type_id=type_id),
        ],
    )
    got = kind.by_external_ids(store, ["ext-2", "ext-1", "ext-missing"])
    assert sorted(n.id for n in got) == ids[:2]
    assert kind.by_external_ids(store, ["ext-missing"]) == []
    assert kind.by_external_ids(store, []) == []
    with pytest.raises(InvalidArgumentError):
        kind.by_external_ids(store, [""])
    with pytest.raises(InvalidArgumentError):
        kind.by_external_ids(store, ["ext-1", ""])


def test_get_artifacts_and_types_by_artifact_ids(store: m.MetadataStore) -> None:
    images = store.put_artifact_type(m.ArtifactType(name="Images", properties={"n": P.INT}))
    labels = store.put_artifact_type(m.ArtifactType(name="Labels"))
    store.put_artifact_type(m.ArtifactType(name="Unused"))
    ids = store.put_artifacts(
        [
            m.Artifact(type_id=images, properties={"n": 3}),
            m.Artifact(type_id=images),
            m.Artifact(type_id=labels),
        ]
    )

    artifacts, types = store.get_artifacts_and_types_by_artifact_ids([ids[0], ids[2], 12_345])
    assert [a.id for a in artifacts] == [ids[0], ids[2]]
    assert artifacts[0].properties == {"n": 3}
    assert sorted(t.name for t in types) == ["Images", "Labels"]
    assert {t.id: t.properties for t in types} == {images: {"n": P.INT}, labels: {}}

    only_images = store.get_artifacts_and_types_by_artifact_ids(ids[:2])
    assert [t.name for t in only_images[1]] == ["Images"]
    assert store.get_artifacts_and_types_by_artifact_ids([12_345]) == ([], [])
    assert store.get_artifacts_and_types_by_artifact_ids([]) == ([], [])


# ------------------------------------------------------------------------------------ node types


def test_type_may_be_given_by_name(store: m.MetadataStore, kind: NodeKind) -> None:
    type_id = kind.put_type(store, "Dataset", properties={"rows": P.INT})
    [node_id] = kind.put(store, [kind.new(type="Dataset", properties={"rows": 5})])
    got = kind.one(store, node_id)
    assert (got.type_id, got.type, got.properties) == (type_id, "Dataset", {"rows": 5})

    [agreeing] = kind.put(store, [kind.new(type="Dataset", type_id=type_id)])
    assert kind.one(store, agreeing).type_id == type_id


def test_type_name_and_type_id_that_disagree_are_refused(
    store: m.MetadataStore, kind: NodeKind
) -> None:
    kind.put_type(store, "Dataset")
    model = kind.put_type(store, "Model")
    with pytest.raises(InvalidArgumentError):
        kind.put(store, [kind.new(type="Dataset", type_id=model)])
    assert kind.all(store) == []


def test_unknown_types_are_not_found(store: m.MetadataStore, kind: NodeKind) -> None:
    kind.put_type(store, "Known")
    with pytest.raises(NotFoundError):
        kind.put(store, [kind.new(type_id=424_242)])
    with pytest.raises(NotFoundError):
        kind.put(store, [kind.new(type="Unknown")])
    assert kind.all(store) == []


def test_a_type_of_another_kind_is_not_found(store: m.MetadataStore, kind: NodeKind) -> None:
    for other in KINDS:
        if other is not kind:
            foreign = other.put_type(store, f"Foreign{other.label}")
            with pytest.raises(NotFoundError):
                kind.put(store, [kind.new(type_id=foreign)])
            with pytest.raises(NotFoundError):
                kind.put(store, [kind.new(type=f"Foreign{other.label}")])
    assert kind.all(store) == []


def test_a_new_node_needs_a_type(store: m.MetadataStore, kind: NodeKind) -> None:
    with pytest.raises(InvalidArgumentError):
        kind.put(store, [kind.new()])


# ------------------------------------------------------------------------------------- properties


def test_every_declared_property_type_round_trips(
    store: m.MetadataStore, kind: NodeKind, same_values: Callable[[Any, Any], None]
) -> None:
    type_id = kind.put_type(store, "Declared", properties=DECLARED)
    [node_id] = kind.put(store, [kind.new(type_id=type_id, properties=dict(DECLARED_VALUES))])
    same_values(kind.one(store, node_id).properties, DECLARED_VALUES)


def test_an_undeclared_property_is_refused(store: m.MetadataStore, kind: NodeKind) -> None:
    type_id = kind.put_type(store, "Strict", properties={"rows": P.INT})
    with pytest.raises(InvalidArgumentError, match="colour"):
        kind.put(store, [kind.new(type_id=type_id, properties={"rows": 1, "colour": "red"})])
    assert kind.all(store) == []


WRONG_VALUES = [
    (P.INT, "3"),
    (P.INT, 3.0),
    (P.INT, True),
    (P.DOUBLE, "0.5"),
    (P.DOUBLE, False),
    (P.STRING, 3),
    (P.STRING, ["a"]),
    (P.BOOLEAN, 1),
    (P.BOOLEAN, "true"),
    (P.STRUCT, "{}"),
    (P.STRUCT, 7),
]


@pytest.mark.parametrize(("declared", "value"), WRONG_VALUES)
def test_a_value_of_the_wrong_type_is_refused(
    store: m.MetadataStore, kind: NodeKind, declared: P, value: Any
) -> None:
    type_id = kind.put_type(store, "Picky", properties={"p": declared})
    with pytest.raises(InvalidArgumentError, match="'p'"):
        kind.put(store, [kind.new(type_id=type_id, properties={"p": value})])
    assert kind.all(store) == []


def test_an_int_is_accepted_for_double_and_read_back_as_float(
    store: m.MetadataStore, kind: NodeKind
) -> None:
    type_id = kind.put_type(store, "Measured", properties={"loss": P.DOUBLE})
    [node_id] = kind.put(store, [kind.new(type_id=type_id, properties={"loss": 3})])
    loss = kind.one(store, node_id).properties["loss"]
    assert type(loss) is float
    assert loss == 3.0


CUSTOM_VALUES: dict[str, Any] = {
    "int": 7,
    "negative": -12,
    "zero": 0,
    "float": 0.5,
    "whole_float": 2.0,
    "str": "hello",
    "empty_str": "",
    "unicode": "naïve – ☃",
    "true": True,
    "false": False,
    "dict": {"a": 1, "b": "two"},
    "list": [1, 2.5, "three", False, None],
    "empty_dict": {},
    "empty_list": [],
    "nested": {"layers": [{"units": 64, "dropout": 0.1, "tags": ["x"]}, {"units": 1}], "k": None},
    "int64_max": 2**63 - 1,
    "int64_min": -(2**63),
}


def test_custom_properties_of_every_kind_round_trip_exactly(
    store: m.MetadataStore, kind: NodeKind, same_values: Callable[[Any, Any], None]
) -> None:
    type_id = kind.put_type(store, "Free")
    [node_id] = kind.put(store, [kind.new(type_id=type_id, custom_properties=dict(CUSTOM_VALUES))])
    got = kind.one(store, node_id)
    same_values(got.custom_properties, CUSTOM_VALUES)
    assert got.properties == {}


def test_a_key_may_be_both_a_property_and_a_custom_property(
    store: m.MetadataStore, kind: NodeKind
) -> None:
    type_id = kind.put_type(store, "Overlap", properties={"k": P.INT})
    [node_id] = kind.put(
        store, [kind.new(type_id=type_id, properties={"k": 1}, custom_properties={"k": "one"})]
    )
    got = kind.one(store, node_id)
    assert (got.properties, got.custom_properties) == ({"k": 1}, {"k": "one"})


@pytest.mark.parametrize("where", ["properties", "custom_properties"])
def test_an_empty_property_value_is_refused_and_nothing_stored(
    store: m.MetadataStore, kind: NodeKind, where: str
) -> None:
    """MLMD aborts the whole process on an empty custom property value."""
    type_id = kind.put_type(store, "Holey", properties={"p": P.STRING})
    good = kind.new(type_id=type_id, properties={"p": "fine"})
    bad = kind.new(type_id=type_id, **{where: {"p": None}})
    with pytest.raises(InvalidArgumentError, match="None"):
        kind.put(store, [good, bad])
    assert kind.all(store) == []


BAD_NUMBERS = [
    math.nan,
    math.inf,
    -math.inf,
    2**63,
    -(2**63) - 1,
    10**30,
    {"nested": [1.0, math.nan]},
    [math.inf],
]


@pytest.mark.parametrize("value", BAD_NUMBERS, ids=stable_repr)
def test_non_finite_floats_and_ints_beyond_64_bits_are_refused(
    store: m.MetadataStore, kind: NodeKind, value: Any
) -> None:
    type_id = kind.put_type(store, "Numeric")
    with pytest.raises(InvalidArgumentError):
        kind.put(store, [kind.new(type_id=type_id, custom_properties={"x": value})])
    assert kind.all(store) == []


@pytest.mark.parametrize("declared", [P.INT, P.DOUBLE])
@pytest.mark.parametrize("value", [math.nan, math.inf, 2**64], ids=stable_repr)
def test_non_finite_and_oversized_declared_numbers_are_refused(
    store: m.MetadataStore, kind: NodeKind, declared: P, value: Any
) -> None:
    type_id = kind.put_type(store, "NumericDeclared", properties={"x": declared})
    with pytest.raises(InvalidArgumentError):
        kind.put(store, [kind.new(type_id=type_id, properties={"x": value})])
    assert kind.all(store) == []


@pytest.mark.parametrize("key", ["", 3, None])
def test_property_keys_must_be_non_empty_strings(
    store: m.MetadataStore, kind: NodeKind, key: Any
) -> None:
    type_id = kind.put_type(store, "Keyed")
    with pytest.raises(InvalidArgumentError):
        kind.put(store, [kind.new(type_id=type_id, custom_properties={key: 1})])
    assert kind.all(store) == []


@pytest.mark.parametrize(
    "value", [object(), {1, 2}, b"bytes", m.ArtifactState.LIVE], ids=stable_repr
)
def test_values_that_are_not_property_values_are_refused(
    store: m.MetadataStore, kind: NodeKind, value: Any
) -> None:
    type_id = kind.put_type(store, "Plain")
    with pytest.raises(InvalidArgumentError):
        kind.put(store, [kind.new(type_id=type_id, custom_properties={"x": value})])
    assert kind.all(store) == []


# ------------------------------------------------------------------------------------- uniqueness


def test_a_name_is_unique_per_type(store: m.MetadataStore, kind: NodeKind) -> None:
    first = kind.put_type(store, "Named")
    second = kind.put_type(store, "AlsoNamed")
    [original] = kind.put(store, [kind.new(type_id=first, name="taken")])
    with pytest.raises(AlreadyExistsError, match="taken"):
        kind.put(store, [kind.new(type_id=first, name="taken")])
    with pytest.raises(AlreadyExistsError):
        kind.put(
            store,
            [kind.new(type_id=first, name="fresh"), kind.new(type_id=first, name="taken")],
        )
    assert [n.id for n in kind.all(store)] == [original]

    [other_type] = kind.put(store, [kind.new(type_id=second, name="taken")])
    assert other_type != original


def test_a_name_is_unique_within_one_batch(store: m.MetadataStore, kind: NodeKind) -> None:
    type_id = kind.put_type(store, "Batched")
    with pytest.raises(AlreadyExistsError, match="twin"):
        kind.put(
            store, [kind.new(type_id=type_id, name="twin"), kind.new(type_id=type_id, name="twin")]
        )
    assert kind.all(store) == []


def test_unnamed_artifacts_and_executions_do_not_clash(
    store: m.MetadataStore, stateful: NodeKind
) -> None:
    type_id = stateful.put_type(store, "Anonymous")
    ids = stateful.put(store, [stateful.new(type_id=type_id), stateful.new(type_id=type_id)])
    ids += stateful.put(store, [stateful.new(type_id=type_id)])
    assert len(set(ids)) == 3
    assert all(n.name is None for n in stateful.all(store))


def test_an_external_id_is_unique_among_nodes_of_a_kind(
    store: m.MetadataStore, kind: NodeKind
) -> None:
    first = kind.put_type(store, "Tracked")
    second = kind.put_type(store, "AlsoTracked")
    [original] = kind.put(store, [kind.new(type_id=first, external_id="uid-1")])
    with pytest.raises(AlreadyExistsError, match="uid-1"):
        kind.put(store, [kind.new(type_id=first, external_id="uid-1")])
    with pytest.raises(AlreadyExistsError, match="uid-1"):
        kind.put(store, [kind.new(type_id=second, external_id="uid-1")])
    with pytest.raises(AlreadyExistsError, match="uid-2"):
        kind.put(
            store,
            [
                kind.new(type_id=second, external_id="uid-2"),
                kind.new(type_id=first, external_id="uid-2"),
            ],
        )
    assert [n.id for n in kind.all(store)] == [original]


def test_nodes_of_different_kinds_may_share_an_external_id(store: m.MetadataStore) -> None:
    at = store.put_artifact_type(m.ArtifactType(name="A"))
    et = store.put_execution_type(m.ExecutionType(name="E"))
    ct = store.put_context_type(m.ContextType(name="C"))
    store.put_artifacts([m.Artifact(type_id=at, external_id="same")])
    store.put_executions([m.Execution(type_id=et, external_id="same")])
    store.put_contexts([m.Context(type_id=ct, name="c", external_id="same")])
    assert len(store.get_artifacts_by_external_ids(["same"])) == 1
    assert len(store.get_executions_by_external_ids(["same"])) == 1
    assert len(store.get_contexts_by_external_ids(["same"])) == 1


def test_renaming_to_a_taken_name_is_refused(store: m.MetadataStore, kind: NodeKind) -> None:
    type_id = kind.put_type(store, "Swapped")
    [a] = kind.put(store, [kind.new(type_id=type_id, name="alpha")])
    kind.put(store, [kind.new(type_id=type_id, name="beta")])
    with pytest.raises(AlreadyExistsError):
        kind.put(store, [kind.new(id=a, type_id=type_id, name="beta")], mask=["name"])
    assert kind.one(store, a).name == "alpha"


# ---------------------------------------------------------------------------------------- contexts


@pytest.mark.parametrize("name", [None, ""])
def test_a_context_needs_a_name_on_create(store: m.MetadataStore, name: str | None) -> None:
    ct = store.put_context_type(m.ContextType(name="Run"))
    with pytest.raises(InvalidArgumentError, match="name"):
        store.put_contexts([m.Context(type_id=ct, name=name)])
    assert store.get_contexts() == []


@pytest.mark.parametrize("mask", [None, ["name"]])
@pytest.mark.parametrize("name", [None, ""])
def test_a_context_keeps_a_name_on_update(
    store: m.MetadataStore, name: str | None, mask: list[str] | None
) -> None:
    ct = store.put_context_type(m.ContextType(name="Run"))
    [cid] = store.put_contexts([m.Context(type_id=ct, name="run-1")])
    with pytest.raises(InvalidArgumentError, match="name"):
        store.put_contexts([m.Context(id=cid, type_id=ct, name=name)], field_mask_paths=mask)
    assert store.get_contexts_by_id([cid])[0].name == "run-1"


# ----------------------------------------------------------------------------------------- updates


def test_an_update_without_mask_replaces_every_field(
    store: m.MetadataStore, kind: NodeKind
) -> None:
    type_id = kind.put_type(store, "Replaced", properties=DECLARED)
    [node_id] = kind.put(store, [full_node(kind, type_id)])

    replacement: dict[str, Any] = {"properties": {"rows": 5}, "custom_properties": {"new": 1}}
    if kind is CONTEXT:
        replacement["name"] = "renamed-context"
    kind.put(store, [kind.new(id=node_id, type_id=type_id, **replacement)])

    got = kind.one(store, node_id)
    assert got.properties == {"rows": 5}
    assert got.custom_properties == {"new": 1}
    assert got.external_id is None
    assert got.name == replacement.get("name")
    if kind is ARTIFACT:
        assert got.uri is None
    if kind.state:
        assert getattr(got, kind.state) is None


def test_an_update_with_only_an_id_clears_the_node(
    store: m.MetadataStore, stateful: NodeKind
) -> None:
    type_id = stateful.put_type(store, "Cleared", properties=DECLARED)
    [node_id] = stateful.put(store, [full_node(stateful, type_id)])
    stateful.put(store, [stateful.new(id=node_id)])
    got = stateful.one(store, node_id)
    assert stored_fields(got) == stored_fields(stateful.new())
    assert got.type_id == type_id


MASK_CASES: list[Any] = [
    # mask, request fields, expected change relative to the stored node
    pytest.param(["external_id"], {"external_id": "new-ext"}, {"external_id": "new-ext"}, id="ext"),
    pytest.param(["external_id"], {}, {"external_id": None}, id="ext-cleared"),
    pytest.param(["name"], {"name": "new-name"}, {"name": "new-name"}, id="name"),
    pytest.param(
        ["properties.rows"],
        {"properties": {"rows": 9, "split": "ignored"}},
        {"properties": {**DECLARED_VALUES, "rows": 9}},
        id="one-property",
    ),
    pytest.param(
        ["properties.rows"],
        {"properties": {"split": "ignored"}},
        {"properties": {k: v for k, v in DECLARED_VALUES.items() if k != "rows"}},
        id="property-deleted-when-absent",
    ),
    pytest.param(
        ["properties"],
        {"properties": {"rows": 1}},
        {"properties": {"rows": 1}},
        id="whole-property-map",
    ),
    pytest.param(
        ["custom_properties.owner"],
        {"custom_properties": {"owner": "grace", "attempt": 99}},
        {"custom_properties": {"owner": "grace", "attempt": 2}},
        id="one-custom-property",
    ),
    pytest.param(
        ["custom_properties.attempt"],
        {},
        {"custom_properties": {"owner": "ada"}},
        id="custom-property-deleted",
    ),
    pytest.param(
        ["custom_properties.brand_new"],
        {"custom_properties": {"brand_new": [1]}},
        {"custom_properties": {"owner": "ada", "attempt": 2, "brand_new": [1]}},
        id="custom-property-added",
    ),
    pytest.param(
        ["custom_properties"],
        {"custom_properties": {}},
        {"custom_properties": {}},
        id="whole-custom-map-cleared",
    ),
    pytest.param(
        ["external_id", "properties.ratio", "custom_properties.owner"],
        {
            "external_id": "x2",
            "properties": {"ratio": 0.75},
            "custom_properties": {"owner": "lin"},
        },
        {
            "external_id": "x2",
            "properties": {**DECLARED_VALUES, "ratio": 0.75},
            "custom_properties": {"owner": "lin", "attempt": 2},
        },
        id="several",
    ),
]


@pytest.mark.parametrize(("mask", "request_fields", "change"), MASK_CASES)
def test_an_update_with_a_mask_changes_only_the_listed_fields(
    store: m.MetadataStore,
    kind: NodeKind,
    mask: list[str],
    request_fields: dict[str, Any],
    change: dict[str, Any],
) -> None:
    type_id = kind.put_type(store, "Masked", properties=DECLARED)
    original = full_node(kind, type_id)
    [node_id] = kind.put(store, [original])

    request = kind.new(id=node_id, type_id=type_id, **request_fields)
    if kind is CONTEXT and "name" not in request_fields:
        request.name = "unmasked name is ignored"
    kind.put(store, [request], mask=mask)

    expected = {**stored_fields(original), **change}
    assert stored_fields(kind.one(store, node_id)) == expected


def test_masked_kind_specific_fields(store: m.MetadataStore) -> None:
    at = store.put_artifact_type(m.ArtifactType(name="Masked"))
    [aid] = store.put_artifacts(
        [m.Artifact(type_id=at, uri="/old", state=m.ArtifactState.LIVE, name="a")]
    )
    store.put_artifacts([m.Artifact(id=aid, uri="/new", name="ignored")], field_mask_paths=["uri"])
    got = store.get_artifacts_by_id([aid])[0]
    assert (got.uri, got.state, got.name) == ("/new", m.ArtifactState.LIVE, "a")
    store.put_artifacts([m.Artifact(id=aid)], field_mask_paths=["state"])
    got = store.get_artifacts_by_id([aid])[0]
    assert (got.uri, got.state, got.name) == ("/new", None, "a")

    et = store.put_execution_type(m.ExecutionType(name="MaskedRun"))
    [eid] = store.put_executions([m.Execution(type_id=et, name="e", last_known_state=1)])
    store.put_executions(
        [m.Execution(id=eid, last_known_state=m.ExecutionState.COMPLETE, external_id="x")],
        field_mask_paths=["last_known_state"],
    )
    got_e = store.get_executions_by_id([eid])[0]
    assert (got_e.last_known_state, got_e.external_id, got_e.name) == (
        m.ExecutionState.COMPLETE,
        None,
        "e",
    )


def test_a_mask_with_an_undeclared_property_present_is_refused(
    store: m.MetadataStore, kind: NodeKind
) -> None:
    type_id = kind.put_type(store, "MaskedStrict", properties={"rows": P.INT})
    [node_id] = kind.put(store, [kind.new(type_id=type_id, properties={"rows": 1})])
    with pytest.raises(InvalidArgumentError):
        kind.put(
            store,
            [kind.new(id=node_id, properties={"colour": "red"})],
            mask=["properties.colour"],
        )
    assert kind.one(store, node_id).properties == {"rows": 1}


@pytest.mark.parametrize(
    "path", ["", "nonsense", "id", "type_id", "create_time_since_epoch", "properties.", "uri.x"]
)
def test_an_unknown_mask_path_is_refused(store: m.MetadataStore, kind: NodeKind, path: str) -> None:
    """MLMD silently ignores unknown paths, which hides typos."""
    type_id = kind.put_type(store, "MaskPaths")
    [node_id] = kind.put(store, [kind.new(type_id=type_id, external_id="keep")])
    with pytest.raises(InvalidArgumentError):
        kind.put(store, [kind.new(id=node_id, type_id=type_id)], mask=["external_id", path])
    assert kind.one(store, node_id).external_id == "keep"


def test_mask_paths_of_another_kind_are_refused(store: m.MetadataStore) -> None:
    et = store.put_execution_type(m.ExecutionType(name="NoUri"))
    [eid] = store.put_executions([m.Execution(type_id=et)])
    with pytest.raises(InvalidArgumentError):
        store.put_executions([m.Execution(id=eid)], field_mask_paths=["uri"])
    ct = store.put_context_type(m.ContextType(name="NoState"))
    [cid] = store.put_contexts([m.Context(type_id=ct, name="c")])
    with pytest.raises(InvalidArgumentError):
        store.put_contexts([m.Context(id=cid, name="c")], field_mask_paths=["state"])


def test_a_mask_is_ignored_when_creating(store: m.MetadataStore, kind: NodeKind) -> None:
    type_id = kind.put_type(store, "CreatedWithMask", properties=DECLARED)
    given = full_node(kind, type_id)
    [node_id] = kind.put(store, [given], mask=["external_id"])
    assert stored_fields(kind.one(store, node_id)) == stored_fields(given)


@pytest.mark.parametrize("mask", [None, ["name"]])
def test_nodes_can_be_renamed(
    store: m.MetadataStore, kind: NodeKind, mask: list[str] | None
) -> None:
    """MLMD silently ignores renames of artifacts and executions."""
    type_id = kind.put_type(store, "Renamable")
    [node_id] = kind.put(store, [kind.new(type_id=type_id, name="before")])
    kind.put(store, [kind.new(id=node_id, type_id=type_id, name="after")], mask=mask)
    assert kind.one(store, node_id).name == "after"
    assert kind.by_type_and_name(store, "Renamable", "before") is None
    assert kind.by_type_and_name(store, "Renamable", "after").id == node_id


def test_an_unnamed_node_can_get_a_name(store: m.MetadataStore, stateful: NodeKind) -> None:
    type_id = stateful.put_type(store, "LateName")
    [node_id] = stateful.put(store, [stateful.new(type_id=type_id)])
    stateful.put(store, [stateful.new(id=node_id, name="named-later")], mask=["name"])
    assert stateful.by_type_and_name(store, "LateName", "named-later").id == node_id


def test_updating_a_missing_id_is_refused(store: m.MetadataStore, kind: NodeKind) -> None:
    type_id = kind.put_type(store, "Missing")
    with pytest.raises(InvalidArgumentError, match="777"):
        kind.put(store, [kind.new(type_id=type_id), kind.new(id=777, type_id=type_id)])
    assert kind.all(store) == []


def test_changing_the_type_is_refused(store: m.MetadataStore, kind: NodeKind) -> None:
    first = kind.put_type(store, "Before")
    second = kind.put_type(store, "After")
    [node_id] = kind.put(store, [kind.new(type_id=first, name="n")])
    with pytest.raises(InvalidArgumentError):
        kind.put(store, [kind.new(id=node_id, type_id=second, name="n")])
    with pytest.raises(InvalidArgumentError):
        kind.put(store, [kind.new(id=node_id, type="After", name="n")])
    assert kind.one(store, node_id).type_id == first


def test_an_update_without_a_type_keeps_the_type(store: m.MetadataStore, kind: NodeKind) -> None:
    type_id = kind.put_type(store, "Kept", properties={"rows": P.INT})
    [node_id] = kind.put(store, [kind.new(type_id=type_id, name="n")])
    kind.put(store, [kind.new(id=node_id, name="n", properties={"rows": 2})])
    got = kind.one(store, node_id)
    assert (got.type_id, got.type, got.properties) == (type_id, "Kept", {"rows": 2})


def test_the_same_id_twice_in_one_batch_is_one_update_by_the_last(
    store: m.MetadataStore, kind: NodeKind
) -> None:
    """MLMD's result: one id per input, the stored fields those of the last occurrence."""
    type_id = kind.put_type(store, "Twice", properties={"rows": P.INT})
    [node_id] = kind.put(store, [kind.new(type_id=type_id, name="n", external_id="e")])
    ids = kind.put(
        store,
        [
            kind.new(id=node_id, name="n", external_id="e1", properties={"rows": 1}),
            kind.new(type_id=type_id, name="other"),
            kind.new(id=node_id, name="n", external_id="e2", custom_properties={"k": "v"}),
        ],
    )
    assert ids[0] == ids[2] == node_id and ids[1] != node_id
    got = kind.one(store, node_id)
    assert (got.external_id, got.properties, got.custom_properties) == ("e2", {}, {"k": "v"})
    assert len(kind.all(store)) == 2


def test_the_same_id_twice_under_a_mask_applies_the_last(
    store: m.MetadataStore, kind: NodeKind
) -> None:
    type_id = kind.put_type(store, "TwiceMasked")
    [node_id] = kind.put(
        store, [kind.new(type_id=type_id, name="n", custom_properties={"a": 1, "b": 1})]
    )
    ids = kind.put(
        store,
        [
            kind.new(id=node_id, custom_properties={"a": 2, "b": 2}),
            kind.new(id=node_id, custom_properties={"a": 3}),
        ],
        mask=["custom_properties.a", "custom_properties.b"],
    )
    assert ids == [node_id, node_id]
    got = kind.one(store, node_id)
    assert (got.name, got.custom_properties) == ("n", {"a": 3})


def test_every_occurrence_of_a_repeated_id_is_checked(
    store: m.MetadataStore, kind: NodeKind, snapshot: Callable[[m.MetadataStore], Any]
) -> None:
    type_id = kind.put_type(store, "TwiceChecked", properties={"rows": P.INT})
    [node_id] = kind.put(store, [kind.new(type_id=type_id, name="n")])
    before = snapshot(store)
    with pytest.raises(InvalidArgumentError, match="rows"):
        kind.put(
            store,
            [
                kind.new(id=node_id, name="n", properties={"rows": "many"}),
                kind.new(id=node_id, name="n", properties={"rows": 1}),
            ],
        )
    assert snapshot(store) == before


def test_two_new_nodes_with_one_external_id_are_refused_as_in_mlmd(
    store: m.MetadataStore, kind: NodeKind, snapshot: Callable[[m.MetadataStore], Any]
) -> None:
    """Only put_execution / put_lineage_subgraph with reuse by external id merge them."""
    type_id = kind.put_type(store, "SameExternal")
    before = snapshot(store)
    with pytest.raises(AlreadyExistsError, match="twice"):
        kind.put(
            store,
            [
                kind.new(type_id=type_id, external_id="twice"),
                kind.new(type_id=type_id, external_id="twice"),
            ],
        )
    assert snapshot(store) == before


def test_a_batch_may_mix_creates_and_updates(store: m.MetadataStore, kind: NodeKind) -> None:
    type_id = kind.put_type(store, "Mixed")
    [old] = kind.put(store, [kind.new(type_id=type_id, name="old", external_id="old-ext")])
    new_a, same, new_b = kind.put(
        store,
        [
            kind.new(type_id=type_id, name="new-a"),
            kind.new(id=old, name="old", external_id="changed-ext"),
            kind.new(type_id=type_id, name="new-b"),
        ],
    )
    assert same == old
    assert len({new_a, old, new_b}) == 3
    assert kind.one(store, old).external_id == "changed-ext"
    assert [n.name for n in kind.all(store)] == ["old", "new-a", "new-b"]


# ------------------------------------------------------------------------------------------- times


def test_times_are_set_by_the_store(store: m.MetadataStore, kind: NodeKind) -> None:
    type_id = kind.put_type(store, "Timed")
    start = time.time_ns() // 1_000_000
    [node_id] = kind.put(
        store,
        [kind.new(type_id=type_id, create_time_since_epoch=5, last_update_time_since_epoch=6)],
    )
    end = time.time_ns() // 1_000_000
    got = kind.one(store, node_id)
    assert start <= got.create_time_since_epoch <= end
    assert got.last_update_time_since_epoch == got.create_time_since_epoch


def test_last_update_time_changes_only_when_something_changed(
    store: m.MetadataStore, kind: NodeKind, clock_past: Callable[[int], None]
) -> None:
    type_id = kind.put_type(store, "Touched", properties={"rows": P.INT})
    [node_id] = kind.put(
        store, [kind.new(type_id=type_id, name="t", properties={"rows": 1}, external_id="e")]
    )
    created = kind.one(store, node_id)
    clock_past(created.last_update_time_since_epoch)

    same = kind.new(id=node_id, type_id=type_id, name="t", properties={"rows": 1}, external_id="e")
    kind.put(store, [same])
    assert kind.one(store, node_id) == created

    kind.put(store, [kind.new(id=node_id, name="t", external_id="e")], mask=["properties.absent"])
    assert kind.one(store, node_id) == created

    kind.put(store, [kind.new(id=node_id, name="t", external_id="e")], mask=["name", "external_id"])
    assert kind.one(store, node_id) == created

    changed = dataclasses.replace(same, properties={"rows": 2}, last_update_time_since_epoch=1)
    kind.put(store, [changed])
    updated = kind.one(store, node_id)
    assert updated.properties == {"rows": 2}
    assert updated.create_time_since_epoch == created.create_time_since_epoch
    assert updated.last_update_time_since_epoch > created.last_update_time_since_epoch


def test_putting_back_a_node_as_read_changes_nothing(
    store: m.MetadataStore, kind: NodeKind, clock_past: Callable[[int], None]
) -> None:
    """Values of every kind compare equal to what is stored, so the time stays put."""
    type_id = kind.put_type(store, "RoundTrip", properties=DECLARED)
    [node_id] = kind.put(store, [full_node(kind, type_id, custom_properties=dict(CUSTOM_VALUES))])
    created = kind.one(store, node_id)
    clock_past(created.last_update_time_since_epoch)
    kind.put(store, [created])
    kind.put(store, [dataclasses.replace(created, type_id=None, type=None)])
    assert kind.one(store, node_id) == created


def test_a_property_value_change_of_type_only_counts_as_a_change(
    store: m.MetadataStore, kind: NodeKind, clock_past: Callable[[int], None]
) -> None:
    type_id = kind.put_type(store, "Retyped")
    [node_id] = kind.put(store, [kind.new(type_id=type_id, name="r", custom_properties={"v": 1})])
    created = kind.one(store, node_id)
    clock_past(created.last_update_time_since_epoch)
    kind.put(store, [kind.new(id=node_id, name="r", custom_properties={"v": True})])
    got = kind.one(store, node_id)
    assert got.custom_properties == {"v": True}
    assert type(got.custom_properties["v"]) is bool
    assert got.last_update_time_since_epoch > created.last_update_time_since_epoch


# ------------------------------------------------------------------------------------------ states


@pytest.mark.parametrize("how", ["member", "int", "name"])
def test_states_are_accepted_as_member_int_or_name_and_returned_as_enums(
    store: m.MetadataStore, stateful: NodeKind, how: str
) -> None:
    assert stateful.state is not None and stateful.state_enum is not None
    type_id = stateful.put_type(store, "Stateful")
    for member in stateful.state_enum:
        given = {"member": member, "int": int(member), "name": member.name}[how]
        [node_id] = stateful.put(store, [stateful.new(type_id=type_id, **{stateful.state: given})])
        got = getattr(stateful.one(store, node_id), stateful.state)
        assert got is member


def test_state_is_not_defaulted(store: m.MetadataStore, stateful: NodeKind) -> None:
    assert stateful.state is not None
    type_id = stateful.put_type(store, "NoState")
    [node_id] = stateful.put(store, [stateful.new(type_id=type_id)])
    assert getattr(stateful.one(store, node_id), stateful.state) is None


@pytest.mark.parametrize("bad", [99, -1, "BOGUS", "", True, 2.0, object()], ids=stable_repr)
def test_a_bad_state_is_refused(store: m.MetadataStore, stateful: NodeKind, bad: Any) -> None:
    assert stateful.state is not None
    type_id = stateful.put_type(store, "BadState")
    with pytest.raises(InvalidArgumentError):
        stateful.put(store, [stateful.new(type_id=type_id, **{stateful.state: bad})])
    assert stateful.all(store) == []


def test_a_state_of_the_other_kind_is_refused(store: m.MetadataStore) -> None:
    """ExecutionState.COMPLETE is 3, which is also ArtifactState.MARKED_FOR_DELETION."""
    at = store.put_artifact_type(m.ArtifactType(name="Confused"))
    et = store.put_execution_type(m.ExecutionType(name="ConfusedRun"))
    with pytest.raises(InvalidArgumentError):
        store.put_artifacts([m.Artifact(type_id=at, state=m.ExecutionState.COMPLETE)])  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        store.put_executions(
            [m.Execution(type_id=et, last_known_state=m.ArtifactState.LIVE)]  # type: ignore[arg-type]
        )
    assert store.get_artifacts() == []
    assert store.get_executions() == []


# ------------------------------------------------------------------------------------ bad requests


def test_put_refuses_objects_of_another_kind(store: m.MetadataStore) -> None:
    et = store.put_execution_type(m.ExecutionType(name="Wrong"))
    with pytest.raises(InvalidArgumentError):
        store.put_artifacts([m.Execution(type_id=et)])  # type: ignore[list-item]
    assert store.get_executions() == []


@pytest.mark.parametrize("field", ["name", "external_id"])
def test_name_and_external_id_must_be_strings(
    store: m.MetadataStore, kind: NodeKind, field: str
) -> None:
    type_id = kind.put_type(store, "Texty")
    fields: dict[str, Any] = {"type_id": type_id, field: 42}
    with pytest.raises(InvalidArgumentError):
        kind.put(store, [kind.new(**fields)])
    assert kind.all(store) == []


def test_an_artifact_uri_must_be_a_string(store: m.MetadataStore) -> None:
    at = store.put_artifact_type(m.ArtifactType(name="Located"))
    with pytest.raises(InvalidArgumentError):
        store.put_artifacts([m.Artifact(type_id=at, uri=42)])  # type: ignore[arg-type]
    assert store.get_artifacts() == []


# ----------------------------------------------------------------------------------- limits, sizes


def test_text_fields_round_trip_unicode(store: m.MetadataStore, kind: NodeKind) -> None:
    type_id = kind.put_type(store, "Ünïcode ☃")
    fields: dict[str, Any] = {"name": "données – 数据", "external_id": "ext-ß-🙂"}
    if kind is ARTIFACT:
        fields["uri"] = "file:///tmp/dönnées/📁"
    [node_id] = kind.put(store, [kind.new(type_id=type_id, **fields)])
    got = kind.one(store, node_id)
    assert got.type == "Ünïcode ☃"
    assert {k: getattr(got, k) for k in fields} == fields
    assert kind.by_type_and_name(store, "Ünïcode ☃", "données – 数据").id == node_id


@pytest.mark.parametrize("field", ["name", "external_id", "property key"])
def test_names_may_be_255_characters_long_but_not_more(
    store: m.MetadataStore, kind: NodeKind, field: str
) -> None:
    type_id = kind.put_type(store, "Lengthy")

    def node(text: str) -> Any:
        if field == "property key":
            return kind.new(type_id=type_id, custom_properties={text: 1})
        return kind.new(type_id=type_id, **{field: text})

    [node_id] = kind.put(store, [node("a" * 255)])
    got = kind.one(store, node_id)
    stored = list(got.custom_properties) if field == "property key" else [getattr(got, field)]
    assert stored == ["a" * 255]
    with pytest.raises(InvalidArgumentError):
        kind.put(store, [node("b" * 256)])
    assert [n.id for n in kind.all(store)] == [node_id]


def test_a_mask_must_be_a_list_of_paths(store: m.MetadataStore, kind: NodeKind) -> None:
    type_id = kind.put_type(store, "StringMask")
    [node_id] = kind.put(store, [kind.new(type_id=type_id, name="n", external_id="keep")])
    with pytest.raises(InvalidArgumentError):
        getattr(store, f"put_{kind.label}s")(
            [kind.new(id=node_id, name="n")], field_mask_paths="external_id"
        )
    assert kind.one(store, node_id).external_id == "keep"


def test_large_batches_are_written_and_read_whole(store: m.MetadataStore, kind: NodeKind) -> None:
    """More rows than any single IN list or statement batch the store uses."""
    type_id = kind.put_type(store, "Bulk", properties={"i": P.INT})
    count = 1_500
    ids = kind.put(
        store,
        [
            kind.new(
                type_id=type_id,
                name=f"bulk-{i}",
                external_id=f"bulk-ext-{i}",
                properties={"i": i},
                custom_properties={"even": i % 2 == 0},
            )
            for i in range(count)
        ],
    )
    assert len(set(ids)) == count

    by_id = kind.by_id(store, ids)
    assert [n.id for n in by_id] == sorted(ids)
    assert [n.properties["i"] for n in by_id] == list(range(count))
    assert all(n.custom_properties == {"even": n.properties["i"] % 2 == 0} for n in by_id)
    assert [n.id for n in kind.all(store)] == sorted(ids)
    assert [n.id for n in kind.by_type(store, "Bulk")] == sorted(ids)
    external = kind.by_external_ids(store, [f"bulk-ext-{i}" for i in range(count)])
    assert sorted(n.id for n in external) == sorted(ids)

    # A second batch that clashes on its very last name is refused as a whole.
    with pytest.raises(AlreadyExistsError):
        kind.put(
            store,
            [kind.new(type_id=type_id, name=f"more-{i}") for i in range(count)]
            + [kind.new(type_id=type_id, name="bulk-0")],
        )
    assert len(kind.all(store)) == count

    # Updating every node at once.
    kind.put(
        store,
        [kind.new(id=n.id, name=n.name, properties={"i": -n.properties["i"]}) for n in by_id],
    )
    assert [n.properties["i"] for n in kind.by_id(store, ids)] == [-i for i in range(count)]


@pytest.mark.parametrize("bad", ["1", True, 1.0], ids=stable_repr)
@pytest.mark.parametrize("field", ["id", "type_id"])
def test_ids_must_be_ints_not_lookalikes(
    store: m.MetadataStore, kind: NodeKind, field: str, bad: Any
) -> None:
    """True and "1" are not the id 1; converting them would silently hit the wrong row (here the
    first type and node of a fresh store)."""
    type_id = kind.put_type(store, "Exact")
    [node_id] = kind.put(store, [kind.new(type_id=type_id, name="n1", external_id="keep")])
    fields: dict[str, Any] = {"type_id": type_id, "name": "n2", field: bad}
    with pytest.raises(InvalidArgumentError, match=field):
        kind.put(store, [kind.new(**fields)])
    assert kind.one(store, node_id).external_id == "keep"


@pytest.mark.parametrize("not_a_list", ["single", None, "str", "dict"])
def test_put_needs_a_list(store: m.MetadataStore, kind: NodeKind, not_a_list: str) -> None:
    type_id = kind.put_type(store, "Listed")
    node = kind.new(type_id=type_id)
    given = {"single": node, None: None, "str": "node", "dict": {"node": node}}[not_a_list]
    with pytest.raises(InvalidArgumentError, match="list"):
        getattr(store, f"put_{kind.label}s")(given)
    assert kind.all(store) == []


def test_nul_characters_are_refused_in_strings_but_kept_inside_structs(
    store: m.MetadataStore,
) -> None:
    """A NUL character cannot be stored by every database: refused the same way everywhere."""
    at = store.put_artifact_type(
        m.ArtifactType(name="Nul", properties={"s": m.PropertyType.STRING})
    )
    for bad in (
        m.Artifact(type_id=at, properties={"s": "a\x00b"}),
        m.Artifact(type_id=at, custom_properties={"c": "a\x00b"}),
        m.Artifact(type_id=at, name="a\x00b"),
        m.Artifact(type_id=at, uri="file:///a\x00b"),
        m.Artifact(type_id=at, external_id="a\x00b"),
    ):
        with pytest.raises(InvalidArgumentError, match="NUL"):
            store.put_artifacts([bad])
    assert store.get_artifacts() == []
    [aid] = store.put_artifacts([m.Artifact(type_id=at, custom_properties={"j": {"k": "a\x00b"}})])
    [got] = store.get_artifacts_by_id([aid])
    assert got.custom_properties == {"j": {"k": "a\x00b"}}
