"""Checks of the arguments of public calls: a wrong one is an InvalidArgumentError saying so."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mltrail.backends.sql.schema import NAME_LENGTH
from mltrail.errors import InvalidArgumentError

NUL = "\x00"


def batch(values: Any, what: str) -> list[Any]:
    """The items of a write request, which must be a list (or another iterable, not a str)."""
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
        raise InvalidArgumentError(
            f"{what} must be a list, got {type(values).__name__}; wrap a single item in a list"
        )
    return list(values)


def id_arg(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(f"{what} must be an int id, got {value!r}")
    return value


def ids_arg(values: Sequence[int], what: str) -> list[int]:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise InvalidArgumentError(f"{what} must be a list of ids, got {values!r}")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidArgumentError(f"{what} must hold int ids, got {value!r}")
    return list(values)


def optional_ids(values: Sequence[int] | None, what: str) -> tuple[int, ...] | None:
    return None if values is None else tuple(ids_arg(values, what))


def text_arg(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{what} must be a string, got {value!r}")
    return value


def external_ids_arg(values: Sequence[str]) -> list[str]:
    out = []
    for value in batch(values, "external ids"):
        if not isinstance(value, str) or not value:
            raise InvalidArgumentError(f"external ids must be non-empty strings, got {value!r}")
        out.append(value)
    return out


def no_nul(value: str, what: str) -> str:
    """``value`` unless it holds a NUL character, which PostgreSQL cannot store."""
    if NUL in value:
        raise InvalidArgumentError(
            f"{what} contains a NUL character (\\x00), which not every database can store; "
            "remove it or encode the value"
        )
    return value


def name_arg(value: Any, what: str, *, required: bool = False) -> str | None:
    """A name, version or external id: a string of at most NAME_LENGTH characters, or None
    (an empty string counts as none)."""
    if value is None or value == "":
        if required:
            raise InvalidArgumentError(f"{what} is missing; give a non-empty string")
        return None
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{what} must be a string, got {type(value).__name__}")
    if len(value) > NAME_LENGTH:
        raise InvalidArgumentError(f"{what} is longer than {NAME_LENGTH} characters")
    return no_nul(value, what)
