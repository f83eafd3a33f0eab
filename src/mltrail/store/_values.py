"""Property values: checking plain Python values against declared types, and their storage slots.

A value is stored in exactly one typed column ("slot") of a property row: ``int_value``,
``double_value``, ``string_value``, ``bool_value`` or ``struct_value`` (JSON text).

A STRUCT value is JSON-like: dicts with str keys, lists (and tuples), str, int within 64 bits,
finite float, bool and None, nested at most :data:`STRUCT_DEPTH` levels deep.
"""

from __future__ import annotations

import enum
import json
import math
import numbers
from collections.abc import Mapping
from typing import Any, TypeVar

from mltrail.backends.sql import readers
from mltrail.errors import InvalidArgumentError
from mltrail.model import PropertyType
from mltrail.store._args import short as _short

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
#: How deeply dicts and lists may nest in a STRUCT value.
STRUCT_DEPTH = 64

SLOT_OF_TYPE = {
    PropertyType.INT: "int_value",
    PropertyType.DOUBLE: "double_value",
    PropertyType.STRING: "string_value",
    PropertyType.BOOLEAN: "bool_value",
    PropertyType.STRUCT: "struct_value",
}
SLOTS = tuple(SLOT_OF_TYPE.values())
decode = readers.decode  # the reading side lives with the SQL backend


class ValueProblem(ValueError):
    """A property value that cannot be stored; the caller adds which node and property."""


def encode(value: Any, declared: PropertyType | None) -> tuple[str, Any]:
    """``(slot, stored value)`` for ``value``; ``declared`` is None for custom properties."""
    kind, stored = _classify(value)
    if declared is None or declared == kind:
        return SLOT_OF_TYPE[kind], stored
    if declared == PropertyType.DOUBLE and kind == PropertyType.INT:
        return "double_value", float(stored)
    raise ValueProblem(
        f"the type declares {declared.name} but the value {_short(value)} is {kind.name}"
    )


def _classify(value: Any) -> tuple[PropertyType, Any]:
    t = type(value)
    if t is str:
        return PropertyType.STRING, _text(value)
    if t is bool:
        return PropertyType.BOOLEAN, value
    if t is int:
        return PropertyType.INT, _int64(value)
    if t is float:
        return PropertyType.DOUBLE, _finite(value)
    if t is dict or t is list:
        return PropertyType.STRUCT, _json(value)
    if value is None:
        raise ValueProblem(
            "the value is None; give a value, or leave the key out to have no property"
        )
    # Subclasses and numeric types from other libraries (numpy, decimal...).
    if isinstance(value, str):
        return PropertyType.STRING, _text(str(value))
    if isinstance(value, bool):
        return PropertyType.BOOLEAN, bool(value)
    if isinstance(value, enum.Enum):
        raise ValueProblem(f"{_short(value)} is an enum; store its .name or .value")
    if isinstance(value, numbers.Integral):
        return PropertyType.INT, _int64(int(value))
    if isinstance(value, numbers.Real):
        return PropertyType.DOUBLE, _finite(value)
    if isinstance(value, (Mapping, list, tuple)):
        return PropertyType.STRUCT, _json(value)
    raise ValueProblem(
        f"{_short(value)} of type {t.__name__} is not a property value; use int, float, str, "
        "bool, or a JSON-like dict or list"
    )


def _text(value: str, where: str = "") -> str:
    if "\x00" in value:
        raise ValueProblem(
            f"the string{_at(where)} contains a NUL character (\\x00), which not every database "
            "can store; remove it or encode the value"
        )
    return _surrogate_free(value, where)


def _int64(value: int) -> int:
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueProblem(f"{value} does not fit in a 64-bit integer; store it as a string")
    return value


def _finite(value: Any, where: str = "") -> float:
    """A real number as a finite float."""
    try:
        number = float(value)
    except (OverflowError, ValueError, TypeError):
        number = math.inf
    if not math.isfinite(number):
        raise ValueProblem(
            f"{_short(value)}{_at(where)} is not a finite 64-bit float and cannot be stored "
            "portably; store it as a string or leave the property out"
        )
    return number


def _json(value: Any) -> str:
    # NUL characters inside strings are escaped by JSON, so struct values store them safely.
    return json.dumps(plain_json(value), separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def plain_json(value: Any, where: str = "", depth: int = 0) -> Any:
    """``value`` as plain JSON data (dict, list, str, int, float, bool, None), checked.

    Tuples become lists, other mappings dicts and numpy-like numbers Python ones; anything else
    is a :class:`ValueProblem` saying where it is.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        # NUL is escaped in JSON text; surrogates could not be encoded.
        return str(_surrogate_free(value, where))
    if isinstance(value, enum.Enum):
        raise ValueProblem(f"{_short(value)}{_at(where)} is an enum; store its .name or .value")
    if isinstance(value, numbers.Integral):
        try:
            return _int64(int(value))
        except ValueProblem:
            raise ValueProblem(
                f"{value}{_at(where)} does not fit in a 64-bit integer; store it as a string"
            ) from None
    if isinstance(value, numbers.Real):
        return _finite(value, where)
    if isinstance(value, (Mapping, list, tuple)):
        if depth >= STRUCT_DEPTH:
            raise ValueProblem(
                f"the value is nested more than {STRUCT_DEPTH} levels deep{_at(where)}; "
                "flatten it or store it as a string"
            )
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    raise ValueProblem(f"struct key {_short(key)}{_at(where)} must be a string")
                _surrogate_free(key, where)
                out[str(key)] = plain_json(item, f"{where}.{key}", depth + 1)
            return out
        return [plain_json(item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value)]
    raise ValueProblem(
        f"{_short(value)}{_at(where)} is not JSON-like (dict, list, str, number, bool, None)"
    )


def _surrogate_free(value: str, where: str) -> str:
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueProblem(
                f"the string {_short(value)}{_at(where)} contains a lone surrogate, which is "
                "not valid Unicode text; fix the string or decode its bytes with errors='replace'"
            ) from None
    return value


def _at(where: str) -> str:
    return f" at {where.lstrip('.')}" if where else ""


E = TypeVar("E", bound=enum.IntEnum)


def enum_value(enum_cls: type[E], value: Any, what: str) -> E:
    """``value`` (a member, its number or its name) as a member of ``enum_cls``."""
    if isinstance(value, enum_cls):
        return value
    if isinstance(value, enum.Enum):
        # An IntEnum of another class is an int, but ExecutionState.COMPLETE is not the artifact
        # state with the same number: it is a mix-up.
        raise InvalidArgumentError(
            f"{what} {_short(value)} is a {type(value).__name__}, not a {enum_cls.__name__}; "
            "use one of " + ", ".join(f"{enum_cls.__name__}.{m.name}" for m in enum_cls)
        )
    try:
        if isinstance(value, str):
            return enum_cls[value.upper()]
        if isinstance(value, int) and not isinstance(value, bool):
            return enum_cls(value)
    except (KeyError, ValueError):
        pass
    names = ", ".join(m.name for m in enum_cls)
    raise InvalidArgumentError(f"{what} {_short(value)} is not valid; use one of {names}")
