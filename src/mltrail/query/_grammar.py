"""The filter grammar's parser: loaded from generated tables, or built from ``filter.lark``.

Building an LALR parser from the grammar (reading the grammar, computing the tables) takes tens
of milliseconds, and every process paid for it on its first filter query. The tables it computes
are data: ``_filter_tables.py`` holds them, generated from ``filter.lark`` by Lark's own
serializer, and loading them takes about a millisecond. The module records the SHA-256 of the
grammar it was made from; a parser is built from the grammar as before whenever the tables do not
match the grammar (or cannot be loaded by the installed Lark), so a stale file costs time, never
correctness. ``tests/query/test_parser_tables.py`` checks that the committed tables describe the
same parser as the grammar.

After editing ``filter.lark``, regenerate the tables with::

    python -m mltrail.query._grammar
"""

from __future__ import annotations

import hashlib
import pkgutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lark

#: How the parser is built; the tables hold these options too.
OPTIONS: dict[str, Any] = {
    "parser": "lalr",
    "propagate_positions": True,
    "maybe_placeholders": True,
}

_TABLES_MODULE = "_filter_tables.py"


def grammar_text() -> str:
    """The text of ``filter.lark``."""
    data = pkgutil.get_data(__package__ or "mltrail.query", "filter.lark")
    if data is None:  # pragma: no cover - only for loaders that cannot read package data
        raise FileNotFoundError("mltrail.query/filter.lark")
    return data.decode("utf-8")


def grammar_digest(text: str) -> str:
    """The SHA-256 (hex) that names a version of the grammar."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def build_parser(text: str | None = None) -> lark.Lark:
    """The parser, built from the grammar (slow: tens of milliseconds)."""
    return lark.Lark(grammar_text() if text is None else text, **OPTIONS)


def load_parser(tables: Any, text: str | None = None) -> lark.Lark | None:
    """The parser from generated ``tables`` (a module or namespace with ``GRAMMAR_SHA256``,
    ``LARK_MAJOR``, ``DATA`` and ``MEMO``); ``None`` when they were made from another grammar or
    by another major version of Lark, or cannot be loaded."""
    digest = grammar_digest(grammar_text() if text is None else text)
    if getattr(tables, "GRAMMAR_SHA256", None) != digest:
        return None
    if getattr(tables, "LARK_MAJOR", None) != _lark_major():
        return None
    try:
        # The entry point Lark's own generated (standalone) parsers load their tables with.
        parser: lark.Lark = lark.Lark._load_from_dict(  # type: ignore[no-untyped-call]
            tables.DATA, tables.MEMO
        )
    except Exception:  # any failure to load means: build from the grammar instead
        return None
    return parser


def parser(tables: Any = None) -> lark.Lark:
    """The filter parser: from the generated tables (default: ``_filter_tables``) when they
    match ``filter.lark``, otherwise built from it."""
    text = grammar_text()
    if tables is None:
        from mltrail.query import _filter_tables as tables

    loaded = load_parser(tables, text)
    return loaded if loaded is not None else build_parser(text)


def parse_tokens(parser: lark.Lark, tokens: Sequence[lark.Token]) -> lark.Tree[Any] | None:
    """The tree ``parser`` makes of ``tokens``, a text's tokens as the basic lexer (every
    terminal at once) reads them; ``None`` when a token is not one the parser's state accepts.
    A token the parser refuses raises what ``parser.parse`` raises there.

    ``parser`` lexes contextually: in each parser state it tries only the terminals that state
    accepts, in the basic lexer's order. Where the basic lexer's token is one of those, the
    state's lexer finds the same token (the terminals tried before it did not match there), so
    the text is lexed once, with one compiled expression instead of one per parser state met.
    Where it is not (a keyword standing as a name, ``properties.in``, or text that does not
    parse), ``None`` says: parse the text with ``parser.parse``, whose lexer decides, errors and
    all. ``tests/query/test_parser_tables.py`` checks both ways against ``parser.parse``.
    """
    interactive = parser.parse_interactive()
    for token in tokens:
        if token.type not in interactive.choices():  # type: ignore[no-untyped-call]
            return None
        interactive.feed_token(token)
    tree: lark.Tree[Any] = interactive.feed_eof(  # type: ignore[no-untyped-call]
        tokens[-1] if tokens else None
    )
    return tree


def _lark_major() -> int:
    return int(lark.__version__.split(".", 1)[0])


# ------------------------------------------------------------------------------------ generation


def tables_source(text: str | None = None) -> str:
    """The source of ``_filter_tables.py`` for the grammar ``text`` (default: ``filter.lark``).

    The same grammar gives the same source every time: Lark numbers the parser's states and
    tokens in an order that varies from run to run, so they are renumbered here (tokens by name,
    states in the order a breadth-first walk from the start state meets them).
    """
    text = grammar_text() if text is None else text
    data, memo = build_parser(text).memo_serialize([lark.lexer.TerminalDef, lark.grammar.Rule])
    frontend = data["parser"]
    frontend["parser"] = canonical_table(frontend["parser"])
    body = "\n".join(
        [
            '"""Generated by ``python -m mltrail.query._grammar`` from ``filter.lark``: the LALR',
            "tables of the filter parser (see ``_grammar``). Do not edit; regenerate instead.",
            '"""',
            "",
            "from typing import Any",
            "",
            f"GRAMMAR_SHA256 = {grammar_digest(text)!r}",
            f"LARK_VERSION = {lark.__version__!r}",
            f"LARK_MAJOR = {_lark_major()!r}",
            "",
            f"DATA: dict[str, Any] = {_literal(data)}",
            "",
            f"MEMO: dict[int, Any] = {_literal(memo)}",
            "",
        ]
    )
    return body


