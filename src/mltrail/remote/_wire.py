"""The wire form of the REST API: Python values to JSON and back, guided by type hints.

Both directions use the same rules, so an argument reaches the server's store exactly as the
caller gave it (and the store's own checks decide, with its own messages), and an answer reaches
the client as the store returned it.

Where a hint names one class, values are plain JSON: a model object of that class is an object
of its fields (``{"type_id": 1, "uri": "/d"}``), an enum member of that class its name
(``"LIVE"``), a list a list. Everything else carries a ``"$type"`` tag, so nothing is guessed:

- model objects in other places (``{"$type": "Artifact", ...fields}``) and enum members
  (``{"$type": "enum", "enum": "ArtifactState", "name": "LIVE"}``);
- tuples, sets, bytes (``{"$type": "tuple", "items": [...]}``, ``"set"``, ``{"$type": "bytes",
  "base64": ...}``); floats JSON cannot write (``{"$type": "float", "value": "nan"}``); dicts
  with keys that are not strings, or with a ``"$type"`` key of their own
  (``{"$type": "dict", "items": [[key, value], ...]}``);
- any other object (``{"$type": "opaque", "class": "PurePosixPath", "repr": "..."}``): the server
  sees a stand-in with the same class name and repr, which the store refuses as it would refuse
  the original.

Hand-written requests may leave tags out wherever the hint names a class (the API document
shows where).
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import math
import numbers
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache, lru_cache
from typing import Any

from mltrail import model
from mltrail.errors import InvalidArgumentError

TAG = "$type"

#: The classes a tag may name: the model's data classes and enums and the questions' answers.
_CLASSES: dict[str, type] = {}
_ENUMS: dict[str, type[enum.Enum]] = {}


def register(*classes: type) -> None:
    """Make data classes and enums known to the wire by their class name."""
    for cls in classes:
        if isinstance(cls, type) and issubclass(cls, enum.Enum):
            _ENUMS[cls.__name__] = cls
        elif dataclasses.is_dataclass(cls):
            _CLASSES[cls.__name__] = cls
        else:  # pragma: no cover - a programming error
            raise TypeError(f"{cls!r} is neither a data class nor an enum")


def _register_defaults() -> None:
    from mltrail.query.compare import ArtifactComparison, ComparedField, Comparison, ComparisonRow
    from mltrail.query.fingerprint import (
        CachedExecution,
        CacheExplanation,
        Difference,
        Fingerprint,
    )

    for name in model.__all__:
        value = getattr(model, name)
        if isinstance(value, type) and (
            dataclasses.is_dataclass(value) or issubclass(value, enum.Enum)
        ):
            register(value)
    register(
        ArtifactComparison,
        ComparisonRow,
        Comparison,
        ComparedField,
        CachedExecution,
        CacheExplanation,
        Difference,
        Fingerprint,
    )


# ------------------------------------------------------------------------------------------ hints

_ANY: Any = Any
#: Hint origins whose values travel as JSON lists.
_LISTS: tuple[Any, ...] = (list, Sequence, Iterable)


def _optional_of(hint: Any) -> Any:
    """The one non-None member of ``X | None``, or None when ``hint`` is not of that shape."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if len(args) == 1 else None


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


