"""Parsing filter queries: the grammar in ``filter.lark``, syntax errors with hints, literals."""

from __future__ import annotations

import contextlib
import functools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import lark

from mltrail._lru import SizedLRU
from mltrail.errors import QuerySyntaxError
from mltrail.query import _grammar
from mltrail.query._limits import DEFAULT_LIMITS, FilterLimits


@functools.cache
def _parser() -> lark.Lark:
    return _grammar.parser()


@functools.cache
def _lexer() -> lark.lexer.BasicLexer:
    """The parser's terminals without the parser's context: what ``Lark.lex`` uses, built once
    (``Lark.lex`` builds it anew, and compiles its expressions again, on every call)."""
    return lark.lexer.BasicLexer(_parser().lexer_conf)


def _tokens(text: str) -> Iterator[lark.Token]:
    """The tokens of ``text`` as ``_parser().lex(text)`` gives them; raises lark.LexError."""
    thread = lark.lexer.LexerThread.from_text(_lexer(), text)
    tokens: Iterator[lark.Token] = thread.lex(None)  # type: ignore[no-untyped-call]
    return tokens


# Parsed trees by query text, weighed by its length. A tree takes 100-200 bytes per character
# of its text: 64k characters in all are about 10 MB; longer queries are parsed every time.
_TREES: SizedLRU[tuple[str, FilterLimits], lark.Tree[Any]] = SizedLRU(
    max_total=1 << 16, max_entry=4_096, max_count=512
)


def parse(text: str, limits: FilterLimits = DEFAULT_LIMITS) -> lark.Tree[Any]:
    """The syntax tree of a filter query; raises QuerySyntaxError.

    The text is checked against ``limits`` (length, nesting, literals) before it is parsed.
    """
    if len(text) > limits.max_length:
        check_text(text, limits)  # refused before the text is hashed for the cache
    key = (text, limits)
    tree = _TREES.get(key)
    if tree is None:
        tree = _parse(text, check_text(text, limits))
        _TREES.put(key, tree, len(text))
    return tree


def _parse(text: str, tokens: list[lark.Token] | None = None) -> lark.Tree[Any]:
    """The tree of ``text``, from its ``tokens`` (as ``check_text`` lexed them) where they
    parse as they are, otherwise lexed again by the parser's contextual lexer."""
    try:
        tree = None if tokens is None else _grammar.parse_tokens(_parser(), tokens)
        return tree if tree is not None else _parser().parse(text)
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


_ESCAPES = {"n": "\n", "t": "\t"}


def _unquote(text: str) -> str:
    """The value of a quoted string: ``\\n`` and ``\\t`` are a line break and a tab, any other
    escaped character stands for itself (the lexer lets no backslash end a line or the text)."""
    body = text[1:-1]
    escape = body.find("\\")
    if escape < 0:
        return body
    out = []
    start = 0
    while escape >= 0:
        out.append(body[start:escape])
        char = body[escape + 1]
        out.append(_ESCAPES.get(char, char))
        start = escape + 2
        escape = body.find("\\", start)
    out.append(body[start:])
    return "".join(out)


# ------------------------------------------------------------------------------- checks and limits

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_INT64 = (-(2**63), 2**63 - 1)
_INT_DIGITS = 4_300  # Python refuses to convert longer digit strings to int
_NEGATION_FOLLOWS = frozenset({"LPAR", "NOT", "_AND", "_OR"})


def position(text: str, pos: int) -> tuple[int, int]:
    """The 1-based (line, column) of offset ``pos`` of ``text``."""
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


def check_text(text: str, limits: FilterLimits = DEFAULT_LIMITS) -> list[lark.Token] | None:
    """Refuse a query that is too long, nested too deeply, holds a literal too big or a value
    no backend can take; cheap, and done before parsing (nothing recursive runs before it).

    Returns the tokens it read (for the parser: the text is lexed once), or ``None`` when the
    text does not lex (the parser reports where, with a hint)."""
    if len(text) > limits.max_length:
        # Show the query up to where it crossed the limit, not megabytes of it.
        shown = text[: limits.max_length + 1]
        line, column = position(shown, limits.max_length)
        raise QuerySyntaxError(
            f"the query is longer than {limits.max_length:,} characters (the length limit); it "
            f"has {len(text):,}",
            query=shown,
            line=line,
            column=column,
            hint="filter on fewer or shorter conditions, or select the nodes in several listings",
        )
    bad = _UNSTORABLE.search(text)
    if bad is not None:
        # Neither can be encoded for every database (nor shown): the error shows U+FFFD.
        line, column = position(text, bad.start())
        if bad.group() == "\x00":
            message = "the query contains a NUL character (\\x00), which no stored value holds"
            hint = "remove it; the store refuses NUL characters in names and values"
        else:
            message = (
                f"the query contains a lone surrogate (U+{ord(bad.group()):04X}), which is not "
                "valid text"
            )
            hint = "pass a string of whole characters (decode bytes with errors='strict')"
        raise QuerySyntaxError(
            message,
            query=_UNSTORABLE.sub("\ufffd", text),
            line=line,
            column=column,
            hint=hint,
        )
    with contextlib.suppress(lark.LexError):  # the parser reports those, with a hint
        return _check_tokens(text, limits)
    return None


