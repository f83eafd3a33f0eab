"""Checking what users log: parameters, property dicts, metric values and event directions.

Parameters and properties keep their Python types (int, float, str, bool, dict, list); values
from other libraries that behave as numbers (numpy scalars...) become ``int``/``float``, tuples
become lists. Nothing is ever turned into a string behind the user's back.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

from mltrail.errors import InvalidArgumentError
from mltrail.model import EventType, PropertyValue

RESERVED_PREFIX = "mltrail."


def plain(value: Any, where: str) -> Any:
    """``value`` as a JSON-like Python value (None allowed only inside containers)."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number):
            raise InvalidArgumentError(
                f"{where} is {number}, which cannot be stored portably; leave it out or give it "
                "as a string"
            )
        return number
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidArgumentError(f"{where} has a non-string key {key!r}")
            out[key] = plain(item, f"{where}[{key!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [plain(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise InvalidArgumentError(
        f"{where} is a {type(value).__name__}; use int, float, str, bool or a JSON-like dict/list"
    )


def property_dict(
    values: Mapping[str, Any] | None, what: str, *, reserved: bool = True
) -> dict[str, PropertyValue]:
    """Checked ``{name: value}``; None values are refused (say what to do instead)."""
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise InvalidArgumentError(f"{what}s must be a dict of name to value, got {values!r}")
    out: dict[str, PropertyValue] = {}
    for key, value in values.items():
        if not isinstance(key, str) or not key:
            raise InvalidArgumentError(f"{what} names must be non-empty strings, got {key!r}")
        if reserved and key.startswith(RESERVED_PREFIX):
            raise InvalidArgumentError(
                f"{what} {key!r}: names starting with {RESERVED_PREFIX!r} are reserved for mltrail"
            )
        if value is None:
            raise InvalidArgumentError(f"{what} {key!r} is None; give a value or leave it out")
        out[key] = plain(value, f"{what} {key!r}")
    return out


def metric_value(value: Any, where: str) -> int | float | str:
    """A metric value: a number (bools count as numbers); NaN and infinities are kept as the
    strings ``"nan"``, ``"inf"`` and ``"-inf"`` since stores hold finite numbers only."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else str(number)
    raise InvalidArgumentError(f"{where} must be a number, got {value!r}")


def metric_values(values: Any, default_key: str, where: str) -> dict[str, int | float | str]:
    """``{key: value}`` from a number (keyed ``default_key``) or a mapping of numbers."""
    if isinstance(values, Mapping):
        out = {}
        for key, value in values.items():
            if not isinstance(key, str) or not key:
                raise InvalidArgumentError(f"{where}: names must be non-empty strings, got {key!r}")
            out[key] = metric_value(value, f"{where} {key!r}")
        return out
    return {default_key: metric_value(values, where)}


_EVENT_WORDS = {"input": EventType.INPUT, "output": EventType.OUTPUT}


def event_type(value: Any) -> EventType:
    """``"input"``/``"output"`` (CMF's words) or any :class:`EventType`, by member or name."""
    if isinstance(value, EventType):
        kind = value
    elif isinstance(value, str) and value.lower() in _EVENT_WORDS:
        kind = _EVENT_WORDS[value.lower()]
    elif isinstance(value, str) and value.upper() in EventType.__members__:
        kind = EventType[value.upper()]
    else:
        raise InvalidArgumentError(
            f"event {value!r} is not valid; use 'input', 'output' or an mltrail.EventType"
        )
    if kind == EventType.UNKNOWN:
        raise InvalidArgumentError("event UNKNOWN is not valid; use 'input' or 'output'")
    return kind
