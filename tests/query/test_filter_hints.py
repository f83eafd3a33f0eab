"""Filters that the store's types show can never match are refused with a hint, not [].

Only certainties: a type name that exists in no spelling, custom properties, and conditions
another branch of an OR can make up for are answered as usual.
"""

from __future__ import annotations

import pytest
from mlmd_store import Mlmd

import mltrail as m
from mltrail.errors import QuerySyntaxError
from mltrail.store import _filter_types

P = m.PropertyType


@pytest.fixture
def typed(store: m.MetadataStore) -> m.MetadataStore:
    dataset = store.put_artifact_type(
        m.ArtifactType(
            name="Dataset",
            properties={"rows": P.INT, "split": P.STRING, "score": P.DOUBLE, "ok": P.BOOLEAN},
        )
    )
    model = store.put_artifact_type(
        m.ArtifactType(name="Model", properties={"score": P.DOUBLE, "meta": P.STRUCT})
    )
    run = store.put_context_type(m.ContextType(name="Run", properties={"owner": P.STRING}))
    ids = store.put_artifacts(
        [
            m.Artifact(
                type_id=dataset,
                name="d1",
                properties={"rows": 10, "split": "train", "score": 1, "ok": True},
                custom_properties={"note": "x"},
            ),
            m.Artifact(type_id=model, name="m1", properties={"score": 0.5}),
        ]
    )
    [ctx] = store.put_contexts([m.Context(type_id=run, name="r1", properties={"owner": "ana"})])
    store.put_attributions_and_associations([m.Attribution(artifact_id=ids[0], context_id=ctx)], [])
    return store


def names(store: m.MetadataStore, query: str, kind: str = "a") -> list[str]:
    lister = {"a": store.get_artifacts, "c": store.get_contexts}[kind]
    return sorted(str(n.name) for n in lister(filter_query=query))


def refused(store: m.MetadataStore, query: str, fault: str, *fragments: str) -> QuerySyntaxError:
    with pytest.raises(QuerySyntaxError) as caught:
        store.get_artifacts(filter_query=query)
    error = caught.value
    for fragment in fragments:
        assert fragment in str(error), str(error)
    assert "SELECT" not in str(error)
    assert error.column == query.index(fault) + 1 and error.line == 1, str(error)
    return error


def test_a_type_name_in_the_wrong_case(typed: m.MetadataStore) -> None:
    error = refused(
        typed,
        "name = 'd1' AND type = 'dataset'",
        "type",
        "no artifact type 'dataset'; did you mean 'Dataset'? (type names are case-sensitive)",
    )
    assert error.reason.startswith("no artifact type 'dataset'")
    refused(typed, "type IN ('dataset', 'model')", "type", "did you mean 'Dataset'?")
    # Neighbours are checked against their own kind's types.
    refused(typed, "contexts_r.type = 'run'", "contexts_r", "no context type 'run'")


def test_type_names_that_can_match_or_exist_in_no_spelling(typed: m.MetadataStore) -> None:
    assert names(typed, "type = 'Dataset'") == ["d1"]
    assert names(typed, "type = 'Nothing'") == []  # no such type in any case: as in MLMD
    assert names(typed, "type IN ('dataset', 'Model')") == ["m1"]
    assert names(typed, "type IN ('dataset', 'Nothing')") == []
    assert names(typed, "type != 'dataset'") == ["d1", "m1"]
    assert names(typed, "type = 'dataset' OR name = 'm1'") == ["m1"]
    assert names(typed, "type LIKE 'data%'") == []


