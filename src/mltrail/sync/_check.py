"""Checking a received batch before anything of it is applied, and its byte form.

A batch that is malformed, truncated or altered is refused whole with
:class:`~mltrail.errors.InvalidArgumentError` saying where: every field is checked for its type
and range, and every node an edge names must be in the batch. In bytes (over HTTP, in a bundle)
a batch carries the SHA-256 digest of its content, which must match.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from mltrail.backends.sql.readers import SLOTS, SPECS
from mltrail.backends.sql.schema import NAME_LENGTH, TypeKind
from mltrail.errors import InvalidArgumentError
from mltrail.model import EventType, PropertyType
from mltrail.sync._read import FORMAT

_MAX_ID = 2**63 - 1
_PROPERTY_TYPES = {int(t) for t in PropertyType}
_EVENT_TYPES = {int(t) for t in EventType}
_SLOT_TYPES: tuple[tuple[type, ...], ...] = ((int,), (float, int), (str,), (bool,), (str,))


class _Bad(Exception):
    def __init__(self, where: str, what: str) -> None:
        self.where, self.what = where, what


_HEAD = b'{"digest":"'
_MIDDLE = b'","batch":'
_BODY = len(_HEAD) + 64 + len(_MIDDLE)  # where the batch's text starts


def encode(batch: dict[str, Any]) -> bytes:
    """The batch as bytes: ``{"digest": D, "batch": B}`` where D is the SHA-256 of the text of B
    exactly as it stands there (so that checking it never serializes the batch again)."""
    body = json.dumps(batch, separators=(",", ":"), allow_nan=False).encode()
    return _HEAD + hashlib.sha256(body).hexdigest().encode() + _MIDDLE + body + b"}"


def decode(data: bytes) -> dict[str, Any]:
    """A batch from :func:`encode`'s bytes, checked (digest and content)."""
    laid_out = (
        data[: len(_HEAD)] == _HEAD and data[_BODY - len(_MIDDLE) : _BODY] == _MIDDLE
    ) and data.endswith(b"}")
    if not laid_out:
        try:
            wrapper = json.loads(data)
        except (ValueError, RecursionError) as exc:
            raise InvalidArgumentError(
                f"the batch is not valid JSON (truncated or damaged?): {exc}; send it again"
            ) from None
        if not isinstance(wrapper, dict) or set(wrapper) != {"digest", "batch"}:
            raise InvalidArgumentError(
                "the batch is not in mltrail's sync format (an object with 'digest' and 'batch')"
            )
        raise InvalidArgumentError(
            "the batch does not match its digest: its bytes were changed (re-encoded, or "
            "altered) on the way; nothing was applied, send it as it was made"
        )
    body = data[_BODY:-1]
    if hashlib.sha256(body).hexdigest().encode() != data[len(_HEAD) : len(_HEAD) + 64]:
        raise InvalidArgumentError(
            "the batch does not match its digest: it was altered or damaged on the way; nothing "
            "was applied, send it again"
        )
    try:
        batch = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InvalidArgumentError(f"the batch is not valid JSON: {exc}; send it again") from None
    return check(batch)


def check(batch: Any) -> dict[str, Any]:
    """``batch`` itself when it is a well-formed batch; InvalidArgumentError otherwise."""
    try:
        _batch(batch)
    except _Bad as bad:
        raise InvalidArgumentError(
            f"the batch is malformed at {bad.where}: {bad.what}; nothing was applied (is the "
            "sender a compatible mltrail?)"
        ) from None
    return batch