def _literal(value: Any) -> str:
    import pprint

    return pprint.pformat(value, width=100, compact=True, sort_dicts=True)


def canonical_table(table: dict[str, Any]) -> dict[str, Any]:
    """A serialized LALR table (``tokens``, ``states``, ``start_states``, ``end_states``) with
    its tokens and states renumbered in an order that does not depend on how Lark built it."""
    names: dict[int, str] = table["tokens"]
    token_ids = {name: number for number, name in enumerate(sorted(names.values()))}
    states: dict[int, dict[int, tuple[int, Any]]] = table["states"]
    order: dict[int, int] = {}
    queue = [table["start_states"][start] for start in sorted(table["start_states"])]
    while queue:
        state = queue.pop(0)
        if state in order:
            continue
        order[state] = len(order)
        for token in sorted(states[state], key=names.__getitem__):
            action, arg = states[state][token]
            if action == 0:  # shift: arg is the next state
                queue.append(arg)
    for state in states:  # none in an LALR table, where every state is reached by shifts
        order.setdefault(state, len(order))

    def row(actions: dict[int, tuple[int, Any]]) -> dict[int, tuple[int, Any]]:
        moved = {
            token_ids[names[token]]: (action, order[arg] if action == 0 else arg)
            for token, (action, arg) in actions.items()
        }
        return dict(sorted(moved.items()))

    return {
        "tokens": {number: name for name, number in token_ids.items()},
        "states": dict(sorted((order[s], row(actions)) for s, actions in states.items())),
        "start_states": {k: order[v] for k, v in table["start_states"].items()},
        "end_states": {k: order[v] for k, v in table["end_states"].items()},
    }


def tables_path() -> Path:
    """Where the generated tables live in a source checkout."""
    return Path(__file__).with_name(_TABLES_MODULE)


def main() -> None:
    """Write ``_filter_tables.py`` next to this module."""
    path = tables_path()
    source = tables_source()
    path.write_text(source, encoding="utf-8")
    print(f"wrote {path} ({len(source):,} characters, lark {lark.__version__})")


if __name__ == "__main__":
    main()
