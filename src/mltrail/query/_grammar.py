"""The filter grammar's parser: loaded from generated tables, or built from ``filter.lark``.

Building an LALR parser from the grammar (reading the grammar, computing the tables) takes tens
of milliseconds, and every process paid for it on its first filter query. The tables it computes
are data: ``filter_tables.json`` holds them, generated from ``filter.lark`` by Lark's own
serializer, and reading them is a JSON parse (a Python module of the same data took a few
milliseconds to import wherever its bytecode was not cached). The file records the SHA-256 of
the grammar it was made from; a parser is built from the grammar as before whenever the tables
do not match the grammar (or cannot be read, or loaded by the installed Lark), so a stale file
costs time, never correctness. ``tests/query/test_parser_tables.py`` checks that the committed
tables describe the same parser as the grammar.

After editing ``filter.lark``, regenerate the tables with::

    python -m mltrail.query._grammar
"""

from __future__ import annotations

import hashlib
import json
import pkgutil
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lark

#: How the parser is built; the tables hold these options too.
OPTIONS: dict[str, Any] = {
    "parser": "lalr",
    "propagate_positions": True,
    "maybe_placeholders": True,
}

_TABLES_FILE = "filter_tables.json"


@dataclass(frozen=True)
class Tables:
    """Generated tables: Lark's serialized parser (``data``, ``memo``) with what it was made
    from (the grammar's digest, Lark's version)."""

    grammar_sha256: str
    lark_version: str
    lark_major: int
    data: dict[str, Any]
    memo: dict[int, Any]


def grammar_text() -> str:
    """The text of ``filter.lark``."""
    return _package_data("filter.lark").decode("utf-8")