def _batch(b: Any) -> None:
    _object(b, "the batch", {"format", "site", "from", "to", "types", "nodes"})
    if b["format"] != FORMAT or type(b["format"]) is not int:
        raise _Bad(
            "format",
            f"format version {b['format']!r} is not {FORMAT}, the one this mltrail reads; upgrade "
            "the older of the two",
        )
    _site(b["site"], "site")
    start, end = b["from"], b["to"]
    if (start is None) != (end is None):
        raise _Bad("from/to", "either both feed positions or neither")
    if start is not None:
        _int(start, "from", 0)
        _int(end, "to", 0)
        if end < start:
            raise _Bad("to", f"position {end} is before the start {start}")
    _list(b["types"], "types")
    types = set()
    for i, t in enumerate(b["types"]):
        types.add(_type(t, f"types[{i}]"))
    _list(b["nodes"], "nodes")
    gids: set[tuple[int, str, int]] = set()
    for i, n in enumerate(b["nodes"]):
        where = f"nodes[{i}]"
        kind = _node(n, where)
        if (kind, n["type"][0], n["type"][1]) not in types:
            raise _Bad(f"{where}.type", f"type {n['type']!r} is not among the batch's types")
        gids.add((kind, n["gid"][0], n["gid"][1]))
    for i, n in enumerate(b["nodes"]):
        for name, items in n.get("edges", {}).items():
            target = TypeKind.ARTIFACT if name == "events" else TypeKind.CONTEXT
            for j, item in enumerate(items):
                gid = item[0] if name == "events" else item
                if (int(target), gid[0], gid[1]) not in gids:
                    raise _Bad(
                        f"nodes[{i}].edges.{name}[{j}]",
                        f"the node {gid!r} it names is not in the batch (ids that do not resolve)",
                    )


def _object(
    value: Any, where: str, keys: set[str], optional: frozenset[str] | set[str] = frozenset()
) -> None:
    if not isinstance(value, dict):
        raise _Bad(where, f"expected an object, got {type(value).__name__}")
    present = value.keys()
    if present == keys or (optional and keys <= present and present - keys <= optional):
        return  # the usual case, told without building sets
    missing = keys - set(value)
    extra = set(value) - keys - optional
    if missing or extra:
        raise _Bad(where, f"missing {sorted(missing)}, unknown {sorted(extra)}")


def _list(value: Any, where: str) -> None:
    if not isinstance(value, list):
        raise _Bad(where, f"expected a list, got {type(value).__name__}")


def _int(value: Any, where: str, low: int = 1, high: int = _MAX_ID) -> int:
    if type(value) is not int or not low <= value <= high:
        raise _Bad(where, f"expected an integer from {low} to {high}, got {value!r}")
    return value


def _text(
    value: Any, where: str, *, optional: bool = False, limit: int | None = NAME_LENGTH
) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or (limit is not None and len(value) > limit) or "\x00" in value:
        raise _Bad(where, f"expected text of at most {limit} characters, got {str(value)[:60]!r}")


_SITES_SEEN: set[str] = set()  # canonical UUID texts met before: a batch names a few sites


def _site(value: Any, where: str) -> str:
    if value in _SITES_SEEN and type(value) is str:
        return value
    if not isinstance(value, str):
        raise _Bad(where, f"a site id is a UUID, got {value!r}")
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise _Bad(where, f"a site id is a UUID, got {value[:60]!r}") from None
    if str(parsed) != value:
        raise _Bad(where, f"a site id is a UUID in canonical form, got {value[:60]!r}")
    if len(_SITES_SEEN) < 10_000:
        _SITES_SEEN.add(value)
    return value


def _pair(value: Any, where: str) -> None:
    if not isinstance(value, list) or len(value) != 2:
        raise _Bad(where, f"expected a pair, got {str(value)[:60]!r}")


def _gid(value: Any, where: str) -> None:
    _pair(value, where)
    _site(value[0], where)
    _int(value[1], where)


def _stamp(value: Any, where: str) -> None:
    _pair(value, where)
    _int(value[0], where, 0)
    _site(value[1], where)


def _type(t: Any, where: str) -> tuple[int, str, str]:
    _object(
        t,
        where,
        {"kind", "name", "version", "description", "external_id", "base_type", "properties"},
    )
    kind = _int(t["kind"], f"{where}.kind", 1, 3)
    _text(t["name"], f"{where}.name")
    if not t["name"]:
        raise _Bad(f"{where}.name", "a type needs a name")
    _text(t["version"], f"{where}.version")
    _text(t["description"], f"{where}.description", optional=True, limit=None)
    _text(t["external_id"], f"{where}.external_id", optional=True)
    if t["base_type"] is not None:
        _int(t["base_type"], f"{where}.base_type", 0, 100)
    _list(t["properties"], f"{where}.properties")
    for i, prop in enumerate(t["properties"]):
        _pair(prop, f"{where}.properties[{i}]")
        _text(prop[0], f"{where}.properties[{i}]")
        if prop[1] not in _PROPERTY_TYPES or type(prop[1]) is not int:
            raise _Bad(f"{where}.properties[{i}]", f"unknown property type {prop[1]!r}")
    return kind, t["name"], t["version"]


