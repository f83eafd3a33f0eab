"""The filter query language: what each query selects.

The fixture is the store MLMD's filter language was verified on (research/mlmd.md §3.5). Where
MLMD is defective mltrail is fixed; the semantics asserted here are those of
``mltrail.query.filters``: two-valued logic (a comparison with a missing value is false, ``!=``,
NOT LIKE, NOT IN and NOT BETWEEN are exact negations), one related row per neighbour alias, and a
short form ``properties.p <op> value`` whose slot follows the value.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from mlmd_store import Mlmd

import mltrail as m
from mltrail.errors import InvalidArgumentError, QuerySyntaxError

# The remote client is exercised on one server here (one_remote, see tests/conftest.py).
pytestmark = pytest.mark.one_remote

ALL = ["d1", "d2", "d3", "m1", "m2"]


def minus(names: list[str], *removed: list[str] | str) -> list[str]:
    gone = {r for group in removed for r in ([group] if isinstance(group, str) else group)}
    return [n for n in names if n not in gone]


# ------------------------------------------------------------------------ MLMD's verified table

ARTIFACT_TABLE: dict[str, list[str]] = {
    "id IN ({d1}, {d3})": ["d1", "d3"],
    "type = 'Model'": ["m1", "m2"],
    "type_id = {Model}": ["m1", "m2"],
    "name LIKE 'd%'": ["d1", "d2", "d3"],
    "uri LIKE '/data/%'": ["d1", "d2"],
    "external_id IS NULL": ["d2", "d3", "m1", "m2"],
    "state = LIVE": ["d1"],
    "state != LIVE": ["d2", "d3", "m1", "m2"],
    "state IS NULL": ["m1"],
    "state IN (PENDING, LIVE)": ["d1", "d2"],
    "NOT(create_time_since_epoch < 1 OR last_update_time_since_epoch < 1)": ALL,
    "properties.acc.double_value > 0.95": ["d2"],
    "properties.ok.bool_value = FALSE": ["d2"],
    "custom_properties.`my prop`.string_value = 'x'": ["d1"],
    # MLMD answers [] to properties.span.string_value = 'x' (span is declared INT) and to
    # properties.nonexistent.int_value = 1; mltrail says why they can never match
    # (test_filter_hints.py).
    "contexts_a.name = 'run1'": ["d1", "m1"],
    "contexts_a.name = 'run1' AND contexts_b.name = 'pipe'": ["d1"],
    "contexts_a.name = 'run1' AND contexts_a.name = 'pipe'": [],
    "contexts_a.name = 'run1' OR contexts_b.name = 'run2'": ["d1", "d2", "m1"],
    "events_0.type IN (INPUT, OUTPUT)": ["d1", "d2", "m1"],
    "events_0.execution_id = {train1}": ["d1", "m1"],
    "name BETWEEN 'd1' AND 'd2'": ["d1", "d2"],
    "id > {d1} AND id < {m1} OR name = 'm2'": ["d2", "d3", "m2"],
    # Where MLMD is defective (research/mlmd.md §3.4), mltrail is fixed:
    "state = ABANDONED": ["d3"],
    "state = REFERENCE": ["m2"],
    "events_0.type = PENDING_OUTPUT": ["m2"],
    "properties.span.int_value IS NULL": ["d3", "m1", "m2"],
    "NOT state = LIVE": ["d2", "d3", "m1", "m2"],
}

EXECUTION_TABLE: dict[str, list[str]] = {
    "last_known_state != RUNNING": ["train1"],
    "last_known_state NOT IN (FAILED, CANCELED)": ["train1", "train2"],
    "events_0.artifact_id = {d1}": ["train1"],
    "contexts_r.name = 'run2'": ["train2"],
    "last_known_state = COMPLETE": ["train1"],
    "NOT last_known_state = RUNNING": ["train1"],
    "last_known_state IS NULL": [],
    "events_0.type = PENDING_OUTPUT": ["train2"],
    "events_0.type = INPUT AND events_0.artifact_id = {d2}": ["train2"],
    "events_0.type = INPUT AND events_0.artifact_id = {m1}": [],
}

CONTEXT_TABLE: dict[str, list[str]] = {
    "parent_contexts_a.name = 'pipe'": ["run1", "run2"],
    "child_contexts_a.type = 'Run'": ["pipe"],
    "artifacts_a.name = 'd1'": ["pipe", "run1"],
    "artifacts_a.state IN (PENDING, LIVE)": ["pipe", "run1", "run2"],
    "artifacts_a.type = 'Model'": ["run1"],
    "executions_a.last_known_state = RUNNING": ["run2"],
    # MLMD: InternalError "no such column"; mltrail answers them.
    "artifacts_a.external_id = 'ext-d1'": ["pipe", "run1"],
    "executions_a.external_id = 'x'": [],
    "child_contexts_a.create_time_since_epoch > 0": ["pipe"],
    "child_contexts_a.last_update_time_since_epoch > 0": ["pipe"],
    "parent_contexts_a.create_time_since_epoch > 0": ["run1", "run2"],
    # No related row: the neighbour's value is missing, so IS NULL holds (pipe runs nothing).
    "executions_a.name IS NULL": ["pipe"],
    "executions_a.name IS NOT NULL": ["run1", "run2"],
    "artifacts_a.state = ABANDONED": [],
    "artifacts_a.state IS NULL": ["run1"],
}


REJECTED = [
    # Closed grammar: no backend functions, no subqueries, no bare operands.
    ("a", "LOWER(name) = 'd1'"),
    ("a", "LENGTH(uri) > 9"),
    ("a", "id IN (SELECT 1)"),
    ("a", "id IN (SELECT id FROM mlt_artifact)"),
    ("a", "uri"),
    ("a", "id + 1 = 2"),
    # Unknown names, type mismatches, neighbours that do not exist for the kind.
    ("a", "foo = 1"),
    ("a", "name = 1"),
    ("a", "parent_contexts_a.name = 'x'"),
    ("a", "events_0.artifact_id = {d1}"),
    ("e", "uri = 'x'"),
    ("e", "state = LIVE"),
    ("e", "events_0.execution_id = {train1}"),
    ("c", "contexts_a.name = 'x'"),
    ("c", "events_0.type = INPUT"),
    # Numbers are not accepted for enum attributes.
    ("a", "state = 5"),
    ("a", "state IN (1, 2)"),
    ("e", "last_known_state = 3"),
    ("a", "events_0.type = 3"),
    ("c", "artifacts_a.state = 2"),
    ("c", "executions_a.last_known_state != 2"),
]


def test_mlmd_table(mlmd: Mlmd) -> None:
    """MLMD's verified table, with our answers where MLMD is defective."""
    tables = {"a": ARTIFACT_TABLE, "e": EXECUTION_TABLE, "c": CONTEXT_TABLE}
    got = {(kind, q): mlmd.names(kind, q) for kind, table in tables.items() for q in table}
    assert got == {(kind, q): names for kind, table in tables.items() for q, names in table.items()}
    accepted = []
    for kind, query in REJECTED:
        try:
            mlmd.names(kind, query)
        except QuerySyntaxError:
            continue
        accepted.append((kind, query))
    assert accepted == []
    # An empty filter is no filter.
    assert mlmd.names("a", "") == ALL
    assert mlmd.names("a", "   ") == ALL
    # executions_a.external_id (an InternalError in MLMD) selects by the execution's external id.
    [train1] = mlmd.store.get_executions_by_id([mlmd.ids["train1"]])
    train1.external_id = "ext-t1"
    mlmd.store.put_executions([train1])
    assert mlmd.names("c", "executions_a.external_id = 'ext-t1'") == ["run1"]
    assert mlmd.names("c", "executions_a.external_id != 'ext-t1'") == ["pipe", "run2"]
    assert mlmd.names("e", "external_id = 'ext-t1'") == ["train1"]


