"""Limits on the work one filter may ask for (docs/filter-queries.md#limits).

At each limit a query runs, on every backend, and finishes; one step beyond it is refused with a
QuerySyntaxError that names the limit and points at where it was crossed, before any SQL runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

import mltrail as m
from mltrail.backends.sql.schema import TypeKind
from mltrail.errors import QuerySyntaxError
from mltrail.query import filters
from mltrail.query.filters import DEFAULT_LIMITS, FilterLimits, analyze

# The remote client is exercised on one server here (one_remote, see tests/conftest.py).
pytestmark = pytest.mark.one_remote

LIMITS = DEFAULT_LIMITS


@pytest.fixture
def linked(store: m.MetadataStore) -> m.MetadataStore:
    """Artifacts in two contexts each, with a declared property of each value type."""
    props = {"n": m.PropertyType.INT, "s": m.PropertyType.STRING}
    at = store.put_artifact_type(m.ArtifactType(name="D", properties=props))
    ct = store.put_context_type(m.ContextType(name="C", properties=props))
    ctx = store.put_contexts(
        [m.Context(type_id=ct, name=n, properties={"n": i}) for i, n in enumerate("xy")]
    )
    ids = store.put_artifacts(
        [m.Artifact(type_id=at, name=f"a{i}", properties={"n": i, "s": "v"}) for i in range(40)]
    )
    store.put_attributions_and_associations(
        [m.Attribution(artifact_id=i, context_id=c) for i in ids for c in ctx], []
    )
    return store


def names(store: m.MetadataStore, query: str) -> list[str]:
    return sorted(str(a.name) for a in store.get_artifacts(filter_query=query))


def refused(store: m.MetadataStore, query: str, *fragments: str) -> QuerySyntaxError:
    with pytest.raises(QuerySyntaxError) as caught:
        store.get_artifacts(filter_query=query)
    error = caught.value
    for fragment in fragments:
        assert fragment in str(error), str(error)
    assert "SELECT" not in str(error)
    return error


def at(error: QuerySyntaxError, query: str, fault: str) -> None:
    """The error points at ``fault`` (the first line holding it)."""
    lines = query.splitlines()
    row = next(i for i, text in enumerate(lines) if fault in text)
    assert (error.line, error.column) == (row + 1, lines[row].index(fault) + 1), str(error)


# ------------------------------------------------------------------------ neighbours and joins


def aliases(count: int) -> str:
    return " AND ".join(f"contexts_c{i}.name = 'x'" for i in range(count))


def test_neighbour_aliases_up_to_the_limit(linked: m.MetadataStore) -> None:
    """The worst shape the limit allows (every alias matching every artifact) still answers."""
    everything = names(linked, "")
    assert names(linked, aliases(LIMITS.max_aliases)) == everything
    wide = " AND ".join(f"contexts_c{i}.id > 0" for i in range(LIMITS.max_aliases))
    assert names(linked, wide) == everything
    # Each alias joins its edge and its context; each distinct property one more: at the join
    # limit too.
    assert LIMITS.max_joins == 2 * LIMITS.max_aliases + 4
    joins = " AND ".join(
        [
            aliases(LIMITS.max_aliases),
            "contexts_c0.properties.n >= 0",
            "properties.n >= 0",
            "properties.s = 'v'",
            "custom_properties.u IS NULL",
        ]
    )
    assert names(linked, joins) == everything


def test_one_alias_too_many_is_refused(linked: m.MetadataStore) -> None:
    query = aliases(LIMITS.max_aliases + 1)
    error = refused(linked, query, f"at most {LIMITS.max_aliases}", "alias limit", "share one")
    at(error, query, f"contexts_c{LIMITS.max_aliases}.")
    # Conditions on one alias share its joins: any number of them is fine.
    same = " AND ".join(["contexts_c.name = 'x'"] * 20)
    assert names(linked, same) == names(linked, "")


def test_one_join_too_many_is_refused(linked: m.MetadataStore) -> None:
    props = [f"custom_properties.p{i} IS NULL" for i in range(LIMITS.max_joins + 1)]
    query = " AND ".join(props)
    error = refused(linked, query, f"more than {LIMITS.max_joins} joins", "join limit")
    at(error, query, f"custom_properties.p{LIMITS.max_joins} ")
    assert names(linked, " AND ".join(props[:-1])) == names(linked, "")


# ----------------------------------------------------------------- conditions, values, nesting


def test_conditions_up_to_the_limit(linked: m.MetadataStore) -> None:
    many = [f"properties.n = {i}" for i in range(LIMITS.max_conditions)]
    assert names(linked, " OR ".join(many)) == names(linked, "")
    negated = " AND ".join(f"NOT properties.n = {i + 1000}" for i in range(LIMITS.max_conditions))
    assert names(linked, negated) == names(linked, "")
    query = " OR ".join([*many, "name = 'a1'"])
    error = refused(linked, query, f"more than {LIMITS.max_conditions} conditions", "IN (")
    at(error, query, "name = 'a1'")


def test_in_lists_and_values_up_to_the_limits(linked: m.MetadataStore) -> None:
    values = ", ".join(str(i) for i in range(LIMITS.max_in_values))
    assert names(linked, f"properties.n IN ({values})") == names(linked, "")
    # Two lists at the IN limit: at the limit of values of one query.
    assert LIMITS.max_values == 2 * LIMITS.max_in_values
    zeros = ", ".join(["0"] * LIMITS.max_in_values)  # ids start at 1
    both = f"properties.n IN ({values}) AND id NOT IN ({zeros})"
    assert names(linked, both) == names(linked, "")
    # One more value in a list, or in the query.
    over = f"id IN ({values}, 77777)"
    error = refused(linked, over, f"{LIMITS.max_in_values + 1:,} values", "batches")
    at(error, over, "77777")
    more = f"{both} AND id = 77777"
    error = refused(linked, more, f"more than {LIMITS.max_values:,} values", "value limit")
    at(error, more, "77777")


def nested(depth: int, kind: str) -> str:
    if kind == "parens":
        return "(" * depth + "name = 'a1'" + ")" * depth
    if kind == "not":
        return "NOT " * depth + "name = 'a1'"
    # alternating, the compiled SQL nests AND, OR and the CASE of each NOT
    query = "name = 'a1'"
    for level in range(depth // 2):
        query = f"NOT (name = 'z{level}' {'OR' if level % 2 else 'AND'} {query})"
    return query


def expected_nested(everything: list[str], depth: int, kind: str) -> list[str]:
    selected = {"a1"}
    if kind == "not" and depth % 2:
        selected = set(everything) - selected
    if kind == "mixed":
        for level in range(depth // 2):  # nobody is named z<level>
            inner = selected if level % 2 else set()
            selected = set(everything) - inner
    return sorted(selected)


@pytest.mark.parametrize("kind", ["parens", "not", "mixed"])
def test_nesting_up_to_the_limit(linked: m.MetadataStore, kind: str) -> None:
    query = nested(LIMITS.max_depth, kind)
    assert names(linked, query) == expected_nested(names(linked, ""), LIMITS.max_depth, kind)
    error = refused(linked, nested(LIMITS.max_depth + 2, kind), "nesting limit", "deep")
    assert error.column > 1


def test_limits_together(linked: m.MetadataStore) -> None:
    """Nesting at its limit over neighbours and properties at the join limit, and the most
    conditions with NOTs and joins: the compiled SQL stays within every backend's bounds."""
    query = "properties.n = 1"
    for level in range(LIMITS.max_depth // 4):  # NOT ( ... OR NOT ( ... )): 4 deep per level
        # No context is of type Z: each level is NOT (NOT (inner) AND n <= 3), so inner OR n > 3.
        alias = f"contexts_c{level % 3}"
        query = (
            f"NOT ({alias}.properties.n >= 0 AND {alias}.type = 'Z' OR NOT ({query}) "
            "AND properties.n BETWEEN 0 AND 3)"
        )
    expected = sorted(f"a{i}" for i in range(40) if i == 1 or i > 3)
    assert names(linked, query) == expected
    many = " OR ".join(
        f"NOT (NOT (properties.n = {i} AND custom_properties.q{i % 10} IS NULL))"
        for i in range(LIMITS.max_conditions // 2)
    )
    assert names(linked, many) == names(linked, "")


def test_nesting_is_refused_before_anything_recursive_runs() -> None:
    """Thousands of parentheses are refused, not a RecursionError, cheaply."""
    query = "(" * 4_900 + "id = 1" + ")" * 4_900
    with pytest.raises(QuerySyntaxError, match="nesting limit") as caught:
        analyze(TypeKind.ARTIFACT, query)
    assert (caught.value.line, caught.value.column) == (1, LIMITS.max_depth + 1)
    with pytest.raises(QuerySyntaxError, match="nesting limit"):
        analyze(TypeKind.ARTIFACT, "NOT " * 2_400 + "id = 1")


def test_in_lists_and_not_in_predicates_are_not_nesting() -> None:
    query = " AND ".join(
        ["name NOT IN ('a', 'b')", "uri NOT LIKE 'x'", "external_id IS NOT NULL"] * 8
    )
    inner = "(" * (LIMITS.max_depth - 1) + query + ")" * (LIMITS.max_depth - 1)
    assert analyze(TypeKind.ARTIFACT, inner).params


# ------------------------------------------------------------------------------ text and values


def test_the_length_limit(linked: m.MetadataStore) -> None:
    padding = LIMITS.max_length - len("name = 'a1'")
    query = "name = 'a1'" + " " * padding
    assert names(linked, query) == ["a1"]
    error = refused(linked, query + "-", f"longer than {LIMITS.max_length:,} characters")
    assert (error.line, error.column) == (1, LIMITS.max_length + 1)


def test_a_huge_query_is_refused_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_parsing(text: str) -> None:
        raise AssertionError("parsed")

    monkeypatch.setattr(filters, "parse", no_parsing)
    query = "name = 'x' OR\n" * 400_000  # 5.6 MB
    with pytest.raises(QuerySyntaxError, match="length limit") as caught:
        analyze(TypeKind.ARTIFACT, query)
    error = caught.value
    assert "5,600,000" in str(error)
    assert len(error.query) <= LIMITS.max_length + 1 and len(str(error)) < 1_000
    assert error.query.splitlines()[error.line - 1][error.column - 1] == query[LIMITS.max_length]


def test_the_literal_limit(linked: m.MetadataStore) -> None:
    body = "a" * LIMITS.max_literal_length
    assert names(linked, f"name = '{body}'") == []
    assert names(linked, f"custom_properties.`{body}` IS NOT NULL") == []
    query = f"name = 'a1' OR name = '{body}b'"
    error = refused(linked, query, f"{LIMITS.max_literal_length + 1:,} characters", "string")
    at(error, query, f"'{body}")
    refused(linked, f"custom_properties.`{body}b` = 1", "quoted name")
    digits = "1" * (LIMITS.max_literal_length + 1)
    refused(linked, f"id = {digits}", "number")


def test_limits_can_be_chosen() -> None:
    small = FilterLimits(max_conditions=2, max_aliases=1)
    assert analyze(TypeKind.ARTIFACT, "id = 1 OR id = 2", limits=small).params
    with pytest.raises(QuerySyntaxError, match="more than 2 conditions"):
        analyze(TypeKind.ARTIFACT, "id = 1 OR id = 2 OR id = 3", limits=small)
    with pytest.raises(QuerySyntaxError, match="at most 1"):
        analyze(TypeKind.ARTIFACT, "contexts_a.id = 1 AND contexts_b.id = 1", limits=small)
    # The defaults are unchanged by it.
    assert analyze(TypeKind.ARTIFACT, "id = 1 OR id = 2 OR id = 3").params


# ---------------------------------------------------------------------- values no backend takes

INT64_MAX = 2**63 - 1


@pytest.mark.parametrize(
    "query",
    [
        f"id = {INT64_MAX}",
        f"id = {-INT64_MAX - 1}",
        f"properties.n IN ({INT64_MAX}, {-INT64_MAX - 1})",
        "properties.n < 1e308",
        "properties.n > -1.7e308",
        "properties.n >= 1e-999",  # rounds to 0.0: a finite double
    ],
)
def test_extreme_values_that_fit(linked: m.MetadataStore, query: str) -> None:
    got = names(linked, query)
    assert got == ([] if query.startswith(("id", "properties.n IN")) else names(linked, ""))


@pytest.mark.parametrize(
    ("query", "fault", "reason"),
    [
        (f"id = {INT64_MAX + 1}", str(INT64_MAX + 1), "out of range for a 64-bit integer"),
        (f"id = {-INT64_MAX - 2}", str(-INT64_MAX - 2), "out of range for a 64-bit integer"),
        ("id = 99999999999999999999", "99999999999999999999", "64-bit"),
        ("properties.n IN (1, 99999999999999999999)", "99999999999999999999", "64-bit"),
        ("properties.n < 1e999", "1e999", "too large for a double"),
        ("properties.n > -1e999", "-1e999", "infinite"),
        ("name = 'a' OR\n  properties.n.double_value = 2e400", "2e400", "infinite"),
    ],
)
def test_values_no_backend_takes_are_refused(
    linked: m.MetadataStore, query: str, fault: str, reason: str
) -> None:
    error = refused(linked, query, reason)
    at(error, query, fault)


def test_more_digits_than_python_converts() -> None:
    digits = "9" * 5_000
    roomy = FilterLimits(max_literal_length=6_000)
    with pytest.raises(QuerySyntaxError, match="more than 4,300 digits") as caught:
        analyze(TypeKind.ARTIFACT, f"id = {digits}", limits=roomy)
    assert caught.value.column == 6
    with pytest.raises(QuerySyntaxError, match="64-bit"):
        analyze(TypeKind.ARTIFACT, f"id = {'9' * 4_000}", limits=roomy)


SURROGATES: list[tuple[str, Callable[[str], str]]] = [
    ("string", lambda s: f"name = 'a{s}b'"),
    ("quoted name", lambda s: f"custom_properties.`k{s}` = 1"),
    ("bare", lambda s: f"name = 'a' AND {s}"),
]


@pytest.mark.parametrize(("where", "make"), SURROGATES, ids=[w for w, _ in SURROGATES])
def test_lone_surrogates_are_refused(
    linked: m.MetadataStore, where: str, make: Callable[[str], str]
) -> None:
    query = make("\ud800")
    error = refused(linked, query, "lone surrogate (U+D800)")
    assert (error.line, error.column) == (1, query.index("\ud800") + 1)
    # The error can be printed and sent: the surrogate is replaced in what it shows.
    str(error).encode("utf-8")
    assert "\ufffd" in error.query
    # A well-formed character outside the BMP is fine.
    assert names(linked, make("\U0001f600").replace(" AND \U0001f600", "")) == []


# ------------------------------------------------------------------------------------- the docs

DOC = Path(__file__).resolve().parents[2] / "docs" / "filter-queries.md"


def test_the_documented_limits_are_the_defaults() -> None:
    section = DOC.read_text(encoding="utf-8").split("## Limits", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    documented = [re.search(r"\| ([\d,]+)", row) for row in rows[1:]]
    values = [int(found.group(1).replace(",", "")) for found in documented if found]
    assert values == [
        LIMITS.max_length,
        LIMITS.max_literal_length,
        LIMITS.max_depth,
        LIMITS.max_conditions,
        LIMITS.max_in_values,
        LIMITS.max_values,
        LIMITS.max_aliases,
        LIMITS.max_joins,
    ]


def test_the_documented_examples_run() -> None:
    text = DOC.read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "connect(" in b]
    assert blocks
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), {})
    # The error shown in the Limits section is the one raised.
    shown = text.split("## Limits", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    query = shown.splitlines()[1].strip()
    with m.connect() as store, pytest.raises(QuerySyntaxError) as caught:
        store.get_artifacts(filter_query=query)
    assert str(caught.value) == shown.rstrip("\n")


@pytest.mark.parametrize(("where", "make"), SURROGATES, ids=[w for w, _ in SURROGATES])
def test_nul_characters_are_refused(
    linked: m.MetadataStore, where: str, make: Callable[[str], str]
) -> None:
    """No stored name or value holds NUL; PostgreSQL could not even compare with one."""
    query = make("\x00")
    error = refused(linked, query, "NUL character")
    assert (error.line, error.column) == (1, query.index("\x00") + 1)
    assert "\x00" not in str(error)