def grammar_digest(text: str) -> str:
    """The SHA-256 (hex) that names a version of the grammar."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def build_parser(text: str | None = None) -> lark.Lark:
    """The parser, built from the grammar (slow: tens of milliseconds)."""
    return lark.Lark(grammar_text() if text is None else text, **OPTIONS)


def read_tables(raw: bytes | None = None) -> Tables | None:
    """The tables in ``raw`` (default: the committed ``filter_tables.json``), or ``None`` when
    they cannot be read."""
    try:
        document = json.loads(_package_data(_TABLES_FILE) if raw is None else raw)
        return Tables(
            grammar_sha256=document["grammar_sha256"],
            lark_version=document["lark_version"],
            lark_major=document["lark_major"],
            data=_restored_data(document["data"]),
            memo=_restored_memo(document["memo"]),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _restored_data(data: dict[str, Any]) -> dict[str, Any]:
    # JSON has neither integer keys nor tuples: the LALR table's tokens and states are keyed by
    # number, and each action is an (action, argument) pair.
    table = data["parser"]["parser"]
    table["tokens"] = {int(number): name for number, name in table["tokens"].items()}
    table["states"] = {
        int(state): {int(token): tuple(action) for token, action in actions.items()}
        for state, actions in table["states"].items()
    }
    return data


def _restored_memo(memo: dict[str, Any]) -> dict[int, Any]:
    restored = {int(number): entry for number, entry in memo.items()}
    for entry in restored.values():  # a rule's options hold a tuple
        options = entry.get("options")
        if isinstance(options, dict) and isinstance(options.get("empty_indices"), list):
            options["empty_indices"] = tuple(options["empty_indices"])
    return restored


def load_parser(tables: Tables | None, text: str | None = None) -> lark.Lark | None:
    """The parser from generated ``tables``; ``None`` when there are none, or they were made
    from another grammar or by another major version of Lark, or cannot be loaded."""
    if tables is None:
        return None
    if tables.grammar_sha256 != grammar_digest(grammar_text() if text is None else text):
        return None
    if tables.lark_major != _lark_major():
        return None
    try:
        # The entry point Lark's own generated (standalone) parsers load their tables with.
        parser: lark.Lark = lark.Lark._load_from_dict(  # type: ignore[no-untyped-call]
            _lazy_lexer(tables.data), tables.memo
        )
    except Exception:  # any failure to load means: build from the grammar instead
        return None
    return parser


class LazyContextualLexer(lark.lexer.Lexer):
    """Lark's contextual lexer, made when the parser first lexes a text itself.

    Lark makes its lexer as it loads a parser, and the contextual one costs a basic lexer per
    parser state; the store's queries are fed tokens lexed beforehand (:func:`parse_tokens`),
    so most processes never need it. Loaded parsers name this class as their lexer (Lark's
    option for a lexer of one's own); it builds the same :class:`lark.lexer.ContextualLexer`
    from the same terminals and parser states as Lark would have, and hands it the text.
    """

    __future_interface__ = 2  # lex(lexer_state, parser_state), as Lark's own lexers

    def __init__(self, conf: lark.common.LexerConf) -> None:
        self.conf = conf
        self._lexer: lark.lexer.ContextualLexer | None = None

    def lex(self, lexer_state: Any, parser_state: Any) -> Iterator[lark.Token]:
        if self._lexer is None:
            table = parser_state.parse_conf.parse_table
            states: dict[int, Collection[str]] = {
                state: list(actions) for state, actions in table.states.items()
            }
            self._lexer = lark.lexer.ContextualLexer(self.conf, states)
        return self._lexer.lex(lexer_state, parser_state)


def _lazy_lexer(data: dict[str, Any]) -> dict[str, Any]:
    """Lark's serialized contextual parser ``data``, set to make its lexer when first used
    (copied where it changes: the tables are left as they were read)."""
    frontend = data["parser"]
    if frontend["lexer_conf"]["lexer_type"] != "contextual" or data["options"].get("postlex"):
        return data
    lexer_conf = {**frontend["lexer_conf"], "lexer_type": LazyContextualLexer}
    return {
        **data,
        "options": {**data["options"], "lexer": LazyContextualLexer},
        "parser": {**frontend, "lexer_conf": lexer_conf},
    }


def parser(tables: Tables | None = None) -> lark.Lark:
    """The filter parser: from the generated tables (default: ``filter_tables.json``) when they
    match ``filter.lark``, otherwise built from it."""
    text = grammar_text()
    loaded = load_parser(read_tables() if tables is None else tables, text)
    return loaded if loaded is not None else build_parser(text)


def _package_data(name: str) -> bytes:
    data = pkgutil.get_data(__package__ or "mltrail.query", name)
    if data is None:  # pragma: no cover - only for loaders that cannot read package data
        raise FileNotFoundError(f"mltrail.query/{name}")
    return data


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


def serialized(text: str | None = None) -> tuple[dict[str, Any], dict[int, Any]]:
    """Lark's serialization (data, memo) of the parser built from ``text`` (default:
    ``filter.lark``), its LALR table renumbered by :func:`canonical_table`."""
    built = build_parser(grammar_text() if text is None else text)
    data, memo = built.memo_serialize([lark.lexer.TerminalDef, lark.grammar.Rule])
    frontend = data["parser"]
    frontend["parser"] = canonical_table(frontend["parser"])
    return data, memo


def tables_source(text: str | None = None) -> str:
    """The text of ``filter_tables.json`` for the grammar ``text`` (default: ``filter.lark``).

    The same grammar gives the same text every time: Lark numbers the parser's states and
    tokens in an order that varies from run to run, so they are renumbered here (tokens by name,
    states in the order a breadth-first walk from the start state meets them).
    """
    text = grammar_text() if text is None else text
    data, memo = serialized(text)
    document = {
        "about": "Generated by python -m mltrail.query._grammar from filter.lark: the LALR "
        "tables of the filter parser (see _grammar.py). Do not edit; regenerate instead.",
        "grammar_sha256": grammar_digest(text),
        "lark_version": lark.__version__,
        "lark_major": _lark_major(),
        "data": data,
        "memo": memo,
    }
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=True) + "\n"


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
    return Path(__file__).with_name(_TABLES_FILE)


def main() -> None:
    """Write ``filter_tables.json`` next to this module."""
    path = tables_path()
    source = tables_source()
    path.write_text(source, encoding="utf-8")
    print(f"wrote {path} ({len(source):,} characters, lark {lark.__version__})")


if __name__ == "__main__":
    main()