# --------------------------------------------------------------------------- two-valued logic

# Positive predicates over the node's own attributes and properties; several are about values
# some nodes lack (unset state, missing properties, properties in another slot).
PREDICATES = [
    "state = LIVE",
    "state IN (PENDING, ABANDONED)",
    "state IS NULL",
    "properties.span = 1",
    "properties.span.int_value > 1",
    "properties.acc.double_value < 0.9",
    "properties.split LIKE 'tr%'",
    "properties.ok = TRUE",
    "properties.ok.bool_value = FALSE",
    "custom_properties.n BETWEEN 5 AND 10",
    "custom_properties.n IN (3, 4)",
    "custom_properties.`my prop` = 'x'",
    "external_id = 'ext-d1'",
    "external_id IS NULL",
    "uri LIKE '/models/%'",
    "name BETWEEN 'd2' AND 'm1'",
    "type = 'Model'",
    "properties.span IS NULL",
    "properties.acc.int_value IS NULL",
]


def test_and_or_not_are_set_operations(mlmd: Mlmd) -> None:
    """AND, OR and NOT over AND/OR (De Morgan) follow set algebra, missing values included."""
    chosen = PREDICATES[::3]
    sets = {p: set(mlmd.names("a", p)) for p in chosen}
    got: dict[str, list[str]] = {}
    expected: dict[str, list[str]] = {}
    for p, q in itertools.combinations(chosen, 2):
        both, either = sets[p] & sets[q], sets[p] | sets[q]
        for query, names in (
            (f"{p} AND {q}", both),
            (f"{p} OR {q}", either),
            (f"NOT ({p} AND {q})", set(ALL) - both),
            (f"NOT ({p} OR {q})", set(ALL) - either),
        ):
            got[query] = mlmd.names("a", query)
            expected[query] = sorted(names)
    assert got == expected


