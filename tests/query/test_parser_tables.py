"""The filter parser is loaded from tables generated from ``filter.lark``; they must stay the
grammar's, and a parser is built from the grammar whenever they are not."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import lark
import pytest

from mltrail.query import _grammar, _parse

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
        return ("tree", placed(parser.parse(text)))
    except lark.UnexpectedInput as exc:
        return error_outcome(exc)


def placed(node: Any) -> Any:
    """A tree with where each of its parts stands (what error carets are made from)."""
    if isinstance(node, lark.Tree):
        meta = node.meta
        where = [getattr(meta, f, None) for f in ("line", "column", "end_line", "end_column")]
        return (str(node.data), where, [placed(child) for child in node.children])
    if isinstance(node, lark.Token):
        return (node.type, str(node), node.start_pos, node.line, node.column, node.end_pos)
    return node


def error_outcome(exc: lark.UnexpectedInput) -> Any:
    """An error's kind, place and expectations."""
    expected = getattr(exc, "expected", None) or getattr(exc, "allowed", None) or ()
    token = getattr(exc, "token", None)
    return (type(exc).__name__, exc.line, exc.column, sorted(expected), str(token))


def committed() -> _grammar.Tables:
    tables = _grammar.read_tables()
    assert tables is not None, "filter_tables.json is missing or unreadable"
    return tables


def test_the_committed_tables_are_generated_from_the_grammar() -> None:
    committed_text = _grammar.tables_path().read_text(encoding="utf-8")
    digest = _grammar.grammar_digest(_grammar.grammar_text())
    assert digest == committed().grammar_sha256, (
        "filter.lark changed: regenerate the tables with python -m mltrail.query._grammar"
    )
    assert _grammar.tables_source() == committed_text, (
        "the tables differ from what the installed Lark makes of filter.lark: regenerate them "
        "with python -m mltrail.query._grammar"
    )


def test_generating_twice_gives_the_same_source() -> None:
    assert _grammar.tables_source() == _grammar.tables_source()


def test_the_tables_read_back_as_lark_serialized_them() -> None:
    # Integer keys and tuples, which JSON lacks, restored: equal values of the same types.
    data, memo = _grammar.serialized()
    tables = committed()
    assert (tables.data, tables.memo) == (data, memo)
    assert tables.lark_version == lark.__version__


@pytest.mark.parametrize(
    "raw", [b"", b"{", b"[]", b'{"grammar_sha256": "x"}', b'{"data": {}, "memo": []}']
)
def test_unreadable_tables_are_none(raw: bytes) -> None:
    assert _grammar.read_tables(raw) is None
    assert _grammar.load_parser(_grammar.read_tables(raw)) is None


def test_the_parser_in_use_is_loaded_from_the_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("built from the grammar")

    monkeypatch.setattr(lark.Lark, "__init__", refuse)
    loaded = _grammar.parser()
    assert outcome(loaded, QUERIES[1])[0] == "tree"


def test_loaded_and_built_parsers_agree() -> None:
    loaded = _grammar.load_parser(committed())
    assert loaded is not None
    built = _grammar.build_parser()
    for text in QUERIES:
        assert outcome(loaded, text) == outcome(built, text), text
        assert [(t.type, t.value, t.line, t.column) for t in _lex(loaded, text)] == [
            (t.type, t.value, t.line, t.column) for t in _lex(built, text)
        ], text


# Pieces of queries, valid and not: keywords in every place (as names after a dot, as bare
# values), literals, operators, comments, characters no terminal takes.
PIECES = [
    *("name", "uri", "properties", "custom_properties", "contexts_run", "x_1", "Name"),
    *("in", "IN", "not", "NOT", "and", "Or", "like", "between", "is", "null", "true", "FALSE"),
    *("inner", "nothing", "island", "nullable", "trueish"),
    *("=", "!=", "<>", "<", "<=", ">", ">=", "==", "(", ")", ",", ".", ".", "."),
    *("'s'", '"t"', "'it\\'s'", "1", "-2", "-2.5e3", ".5", "7.", "`q n`", "``"),
    *("-- a comment\n", "\n", "\t", "!", "&&", "'open", "`open", "@", "-"),
]


