"""Strings compare the same way on every backend: exactly, by code point, case-sensitively.

MySQL's default collations ignore case and trailing spaces, and SQLite's LIKE ignores ASCII case;
mltrail makes every backend behave like a plain byte-wise comparison (docs/backends.md).
"""

from __future__ import annotations

import pytest

import mltrail as m
from mltrail.errors import AlreadyExistsError

NAMES = ["x", "X", "x ", " x", "é", "É", "ß", "ss", "😀", "a_c", "abc", "Abc"]


@pytest.fixture
def named(store: m.MetadataStore) -> m.MetadataStore:
    """Artifacts (and contexts) of one type named like NAMES; those names differ by case,
    accents or trailing spaces only, which collation-aware databases would call equal."""
    kind = store.put_artifact_type(
        m.ArtifactType(name="Data", properties={"split": m.PropertyType.STRING})
    )
    store.put_artifacts(
        [m.Artifact(type_id=kind, name=n, uri=f"/u/{n}", properties={"split": n}) for n in NAMES]
    )
    run = store.put_context_type(m.ContextType(name="Run"))
    store.put_contexts([m.Context(type_id=run, name=n, external_id=f"ext-{n}") for n in NAMES])
    return store


def names(store: m.MetadataStore, query: str) -> list[str]:
    return sorted(str(a.name) for a in store.get_artifacts(filter_query=query))


def test_names_differing_only_in_case_or_spaces_are_distinct(named: m.MetadataStore) -> None:
    assert sorted(str(a.name) for a in named.get_artifacts()) == sorted(NAMES)
    assert sorted(str(c.name) for c in named.get_contexts()) == sorted(NAMES)
    for name in NAMES:
        found = named.get_artifact_by_type_and_name("Data", name)
        assert found is not None and found.name == name
        context = named.get_context_by_type_and_name("Run", name)
        assert context is not None and context.name == name
        assert [c.name for c in named.get_contexts_by_external_ids([f"ext-{name}"])] == [name]
        assert [a.name for a in named.get_artifacts_by_uri(f"/u/{name}")] == [name]
    assert named.get_artifact_by_type_and_name("Data", "ABC") is None
    assert named.get_artifact_by_type_and_name("data", "x") is None


def test_uniqueness_is_case_sensitive_but_exact(named: m.MetadataStore) -> None:
    kind = named.get_artifact_type("Data")
    assert kind is not None
    with pytest.raises(AlreadyExistsError):
        named.put_artifacts([m.Artifact(type_id=kind.id, name="X")])
    # Types differing in case are different types.
    lower = named.put_artifact_type(m.ArtifactType(name="data"))
    assert lower != kind.id
    assert {t.name for t in named.get_artifact_types()} == {"Data", "data"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("name = 'x'", ["x"]),
        ("name = 'X'", ["X"]),
        ("name = 'x '", ["x "]),
        ("name = 'É'", ["É"]),
        ("name = 'ss'", ["ss"]),
        ("name IN ('x', 'abc')", ["abc", "x"]),
        ("name != 'x' AND name LIKE 'x%'", ["x "]),
        ("name LIKE 'x%'", ["x", "x "]),
        ("name LIKE 'X%'", ["X"]),
        ("name LIKE 'é%'", ["é"]),
        ("name LIKE 'a%'", ["a_c", "abc"]),
        ("name LIKE 'A%'", ["Abc"]),
        ("name LIKE '%C'", []),
        ("name LIKE 'a\\\\_c'", ["a_c"]),
        ("name LIKE '_'", ["X", "x", "ß", "é", "É", "😀"]),
        ("properties.split = 'abc'", ["abc"]),
        ("properties.split LIKE 'AB%'", []),
        ("properties.split.string_value LIKE 'Ab%'", ["Abc"]),
        ("contexts_r.name = 'X'", []),  # no artifact is in a context
        # Ranges compare code points: every upper-case ASCII letter sorts before 'a'.
        ("name < 'a'", [" x", "Abc", "X"]),
        ("name >= 'x' AND name < 'y'", ["x", "x "]),
        ("name > 'z'", ["ß", "é", "É", "😀"]),
    ],
)
def test_filters_compare_exactly_by_code_point(
    named: m.MetadataStore, query: str, expected: list[str]
) -> None:
    assert names(named, query) == sorted(expected)


def test_long_and_four_byte_text_round_trips(store: m.MetadataStore) -> None:
    kind = store.put_artifact_type(
        m.ArtifactType(name="Doc", properties={"text": m.PropertyType.STRING})
    )
    long_text = "😀é" * 40_000 + "end"  # ~ 240 kB in UTF-8; beyond MySQL's TEXT and a b-tree row
    uri = "s3://bucket/" + "k" * 5000
    [artifact_id] = store.put_artifacts(
        [m.Artifact(type_id=kind, name="😀", uri=uri, properties={"text": long_text})]
    )
    [artifact] = store.get_artifacts_by_id([artifact_id])
    assert artifact.name == "😀" and artifact.uri == uri
    assert artifact.properties["text"] == long_text
    assert [a.id for a in store.get_artifacts_by_uri(uri)] == [artifact_id]
    # A filter's literals are at most 4,096 characters (docs/filter-queries.md#limits).
    query = f"properties.text LIKE '{long_text[:4_000]}%end'"
    assert [a.id for a in store.get_artifacts(filter_query=query)] == [artifact_id]
