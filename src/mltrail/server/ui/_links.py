"""Links and texts the pages build from user data: query strings, filter literals, safe hrefs.

Everything a page puts into a URL goes through :func:`query` (``urlencode``), and a stored URI
becomes a link only when it is http(s) (:func:`web_link`): a ``javascript:`` or ``data:`` URI is
shown as text. A filter syntax error is drawn as text with a caret under the fault
(:func:`syntax_error`); the templates escape it like any other text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from mltrail.errors import InvalidArgumentError, MltrailError, QuerySyntaxError

#: Schemes a stored URI may have to be shown as a link.
WEB_SCHEMES = frozenset({"http", "https"})


def query(params: Mapping[str, Any]) -> str:
    """``?a=1&b=x`` for the parameters that have a value (lists repeat their key), or ``""``."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            if item is None or item == "" or item is False:
                continue
            pairs.append((key, "1" if item is True else str(item)))
    return "?" + urlencode(pairs) if pairs else ""


def web_link(uri: Any) -> str | None:
    """``uri`` when it is an http(s) URL with a host (then safe as an href), else None."""
    if not isinstance(uri, str) or any(c in uri for c in "\x00\r\n\t "):
        return None
    try:
        parts = urlsplit(uri)
    except ValueError:
        return None
    return uri if parts.scheme.lower() in WEB_SCHEMES and parts.netloc else None


def literal(text: str) -> str:
    """``text`` as a string literal of the filter language (single quotes, escaped)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def with_type(filter_text: str, type_name: str | None) -> str:
    """The filter selecting the nodes of ``filter_text`` that are of type ``type_name``.

    The user's filter keeps its own lines (a ``--`` comment ends at its line), so a fault in it
    is reported where the user wrote it when it is checked alone first.
    """
    if not type_name:
        return filter_text
    condition = f"type = {literal(type_name)}"
    return f"({filter_text}\n) AND {condition}" if filter_text.strip() else condition


def int_param(params: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    """The integer query parameter ``name`` (``default`` when absent), within ``low..high``."""
    text = str(params.get(name) or "").strip()
    if not text:
        return default
    try:
        number = int(text)
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise InvalidArgumentError(
            f"{name}={text[:20]!r} is not valid; give a whole number from {low} to {high}"
        )
    return number


def node_id(params: Mapping[str, Any], kind: str) -> int:
    """The ``id`` path parameter of a node page, as an int."""
    text = str(params.get("id", ""))
    if not text.isdigit() or len(text) > 19:
        raise InvalidArgumentError(f"{text[:20]!r} is not an {kind} id; ids are whole numbers")
    return int(text)


def syntax_error(exc: QuerySyntaxError) -> dict[str, Any]:
    """The parts of a filter syntax error a page shows: the query with a caret line under
    the faulty line (``drawing``), the reason, where and the hint."""
    lines = exc.query.splitlines() or [""]
    drawn: list[str] = []
    for number, text in enumerate(lines, start=1):
        drawn.append(text)
        if number == exc.line:
            before = text[: max(exc.column - 1, 0)]
            # Tabs stay tabs, so the caret lands under the fault however tabs are shown.
            drawn.append("".join("\t" if c == "\t" else " " for c in before) + "^")
    if exc.line > len(lines):
        drawn.append("^")
    return {
        "error": type(exc).__name__,
        "message": exc.message,
        "reason": exc.reason,
        "query": exc.query,
        "line": exc.line,
        "column": exc.column,
        "hint": exc.hint,
        "drawing": "\n".join(drawn),
    }


def problem(exc: MltrailError) -> dict[str, Any]:
    """What a table page shows inline for a request it cannot answer."""
    if isinstance(exc, QuerySyntaxError):
        return syntax_error(exc)
    return {"error": type(exc).__name__, "message": exc.message}
