"""Checks of the arguments of public calls: a wrong one is an InvalidArgumentError saying so.

Ids are ints (not bools, floats or strings). The store hands out ids from 1 to ``ID_MAX``; an id
outside that range names nothing, so lookups skip it like any unknown id and writes refuse it as
missing (:func:`storable_ids` keeps such ids away from the database, which could not bind them).
Every string that is stored or looked up passes :func:`clean_text`: no NUL character (PostgreSQL
cannot store one) and no lone surrogate (not encodable as UTF-8).
"""

from __future__ import annotations

import enum
import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mltrail._plain import short
from mltrail.backends.sql.schema import NAME_LENGTH
from mltrail.errors import InvalidArgumentError

NUL = "\x00"
ID_MAX = 2**63 - 1
#: The largest count a caller may give (``limit``, ``max_hops``, ``max_nodes``...).
COUNT_MAX = 1_000_000_000


def batch(values: Any, what: str) -> list[Any]:
    """The items of a write request, which must be a list (or another iterable, not a str)."""
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
        raise InvalidArgumentError(
            f"{what} must be a list, got {type(values).__name__}; wrap a single item in a list"
        )
    return list(values)


# ---------------------------------------------------------------------------------------------- ids


def id_arg(value: Any, what: str) -> int:
    """``value`` as an id: an int (numpy ints too); bools, enums, floats and strings are refused
    rather than converted."""
    if isinstance(value, (bool, enum.Enum)) or not isinstance(value, numbers.Integral):
        raise InvalidArgumentError(f"{what} must be an int id, got {short(value)}")
    return int(value)


def required_id(value: Any, what: str) -> int:
    if value is None:
        raise InvalidArgumentError(f"{what} is missing")
    return id_arg(value, what)


def optional_id(value: Any, what: str) -> int | None:
    return None if value is None else id_arg(value, what)


def ids_arg(values: Any, what: str) -> list[int]:
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
        raise InvalidArgumentError(f"{what} must be a list of ids, got {short(values)}")
    out = []
    for value in values:
        if isinstance(value, (bool, enum.Enum)) or not isinstance(value, numbers.Integral):
            raise InvalidArgumentError(f"{what} must hold int ids only, got {short(value)}")
        out.append(int(value))
    return out


def optional_ids(values: Sequence[int] | None, what: str) -> tuple[int, ...] | None:
    return None if values is None else tuple(ids_arg(values, what))


def is_storable_id(value: int) -> bool:
    """Whether ``value`` can be the id of something stored (1 ... 2**63 - 1)."""
    return 1 <= value <= ID_MAX


def storable_ids(values: Iterable[int]) -> list[int]:
    """The distinct ids among ``values`` that can name something stored, sorted."""
    return sorted({v for v in values if 1 <= v <= ID_MAX})


# ------------------------------------------------------------------------------------------ numbers


def count_arg(value: Any, what: str, *, maximum: int = COUNT_MAX) -> int | None:
    """A non-negative int of at most ``maximum``, or None."""
    if value is None:
        return None
    if isinstance(value, (bool, enum.Enum)) or not isinstance(value, numbers.Integral):
        raise InvalidArgumentError(f"{what} must be a non-negative int or None, got {short(value)}")
    number = int(value)
    if not 0 <= number <= maximum:
        raise InvalidArgumentError(f"{what} must be between 0 and {maximum:,}, got {number}")
    return number


def flag_arg(value: Any, what: str) -> bool:
    """A bool; anything else (a string such as "no" is truthy) is refused."""
    if not isinstance(value, bool):
        raise InvalidArgumentError(f"{what} must be True or False, got {short(value)}")
    return value


# -------------------------------------------------------------------------------------------- text


def clean_text(value: str, what: str) -> str:
    """``value`` unless it holds a NUL character or a lone surrogate, which cannot be stored."""
    if NUL in value:
        raise InvalidArgumentError(
            f"{what} contains a NUL character (\\x00), which not every database can store; "
            "remove it or encode the value"
        )
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidArgumentError(
                f"{what} contains a lone surrogate ({short(value[exc.start : exc.end])} at "
                f"position {exc.start}), which is not valid Unicode text; decode the bytes it "
                "came from with errors='replace', or fix the string"
            ) from None
    return value


def text_arg(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{what} must be a string, got {short(value)}")
    return clean_text(value, what)


def optional_text(value: Any, what: str) -> str | None:
    return None if value is None else text_arg(value, what)


def filter_arg(value: Any, what: str) -> str | None:
    """A filter query: None or a string, stripped (empty means none). Its content is checked by
    the filter language, whose errors point at the fault (a NUL, a lone surrogate...)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{what} must be a string, got {short(value)}")
    return value.strip() or None


def texts_arg(values: Any, what: str) -> list[str]:
    """A list of strings (a single string is refused: it would be taken letter by letter)."""
    return [text_arg(value, f"each of {what}") for value in batch(values, what)]


def external_ids_arg(values: Sequence[str]) -> list[str]:
    out = []
    for value in batch(values, "external ids"):
        if not isinstance(value, str) or not value:
            raise InvalidArgumentError(
                f"external ids must be non-empty strings, got {short(value)}"
            )
        out.append(clean_text(value, "an external id"))
    return out


def name_arg(value: Any, what: str, *, required: bool = False) -> str | None:
    """A name, version or external id: a string of at most NAME_LENGTH characters, or None
    (an empty string counts as none)."""
    if value is None or (isinstance(value, str) and not value):
        if required:
            raise InvalidArgumentError(f"{what} is missing; give a non-empty string")
        return None
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{what} must be a string, got {type(value).__name__}")
    if len(value) > NAME_LENGTH:
        raise InvalidArgumentError(f"{what} is longer than {NAME_LENGTH} characters")
    return clean_text(value, what)


def version_arg(value: Any, what: str = "type_version") -> str:
    """A type version given to a lookup: None or a string ("" and None are the same)."""
    return name_arg(value, what) or ""