def _generated_queries(count: int = 2000) -> list[str]:
    rng = random.Random(20261201)
    queries = []
    for _ in range(count):  # pieces at random: mostly not queries
        pieces = rng.choices(PIECES, k=rng.randint(1, 12))
        queries.append("".join(p + rng.choice(["", " ", " ", "  "]) for p in pieces))
    for _ in range(count):  # queries with a piece or two added, removed or replaced
        pieces = rng.choice(QUERIES[:7]).split(" ")
        for _ in range(rng.randint(0, 2)):
            at = rng.randrange(len(pieces) + 1)
            pieces[at : at + rng.randint(0, 1)] = rng.choices(PIECES, k=rng.randint(0, 1))
        queries.append(" ".join(pieces))
    # And valid ones, where every kind of condition meets keywords as names and values.
    for name in ("in", "not", "and", "or", "like", "between", "is", "null", "true", "false"):
        queries += [
            f"properties.{name}.int_value = 1",
            f"custom_properties.{name.upper()} IS NOT NULL AND name = {name}",
            f"state IN ({name}, LIVE) OR NOT contexts_{name}.name LIKE 'a%'",
        ]
    return queries


def fed_outcome(parser: lark.Lark, text: str) -> tuple[str, Any]:
    """What ``parser`` makes of ``text`` given the basic lexer's tokens (as the store parses),
    and whether they were fed as they are or the text lexed again by the contextual lexer."""
    try:
        tokens: list[lark.Token] | None = list(_parse._tokens(text))
    except lark.LexError:
        tokens = None
    try:
        tree = None if tokens is None else _grammar.parse_tokens(parser, tokens)
    except lark.UnexpectedInput as exc:
        return "fed, refused", error_outcome(exc)
    if tree is None:
        return "lexed again", outcome(parser, text)
    return "fed", ("tree", placed(tree))


def test_tokens_fed_to_the_parser_give_what_its_own_lexer_gives() -> None:
    loaded = _grammar.load_parser(committed())
    assert loaded is not None
    built = _grammar.build_parser()
    ways: dict[str, int] = {}
    for text in [*QUERIES, *_generated_queries()]:
        way, got = fed_outcome(loaded, text)
        ways[way] = ways.get(way, 0) + 1
        assert got == outcome(built, text), text
    # Every way is exercised (keywords standing as names and most errors are lexed again).
    assert min(ways["fed"], ways["fed, refused"], ways["lexed again"]) > 100, ways


def test_which_tokens_are_fed_as_they_are() -> None:
    loaded = _grammar.load_parser(committed())
    assert loaded is not None
    for text in QUERIES[:5]:
        fed = _grammar.parse_tokens(loaded, list(_parse._tokens(text)))
        assert ("tree", placed(fed)) == outcome(loaded, text), text
    # A keyword where the parser takes a name: the contextual lexer reads it as one.
    for text in ("properties.in = TRUE", "name = null", "state IN (and, or)"):
        assert _grammar.parse_tokens(loaded, list(_parse._tokens(text))) is None, text
        assert outcome(loaded, text)[0] == "tree", text
    # Tokens that fit the parser's states but not its grammar: the parser's own error.
    with pytest.raises(lark.UnexpectedToken) as fed:
        _grammar.parse_tokens(loaded, list(_parse._tokens("name = 'x')")))
    with pytest.raises(lark.UnexpectedToken) as parsed:
        loaded.parse("name = 'x')")
    assert (fed.value.token, fed.value.expected) == (parsed.value.token, parsed.value.expected)


def test_a_loaded_parser_makes_its_contextual_lexer_when_it_first_lexes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[lark.lexer.ContextualLexer] = []

    class Counted(lark.lexer.ContextualLexer):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(lark.lexer, "ContextualLexer", Counted)
    loaded = _grammar.load_parser(committed())
    assert loaded is not None
    assert _grammar.parse_tokens(loaded, list(_parse._tokens(QUERIES[1]))) is not None
    assert made == []  # fed tokens: no lexer of its own yet
    for text in ("properties.in = TRUE", QUERIES[1]):
        assert outcome(loaded, text)[0] == "tree"
    assert len(made) == 1  # made once, then kept


def _lex(parser: lark.Lark, text: str) -> list[lark.Token]:
    try:
        return list(parser.lex(text))
    except lark.LexError:
        return []


def _tables(**changes: Any) -> _grammar.Tables:
    return dataclasses.replace(committed(), **changes)


@pytest.mark.parametrize(
    "changes",
    [
        {"grammar_sha256": "0" * 64},  # made from another version of the grammar
        {"lark_major": 0},  # made by another major version of Lark
        {"data": {"__type__": "Lark"}},  # unreadable
        {"memo": {}},
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