def _check_tokens(text: str, limits: FilterLimits) -> list[lark.Token]:
    # Nesting: each open "(" of a group counts one, and so does each NOT in force; a NOT is in
    # force from where it stands to the next AND/OR or ")" of its own group.
    groups: list[int] = [0]  # NOTs in force per open group
    lists: list[bool] = []  # per open "(": is it an IN list?
    previous = ""
    tokens: list[lark.Token] = []
    for token in _tokens(text):  # checked as they come: the checks up to a lexing error hold
        tokens.append(token)
        kind = token.type
        if kind == "LPAR":
            is_list = previous == "_IN"
            lists.append(is_list)
            if not is_list:
                groups.append(0)
                _check_depth(text, token, len(groups) - 1 + sum(groups), limits)
        elif kind == "RPAR":
            if lists and not lists.pop() and len(groups) > 1:
                groups.pop()
        elif kind == "NOT" and (not previous or previous in _NEGATION_FOLLOWS):
            groups[-1] += 1
            _check_depth(text, token, len(groups) - 1 + sum(groups), limits)
        elif kind in ("_AND", "_OR"):
            groups[-1] = 0
        elif kind in ("STRING", "NUMBER", "QUOTED_NAME"):
            _check_literal(text, token, limits)
        previous = kind
    return tokens


def _check_depth(text: str, token: lark.Token, depth: int, limits: FilterLimits) -> None:
    if depth > limits.max_depth:
        raise QuerySyntaxError(
            f"the query nests parentheses and NOTs {depth} deep here, more than the nesting "
            f"limit of {limits.max_depth}",
            query=text,
            line=token.line or 1,
            column=token.column or 1,
            hint="remove redundant parentheses, or write NOT (a OR b) as NOT a AND NOT b",
        )


def _check_literal(text: str, token: lark.Token, limits: FilterLimits) -> None:
    value = str(token)
    size = len(value) - (2 if token.type != "NUMBER" else 0)  # quotes are not counted
    if size > limits.max_literal_length:
        what = {"STRING": "string", "NUMBER": "number", "QUOTED_NAME": "quoted name"}[token.type]
        raise _token_error(
            text,
            token,
            f"this {what} has {size:,} characters, more than the limit of "
            f"{limits.max_literal_length:,} for one value",
            "compare with a shorter value, e.g. a prefix with LIKE 'prefix%'",
        )
    if token.type != "NUMBER":
        return
    if not any(c in value for c in ".eE"):
        if len(value.lstrip("-")) > _INT_DIGITS:
            raise _token_error(
                text,
                token,
                f"this integer has more than {_INT_DIGITS:,} digits",
                "integers must fit in 64 bits (-9223372036854775808 to 9223372036854775807)",
            )
        if not _INT64[0] <= int(value) <= _INT64[1]:
            raise _token_error(
                text,
                token,
                f"{_short(value)} is out of range for a 64-bit integer",
                "integers are -9223372036854775808 to 9223372036854775807; write a decimal "
                "(e.g. 1e20) to compare with double values",
            )
    elif not math.isfinite(float(value)):
        raise _token_error(
            text,
            token,
            f"{_short(value)} is too large for a double (it would be infinite)",
            "doubles go up to about 1.8e308",
        )


def _token_error(text: str, token: lark.Token, message: str, hint: str) -> QuerySyntaxError:
    return QuerySyntaxError(
        message, query=text, line=token.line or 1, column=token.column or 1, hint=hint
    )


def _short(value: str) -> str:
    return value if len(value) <= 40 else f"{value[:20]}...({len(value):,} characters)"