def test_a_property_no_type_declares(typed: m.MetadataStore) -> None:
    refused(
        typed,
        "properties.split2 = 'train'",
        "properties",
        "no artifact type declares a property 'split2'",
        "did you mean 'split'",
        "custom_properties.split2",
    )
    refused(typed, "properties.note = 'x'", "properties", "custom_properties.note")
    refused(typed, "properties.rowz.int_value > 1", "properties", "'rows'")
    refused(typed, "name = 'd1' AND properties.nope IS NOT NULL", "properties", "'nope'")
    refused(typed, "contexts_r.properties.own = 'ana'", "contexts_r", "no context type")
    # Custom properties are never checked; IS NULL and negations select every node.
    assert names(typed, "custom_properties.note = 'x'") == ["d1"]
    assert names(typed, "custom_properties.nope = 'x'") == []
    assert names(typed, "properties.nope IS NULL") == ["d1", "m1"]
    assert names(typed, "NOT properties.nope = 1") == ["d1", "m1"]
    assert names(typed, "properties.nope != 1") == ["d1", "m1"]
    assert names(typed, "properties.nope = 1 OR name = 'm1'") == ["m1"]
    # A property declared by a context type is not one of the artifacts'.
    refused(typed, "properties.owner = 'ana'", "properties", "no artifact type")
    assert names(typed, "properties.owner = 'ana'", "c") == ["r1"]


def test_a_value_of_the_wrong_kind_for_the_declared_type(typed: m.MetadataStore) -> None:
    refused(
        typed,
        "properties.split = 3",
        "properties",
        "properties.split is declared STRING by every artifact type that has it",
        "a quoted string",
    )
    refused(typed, "properties.rows = '10'", "properties", "declared INT", "an integer")
    refused(typed, "properties.ok = 1", "properties", "declared BOOLEAN", "TRUE or FALSE")
    refused(typed, "properties.rows = TRUE", "properties", "declared INT")
    refused(typed, "properties.meta = 'x'", "properties", "STRUCT", "struct values")
    refused(typed, "properties.split.int_value = 3", "properties", "properties.split.string_value")
    refused(typed, "properties.rows.double_value > 1", "properties", "properties.rows.int_value")
    refused(typed, "contexts_r.properties.owner > 1", "contexts_r", "declared STRING")
    # Ints are stored as doubles for DOUBLE properties: numbers of either kind match.
    assert names(typed, "properties.score = 1") == ["d1"]
    assert names(typed, "properties.score.double_value < 1") == ["m1"]
    assert names(typed, "properties.rows = 10.0 AND properties.split = 'train'") == ["d1"]
    assert names(typed, "contexts_r.properties.owner = 'ana'") == ["d1"]
    assert names(typed, "properties.split = 3 OR properties.rows = 10") == ["d1"]


def test_a_property_declared_later_is_seen(typed: m.MetadataStore) -> None:
    """The types are read again before a filter is refused: a type added since is found."""
    refused(typed, "properties.epochs = 3", "properties", "'epochs'")
    trainer = typed.put_artifact_type(m.ArtifactType(name="T", properties={"epochs": P.INT}))
    typed.put_artifacts([m.Artifact(type_id=trainer, name="t1", properties={"epochs": 3})])
    assert names(typed, "properties.epochs = 3") == ["t1"]
    typed.put_artifact_type(m.ArtifactType(name="dataset"))
    assert names(typed, "type = 'dataset'") == []


def test_the_types_are_read_once_in_steady_state(
    typed: m.MetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[int] = []
    read = _filter_types._read_view

    def counting(conn: object) -> object:
        reads.append(1)
        return read(conn)  # type: ignore[arg-type]

    monkeypatch.setattr(_filter_types, "_read_view", counting)
    for _ in range(5):
        assert names(typed, "type = 'Dataset' AND properties.rows > 1") == ["d1"]
        assert names(typed, "name = 'd1'") == ["d1"]
    assert len(reads) <= 1
    # A refusal reads the types again (the view may be stale), then refuses.
    with pytest.raises(QuerySyntaxError):
        names(typed, "properties.rows = 'x'")
    assert len(reads) <= 2


def test_what_mlmd_answers_with_nothing(mlmd: Mlmd) -> None:
    """MLMD answers [] to these; the declared types show they can never match."""
    with pytest.raises(QuerySyntaxError, match="its string_value is never set"):
        mlmd.names("a", "properties.span.string_value = 'x'")
    with pytest.raises(QuerySyntaxError, match="declares a property 'nonexistent'"):
        mlmd.names("a", "properties.nonexistent.int_value = 1")