NEGATED_FORMS = [
    ("state = LIVE", "state != LIVE"),
    ("state = LIVE", "state <> LIVE"),
    ("state IN (PENDING, LIVE)", "state NOT IN (PENDING, LIVE)"),
    ("state IS NULL", "state IS NOT NULL"),
    ("properties.span = 1", "properties.span != 1"),
    ("properties.span.int_value = 1", "properties.span.int_value != 1"),
    ("properties.span.int_value IS NULL", "properties.span.int_value IS NOT NULL"),
    ("properties.span IS NULL", "properties.span IS NOT NULL"),
    ("properties.acc.double_value = 0.5", "properties.acc.double_value <> 0.5"),
    ("properties.split LIKE 'tr%'", "properties.split NOT LIKE 'tr%'"),
    ("custom_properties.n IN (3, 4)", "custom_properties.n NOT IN (3, 4)"),
    ("custom_properties.n BETWEEN 5 AND 10", "custom_properties.n NOT BETWEEN 5 AND 10"),
    ("external_id = 'ext-d1'", "external_id != 'ext-d1'"),
    ("name LIKE 'd%'", "name NOT LIKE 'd%'"),
    ("type = 'Model'", "type != 'Model'"),
    ("type IN ('Model')", "type NOT IN ('Model')"),
    ("events_e.type = INPUT", "events_e.type != INPUT"),
]


def test_negation_is_the_exact_complement(mlmd: Mlmd) -> None:
    """NOT p selects exactly the nodes p does not; !=, NOT LIKE, NOT IN, NOT BETWEEN, IS NOT NULL
    are NOT of their positive forms."""
    got = {p: mlmd.names("a", f"NOT {p}") for p in PREDICATES}
    expected = {p: minus(ALL, mlmd.names("a", p)) for p in PREDICATES}
    assert got == expected
    double = {p: mlmd.names("a", f"NOT NOT ({p})") for p in PREDICATES}
    assert double == {p: mlmd.names("a", p) for p in PREDICATES}
    negative = {neg: mlmd.names("a", neg) for _, neg in NEGATED_FORMS}
    complement = {neg: minus(ALL, mlmd.names("a", pos)) for pos, neg in NEGATED_FORMS}
    with_not = {neg: mlmd.names("a", f"NOT {pos}") for pos, neg in NEGATED_FORMS}
    assert negative == complement
    assert negative == with_not


def test_missing_values(mlmd: Mlmd) -> None:
    """A comparison with a missing value is false; its negation is true; IS NULL means missing."""
    queries = {
        # Only d1 and d2 have span.
        "properties.span.int_value < 2": ["d1"],
        "NOT properties.span.int_value < 2": ["d2", "d3", "m1", "m2"],
        "properties.span.int_value >= 2": ["d2"],
        "properties.span.int_value != 1": ["d2", "d3", "m1", "m2"],
        "properties.span.int_value IS NOT NULL": ["d1", "d2"],
        # acc is declared DOUBLE: no node has an int value for it.
        "properties.acc.int_value IS NULL": ALL,
        "properties.acc.double_value IS NULL": ["d3", "m1", "m2"],
        "properties.acc IS NULL": ["d3", "m1", "m2"],
        # A missing state is neither LIVE nor any other state.
        "state NOT IN (PENDING, LIVE)": ["d3", "m1", "m2"],
        "state IN (UNKNOWN)": [],
        # n is set on d1 (7) and m2 (3).
        "custom_properties.n != 7": ["d2", "d3", "m1", "m2"],
        "custom_properties.n NOT BETWEEN 5 AND 10": ["d2", "d3", "m1", "m2"],
        "NOT (properties.span = 1 OR properties.split = 'eval')": ["d3", "m1", "m2"],
        "properties.span != 1 AND properties.split != 'eval'": ["d3", "m1", "m2"],
        "NOT (properties.span = 1 AND state = LIVE)": ["d2", "d3", "m1", "m2"],
        "NOT (custom_properties.n > 5 OR state IS NULL)": ["d2", "d3", "m2"],
    }
    assert mlmd.answers("a", queries) == queries


# ------------------------------------------------------------------------------- short forms