@cache
def field_hints(cls: type) -> dict[str, Any]:
    """The init fields of a data class and their resolved hints."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints.get(f.name, _ANY) for f in dataclasses.fields(cls) if f.init}


# ---------------------------------------------------------------------------------------- encode


def _registered(kind: type) -> type | None:
    """The registered data class ``kind`` is, or derives from (None when there is none)."""
    for cls in kind.__mro__:
        if _CLASSES.get(cls.__name__) is cls:
            return cls
    return None


@cache
def _omissible(cls: type) -> dict[str, type | None]:
    """Fields left out of the wire when they hold their default: ``None`` for a field whose
    default is None, an empty dict or list for one whose default is a new empty one (the
    receiver's constructor gives the same default back)."""
    out: dict[str, type | None] = {}
    for f in dataclasses.fields(cls):
        if f.init and f.default is None:
            out[f.name] = None
        elif f.init and f.default_factory in (dict, list):
            out[f.name] = f.default_factory
    return out


@cache
def _late_fields(cls: type) -> tuple[str, ...]:
    """Fields a data class computes itself (``init=False``); they travel too, as given."""
    return tuple(f.name for f in dataclasses.fields(cls) if not f.init)


def encode(value: Any, hint: Any = _ANY) -> Any:
    """The JSON-ready form of ``value`` where ``hint`` is expected (an answer: no references)."""
    return Encoder(references=False).encode(value, hint)


class Encoder:
    """One request's encoding. With ``references``, each model object carries ``"$id"`` and one
    met again is sent as ``{"$type": "ref", "id": n}``, so that the receiver sees the same object
    twice (the store treats one object given twice as one, as an identical copy is not)."""

    def __init__(self, *, references: bool = True) -> None:
        self.references = references
        self.seen: dict[int, int] = {}
        self.keep: list[Any] = []  # holds the objects whose id() is in ``seen``

    def encode(self, value: Any, hint: Any) -> Any:
        if value is None:
            return None
        return _encoding(hint)(self, value)

    def model(self, value: Any, cls: type, *, tagged: bool) -> dict[str, Any]:
        out: dict[str, Any] = {TAG: cls.__name__} if tagged else {}
        if self.references:
            key = id(value)
            if key in self.seen:
                return {TAG: "ref", "id": self.seen[key]}
            out["$id"] = self.seen[key] = len(self.seen)
            self.keep.append(value)
        fields, late = _model_fields(cls)
        for name, plan, omissible, empty in fields:
            item = getattr(value, name)
            if item is None:
                if not (omissible and empty is None):  # None is left out where it is the default
                    out[name] = None
                continue
            if omissible and empty is not None and type(item) is empty and not item:
                continue
            out[name] = plan(self, item)
        for name in late:
            out[name] = self.any(getattr(value, name, None))
        return out

    def tagged_dict(self, value: dict[Any, Any]) -> dict[str, Any]:
        return {TAG: "dict", "items": [[self.any(k), self.any(v)] for k, v in value.items()]}

    def any(self, value: Any) -> Any:
        """``value`` with nothing known about where it goes: tags wherever JSON would lose it."""
        if value is None or value is True or value is False:
            return value
        kind = type(value)
        if kind is str or kind is int:
            return value
        if kind is float:
            if math.isfinite(value):
                return value
            return {TAG: "float", "value": repr(value)}
        if isinstance(value, enum.Enum):
            if _ENUMS.get(kind.__name__) is kind:
                return {TAG: "enum", "enum": kind.__name__, "name": value.name}
            return _opaque(value)
        if kind is list:
            return [self.any(v) for v in value]
        if kind is dict:
            if all(type(k) is str and k != TAG for k in value):
                return {k: self.any(v) for k, v in value.items()}
            return self.tagged_dict(value)
        if dataclasses.is_dataclass(value):
            cls = _registered(kind)
            if cls is not None:
                return self.model(value, cls, tagged=True)
        if kind is tuple:
            return {TAG: "tuple", "items": [self.any(v) for v in value]}
        if kind in (set, frozenset):
            return {TAG: "set", "items": [self.any(v) for v in value]}
        if kind in (bytes, bytearray):
            return {TAG: "bytes", "base64": base64.b64encode(value).decode("ascii")}
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return int(value)  # numpy and other integer types: the store takes them as ints
        if isinstance(value, float):
            return self.any(float(value))
        if isinstance(value, Mapping):
            return self.any(dict(value))
        return _opaque(value)


#: How a value that is not None is encoded where a hint is expected.
_Encoding = Callable[[Encoder, Any], Any]
_ENCODINGS: dict[Any, _Encoding] = {}


def _encoding(hint: Any) -> _Encoding:
    """The encoding of ``hint``, worked out once per hint (see :func:`_plan`)."""
    return _once(_ENCODINGS, _make_encoding, hint)


P = typing.TypeVar("P")


def _once(plans: dict[Any, P], make: Callable[[Any], P], hint: Any) -> P:
    """``plans[hint]``, made by ``make`` the first time (every time for an unhashable hint)."""
    try:
        return plans[hint]
    except KeyError:
        plan = plans[hint] = make(hint)
        return plan
    except TypeError:
        return make(hint)


def _shape_of(hint: Any) -> tuple[Any, type | None, tuple[Any, ...]]:
    """What a plan of ``hint`` is made from: the member ``X`` of ``X | None`` (whose plan
    serves), else None with the hint's class (None for a wider union or a hint that names no
    class) and its arguments."""
    if _is_union(hint):
        return _optional_of(hint), None, ()
    origin = typing.get_origin(hint) or hint
    return None, (origin if isinstance(origin, type) else None), typing.get_args(hint)


def _make_encoding(hint: Any) -> _Encoding:
    inner, origin, args = _shape_of(hint)
    if inner is not None:
        return _encoding(inner)
    if origin is None:
        return Encoder.any
    if dataclasses.is_dataclass(origin):

        def model_of(self: Encoder, value: Any) -> Any:
            if isinstance(value, origin) and _registered(type(value)) is origin:
                return self.model(value, origin, tagged=False)
            if type(value) is dict:
                return self.tagged_dict(value)
            return self.any(value)

        return model_of
    if issubclass(origin, enum.Enum):
        return lambda self, value: value.name if type(value) is origin else self.any(value)
    if origin is model.ResultPage:
        (page_item,) = args or (_ANY,)
        return lambda self, value: (
            {
                "items": [self.encode(v, page_item) for v in value],
                "next_page_token": value.next_page_token,
            }
            if isinstance(value, model.ResultPage)
            else self.any(value)
        )
    if origin in _LISTS:
        (list_item,) = args or (_ANY,)
        return lambda self, value: (
            [self.encode(v, list_item) for v in value] if _is_listish(value) else self.any(value)
        )
    if origin is tuple:
        if args and args[-1] is not Ellipsis:
            return lambda self, value: (
                [self.encode(v, h) for v, h in zip(value, args)]
                if isinstance(value, tuple) and len(args) == len(value)
                else self.any(value)
            )
        return Encoder.any
    if origin in (dict, Mapping):
        value_hint = args[1] if len(args) == 2 else _ANY
        return lambda self, value: (
            {k: self.encode(v, value_hint) for k, v in value.items()}
            if isinstance(value, Mapping) and all(type(k) is str and k != TAG for k in value)
            else self.any(value)
        )
    return Encoder.any


@cache
def _model_fields(
    cls: type,
) -> tuple[tuple[tuple[str, _Encoding, bool, type | None], ...], tuple[str, ...]]:
    """A data class's init fields, each with its encoding, whether it is left out when it holds
    its default, and that default's type when it is an empty dict or list; its late fields."""
    omissible = _omissible(cls)
    fields = tuple(
        (name, _encoding(hint), name in omissible, omissible.get(name))
        for name, hint in field_hints(cls).items()
    )
    return fields, _late_fields(cls)


def _is_listish(value: Any) -> bool:
    return isinstance(value, Iterable) and not isinstance(value, (str, bytes, bytearray, Mapping))


def _opaque(value: Any) -> dict[str, Any]:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__} object>"
    return {TAG: "opaque", "class": type(value).__name__, "repr": text[:200]}


