"""Errors of the filter language: one class, a position, a caret and a hint that helps.

Every case states where the fault is (1-based line and column, and the text found there) and
what the message and the hint must say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mlmd_store import Mlmd

import mltrail as m
from mltrail.errors import InvalidArgumentError, MltrailError, QuerySyntaxError


@dataclass(frozen=True)
class Case:
    kind: str  # "a", "e" or "c"
    query: str
    line: int
    column: int
    fault: str  # the text at (line, column)
    reason: str  # a fragment of the message
    hints: tuple[str, ...] = ()  # fragments of the hint


def expect_error(store: m.MetadataStore, kind: str, query: str) -> QuerySyntaxError:
    lister = {"a": store.get_artifacts, "e": store.get_executions, "c": store.get_contexts}[kind]
    with pytest.raises(QuerySyntaxError) as caught:
        lister(filter_query=query)
    return caught.value


def check_position(error: QuerySyntaxError, query: str, line: int, column: int, fault: str) -> None:
    """The error points at (line, column), the fault is there, and str() puts a caret under it."""
    assert (error.line, error.column) == (line, column), str(error)
    text = query.splitlines()[line - 1]
    assert text[column - 1 :].startswith(fault), f"{text!r} at column {column} is not {fault!r}"
    shown = str(error).split("\n")
    assert f"  {text}" in shown, str(error)
    caret = shown[shown.index(f"  {text}") + 1]
    assert caret == "  " + " " * (column - 1) + "^", str(error)
    # Only the faulty line is shown.
    for other, other_text in enumerate(query.splitlines(), start=1):
        if other != line and other_text.strip() and other_text != text:
            assert f"  {other_text}" not in shown


VALID_ARTIFACT_ATTRIBUTES = (
    "id",
    "type_id",
    "name",
    "uri",
    "state",
    "external_id",
    "create_time_since_epoch",
    "last_update_time_since_epoch",
    "type",
    "properties.<name>",
    "custom_properties.<name>",
    "contexts_<alias>",
    "events_<alias>",
)

CASES = [
    # Unknown attributes: the valid ones are listed and the closest suggested.
    Case(
        "a",
        "nmae = 'd1'",
        1,
        1,
        "nmae",
        "unknown attribute 'nmae'",
        ("did you mean 'name'?", *VALID_ARTIFACT_ATTRIBUTES),
    ),
    Case("a", "NAME = 'd1'", 1, 1, "NAME", "unknown attribute", ("did you mean 'name'?",)),
    Case(
        "a",
        "id = 1 AND\n  stat = LIVE",
        2,
        3,
        "stat",
        "unknown attribute 'stat'",
        ("did you mean 'state'?",),
    ),
    Case(
        "a",
        "ur1 LIKE '/data/%'",
        1,
        1,
        "ur1",
        "unknown attribute",
        ("did you mean 'uri'?",),
    ),
    Case(
        "e",
        "state = LIVE",
        1,
        1,
        "state",
        "unknown attribute 'state' for executions",
        ("last_known_state",),
    ),
    Case(
        "e",
        "uri = 'x'",
        1,
        1,
        "uri",
        "unknown attribute 'uri' for executions",
        ("last_known_state", "contexts_<alias>"),
    ),
    Case(
        "c",
        "state = LIVE",
        1,
        1,
        "state",
        "for contexts",
        ("parent_contexts_<alias>", "child_contexts_<alias>", "artifacts_<alias>"),
    ),
    Case(
        "a",
        "contexts_a.nmae = 'run1'",
        1,
        1,
        "contexts_a.nmae",
        "unknown attribute 'contexts_a.nmae'",
        ("did you mean 'name'?",),
    ),
    Case(
        "a",
        "events_0.tpye = INPUT",
        1,
        1,
        "events_0.tpye",
        "unknown event attribute",
        ("did you mean 'type'?", "execution_id"),
    ),
    Case(
        "a",
        "events_0.artifact_id = 1",
        1,
        1,
        "events_0",
        "unknown event attribute",
        ("type", "milliseconds_since_epoch", "execution_id"),
    ),
    Case(
        "e",
        "events_0.execution_id = 1",
        1,
        1,
        "events_0",
        "unknown event attribute",
        ("artifact_id",),
    ),
    Case("a", "contexts_a = 1", 1, 1, "contexts_a", "needs an attribute", ("contexts_a.name",)),
    # Neighbours not valid for the kind: which are.
    Case(
        "a",
        "parent_contexts_p.name = 'x'",
        1,
        1,
        "parent_contexts_p",
        "not a neighbour of artifacts",
        ("contexts_<alias>, events_<alias>",),
    ),
    Case(
        "e",
        "name = 'x' OR artifacts_a.name = 'x'",
        1,
        15,
        "artifacts_a",
        "not a neighbour of executions",
        ("contexts_<alias>, events_<alias>",),
    ),
    Case(
        "c",
        "contexts_c.name = 'x'",
        1,
        1,
        "contexts_c",
        "not a neighbour of contexts",
        ("parent_contexts_<alias>, child_contexts_<alias>, artifacts_<alias>, executions_<alias>",),
    ),
    Case("c", "events_e.type = INPUT", 1, 1, "events_e", "not a neighbour of contexts"),
    # Value slots.
    Case(
        "a",
        "properties.acc.int_value = 0.5",
        1,
        28,
        "0.5",
        "holds integers",
        ("properties.acc.double_value",),
    ),
    Case(
        "a",
        "name = 'd1'\n  AND custom_properties.n.int_value > 2.5",
        2,
        39,
        "2.5",
        "holds integers",
        ("custom_properties.n.double_value",),
    ),
    Case(
        "a",
        "properties.acc.double_value = 'x'",
        1,
        31,
        "'x'",
        "holds numbers, not a string",
        (".string_value",),
    ),
    Case(
        "a",
        "properties.s.struct_value = 1",
        1,
        1,
        "properties.s.struct_value",
        "'struct_value' is not a value slot",
        ("struct values cannot be filtered", "int_value", "double_value", "string_value"),
    ),
    Case(
        "a",
        "properties.s.strng_value = 'x'",
        1,
        1,
        "properties",
        "not a value slot",
        ("did you mean 'string_value'?",),
    ),
    Case(
        "a",
        "properties.ok.bool_value = 1",
        1,
        28,
        "1",
        "holds TRUE or FALSE",
    ),
    # Numbers where strings are expected: quote them.
    Case("a", "name = 1", 1, 8, "1", "holds strings, not a number", ("name = '1'",)),
    Case("a", "uri = 2.5", 1, 7, "2.5", "holds strings", ("quote",)),
    Case("a", "type = 3", 1, 8, "3", "holds strings", ("quote",)),
    Case(
        "a",
        "properties.split.string_value IN ('a', 'b')\n   OR properties.split.string_value = 7",
        2,
        39,
        "7",
        "holds strings",
        ("quote",),
    ),
    Case("a", "name = d1", 1, 8, "d1", "'d1' is not a value", ("name = 'd1'",)),
    # Unknown enum names: the closest is suggested, all are listed.
    Case(
        "a",
        "state = LIV",
        1,
        9,
        "LIV",
        "'LIV' is not a value of state",
        ("did you mean 'LIVE'?", "ABANDONED", "REFERENCE"),
    ),
    Case(
        "a",
        "state IN (LIVE, PENDNG)",
        1,
        17,
        "PENDNG",
        "not a value of state",
        ("did you mean 'PENDING'?",),
    ),
    Case(
        "e",
        "last_known_state = COMPLET",
        1,
        20,
        "COMPLET",
        "not a value of last_known_state",
        ("did you mean 'COMPLETE'?", "CANCELED"),
    ),
    Case(
        "a",
        "events_0.type = OUTPT",
        1,
        17,
        "OUTPT",
        "not a value of events_0.type",
        ("did you mean 'OUTPUT'?", "PENDING_OUTPUT"),
    ),
    Case(
        "c",
        "artifacts_a.state = DELETD",
        1,
        21,
        "DELETD",
        "not a value",
        ("did you mean 'DELETED'?",),
    ),
    Case("a", "state = 2", 1, 9, "2", "not a value of state", ("LIVE",)),
    # Operators from other languages.
    Case("a", "name == 'd1'", 1, 7, "=", "unexpected", ("use = to compare, not ==",)),
    Case(
        "a",
        "name = 'd1'\n  OR\n  state == LIVE",
        3,
        10,
        "=",
        "unexpected",
        ("use = to compare, not ==",),
    ),
    Case("a", "name = 'd1' && id = 1", 1, 13, "&&", "unexpected character", ("AND and OR",)),
    Case("a", "name = 'd1' || id = 1", 1, 13, "||", "unexpected character", ("AND and OR",)),
    Case("a", "!(name = 'd1')", 1, 1, "!", "unexpected character", ("NOT",)),
    # Unterminated strings and quoted names.
    Case("a", "name = 'd1", 1, 8, "'d1", "unterminated string", ("close the string with '",)),
    Case(
        "a",
        'id = 1 AND\n  name = "abc',
        2,
        10,
        '"abc',
        "unterminated string",
        ('close the string with "',),
    ),
    Case("a", r"name = 'd1\'", 1, 8, "'d1", "unterminated string"),
    Case(
        "a",
        "custom_properties.`my prop = 'x'",
        1,
        19,
        "`my prop",
        "unterminated quoted name",
        ("backticks",),
    ),
    # Empty IN lists.
    Case("a", "id IN ()", 1, 8, ")", "IN list needs at least one value"),
    Case("a", "state NOT IN ( )", 1, 16, ")", "IN list needs at least one value"),
    Case(
        "a",
        "name = 'x' OR\n  id in (\n  )",
        3,
        3,
        ")",
        "IN list needs at least one value",
    ),
    # Queries that end too early.
    Case("a", "name = 'd1' AND", 1, 16, "", "ends too early", ("NOT",)),
    Case("a", "name =", 1, 7, "", "ends too early", ("a quoted string", "a number")),
    Case("a", "(name = 'd1'", 1, 13, "", "ends too early", ("expected )",)),
    Case("a", "id IN (1,", 1, 10, "", "ends too early"),
    Case("a", "uri", 1, 4, "", "ends too early", ("LIKE", "IN", "a comparison")),
    Case("a", "name = 'd1' AND\n  (id = 1", 2, 10, "", "ends too early", ("expected )",)),
    # Not in the language: functions, subqueries, arithmetic, stray tokens.
    Case("a", "LOWER(name) = 'd1'", 1, 6, "(", "unexpected '('"),
    Case("a", "id IN (SELECT 1)", 1, 15, "1", "unexpected '1'"),
    Case("a", "id + 1 = 2", 1, 4, "+", "unexpected character '+'"),
    Case("a", "name = 'd1')", 1, 12, ")", "unexpected ')'"),
    # Conditions that cannot hold as written.
    Case("a", "id IN (1, 'x')", 1, 1, "id", "must all be of one kind"),
    Case("a", "id LIKE '1%'", 1, 1, "id", "LIKE needs a string attribute"),
    Case("a", "state LIKE 'L%'", 1, 1, "state", "LIKE needs a string attribute"),
    Case("a", "state > LIVE", 1, 1, "state", "cannot be ordered", ()),
    Case("a", "properties.ok BETWEEN FALSE AND TRUE", 1, 1, "properties.ok", "cannot be ordered"),
    # Columns count characters, not bytes; \r\n ends a line; the first fault is reported.
    Case("a", "name = 'données' AND nmae = 'x'", 1, 22, "nmae", "unknown attribute"),
    Case("a", "id = 1\r\n  AND nmae = 'x'", 2, 7, "nmae", "unknown attribute"),
    Case("a", "nmae = 'x' AND stat = LIVE", 1, 1, "nmae", "unknown attribute 'nmae'"),
]


def check_case(store: m.MetadataStore, case: Case) -> None:
    error = expect_error(store, case.kind, case.query)
    assert isinstance(error, InvalidArgumentError)
    assert isinstance(error, MltrailError)
    assert error.query == case.query
    check_position(error, case.query, case.line, case.column, case.fault)
    assert case.reason in error.reason, str(error)
    assert case.reason in str(error)
    for hint in case.hints:
        assert hint in error.hint, str(error)
        assert hint in str(error)


def test_error_position_message_and_hint(store: m.MetadataStore) -> None:
    """Every case of CASES (run in one test: they need no data, only a store)."""
    problems = []
    for case in CASES:
        try:
            check_case(store, case)
        except (AssertionError, pytest.fail.Exception) as exc:
            problems.append(f"{case.kind}: {case.query!r}\n{exc}")
    assert not problems, "\n\n".join(problems)
    # The layout of str(error): message with position, the faulty line, the caret, the hint.
    query = "name = 'd1'\n  AND nmae = 'x'"
    error = expect_error(store, "a", query)
    assert str(error).split("\n") == [
        "unknown attribute 'nmae' for artifacts (line 2, column 7)",
        "    AND nmae = 'x'",
        "        ^",
        error.hint,
    ]
    assert error.hint.startswith("did you mean 'name'? valid: ")
    assert error.message == str(error)
    assert error.http_status == 400


# --------------------------------------------------------------------------- every entry point


def _entry_points(mlmd: Mlmd, bad: str, kind: str) -> list[Any]:
    """Calls that take a filter of ``kind`` ("a" or "e"), each with the filter ``bad``."""
    s, ids = mlmd.store, mlmd.ids
    opts = m.LineageSubgraphQueryOptions
    if kind == "a":
        return [
            lambda: s.get_artifacts(filter_query=bad),
            lambda: s.get_artifacts(m.ListOptions(filter_query=bad, limit=2)),
            lambda: s.get_artifacts_by_context(ids["run1"], filter_query=bad),
            lambda: s.get_artifacts_by_type("Dataset", filter_query=bad),
            lambda: s.lineage(artifacts_filter=bad),
            lambda: s.lineage(artifact_ids=[ids["d1"]], stop_at_artifacts=bad),
            lambda: s.get_lineage_subgraph(
                opts(starting_artifacts=m.StartingNodes(filter_query=bad))
            ),
            lambda: s.get_lineage_subgraph(
                opts(
                    starting_executions=m.StartingNodes(filter_query="id > 0"),
                    ending_artifacts=m.EndingNodes(filter_query=bad),
                )
            ),
        ]
    return [
        lambda: s.get_executions(filter_query=bad),
        lambda: s.get_executions_by_context(ids["run1"], filter_query=bad),
        lambda: s.get_executions_by_type("Trainer", filter_query=bad),
        lambda: s.lineage(executions_filter=bad),
        lambda: s.lineage(artifact_ids=[ids["d1"]], stop_at_executions=bad),
        lambda: s.get_lineage_subgraph(opts(starting_executions=m.StartingNodes(filter_query=bad))),
        lambda: s.get_lineage_subgraph(
            opts(
                starting_artifacts=m.StartingNodes(filter_query="id > 0"),
                ending_executions=m.EndingNodes(filter_query=bad),
            )
        ),
    ]


def _snapshot(store: m.MetadataStore) -> dict[str, Any]:
    artifacts = store.get_artifacts()
    executions = store.get_executions()
    contexts = store.get_contexts()
    return {
        "types": (
            store.get_artifact_types(),
            store.get_execution_types(),
            store.get_context_types(),
        ),
        "nodes": (list(artifacts), list(executions), list(contexts)),
        "events": store.get_events_by_artifact_ids([a.id for a in artifacts if a.id]),
        "members": [
            (
                [a.id for a in store.get_artifacts_by_context(c.id)],
                [e.id for e in store.get_executions_by_context(c.id)],
                [p.id for p in store.get_parent_contexts_by_context(c.id)],
            )
            for c in contexts
            if c.id
        ],
    }


def test_every_filter_entry_point_raises_the_same_error_and_changes_nothing(mlmd: Mlmd) -> None:
    before = _snapshot(mlmd.store)
    for kind, bad, line, column in (
        ("a", "nmae = 'x'", 1, 1),
        ("a", "id = 1 AND\n last_known_state = COMPLETE", 2, 2),
        ("e", "id = 1 OR uri = 'x'", 1, 11),
        ("e", "name == 'x'", 1, 7),
    ):
        calls = _entry_points(mlmd, bad, kind)
        for number, call in enumerate(calls):
            with pytest.raises(QuerySyntaxError) as caught:
                call()
            error = caught.value
            assert (error.query, error.line, error.column) == (bad, line, column), (
                f"call #{number} of {kind}: {error}"
            )
    assert _snapshot(mlmd.store) == before
    # The store still answers.
    assert mlmd.names("a", "name = 'd1'") == ["d1"]
    # Stop filters are checked against their own kind: executions have no uri.
    s, d1 = mlmd.store, mlmd.ids["d1"]
    s.lineage(artifact_ids=[d1], stop_at_artifacts="uri = 'x'")
    with pytest.raises(QuerySyntaxError):
        s.lineage(artifact_ids=[d1], stop_at_executions="uri = 'x'")
    s.lineage(artifact_ids=[d1], stop_at_executions="last_known_state = COMPLETE")
    with pytest.raises(QuerySyntaxError):
        s.lineage(artifact_ids=[d1], stop_at_artifacts="last_known_state = COMPLETE")


def test_a_like_pattern_ending_in_its_escape_character(store: m.MetadataStore) -> None:
    """Backends disagree on such a pattern (MySQL matches a literal backslash, the others
    nothing): it is refused; an escaped backslash matches one on every backend."""
    kind = store.put_artifact_type(m.ArtifactType(name="T"))
    store.put_artifacts([m.Artifact(type_id=kind, name="abc\\")])
    query = "name = 'x' OR name LIKE 'abc\\\\'"  # the pattern is abc\
    error = expect_error(store, "a", query)
    check_position(error, query, 1, 25, "'abc")
    assert "ends with the escape character" in error.reason and "SELECT" not in str(error)
    found = store.get_artifacts(filter_query="name LIKE 'abc\\\\\\\\'")  # the pattern is abc\\
    assert [a.name for a in found] == ["abc\\"]


@given(body=st.text(alphabet="ab\\'\"nt\n", max_size=12))
def test_string_values_unescape_backslashes(body: str) -> None:
    """A quoted value is unescaped as the grammar's STRING terminal reads it: \\n and \\t are
    a line break and a tab, a backslash before any other character stands for that character."""
    from mltrail.query import _parse

    text = "'" + body + "'"
    if not re.fullmatch(r"'(?:[^'\\]|\\.)*'", text, re.S):
        return  # not one string token
    expected = re.sub(
        r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body, flags=re.S
    )
    assert _parse._unquote(text) == expected