def test_short_form_picks_the_slot_of_the_value(store: m.MetadataStore) -> None:
    loose = store.put_artifact_type(m.ArtifactType(name="Loose"))
    values: dict[str, Any] = {
        "int1": 1,
        "int5": 5,
        "dbl95": 0.95,
        "dbl05": 0.5,
        "str95": "0.95",
        "yes": True,
        "no": False,
        "struct": {"k": 1},
    }
    artifacts = [
        m.Artifact(type_id=loose, name=name, custom_properties={"v": value})
        for name, value in values.items()
    ]
    artifacts.append(m.Artifact(type_id=loose, name="none"))
    store.put_artifacts(artifacts)
    everything = sorted([*values, "none"])

    def names(query: str) -> list[str]:
        return sorted(str(a.name) for a in store.get_artifacts(filter_query=query))

    queries = {
        # Numbers compare int and double values (never strings or booleans).
        "custom_properties.v > 0.9": ["dbl95", "int1", "int5"],
        "custom_properties.v < 1": ["dbl05", "dbl95"],
        "custom_properties.v = 1": ["int1"],
        "custom_properties.v = 1.0": ["int1"],
        "custom_properties.v = 0.95": ["dbl95"],
        "custom_properties.v = 0": [],
        "custom_properties.v IN (1, 0.95)": ["dbl95", "int1"],
        "custom_properties.v BETWEEN 0.9 AND 2": ["dbl95", "int1"],
        # Strings compare string values.
        "custom_properties.v = '0.95'": ["str95"],
        "custom_properties.v = '1'": [],
        "custom_properties.v LIKE '0.%'": ["str95"],
        # TRUE / FALSE compare bool values.
        "custom_properties.v = TRUE": ["yes"],
        "custom_properties.v = FALSE": ["no"],
        "custom_properties.v != TRUE": minus(everything, "yes"),
        # Negations are exact: everything else, nodes without v included.
        "custom_properties.v != 1": minus(everything, "int1"),
        "NOT custom_properties.v > 0.9": minus(everything, "dbl95", "int1", "int5"),
        # IS NULL: the node has no such property (a struct value is a value).
        "custom_properties.v IS NULL": ["none"],
        "custom_properties.v IS NOT NULL": minus(everything, "none"),
        "custom_properties.v.int_value IS NULL": minus(everything, "int1", "int5"),
        "custom_properties.v.int_value IS NOT NULL": ["int1", "int5"],
        "custom_properties.v.double_value > 0.9": ["dbl95"],
        "custom_properties.v.string_value = '0.95'": ["str95"],
        "custom_properties.v.bool_value = TRUE": ["yes"],
        # A property of another name: nothing.
        "custom_properties.w > 0": [],
    }
    assert {q: names(q) for q in queries} == queries
    # No type declares v: the declared properties can never match, and the error says so.
    with pytest.raises(QuerySyntaxError, match=r"custom_properties\.v"):
        names("properties.v > 0")


SHORT_FORMS: dict[str, list[str]] = {
    "properties.acc > 0.9": ["d2"],
    "properties.acc > 0": ["d1", "d2"],
    "properties.span > 1": ["d2"],
    "properties.span >= 1": ["d1", "d2"],
    "properties.span = 2.0": ["d2"],
    "properties.split = 'train'": ["d1"],
    "properties.ok = TRUE": ["d1"],
    "properties.ok = false": ["d2"],
    "custom_properties.n > 5": ["d1"],
    "custom_properties.n <= 5": ["m2"],
}


# ------------------------------------------------------------------------ names and literals


def test_quoted_property_names(store: m.MetadataStore) -> None:
    kind = store.put_artifact_type(m.ArtifactType(name="Odd"))
    props: dict[str, dict[str, Any]] = {
        "spaced": {"my prop": "x"},
        "dotted": {"a.b": 1},
        "both": {"dotted.name with space": "y"},
        "odd": {"odd-chars:/x": 2.5},
        "plain": {"a": 3},
    }
    store.put_artifacts(
        [m.Artifact(type_id=kind, name=n, custom_properties=p) for n, p in props.items()]
    )

    def names(query: str) -> list[str]:
        return sorted(str(a.name) for a in store.get_artifacts(filter_query=query))

    queries = {
        "custom_properties.`my prop` = 'x'": ["spaced"],
        "custom_properties.`my prop`.string_value = 'x'": ["spaced"],
        "custom_properties.`a.b` = 1": ["dotted"],
        "custom_properties.`a.b`.int_value = 1": ["dotted"],
        "custom_properties.`dotted.name with space`.string_value = 'y'": ["both"],
        "custom_properties.`odd-chars:/x` > 2": ["odd"],
        "custom_properties.`a` = 3": ["plain"],
        "custom_properties.a = 3": ["plain"],
        "custom_properties.`a.b` IS NULL": ["both", "odd", "plain", "spaced"],
    }
    assert {q: names(q) for q in queries} == queries
    # Unquoted, `a.b` is property a with slot b: not a slot, so an error rather than a silent [].
    with pytest.raises(QuerySyntaxError):
        names("custom_properties.a.b = 1")


def test_names_that_start_with_keywords(store: m.MetadataStore) -> None:
    """Property names beginning with AND, OR, NOT, IN, IS, LIKE, NULL, TRUE... are names."""
    kind = store.put_artifact_type(m.ArtifactType(name="Words"))
    words = [
        "notes",
        "nothing",
        "order",
        "origin",
        "android",
        "index",
        "innocent",
        "is_best",
        "likes",
        "between_x",
        "null_count",
        "true_positive",
        "false_rate",
    ]
    store.put_artifacts(
        [m.Artifact(type_id=kind, name=w, custom_properties={w: i}) for i, w in enumerate(words)]
    )
    got = {
        w: [str(a.name) for a in store.get_artifacts(filter_query=f"custom_properties.{w} = {i}")]
        for i, w in enumerate(words)
    }
    assert got == {w: [w] for w in words}


