"""Parsing filter queries: the grammar in ``filter.lark``, syntax errors with hints, literals."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import lark

from mltrail.errors import QuerySyntaxError


@functools.cache
def _parser() -> lark.Lark:
    grammar = resources.files("mltrail.query").joinpath("filter.lark").read_text(encoding="utf-8")
    return lark.Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True)


@functools.lru_cache(maxsize=512)
def parse(text: str) -> lark.Tree[Any]:
    """The syntax tree of a filter query; raises QuerySyntaxError."""
    try:
        return _parser().parse(text)
    except lark.UnexpectedCharacters as exc:
        pos = exc.pos_in_stream or 0
        raise QuerySyntaxError(
            _char_message(text, pos),
            query=text,
            line=exc.line,
            column=exc.column,
            hint=_char_hint(text, pos),
        ) from None
    except lark.UnexpectedEOF:
        lines = text.splitlines() or [""]
        raise QuerySyntaxError(
            "the query ends too early",
            query=text,
            line=len(lines),
            column=len(lines[-1]) + 1,
            hint="complete the last condition, e.g. name = 'x'",
        ) from None
    except lark.UnexpectedToken as exc:
        token = exc.token
        if token.type == "$END":
            lines = text.splitlines() or [""]
            raise QuerySyntaxError(
                "the query ends too early",
                query=text,
                line=len(lines),
                column=len(lines[-1]) + 1,
                hint=_expected_hint(exc.expected),
            ) from None
        hint = _expected_hint(exc.expected)
        message = f"unexpected {str(token)!r}"
        if str(token) == "=" and token.start_pos and text[token.start_pos - 1] == "=":
            hint = "use = to compare, not =="
        elif str(token) == ")" and _EMPTY_IN.search(text[: token.start_pos or 0]):
            message = "an IN list needs at least one value"
            hint = "e.g. state IN (LIVE, PENDING); leave the condition out to match everything"
        raise QuerySyntaxError(
            message,
            query=text,
            line=exc.line,
            column=exc.column,
            hint=hint,
        ) from None


_EMPTY_IN = re.compile(r"\bin\s*\(\s*$", re.IGNORECASE)


def _char_message(text: str, pos: int) -> str:
    # A quote the lexer could not take as the start of a string or a quoted name: never closed.
    rest = text[pos:]
    if rest[:1] in ("'", '"'):
        return "unterminated string"
    if rest.startswith("``"):
        return "empty quoted name"
    if rest.startswith("`"):
        return "unterminated quoted name"
    return f"unexpected character {rest[:1]!r}"


def _char_hint(text: str, pos: int) -> str:
    rest = text[pos:]
    if rest[:1] in ("'", '"'):
        quote = rest[0]
        return f"close the string with {quote}; write a {quote} inside it as \\{quote}"
    if rest.startswith("`"):
        return "put a property name between two backticks: properties.`my name`"
    if rest.startswith("=="):
        return "use = to compare, not =="
    if rest.startswith(("&&", "||")):
        return "use AND and OR"
    if rest.startswith("!") and not rest.startswith("!="):
        return "use NOT, or != to compare"
    return "strings are quoted with ' or \", property names with odd characters with backticks"


_TOKEN_WORDS = {
    "COMPARATOR": "a comparison (= != < <= > >=)",
    "STRING": "a quoted string",
    "NUMBER": "a number",
    "NAME": "a name",
    "TRUE": "TRUE",
    "FALSE": "FALSE",
    "NOT": "NOT",
    "_LIKE": "LIKE",
    "_IN": "IN",
    "_BETWEEN": "BETWEEN",
    "_IS": "IS",
    "_AND": "AND",
    "_OR": "OR",
    "LPAR": "(",
    "RPAR": ")",
    "COMMA": ",",
    "DOT": ".",
    "QUOTED_NAME": "a `quoted name`",
    "_NULL": "NULL",
}


def _expected_hint(expected: Any) -> str:
    words = sorted({_TOKEN_WORDS.get(name, name) for name in expected})
    return "expected " + ", ".join(words) if words else ""


@dataclass(frozen=True)
class Literal:
    """A value of the query with where it stands."""

    kind: str  # "string", "number", "bool", "bare"
    value: Any
    line: int
    column: int


def read_literal(tree: lark.Tree[Any]) -> Literal:
    token = tree.children[0] if tree.children else None
    line: int = getattr(token, "line", None) or getattr(tree.meta, "line", None) or 1
    column: int = getattr(token, "column", None) or getattr(tree.meta, "column", None) or 1
    if tree.data == "string":
        return Literal("string", _unquote(str(token)), line, column)
    if tree.data == "number":
        text = str(token)
        number = float(text) if any(c in text for c in ".eE") else int(text)
        return Literal("number", number, line, column)
    if tree.data in ("true", "false"):
        return Literal("bool", tree.data == "true", line, column)
    return Literal("bare", str(token), line, column)


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)
