"""MLMD's encodings of property values that are not plain columns, decoded without protobuf.

* A ``STRUCT`` value is stored in ``string_value`` as ``mlmd-struct::`` followed by the base64 of a
  serialized ``google.protobuf.Struct``; it becomes the JSON text of the same dict (numbers are
  doubles, as in a Struct).
* A ``PROTO`` value is stored in ``proto_value`` as the base64 of a serialized
  ``google.protobuf.Any``; it becomes the JSON text of ``{"@type": type_url, "value": base64 of
  the packed message}``: both parts kept byte for byte, so the Any can be rebuilt exactly.

Only the wire format is read (varints, 64-bit and length-delimited fields): the few messages
involved are small and fixed, so no protobuf runtime is needed.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import struct
from collections.abc import Iterator
from typing import Any

#: The prefix MLMD puts before a serialized Struct in ``string_value``.
STRUCT_PREFIX = "mlmd-struct::"


class BadValue(ValueError):
    """A stored value that does not decode (the message says why)."""


def struct_json(text: str) -> str:
    """The JSON text of the Struct that ``text`` (``mlmd-struct::`` + base64) encodes."""
    try:
        data = base64.b64decode(text[len(STRUCT_PREFIX) :], validate=True)
        return _dumps(_struct(data))
    except (binascii.Error, ValueError, RecursionError, struct.error) as exc:
        raise BadValue(f"a struct value that does not decode ({exc})") from None


def proto_json(stored: str | bytes) -> str:
    """The JSON text ``{"@type": ..., "value": ...}`` of the Any that ``stored`` (base64 of its
    serialized form) encodes."""
    try:
        data = base64.b64decode(stored, validate=True)
        type_url, value = "", b""
        for number, wire, item in _fields(data):
            if number == 1 and wire == 2:
                type_url = item.decode("utf-8")
            elif number == 2 and wire == 2:
                value = item
        return _dumps({"@type": type_url, "value": base64.b64encode(value).decode("ascii")})
    except (binascii.Error, ValueError, struct.error) as exc:
        raise BadValue(f"a proto value that does not decode ({exc})") from None


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _varint(data: bytes, at: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if at >= len(data):
            raise ValueError("truncated varint")
        byte = data[at]
        at += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, at
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(data: bytes) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value) of each field of a serialized message."""
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, at = _varint(data, at)
        elif wire == 1:
            (value,) = struct.unpack_from("<d", data, at)
            at += 8
        elif wire == 2:
            size, at = _varint(data, at)
            value = data[at : at + size]
            if len(value) != size:
                raise ValueError("truncated field")
            at += size
        elif wire == 5:
            value = data[at : at + 4]
            at += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield number, wire, value


def _struct(data: bytes) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for number, wire, entry in _fields(data):
        if number != 1 or wire != 2:
            continue
        key, value = "", None
        for field, field_wire, item in _fields(entry):
            if field == 1 and field_wire == 2:
                key = item.decode("utf-8")
            elif field == 2 and field_wire == 2:
                value = _value(item)
        out[key] = value
    return out


def _value(data: bytes) -> Any:
    """A ``google.protobuf.Value`` (the last of its oneof fields counts, as in protobuf)."""
    result: Any = None
    for number, wire, item in _fields(data):
        if number == 1 and wire == 0:
            result = None
        elif number == 2 and wire == 1:
            if not math.isfinite(item):
                raise ValueError(f"the number {item} is not finite (JSON has no such number)")
            result = item
        elif number == 3 and wire == 2:
            result = item.decode("utf-8")
        elif number == 4 and wire == 0:
            result = bool(item)
        elif number == 5 and wire == 2:
            result = _struct(item)
        elif number == 6 and wire == 2:
            result = [_value(v) for n, w, v in _fields(item) if n == 1 and w == 2]
    return result