# ---------------------------------------------------------------------------------------- decode


class Opaque:
    """The server's stand-in for an object JSON cannot carry: same class name, same repr."""

    __slots__ = ("_repr",)

    def __init__(self, text: str) -> None:
        self._repr = text

    def __repr__(self) -> str:
        return self._repr


@lru_cache(maxsize=256)
def _opaque_class(name: str) -> type[Opaque]:
    return type(name, (Opaque,), {"__slots__": ()})


def decode(data: Any, hint: Any = _ANY, where: str = "request") -> Any:
    """The Python value of the JSON ``data`` where ``hint`` is expected (see the module doc)."""
    return Decoder(where).decode(data, hint)


_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


class Decoder:
    def __init__(self, where: str) -> None:
        self.where = where
        self.objects: dict[int, Any] = {}

    def decode(self, data: Any, hint: Any) -> Any:
        if data is None:
            return None
        if type(data) is dict and TAG in data:
            return self.tagged(data)
        return _plan(hint)(self, data)

    def any(self, data: Any) -> Any:
        kind = type(data)
        if kind is list:
            return [self.any(v) for v in data]
        if kind is dict:
            if TAG in data:
                return self.tagged(data)
            return {k: self.any(v) for k, v in data.items()}
        return data

    def tagged(self, data: dict[str, Any]) -> Any:
        tag = data[TAG]
        try:
            if tag == "tuple":
                return tuple(self.any(v) for v in data["items"])
            if tag == "set":
                return {self.any(v) for v in data["items"]}
            if tag == "dict":
                return {self.any(k): self.any(v) for k, v in data["items"]}
            if tag == "float":
                return _FLOATS[data["value"]]
            if tag == "bytes":
                return base64.b64decode(data["base64"], validate=True)
            if tag == "enum":
                return _ENUMS[data["enum"]][data["name"]]
            if tag == "ref":
                return self.objects[data["id"]]
            if tag == "opaque":
                name = str(data["class"])
                if not name.isidentifier() or len(name) > 100:
                    raise ValueError(name)
                return _opaque_class(name)(str(data["repr"])[:200])
            cls = _CLASSES.get(tag) if type(tag) is str else None
            if cls is not None:
                return self.build(cls, {k: v for k, v in data.items() if k != TAG})
        except InvalidArgumentError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidArgumentError(
                f"{self.where}: a value tagged {short_json(tag)} is malformed "
                f"({type(exc).__name__}: {exc}); see the wire format in docs/server.md"
            ) from None
        raise InvalidArgumentError(
            f"{self.where}: unknown value tag {short_json(tag)}; tags are data class names "
            "(Artifact, Event...), 'enum', 'tuple', 'set', 'dict', 'float', 'bytes', 'ref' and "
            "'opaque'"
        )

    def build(self, cls: type, data: dict[str, Any]) -> Any:
        fields, late, allowed = _fields_of(cls)
        if not allowed.issuperset(data):
            unknown = sorted(set(data) - allowed)
            raise InvalidArgumentError(
                f"{self.where}: {cls.__name__} has no field {unknown[0]!r} (fields: "
                f"{', '.join(name for name, _ in fields)})"
            )
        values: dict[str, Any] = {}
        for name, plan in fields:
            if name in data:
                value = data[name]
                if value is None:
                    values[name] = None
                elif type(value) is dict and TAG in value:
                    values[name] = self.tagged(value)
                else:
                    values[name] = plan(self, value)
        try:
            built = cls(**values)
        except TypeError as exc:
            raise InvalidArgumentError(
                f"{self.where}: cannot build a {cls.__name__}: {exc}"
            ) from None
        for name in late:
            if name in data:
                object.__setattr__(built, name, self.any(data[name]))
        ref = data.get("$id")
        if ref is not None:
            self.objects[ref] = built
        return built