_ENUM_VALUES: dict[Any, frozenset[int]] = {}


def _enum_values(enum: Any) -> frozenset[int]:
    found = _ENUM_VALUES.get(enum)
    if found is None:
        found = _ENUM_VALUES[enum] = frozenset(int(m) for m in enum)
    return found


_EDGES = frozenset({"edges"})
_NODE_KEYS = {
    "kind",
    "gid",
    "type",
    "name",
    "external_id",
    "fields",
    "stamp",
    "created",
    "updated",
    "props",
    "removed",
}
_SCALAR_KEYS = {kind: set(spec.scalars) for kind, spec in SPECS.items()}


def _node(n: Any, where: str) -> int:
    _object(n, where, _NODE_KEYS, _EDGES)
    kind = _int(n["kind"], f"{where}.kind", 1, 3)
    spec = SPECS[TypeKind(kind)]
    _gid(n["gid"], f"{where}.gid")
    _pair(n["type"], f"{where}.type")
    _text(n["type"][0], f"{where}.type")
    _text(n["type"][1], f"{where}.type")
    _text(n["name"], f"{where}.name", optional=not spec.name_required)
    _text(n["external_id"], f"{where}.external_id", optional=True)
    _object(n["fields"], f"{where}.fields", _SCALAR_KEYS[TypeKind(kind)])
    for column, value in n["fields"].items():
        if value is None:
            continue
        if column in spec.enums:
            allowed = _enum_values(spec.enums[column])
            if type(value) is not int or value not in allowed:
                raise _Bad(f"{where}.fields.{column}", f"unknown state {value!r}")
        else:
            _text(value, f"{where}.fields.{column}", limit=None)
    _stamp(n["stamp"], f"{where}.stamp")
    _int(n["created"], f"{where}.created", 0)
    _int(n["updated"], f"{where}.updated", 0)
    _list(n["props"], f"{where}.props")
    for i, prop in enumerate(n["props"]):
        at = f"{where}.props[{i}]"
        if not isinstance(prop, list) or len(prop) != 6:
            raise _Bad(at, "expected [name, is_custom, slot, value, hlc, site]")
        _text(prop[0], at)
        if type(prop[1]) is not bool:
            raise _Bad(at, "is_custom must be true or false")
        slot = _int(prop[2], at, 0, len(SLOTS) - 1)
        if type(prop[3]) not in _SLOT_TYPES[slot] or (slot == 0 and type(prop[3]) is bool):
            raise _Bad(at, f"a value of slot {SLOTS[slot]} cannot be {prop[3]!r}")
        if slot == 4:
            try:
                json.loads(prop[3])
            except ValueError:
                raise _Bad(at, "a struct value must be JSON text") from None
        _int(prop[4], at, 0)
        _site(prop[5], at)
    _list(n["removed"], f"{where}.removed")
    for i, item in enumerate(n["removed"]):
        at = f"{where}.removed[{i}]"
        if not isinstance(item, list) or len(item) != 4 or type(item[1]) is not bool:
            raise _Bad(at, "expected [name, is_custom, hlc, site]")
        _text(item[0], at)
        _int(item[2], at, 0)
        _site(item[3], at)
    if "edges" in n:
        allowed_edges = {
            TypeKind.ARTIFACT: {"contexts"},
            TypeKind.EXECUTION: {"events", "contexts"},
            TypeKind.CONTEXT: {"parents"},
        }[TypeKind(kind)]
        _object(n["edges"], f"{where}.edges", set(), allowed_edges)
        for name, items in n["edges"].items():
            _list(items, f"{where}.edges.{name}")
            for j, item in enumerate(items):
                at = f"{where}.edges.{name}[{j}]"
                if name == "events":
                    if not isinstance(item, list) or len(item) != 4:
                        raise _Bad(at, "expected [artifact, type, path, milliseconds]")
                    _gid(item[0], at)
                    if type(item[1]) is not int or item[1] not in _EVENT_TYPES:
                        raise _Bad(at, f"unknown event type {item[1]!r}")
                    _text(item[2], at, optional=True, limit=None)
                    _int(item[3], at, 0)
                else:
                    _gid(item, at)
    return kind
