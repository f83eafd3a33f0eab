"""The filter parser is loaded from tables generated from ``filter.lark``; they must stay the
grammar's, and a parser is built from the grammar whenever they are not."""

from __future__ import annotations

import types
from typing import Any

import lark
import pytest

from mltrail.query import _filter_tables, _grammar, _parse

QUERIES = [
    "name = 'x'",
    "name LIKE 'train-%' AND properties.accuracy > 0.9",
    "state IN (LIVE, PENDING) AND NOT contexts_run.name = 'run-7'",
    "custom_properties.`my key`.string_value IS NOT NULL -- a comment",
    "NOT (id BETWEEN 1 AND 10 OR uri NOT LIKE '/d/%') and type_id != 3",
    "properties.and.int_value = 1 AND properties.in = TRUE",
    'create_time_since_epoch >= -1.5e3 OR name <> "it\'s"',
    # Errors: each must fail the same way, at the same place, expecting the same tokens.
    "name = ",
    "name == 'x'",
    "(name = 'x'",
    "name = 'x')",
    "state IN ()",
    "name = 'open",
    "name = `x`",
    "name && id",
    "name IS NOT 3",
    "!name",
    "",
]


def outcome(parser: lark.Lark, text: str) -> Any:
    """What ``parser`` makes of ``text``: its tree, or its error's kind, place and expectations."""
    try:
        return ("tree", parser.parse(text))
    except lark.UnexpectedInput as exc:
        expected = getattr(exc, "expected", None) or getattr(exc, "allowed", None) or ()
        token = getattr(exc, "token", None)
        return (type(exc).__name__, exc.line, exc.column, sorted(expected), str(token))


def test_the_committed_tables_are_generated_from_the_grammar() -> None:
    committed = _grammar.tables_path().read_text(encoding="utf-8")
    digest = _grammar.grammar_digest(_grammar.grammar_text())
    assert digest == _filter_tables.GRAMMAR_SHA256, (
        "filter.lark changed: regenerate the tables with python -m mltrail.query._grammar"
    )
    assert _grammar.tables_source() == committed, (
        "the tables differ from what the installed Lark makes of filter.lark: regenerate them "
        "with python -m mltrail.query._grammar"
    )


def test_generating_twice_gives_the_same_source() -> None:
    assert _grammar.tables_source() == _grammar.tables_source()


def test_the_parser_in_use_is_loaded_from_the_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("built from the grammar")

    monkeypatch.setattr(lark.Lark, "__init__", refuse)
    loaded = _grammar.parser()
    assert outcome(loaded, QUERIES[1])[0] == "tree"


def test_loaded_and_built_parsers_agree() -> None:
    loaded = _grammar.load_parser(_filter_tables)
    assert loaded is not None
    built = _grammar.build_parser()
    for text in QUERIES:
        assert outcome(loaded, text) == outcome(built, text), text
        assert [(t.type, t.value, t.line, t.column) for t in _lex(loaded, text)] == [
            (t.type, t.value, t.line, t.column) for t in _lex(built, text)
        ], text


def _lex(parser: lark.Lark, text: str) -> list[lark.Token]:
    try:
        return list(parser.lex(text))
    except lark.LexError:
        return []


def _tables(**changes: Any) -> types.SimpleNamespace:
    fields = {
        name: getattr(_filter_tables, name)
        for name in ("GRAMMAR_SHA256", "LARK_VERSION", "LARK_MAJOR", "DATA", "MEMO")
    }
    return types.SimpleNamespace(**{**fields, **changes})


@pytest.mark.parametrize(
    "changes",
    [
        {"GRAMMAR_SHA256": "0" * 64},  # made from another version of the grammar
        {"LARK_MAJOR": 0},  # made by another major version of Lark
        {"DATA": {"__type__": "Lark"}},  # unreadable
        {"MEMO": {}},
    ],
    ids=["other-grammar", "other-lark", "bad-data", "bad-memo"],
)
def test_tables_that_do_not_fit_are_not_used(changes: dict[str, Any]) -> None:
    tables = _tables(**changes)
    assert _grammar.load_parser(tables) is None
    # ... and the parser is built from the grammar instead, with the same behaviour.
    fallback = _grammar.parser(tables)
    reference = _grammar.load_parser(_tables())
    assert reference is not None
    assert [outcome(fallback, q) for q in QUERIES] == [outcome(reference, q) for q in QUERIES]


def test_the_filter_parser_is_built_once_per_process() -> None:
    assert _parse._parser() is _parse._parser()
