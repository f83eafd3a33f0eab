"""Artifact, execution and context types: put/get, versions, add-only evolution, external ids."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

import mltrail as m
from _ids import stable_repr
from mltrail.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError

P = m.PropertyType


@dataclass(frozen=True)
class TypeKind:
    """One kind of type and the store methods that handle it."""

    label: str
    cls: type[Any]

    def put(self, store: m.MetadataStore, given: Any, **flags: bool) -> int:
        return int(getattr(store, f"put_{self.label}_type")(given, **flags))

    def get(self, store: m.MetadataStore, name: str, version: str | None = None) -> Any:
        return getattr(store, f"get_{self.label}_type")(name, version)

    def get_all(self, store: m.MetadataStore) -> list[Any]:
        return list(getattr(store, f"get_{self.label}_types")())

    def by_id(self, store: m.MetadataStore, ids: list[int]) -> list[Any]:
        return list(getattr(store, f"get_{self.label}_types_by_id")(ids))

    def by_external_ids(self, store: m.MetadataStore, ids: list[str]) -> list[Any]:
        return list(getattr(store, f"get_{self.label}_types_by_external_ids")(ids))

    def new(self, **fields: Any) -> Any:
        return self.cls(**fields)

    def expected(self, **fields: Any) -> Any:
        """The type as the store returns it (every field explicit)."""
        full: dict[str, Any] = {
            "properties": {},
            "version": None,
            "description": None,
            "external_id": None,
            **fields,
        }
        return self.cls(**full)


ARTIFACT = TypeKind("artifact", m.ArtifactType)
EXECUTION = TypeKind("execution", m.ExecutionType)
CONTEXT = TypeKind("context", m.ContextType)
KINDS = [ARTIFACT, EXECUTION, CONTEXT]


@pytest.fixture(params=KINDS, ids=[k.label for k in KINDS])
def kind(request: pytest.FixtureRequest) -> TypeKind:
    return request.param  # type: ignore[no-any-return]


ALL_PROPERTY_TYPES = {
    "rows": P.INT,
    "ratio": P.DOUBLE,
    "split": P.STRING,
    "schema": P.STRUCT,
    "shuffled": P.BOOLEAN,
}


# ------------------------------------------------------------------------------------ put and get


def test_put_then_get_by_name_returns_every_field(store: m.MetadataStore, kind: TypeKind) -> None:
    given = kind.new(
        name="TrainingData",
        properties=dict(ALL_PROPERTY_TYPES),
        description="rows used to fit a model",
        external_id="training-data-type",
    )
    type_id = kind.put(store, given)

    got = kind.get(store, "TrainingData")
    assert got == kind.expected(
        id=type_id,
        name="TrainingData",
        properties=ALL_PROPERTY_TYPES,
        description="rows used to fit a model",
        external_id="training-data-type",
    )
    assert all(type(p) is P for p in got.properties.values())


def test_get_by_id_skips_unknown_ids_and_types_of_other_kinds(store: m.MetadataStore) -> None:
    artifact_type = store.put_artifact_type(m.ArtifactType(name="Checkpoint"))
    execution_type = store.put_execution_type(m.ExecutionType(name="Checkpointing"))
    context_type = store.put_context_type(m.ContextType(name="CheckpointRun"))

    assert [t.id for t in store.get_artifact_types_by_id([artifact_type, 9_999])] == [artifact_type]
    assert [t.name for t in store.get_execution_types_by_id([execution_type])] == ["Checkpointing"]
    assert store.get_artifact_types_by_id([execution_type, context_type]) == []
    assert store.get_execution_types_by_id([artifact_type, context_type]) == []
    assert store.get_context_types_by_id([artifact_type, execution_type]) == []
    assert store.get_context_types_by_id([]) == []


def test_get_by_external_ids(store: m.MetadataStore, kind: TypeKind) -> None:
    first = kind.put(store, kind.new(name="RawImages", external_id="ext-raw-images"))
    second = kind.put(store, kind.new(name="CroppedImages", external_id="ext-cropped-images"))
    kind.put(store, kind.new(name="ImagesWithoutExternalId"))

    found = kind.by_external_ids(store, ["ext-cropped-images", "ext-raw-images", "ext-unknown"])
    assert sorted(t.id for t in found) == sorted([first, second])
    assert kind.by_external_ids(store, ["ext-unknown"]) == []
    assert kind.by_external_ids(store, []) == []
    with pytest.raises(InvalidArgumentError):
        kind.by_external_ids(store, [""])


def test_list_all_returns_exactly_the_types_of_the_kind_in_id_order(
    store: m.MetadataStore, kind: TypeKind
) -> None:
    assert kind.get_all(store) == []
    ids = [kind.put(store, kind.new(name=f"ListedType{i}")) for i in range(3)]
    for other in KINDS:
        if other is not kind:
            other.put(store, other.new(name=f"Other{other.label}Type"))

    listed = kind.get_all(store)
    assert [t.id for t in listed] == ids
    assert [t.name for t in listed] == ["ListedType0", "ListedType1", "ListedType2"]
    assert all(isinstance(t, kind.cls) for t in listed)


def test_property_types_may_be_given_by_name_or_number(store: m.MetadataStore) -> None:
    type_id = store.put_artifact_type(
        m.ArtifactType(name="LooselyDeclared", properties={"rows": "INT", "ratio": 2})  # type: ignore[dict-item]
    )
    got = store.get_artifact_types_by_id([type_id])[0]
    assert got.properties == {"rows": P.INT, "ratio": P.DOUBLE}
    assert all(type(p) is P for p in got.properties.values())


def test_identical_re_put_returns_the_same_id_and_creates_nothing(
    store: m.MetadataStore, kind: TypeKind
) -> None:
    given = kind.new(name="Stable", properties={"rows": P.INT}, external_id="stable-ext")
    first = kind.put(store, given)
    again = kind.put(store, kind.new(name="Stable", properties={"rows": P.INT}))
    with_flags = kind.put(
        store,
        kind.new(name="Stable", properties={"rows": P.INT}),
        can_add_fields=True,
        can_omit_fields=True,
    )
    assert first == again == with_flags
    assert [t.id for t in kind.get_all(store)] == [first]
    assert kind.get(store, "Stable").external_id == "stable-ext"


def test_re_put_with_own_id_is_accepted_and_a_foreign_id_refused(
    store: m.MetadataStore, kind: TypeKind
) -> None:
    own = kind.put(store, kind.new(name="WithId"))
    other = kind.put(store, kind.new(name="OtherWithId"))
    assert kind.put(store, kind.new(name="WithId", id=own)) == own
    with pytest.raises(InvalidArgumentError):
        kind.put(store, kind.new(name="WithId", id=other))
    with pytest.raises(InvalidArgumentError):
        kind.put(store, kind.new(name="NotYetStored", id=own))
    assert [t.name for t in kind.get_all(store)] == ["WithId", "OtherWithId"]


# ---------------------------------------------------------------------------------------- versions


@pytest.mark.parametrize("empty", [None, ""])
def test_empty_version_is_the_unversioned_type(
    store: m.MetadataStore, kind: TypeKind, empty: str | None
) -> None:
    type_id = kind.put(store, kind.new(name="Unversioned", properties={"rows": P.INT}))
    assert kind.put(
        store, kind.new(name="Unversioned", version=empty, properties={"rows": P.INT})
    ) == (type_id)
    got = kind.get(store, "Unversioned", empty)
    assert got.id == type_id
    assert got.version is None
    assert [t.id for t in kind.get_all(store)] == [type_id]


def test_versioned_and_unversioned_types_of_one_name_are_distinct(
    store: m.MetadataStore, kind: TypeKind
) -> None:
    plain = kind.put(store, kind.new(name="Model", properties={"layers": P.INT}))
    v1 = kind.put(store, kind.new(name="Model", version="v1", properties={"depth": P.INT}))
    v2 = kind.put(store, kind.new(name="Model", version="v2", properties={"width": P.DOUBLE}))
    assert len({plain, v1, v2}) == 3

    assert kind.get(store, "Model") == kind.expected(
        id=plain, name="Model", properties={"layers": P.INT}
    )
    assert kind.get(store, "Model", "v1") == kind.expected(
        id=v1, name="Model", version="v1", properties={"depth": P.INT}
    )
    assert kind.get(store, "Model", "v2").properties == {"width": P.DOUBLE}
    with pytest.raises(NotFoundError):
        kind.get(store, "Model", "v3")
    assert [t.id for t in kind.get_all(store)] == [plain, v1, v2]


def test_a_versioned_type_evolves_on_its_own(store: m.MetadataStore, kind: TypeKind) -> None:
    plain = kind.put(store, kind.new(name="Report", properties={"pages": P.INT}))
    v1 = kind.put(store, kind.new(name="Report", version="v1", properties={"pages": P.INT}))
    assert (
        kind.put(
            store,
            kind.new(name="Report", version="v1", properties={"pages": P.INT, "lang": P.STRING}),
            can_add_fields=True,
        )
        == v1
    )
    assert kind.get(store, "Report", "v1").properties == {"pages": P.INT, "lang": P.STRING}
    assert kind.get(store, "Report").properties == {"pages": P.INT}
    assert kind.get(store, "Report").id == plain


def test_one_name_may_be_used_by_every_kind(store: m.MetadataStore) -> None:
    a = store.put_artifact_type(m.ArtifactType(name="Shared", properties={"a": P.INT}))
    e = store.put_execution_type(m.ExecutionType(name="Shared", properties={"e": P.STRING}))
    c = store.put_context_type(m.ContextType(name="Shared", properties={"c": P.BOOLEAN}))
    assert len({a, e, c}) == 3
    assert isinstance(store.get_artifact_type("Shared"), m.ArtifactType)
    assert store.get_artifact_type("Shared").properties == {"a": P.INT}
    assert store.get_execution_type("Shared").properties == {"e": P.STRING}
    assert store.get_context_type("Shared").properties == {"c": P.BOOLEAN}


# --------------------------------------------------------------------------------------- evolution

EVOLUTION_CASES = [
    # stored, requested, can_add_fields, can_omit_fields, properties afterwards (None: refused)
    pytest.param({"a": P.INT}, {"a": P.INT, "b": P.STRING}, False, False, None, id="add-refused"),
    pytest.param(
        {"a": P.INT},
        {"a": P.INT, "b": P.STRING},
        True,
        False,
        {"a": P.INT, "b": P.STRING},
        id="add-allowed",
    ),
    pytest.param({"a": P.INT, "b": P.STRING}, {"a": P.INT}, False, False, None, id="omit-refused"),
    pytest.param({"a": P.INT, "b": P.STRING}, {"a": P.INT}, True, False, None, id="omit-add-only"),
    pytest.param(
        {"a": P.INT, "b": P.STRING},
        {"a": P.INT},
        False,
        True,
        {"a": P.INT, "b": P.STRING},
        id="omit-allowed-keeps-stored",
    ),
    pytest.param(
        {"a": P.INT, "b": P.STRING},
        {"a": P.INT, "c": P.DOUBLE},
        True,
        False,
        None,
        id="omit-and-add-without-omit",
    ),
    pytest.param(
        {"a": P.INT, "b": P.STRING},
        {"a": P.INT, "c": P.DOUBLE},
        False,
        True,
        None,
        id="omit-and-add-without-add",
    ),
    pytest.param(
        {"a": P.INT, "b": P.STRING},
        {"a": P.INT, "c": P.DOUBLE},
        True,
        True,
        {"a": P.INT, "b": P.STRING, "c": P.DOUBLE},
        id="omit-and-add-with-both",
    ),
    pytest.param(
        {"a": P.INT}, {}, False, True, {"a": P.INT}, id="omit-everything-keeps-everything"
    ),
]


@pytest.mark.parametrize(("stored", "requested", "add", "omit", "after"), EVOLUTION_CASES)
def test_evolution_is_add_only_and_gated_by_the_flags(
    store: m.MetadataStore,
    kind: TypeKind,
    stored: dict[str, P],
    requested: dict[str, P],
    add: bool,
    omit: bool,
    after: dict[str, P] | None,
) -> None:
    type_id = kind.put(store, kind.new(name="Evolving", properties=stored))
    request = kind.new(name="Evolving", properties=requested)
    if after is None:
        with pytest.raises(AlreadyExistsError):
            kind.put(store, request, can_add_fields=add, can_omit_fields=omit)
        assert kind.get(store, "Evolving").properties == stored
    else:
        assert kind.put(store, request, can_add_fields=add, can_omit_fields=omit) == type_id
        assert kind.get(store, "Evolving").properties == after
    assert [t.id for t in kind.get_all(store)] == [type_id]


def test_changing_a_property_type_is_refused_even_with_both_flags(
    store: m.MetadataStore, kind: TypeKind
) -> None:
    kind.put(store, kind.new(name="Typed", properties={"score": P.DOUBLE, "n": P.INT}))
    with pytest.raises(AlreadyExistsError, match="score"):
        kind.put(
            store,
            kind.new(name="Typed", properties={"score": P.STRING, "n": P.INT, "new": P.INT}),
            can_add_fields=True,
            can_omit_fields=True,
        )
    assert kind.get(store, "Typed").properties == {"score": P.DOUBLE, "n": P.INT}


def test_evolution_sets_a_new_external_id(store: m.MetadataStore, kind: TypeKind) -> None:
    type_id = kind.put(store, kind.new(name="Renamed", external_id="old-ext"))
    assert kind.put(store, kind.new(name="Renamed", external_id="new-ext")) == type_id
    assert kind.get(store, "Renamed").external_id == "new-ext"
    assert [t.id for t in kind.by_external_ids(store, ["new-ext"])] == [type_id]
    assert kind.by_external_ids(store, ["old-ext"]) == []


# -------------------------------------------------------------------------------------- base types

BASE_TYPE_KINDS = [
    pytest.param(ARTIFACT, m.ArtifactBaseType.DATASET, m.ArtifactBaseType.MODEL, id="artifact"),
    pytest.param(EXECUTION, m.ExecutionBaseType.TRAIN, m.ExecutionBaseType.DEPLOY, id="execution"),
]


@pytest.mark.parametrize(("kind", "base", "other_base"), BASE_TYPE_KINDS)
def test_base_type_is_set_kept_when_omitted_and_cannot_change(
    store: m.MetadataStore, kind: TypeKind, base: Any, other_base: Any
) -> None:
    type_id = kind.put(store, kind.new(name="WithBase", base_type=base))
    got = kind.get(store, "WithBase")
    assert got.base_type is base

    assert kind.put(store, kind.new(name="WithBase")) == type_id
    assert kind.get(store, "WithBase").base_type is base

    with pytest.raises(AlreadyExistsError, match="base_type"):
        kind.put(store, kind.new(name="WithBase", base_type=other_base))
    assert kind.get(store, "WithBase").base_type is base
    assert kind.get_all(store)[0].base_type is base


@pytest.mark.parametrize(("kind", "base", "other_base"), BASE_TYPE_KINDS)
def test_base_type_defaults_to_none(
    store: m.MetadataStore, kind: TypeKind, base: Any, other_base: Any
) -> None:
    kind.put(store, kind.new(name="WithoutBase"))
    assert kind.get(store, "WithoutBase").base_type is None


def test_base_type_may_be_given_by_name(store: m.MetadataStore) -> None:
    store.put_artifact_type(m.ArtifactType(name="NamedBase", base_type="MODEL"))  # type: ignore[arg-type]
    assert store.get_artifact_type("NamedBase").base_type is m.ArtifactBaseType.MODEL
    with pytest.raises(InvalidArgumentError):
        store.put_artifact_type(m.ArtifactType(name="BadBase", base_type="SPREADSHEET"))  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------ external ids


def test_type_external_ids_are_unique_across_all_kinds(store: m.MetadataStore) -> None:
    """MLMD reports a cross-kind clash as an InternalError from the database; it is a duplicate."""
    owner = store.put_artifact_type(m.ArtifactType(name="Owner", external_id="shared-ext"))

    with pytest.raises(AlreadyExistsError, match="shared-ext"):
        store.put_artifact_type(m.ArtifactType(name="OtherArtifactType", external_id="shared-ext"))
    with pytest.raises(AlreadyExistsError, match="shared-ext"):
        store.put_execution_type(m.ExecutionType(name="SomeStep", external_id="shared-ext"))
    with pytest.raises(AlreadyExistsError, match="shared-ext"):
        store.put_context_type(m.ContextType(name="SomeRun", external_id="shared-ext"))

    assert [t.id for t in store.get_artifact_types()] == [owner]
    assert store.get_execution_types() == []
    assert store.get_context_types() == []
    assert store.get_execution_types_by_external_ids(["shared-ext"]) == []


def test_an_existing_type_cannot_take_another_types_external_id(
    store: m.MetadataStore,
) -> None:
    store.put_context_type(m.ContextType(name="Holder", external_id="taken-ext"))
    store.put_artifact_type(m.ArtifactType(name="Taker"))
    with pytest.raises(AlreadyExistsError):
        store.put_artifact_type(m.ArtifactType(name="Taker", external_id="taken-ext"))
    assert store.get_artifact_type("Taker").external_id is None


# ------------------------------------------------------------------------------------ bad requests


@pytest.mark.parametrize("name", [None, ""])
def test_a_type_needs_a_name(store: m.MetadataStore, kind: TypeKind, name: str | None) -> None:
    with pytest.raises(InvalidArgumentError):
        kind.put(store, kind.new(name=name, properties={"rows": P.INT}))
    assert kind.get_all(store) == []


@pytest.mark.parametrize("bad", [P.UNKNOWN, 0, "UNKNOWN", "FLOAT", 5, 99, None])
def test_a_property_needs_a_known_property_type(
    store: m.MetadataStore, kind: TypeKind, bad: Any
) -> None:
    with pytest.raises(InvalidArgumentError):
        kind.put(store, kind.new(name="BadlyDeclared", properties={"ok": P.INT, "bad": bad}))
    assert kind.get_all(store) == []


def test_a_property_needs_a_name(store: m.MetadataStore, kind: TypeKind) -> None:
    with pytest.raises(InvalidArgumentError):
        kind.put(store, kind.new(name="NamelessProperty", properties={"": P.INT}))
    assert kind.get_all(store) == []


def test_put_type_refuses_a_type_of_another_kind(store: m.MetadataStore) -> None:
    with pytest.raises(InvalidArgumentError):
        store.put_artifact_type(m.ExecutionType(name="Mixup"))  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        store.put_context_type(m.ArtifactType(name="Mixup"))  # type: ignore[arg-type]
    assert store.get_artifact_types() == []
    assert store.get_context_types() == []


def test_getting_a_missing_type_raises_not_found(store: m.MetadataStore, kind: TypeKind) -> None:
    with pytest.raises(NotFoundError, match="Absent"):
        kind.get(store, "Absent")
    kind.put(store, kind.new(name="Present"))
    with pytest.raises(NotFoundError):
        kind.get(store, "Present", "v1")
    for other in KINDS:
        if other is not kind:
            with pytest.raises(NotFoundError):
                other.get(store, "Present")


def test_a_property_added_by_evolution_can_be_used_at_once(
    store: m.MetadataStore, kind: TypeKind
) -> None:
    kind.put(store, kind.new(name="Growing", properties={"a": P.INT}))
    put_nodes = getattr(store, f"put_{kind.label}s")
    node_cls = {"artifact": m.Artifact, "execution": m.Execution, "context": m.Context}[kind.label]
    put_nodes([node_cls(type="Growing", name="before", properties={"a": 1})])
    with pytest.raises(InvalidArgumentError):
        put_nodes([node_cls(type="Growing", name="too-early", properties={"b": "x"})])

    kind.put(
        store, kind.new(name="Growing", properties={"a": P.INT, "b": P.STRING}), can_add_fields=True
    )
    [node_id] = put_nodes([node_cls(type="Growing", name="after", properties={"a": 2, "b": "x"})])
    [node] = getattr(store, f"get_{kind.label}s_by_id")([node_id])
    assert node.properties == {"a": 2, "b": "x"}


@pytest.mark.parametrize("field", ["name", "version", "external_id", "property"])
def test_type_names_may_be_255_characters_long_but_not_more(
    store: m.MetadataStore, kind: TypeKind, field: str
) -> None:
    def given(text: str) -> Any:
        if field == "name":
            return kind.new(name=text)
        if field == "property":
            return kind.new(name=f"Long-{text[0]}", properties={text: P.INT})
        return kind.new(name=f"Long-{text[0]}", **{field: text})

    kind.put(store, given("a" * 255))
    with pytest.raises(InvalidArgumentError):
        kind.put(store, given("b" * 256))
    assert len(kind.get_all(store)) == 1


@pytest.mark.parametrize(
    "fields",
    [
        {"description": 5},
        {"properties": ["rows"]},
        {"properties": "rows"},
        {"version": 2},
        {"external_id": 7},
        {"name": 3},
    ],
    ids=stable_repr,
)
def test_type_fields_of_the_wrong_python_type_are_refused(
    store: m.MetadataStore, kind: TypeKind, fields: dict[str, Any]
) -> None:
    with pytest.raises(InvalidArgumentError):
        kind.put(store, kind.new(**{"name": "WronglyTyped", **fields}))
    assert kind.get_all(store) == []
