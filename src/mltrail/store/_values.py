"""Property values: checking plain Python values against declared types, and their storage slots.

A value is stored in exactly one typed column ("slot") of a property row: ``int_value``,
``double_value``, ``string_value``, ``bool_value`` or ``struct_value`` (JSON text).

A STRUCT value is JSON-like: dicts with str keys, lists (and tuples), str, int within 64 bits,
finite float, bool and None, nested at most :data:`mltrail._plain.STRUCT_DEPTH` levels deep.
"""

from __future__ import annotations

import enum
import json
import numbers
from collections.abc import Mapping
from typing import Any, TypeVar

from mltrail._plain import (
    ValueProblem,
    at,
    finite,
    int64,
    plain_json,
    short,
    surrogate_free,
)
from mltrail.backends.sql import readers
from mltrail.errors import InvalidArgumentError
from mltrail.model import PropertyType

SLOT_OF_TYPE = {
    PropertyType.INT: "int_value",
    PropertyType.DOUBLE: "double_value",
    PropertyType.STRING: "string_value",
    PropertyType.BOOLEAN: "bool_value",
    PropertyType.STRUCT: "struct_value",
}
SLOTS = tuple(SLOT_OF_TYPE.values())
decode = readers.decode  # the reading side lives with the SQL backend


def encode(value: Any, declared: PropertyType | None) -> tuple[str, Any]:
    """``(slot, stored value)`` for ``value``; ``declared`` is None for custom properties."""
    kind, stored = _classify(value)
    if declared is None or declared == kind:
        return SLOT_OF_TYPE[kind], stored
    if declared == PropertyType.DOUBLE and kind == PropertyType.INT:
        return "double_value", float(stored)
    raise ValueProblem(
        f"the type declares {declared.name} but the value {short(value)} is {kind.name}"
    )


def _classify(value: Any) -> tuple[PropertyType, Any]:
    t = type(value)
    if t is str:
        return PropertyType.STRING, _text(value)
    if t is bool:
        return PropertyType.BOOLEAN, value
    if t is int:
        return PropertyType.INT, int64(value)
    if t is float:
        return PropertyType.DOUBLE, finite(value)
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
        raise ValueProblem(f"{short(value)} is an enum; store its .name or .value")
    if isinstance(value, numbers.Integral):
        return PropertyType.INT, int64(int(value))
    if isinstance(value, numbers.Real):
        return PropertyType.DOUBLE, finite(value)
    if isinstance(value, (Mapping, list, tuple)):
        return PropertyType.STRUCT, _json(value)
    raise ValueProblem(
        f"{short(value)} of type {t.__name__} is not a property value; use int, float, str, "
        "bool, or a JSON-like dict or list"
    )


def _text(value: str, where: str = "") -> str:
    if "\x00" in value:
        raise ValueProblem(
            f"the string{at(where)} contains a NUL character (\\x00), which not every database "
            "can store; remove it or encode the value"
        )
    return surrogate_free(value, where)


def _json(value: Any) -> str:
    # NUL characters inside strings are escaped by JSON, so struct values store them safely.
    return json.dumps(plain_json(value), separators=(",", ":"), ensure_ascii=False, allow_nan=False)


E = TypeVar("E", bound=enum.IntEnum)


def enum_value(enum_cls: type[E], value: Any, what: str) -> E:
    """``value`` (a member, its number or its name) as a member of ``enum_cls``."""
    if isinstance(value, enum_cls):
        return value
    if isinstance(value, enum.Enum):
        # An IntEnum of another class is an int, but ExecutionState.COMPLETE is not the artifact
        # state with the same number: it is a mix-up.
        raise InvalidArgumentError(
            f"{what} {short(value)} is a {type(value).__name__}, not a {enum_cls.__name__}; "
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
    raise InvalidArgumentError(f"{what} {short(value)} is not valid; use one of {names}")