def test_string_literals_escapes_and_quotes(store: m.MetadataStore) -> None:
    kind = store.put_artifact_type(m.ArtifactType(name="Named"))
    names_ = ["it's", 'say "hi"', "back\\slash", "tab\tname", "new\nline", "a--b", "plain"]
    store.put_artifacts([m.Artifact(type_id=kind, name=n) for n in names_])

    def names(query: str) -> list[str]:
        return sorted(str(a.name) for a in store.get_artifacts(filter_query=query))

    queries = {
        r"name = 'it\'s'": ["it's"],
        'name = "it\'s"': ["it's"],
        r'name = "say \"hi\""': ['say "hi"'],
        "name = 'say \"hi\"'": ['say "hi"'],
        r"name = 'back\\slash'": ["back\\slash"],
        r"name = 'tab\tname'": ["tab\tname"],
        r"name = 'new\nline'": ["new\nline"],
        # -- inside a string is part of the string, not a comment.
        "name = 'a--b'": ["a--b"],
        'name IN (\'it\\\'s\', "say \\"hi\\"")': ["it's", 'say "hi"'],
        r"name LIKE '%\'%'": ["it's"],
        r"name != 'it\'s' AND name LIKE '%\"%'": ['say "hi"'],
    }
    assert {q: names(q) for q in queries} == queries


def test_like_wildcards(store: m.MetadataStore) -> None:
    kind = store.put_artifact_type(m.ArtifactType(name="Liked"))
    names_ = ["abc", "a_c", "abbc", "ac", "100%", "1000", "x100%y"]
    store.put_artifacts([m.Artifact(type_id=kind, name=n) for n in names_])

    def names(query: str) -> list[str]:
        return sorted(str(a.name) for a in store.get_artifacts(filter_query=query))

    queries = {
        "name LIKE 'a_c'": ["a_c", "abc"],
        "name LIKE 'a%c'": ["a_c", "abbc", "abc", "ac"],
        "name LIKE 'a__c'": ["abbc"],
        "name LIKE '100%'": ["100%", "1000"],
        "name LIKE '%100%'": ["100%", "1000", "x100%y"],
        "name LIKE '%'": sorted(names_),
        # A backslash (written \\ inside the literal) makes a wildcard literal.
        r"name LIKE 'a\\_c'": ["a_c"],
        r"name LIKE '100\\%'": ["100%"],
        r"name LIKE '%\\%%'": ["100%", "x100%y"],
        "name NOT LIKE 'a%'": ["100%", "1000", "x100%y"],
    }
    assert {q: names(q) for q in queries} == queries


IN_LISTS: dict[str, list[str]] = {
    "id IN ({d2})": ["d2"],
    "id IN ({d1}, {m2}, 999999)": ["d1", "m2"],
    "id NOT IN ({d1}, {m2})": ["d2", "d3", "m1"],
    "name IN ('d1', \"m2\", 'nope')": ["d1", "m2"],
    "properties.split IN ('train', 'eval')": ["d1", "d2"],
    "properties.split NOT IN ('train')": ["d2", "d3", "m1", "m2"],
    "state IN (LIVE, REFERENCE, ABANDONED)": ["d1", "d3", "m2"],
    "state NOT IN (LIVE, REFERENCE, ABANDONED)": ["d2", "m1"],
    "events_0.type IN (PENDING_OUTPUT, OUTPUT)": ["m1", "m2"],
    "custom_properties.n IN (7, 3.0)": ["d1", "m2"],
    "properties.ok IN (TRUE)": ["d1"],
}


BETWEEN: dict[str, list[str]] = {
    "id BETWEEN {d2} AND {m1}": ["d2", "d3", "m1"],
    "id NOT BETWEEN {d2} AND {m1}": ["d1", "m2"],
    "name BETWEEN 'd2' AND 'm1'": ["d2", "d3", "m1"],
    "properties.acc BETWEEN 0.4 AND 0.6": ["d1"],
    "properties.acc.double_value BETWEEN 0.5 AND 0.97": ["d1", "d2"],
    # BETWEEN's AND is not the boolean AND, and binds first.
    "id BETWEEN {d1} AND {d2} AND name = 'd2'": ["d2"],
    "name = 'm1' OR id BETWEEN {d1} AND {d2}": ["d1", "d2", "m1"],
}


PRECEDENCE: dict[str, list[str]] = {
    "id > {d1} AND id < {m1} OR name = 'm2'": ["d2", "d3", "m2"],
    "name = 'm2' OR id > {d1} AND id < {m1}": ["d2", "d3", "m2"],
    "(name = 'm2' OR id > {d1}) AND id < {m1}": ["d2", "d3"],
    "name = 'd1' OR name = 'd2' AND state = LIVE": ["d1"],
    "(name = 'd1' OR name = 'd2') AND state = PENDING": ["d2"],
    "NOT name = 'd1' AND name LIKE 'd%'": ["d2", "d3"],
    "NOT (name = 'd1' AND name LIKE 'd%')": ["d2", "d3", "m1", "m2"],
    "NOT name = 'd1' OR name = 'd1'": ALL,
    "((((name = 'd3'))))": ["d3"],
    "NOT (NOT (name = 'd3' OR (name = 'm1' AND state IS NULL)))": ["d3", "m1"],
}


KEYWORDS: dict[str, list[str]] = {
    "name like 'd%' and not state is null or name in ('m2')": ["d1", "d2", "d3", "m2"],
    "id BeTwEeN {d2} aNd {d3}": ["d2", "d3"],
    "properties.ok.bool_value = true": ["d1"],
    "properties.ok.bool_value = False": ["d2"],
    "state Is Not Null": ["d1", "d2", "d3", "m2"],
    "name NoT LiKe 'd%'": ["m1", "m2"],
    "state nOt In (LIVE)": ["d2", "d3", "m1", "m2"],
    "not name = 'd1' Or name = 'd1'": ALL,
}