#: How a value that is neither None nor tagged is decoded where a hint is expected.
_Plan = Callable[[Decoder, Any], Any]
_PLANS: dict[Any, _Plan] = {}


def _plan(hint: Any) -> _Plan:
    """The plan of ``hint``, worked out once per hint (the checks of a hint's shape cost more
    than decoding most values)."""
    return _once(_PLANS, _make_plan, hint)


def _make_plan(hint: Any) -> _Plan:
    inner, origin, args = _shape_of(hint)
    if inner is not None:
        return _plan(inner)
    if origin is None:
        return Decoder.any
    # (the JSON type a value must have, how it is decoded), tried in order; else Decoder.any.
    ways: list[tuple[type, _Plan]] = []
    if dataclasses.is_dataclass(origin):
        ways.append((dict, lambda self, data: self.build(origin, data)))
    if issubclass(origin, enum.Enum):
        members = origin.__members__
        ways.append((str, lambda self, data: members.get(data, data)))
    if origin is model.ResultPage:
        (page_item,) = args or (_ANY,)
        ways.append(
            (
                dict,
                lambda self, data: model.ResultPage(
                    [self.decode(v, page_item) for v in data.get("items") or ()],
                    data.get("next_page_token"),
                ),
            )
        )
    if origin is tuple:
        if args and args[-1] is not Ellipsis:
            ways.append(
                (
                    list,
                    lambda self, data: (
                        tuple(self.decode(v, h) for v, h in zip(data, args))
                        if len(data) == len(args)
                        else tuple(self.any(v) for v in data)
                    ),
                )
            )
        else:
            ways.append((list, lambda self, data: tuple(self.any(v) for v in data)))
    if origin in _LISTS:
        (list_item,) = args or (_ANY,)
        ways.append((list, lambda self, data: [self.decode(v, list_item) for v in data]))
    if origin in (dict, Mapping):
        value_hint = args[1] if len(args) == 2 else _ANY
        ways.append(
            (dict, lambda self, data: {k: self.decode(v, value_hint) for k, v in data.items()})
        )
    if not ways:
        return Decoder.any

    def plan(self: Decoder, data: Any) -> Any:
        kind = type(data)
        for wanted, way in ways:
            if kind is wanted:
                return way(self, data)
        return self.any(data)

    return plan


@cache
def _fields_of(cls: type) -> tuple[tuple[tuple[str, _Plan], ...], tuple[str, ...], frozenset[str]]:
    """A data class's init fields with their plans, its late fields, and every key its wire
    object may hold."""
    hints = field_hints(cls)
    late = _late_fields(cls)
    fields = tuple((name, _plan(hint)) for name, hint in hints.items())
    return fields, late, frozenset(hints) | frozenset(late) | {"$id"}


def short_json(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_register_defaults()
