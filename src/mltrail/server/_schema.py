"""The OpenAPI description of the store calls, read off the same type hints as the wire format.

Each call's request body is an object of its parameters; its answer is ``{"result": ...}``.
Model classes become component schemas (``#/components/schemas/Artifact``) whose enums are
written by name, as the wire sends them.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mltrail import model
from mltrail.remote._api import Call
from mltrail.remote._wire import field_hints

COMPONENTS: dict[str, dict[str, Any]] = {}

_TAGGED = {
    "description": "any value in the wire format: plain JSON, or an object with a '$type' tag "
    "(see docs/server.md)"
}


def schema_of(hint: Any) -> dict[str, Any]:
    """The JSON schema of values of ``hint`` on the wire."""
    if hint is Any or hint is object:
        return dict(_TAGGED)
    if hint is type(None):
        return {"type": "null"}
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [schema_of(a) for a in args]}
    if origin is model.ResultPage:
        return {
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": schema_of(args[0] if args else Any)},
                "next_page_token": {"type": ["string", "null"]},
            },
        }
    if origin in (list, Sequence, Iterable):
        return {"type": "array", "items": schema_of(args[0] if args else Any)}
    if origin is tuple:
        if args and args[-1] is not Ellipsis:
            return {"type": "array", "prefixItems": [schema_of(a) for a in args]}
        return {"type": "array"}
    if origin in (dict, Mapping):
        value = args[1] if len(args) == 2 else Any
        return {"type": "object", "additionalProperties": schema_of(value)}
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        return {"type": "integer"}
    if hint is float:
        return {"type": "number"}
    if hint is str:
        return {"type": "string"}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _component(hint, lambda: {"type": "string", "enum": list(hint.__members__)})
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _component(hint, lambda: _object(hint))
    return dict(_TAGGED)


def _component(cls: type, build: typing.Callable[[], dict[str, Any]]) -> dict[str, Any]:
    if cls.__name__ not in COMPONENTS:
        COMPONENTS[cls.__name__] = {}  # placeholder: recursive classes refer to themselves
        built = build()
        doc = inspect.getdoc(cls)
        if doc:
            built["description"] = doc
        COMPONENTS[cls.__name__] = built
    return {"$ref": f"#/components/schemas/{cls.__name__}"}


def _object(cls: type) -> dict[str, Any]:
    hints = field_hints(cls)
    required = [
        f.name
        for f in dataclasses.fields(cls)
        if f.init and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    out: dict[str, Any] = {
        "type": "object",
        "properties": {name: schema_of(hint) for name, hint in hints.items()},
    }
    if required:
        out["required"] = required
    return out


def operation(call: Call) -> dict[str, Any]:
    """The OpenAPI operation of a store call: ``POST /api/v1/store/<method>``."""
    return {
        "operationId": call.name,
        "summary": call.summary,
        "description": call.doc,
        "tags": ["store"],
        **call_openapi(call),
    }


def call_openapi(call: Call) -> dict[str, Any]:
    """A call's request body and answer."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for parameter in list(call.signature.parameters.values())[1:]:
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            continue
        properties[parameter.name] = schema_of(call.hints.get(parameter.name, Any))
        if parameter.default is inspect.Parameter.empty:
            required.append(parameter.name)
    body: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": call.extra is not None,
    }
    if required:
        body["required"] = required
    result = {"type": "object", "properties": {"result": schema_of(call.returns)}}
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": {
            "200": {
                "description": "The call's return value.",
                "content": {"application/json": {"schema": result}},
            }
        },
    }