COMMENTS: dict[str, list[str]] = {
    "-- leading comment\nname = 'd1'": ["d1"],
    "name = 'd1' -- trailing": ["d1"],
    "name = 'd1'--no space": ["d1"],
    "name = 'd1' -- it's a comment with a quote\n OR name = 'm1'": ["d1", "m1"],
    "name = 'd1'\n-- OR name = 'm1'": ["d1"],
    "name = 'd1'\n  -- one\n  -- two\n  OR name = 'd2' -- three": ["d1", "d2"],
}


def test_operators_and_syntax(mlmd: Mlmd) -> None:
    """Short forms, IN, BETWEEN, precedence, parentheses, keyword case and comments."""
    queries = {
        **SHORT_FORMS,
        **IN_LISTS,
        **BETWEEN,
        **PRECEDENCE,
        **KEYWORDS,
        **COMMENTS,
    }
    assert len(queries) == sum(
        len(d) for d in (SHORT_FORMS, IN_LISTS, BETWEEN, PRECEDENCE, KEYWORDS, COMMENTS)
    )
    assert mlmd.answers("a", queries) == queries


# -------------------------------------------------------------------------------- neighbours


def _neighbour_data(mlmd: Mlmd) -> None:
    """run1 and pipe get custom property x (1 and 2); train1 gets lr; two timed events."""
    store, ids = mlmd.store, mlmd.ids
    contexts = store.get_contexts_by_id([ids["run1"], ids["pipe"]])
    for context in contexts:
        context.custom_properties["x"] = 1 if context.name == "run1" else 2
    store.put_contexts(contexts)
    [train1] = store.get_executions_by_id([ids["train1"]])
    train1.custom_properties["lr"] = 0.1
    store.put_executions([train1])
    store.put_events(
        [
            m.Event(
                artifact_id=ids["m1"],
                execution_id=ids["train2"],
                type=m.EventType.INPUT,
                milliseconds_since_epoch=1000,
            ),
            m.Event(
                artifact_id=ids["d3"],
                execution_id=ids["train2"],
                type=m.EventType.INPUT,
                milliseconds_since_epoch=5000,
            ),
        ]
    )


NEIGHBOURS_A: dict[str, list[str]] = {
    # Same alias = same related row; different aliases are independent.
    "contexts_a.name = 'run1' AND contexts_a.type = 'Run'": ["d1", "m1"],
    "contexts_a.name = 'pipe' AND contexts_a.type = 'Run'": [],
    "contexts_a.name = 'pipe' AND contexts_b.type = 'Run'": ["d1"],
    "contexts_a.custom_properties.x = 1": ["d1", "m1"],
    "contexts_a.custom_properties.x = 2": ["d1"],
    "contexts_a.custom_properties.x = 1 AND contexts_a.custom_properties.x = 2": [],
    "contexts_a.custom_properties.x = 1 AND contexts_b.custom_properties.x = 2": ["d1"],
    "contexts_a.custom_properties.x = 2 AND contexts_a.name = 'run1'": [],
    "contexts_a.custom_properties.x = 2 AND contexts_b.name = 'run1'": ["d1"],
    "contexts_a.custom_properties.x > 0 AND custom_properties.n = 7": ["d1"],
    # The node's own properties are not its neighbours'.
    "custom_properties.x = 1": [],
    # No related row with a value: missing.
    "contexts_a.custom_properties.x IS NULL": ["d2", "d3", "m2"],
    "contexts_a.id IS NULL": ["d3", "m2"],
    # Events: same alias = same event.
    "events_e.type = OUTPUT AND events_f.type = INPUT": ["m1"],
    "events_e.type = OUTPUT AND events_e.type = INPUT": [],
    "events_e.type = INPUT AND events_e.execution_id = {train2}": ["d2", "d3", "m1"],
    "events_e.type = OUTPUT AND events_e.execution_id = {train2}": [],
    "events_e.milliseconds_since_epoch < 2000": ["m1"],
    "events_e.milliseconds_since_epoch BETWEEN 1000 AND 5000": ["d3", "m1"],
    "events_e.milliseconds_since_epoch > 5000": ["d1", "d2", "m1", "m2"],
}


NEIGHBOURS_E: dict[str, list[str]] = {
    "contexts_c.custom_properties.x = 1": ["train1"],
    "contexts_c.custom_properties.x > 0 AND custom_properties.lr < 1": ["train1"],
    "contexts_c.name = 'run2' AND contexts_c.type_id = {Run}": ["train2"],
    "events_e.artifact_id = {m1} AND events_e.type = INPUT": ["train2"],
    "events_e.artifact_id = {m1} AND events_e.type = OUTPUT": ["train1"],
    "events_a.artifact_id = {d1} AND events_b.artifact_id = {m1}": ["train1"],
    "events_a.artifact_id = {d1} AND events_a.artifact_id = {m1}": [],
    "events_e.milliseconds_since_epoch < 2000": ["train2"],
}


