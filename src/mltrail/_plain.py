"""Plain values checked before they are stored: JSON-like data and readable reprs.

Below every package: the store checks property values with these (``store/_values``) and so do
execution fingerprints (``query/fingerprint``). A value that cannot be stored portably is a
:class:`ValueProblem`, which the caller turns into an error naming the node or argument.
"""

from __future__ import annotations

import enum
import math
import numbers
import reprlib
from collections.abc import Mapping
from typing import Any

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
#: How deeply dicts and lists may nest in a STRUCT value.
STRUCT_DEPTH = 64

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlist, _REPR.maxdict = 3, 50, 50, 5, 4


def short(value: Any) -> str:
    """``repr(value)`` cut to a readable length, for messages: safe on deeply nested or huge
    values and on objects whose ``__repr__`` fails."""
    try:
        text = _REPR.repr(value)
    except Exception:
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= 60 else text[:57] + "..."


class ValueProblem(ValueError):
    """A property value that cannot be stored; the caller adds which node and property."""


def int64(value: int) -> int:
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueProblem(f"{value} does not fit in a 64-bit integer; store it as a string")
    return value


def finite(value: Any, where: str = "") -> float:
    """A real number as a finite float."""
    try:
        number = float(value)
    except (OverflowError, ValueError, TypeError):
        number = math.inf
    if not math.isfinite(number):
        raise ValueProblem(
            f"{short(value)}{at(where)} is not a finite 64-bit float and cannot be stored "
            "portably; store it as a string or leave the property out"
        )
    return number


def plain_json(value: Any, where: str = "", depth: int = 0) -> Any:
    """``value`` as plain JSON data (dict, list, str, int, float, bool, None), checked.

    Tuples become lists, other mappings dicts and numpy-like numbers Python ones; anything else
    is a :class:`ValueProblem` saying where it is.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        # NUL is escaped in JSON text; surrogates could not be encoded.
        return str(surrogate_free(value, where))
    if isinstance(value, enum.Enum):
        raise ValueProblem(f"{short(value)}{at(where)} is an enum; store its .name or .value")
    if isinstance(value, numbers.Integral):
        try:
            return int64(int(value))
        except ValueProblem:
            raise ValueProblem(
                f"{value}{at(where)} does not fit in a 64-bit integer; store it as a string"
            ) from None
    if isinstance(value, numbers.Real):
        return finite(value, where)
    if isinstance(value, (Mapping, list, tuple)):
        if depth >= STRUCT_DEPTH:
            raise ValueProblem(
                f"the value is nested more than {STRUCT_DEPTH} levels deep{at(where)}; "
                "flatten it or store it as a string"
            )
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    raise ValueProblem(f"struct key {short(key)}{at(where)} must be a string")
                surrogate_free(key, where)
                out[str(key)] = plain_json(item, f"{where}.{key}", depth + 1)
            return out
        return [plain_json(item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value)]
    raise ValueProblem(
        f"{short(value)}{at(where)} is not JSON-like (dict, list, str, number, bool, None)"
    )


def surrogate_free(value: str, where: str) -> str:
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueProblem(
                f"the string {short(value)}{at(where)} contains a lone surrogate, which is "
                "not valid Unicode text; fix the string or decode its bytes with errors='replace'"
            ) from None
    return value


def at(where: str) -> str:
    return f" at {where.lstrip('.')}" if where else ""


def shown(value: Any) -> str:
    """A property value as text for people (a table cell, a page): numbers and strings as they
    are, booleans as ``true``/``false``, floats to six significant digits, None as nothing, the
    rest as compact JSON with sorted keys."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, int | str):
        return str(value)
    import json

    return json.dumps(value, sort_keys=True, default=str)