NEIGHBOURS_C: dict[str, list[str]] = {
    "parent_contexts_p.custom_properties.x = 2": ["run1", "run2"],
    "child_contexts_c.custom_properties.x = 1": ["pipe"],
    "child_contexts_c.name = 'run2' AND child_contexts_c.custom_properties.x = 1": [],
    "child_contexts_c.name = 'run2' AND child_contexts_d.custom_properties.x = 1": ["pipe"],
    "artifacts_a.properties.span = 2": ["run2"],
    "artifacts_a.properties.split = 'train' AND artifacts_a.properties.split = 'eval'": [],
    "artifacts_a.custom_properties.n > 5": ["pipe", "run1"],
    "artifacts_a.name = 'd1' AND artifacts_a.type = 'Model'": [],
    "artifacts_a.name = 'd1' AND artifacts_b.type = 'Model'": ["run1"],
    "executions_e.custom_properties.lr = 0.1": ["run1"],
    "executions_e.custom_properties.lr IS NULL": ["pipe", "run2"],
    "artifacts_a.uri LIKE '/models/%'": ["run1"],
    "custom_properties.x = 1 OR artifacts_a.name = 'd2'": ["run1", "run2"],
}


def test_neighbour_aliases(mlmd: Mlmd) -> None:
    _neighbour_data(mlmd)
    assert mlmd.answers("a", NEIGHBOURS_A) == NEIGHBOURS_A
    assert mlmd.answers("e", NEIGHBOURS_E) == NEIGHBOURS_E
    assert mlmd.answers("c", NEIGHBOURS_C) == NEIGHBOURS_C
    # A condition on an alias holds when some related row satisfies it, negated or not: d1 is
    # in run1 and in pipe, so it has a context that is not run1.
    per_row = {
        "NOT contexts_a.name = 'run1'": ["d1", "d2", "d3", "m2"],
        "contexts_a.name != 'run1'": ["d1", "d2", "d3", "m2"],
        "contexts_a.name = 'run1'": ["d1", "m1"],
    }
    assert mlmd.answers("a", per_row) == per_row


def test_type_and_type_id(mlmd: Mlmd) -> None:
    artifacts = {
        "type = 'Dataset'": ["d1", "d2", "d3"],
        "type_id = {Model}": ["m1", "m2"],
        "type_id != {Model}": ["d1", "d2", "d3"],
        "type IN ('Model', 'Nope')": ["m1", "m2"],
        "type LIKE 'Data%'": ["d1", "d2", "d3"],
        "type != 'Model'": ["d1", "d2", "d3"],
        "type = 'Trainer'": [],  # an execution type's name
        "contexts_a.type = 'Pipeline'": ["d1"],
        "contexts_a.type_id = {Run}": ["d1", "d2", "m1"],
    }
    executions = {
        "type = 'Trainer'": ["train1", "train2"],
        "type_id = {Trainer}": ["train1", "train2"],
        "type = 'Dataset'": [],
        "contexts_a.type = 'Run'": ["train1", "train2"],
        "contexts_a.type = 'Pipeline'": [],
    }
    contexts = {
        "type = 'Run'": ["run1", "run2"],
        "type_id = {Pipeline}": ["pipe"],
        "type = 'Dataset'": [],
        "artifacts_a.type_id = {Model}": ["run1"],
        "executions_a.type = 'Trainer'": ["run1", "run2"],
        "executions_a.type_id = {Trainer}": ["run1", "run2"],
        "parent_contexts_a.type = 'Pipeline'": ["run1", "run2"],
        "child_contexts_a.type_id = {Run}": ["pipe"],
        "parent_contexts_a.type_id = {Run}": [],
    }
    assert mlmd.answers("a", artifacts) == artifacts
    assert mlmd.answers("e", executions) == executions
    assert mlmd.answers("c", contexts) == contexts


# ----------------------------------------------------------------- filters in listing calls


class Items:
    """Artifacts (or executions) with an int property k; ``matches`` says which pass the filter."""

    FILTER = "properties.k = 0 AND name LIKE 'item-%'"

    def __init__(self, store: m.MetadataStore, kind: str = "artifact", type_name: str = "Item"):
        self.store = store
        self.kind = kind
        self.count = 0
        self.filter = (
            self.FILTER if type_name == "Item" else f"type = '{type_name}' AND {self.FILTER}"
        )
        props = {"k": m.PropertyType.INT}
        if kind == "artifact":
            self.type_id = store.put_artifact_type(m.ArtifactType(name=type_name, properties=props))
        else:
            self.type_id = store.put_execution_type(
                m.ExecutionType(name=type_name, properties=props)
            )

    def add(self, ks: list[int]) -> list[int]:
        cls = m.Artifact if self.kind == "artifact" else m.Execution
        nodes = []
        for k in ks:
            nodes.append(cls(type_id=self.type_id, name=f"item-{self.count}", properties={"k": k}))
            self.count += 1
        put = self.store.put_artifacts if self.kind == "artifact" else self.store.put_executions
        return list(put(nodes))  # type: ignore[arg-type]

    def list(self, **options: Any) -> m.ResultPage[Any]:
        get = self.store.get_artifacts if self.kind == "artifact" else self.store.get_executions
        return get(filter_query=self.filter, **options)


def test_paging_a_filtered_listing(store: m.MetadataStore) -> None:
    """Each match is visited once, in order; rows inserted between pages (matching or not)
    appear only if they sort after the last row returned, and non-matching rows never."""
    orders = [(m.OrderByField.ID, True), (m.OrderByField.ID, False)]
    orders += [(m.OrderByField.CREATE_TIME, True), (m.OrderByField.CREATE_TIME, False)]
    for number, (kind, (order_by, ascending)) in enumerate(
        itertools.product(["artifact", "execution"], orders)
    ):
        label = f"{kind} {order_by.name} {'asc' if ascending else 'desc'}"
        items = Items(store, kind, f"Paged{number}")
        ks = [i % 3 for i in range(25)]
        matching = [i for i, k in zip(items.add(ks), ks) if k == 0]
        seen: list[int] = []
        token = None
        inserted: list[int] = []
        for _ in range(20):
            page = items.list(limit=4, order_by=order_by, ascending=ascending, page_token=token)
            assert len(page) <= 4, label
            seen.extend(n.id for n in page)
            token = page.next_page_token
            if token is None:
                break
            new = items.add([0, 1, 0, 2])  # two matching, two not, sorting after everything
            inserted.extend(new[0::2])
        assert token is None, label
        expected = sorted(matching + inserted) if ascending else sorted(matching, reverse=True)
        assert seen == expected, label


def test_limit_and_order_with_a_filter(store: m.MetadataStore) -> None:
    items = Items(store)
    ids = items.add([0, 1, 0, 0, 2, 0])
    matching = [ids[0], ids[2], ids[3], ids[5]]
    assert [a.id for a in items.list(limit=2)] == matching[:2]
    assert [a.id for a in items.list(limit=3, ascending=False)] == matching[::-1][:3]
    assert [a.id for a in items.list()] == matching
    assert items.list(limit=10).next_page_token is None
    # A token belongs to its filter.
    token = items.list(limit=2).next_page_token
    assert token is not None
    with pytest.raises(InvalidArgumentError):
        store.get_artifacts(filter_query="properties.k = 1", limit=2, page_token=token)


def test_filters_in_context_and_type_listings(store: m.MetadataStore) -> None:
    arts = Items(store, "artifact")
    execs = Items(store, "execution")
    other_artifact_type = store.put_artifact_type(
        m.ArtifactType(name="Other", properties={"k": m.PropertyType.INT})
    )
    ctype = store.put_context_type(m.ContextType(name="Group"))
    group, outside = store.put_contexts(
        [m.Context(type_id=ctype, name="group"), m.Context(type_id=ctype, name="outside")]
    )
    a_in = arts.add([0, 1, 0, 2, 0])
    a_out = arts.add([0, 0])
    [other] = store.put_artifacts(
        [m.Artifact(type_id=other_artifact_type, name="item-other", properties={"k": 0})]
    )
    e_in = execs.add([0, 1, 0])
    e_out = execs.add([0])
    store.put_attributions_and_associations(
        [m.Attribution(artifact_id=a, context_id=group) for a in [*a_in, other]]
        + [m.Attribution(artifact_id=a, context_id=outside) for a in a_out],
        [m.Association(execution_id=e, context_id=group) for e in e_in]
        + [m.Association(execution_id=e, context_id=outside) for e in e_out],
    )
    f = Items.FILTER
    by_context = [a.id for a in store.get_artifacts_by_context(group, filter_query=f)]
    assert by_context == [a_in[0], a_in[2], a_in[4], other]
    page = store.get_artifacts_by_context(group, filter_query=f, limit=2)
    rest = store.get_artifacts_by_context(
        group, filter_query=f, limit=2, page_token=page.next_page_token
    )
    assert [a.id for a in page] + [a.id for a in rest] == by_context
    assert rest.next_page_token is None
    assert [e.id for e in store.get_executions_by_context(group, filter_query=f)] == [
        e_in[0],
        e_in[2],
    ]
    assert [e.id for e in store.get_executions_by_context(outside, filter_query=f)] == e_out
    assert [a.id for a in store.get_artifacts_by_type("Item", filter_query=f)] == [
        a_in[0],
        a_in[2],
        a_in[4],
        *a_out,
    ]
    assert [a.id for a in store.get_artifacts_by_type("Other", filter_query=f)] == [other]
    assert [e.id for e in store.get_executions_by_type("Item", filter_query=f)] == [
        e_in[0],
        e_in[2],
        *e_out,
    ]
    assert [e.id for e in store.get_executions_by_type("Item", filter_query="id < 0")] == []
    typed = store.get_contexts_by_type("Group", filter_query="artifacts_a.name = 'item-other'")
    assert [c.id for c in typed] == [group]
    by_type_page = store.get_artifacts_by_type("Item", filter_query=f, limit=3, ascending=False)
    assert [a.id for a in by_type_page] == [*a_out[::-1], a_in[4]]
