"""The calls of the REST API: one per public :class:`~mltrail.store.MetadataStore` method.

A method ``m`` is ``POST /api/v1/store/m`` (``/p/<project>/api/v1/store/m`` for a named project)
with its arguments as a JSON object by parameter name, and answers ``{"result": ...}``. The
catalog is read off the store class itself, so the API cannot miss a method: the server builds
its routes from it and the remote client its methods.
"""

from __future__ import annotations

import inspect
import json
import pprint
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from mltrail import model
from mltrail.errors import InvalidArgumentError
from mltrail.remote import _wire

API_PREFIX = "/api/v1"
#: Methods that are not calls: they manage the local object or are built from other calls.
NOT_CALLS = frozenset(
    {"close", "iter_artifacts", "iter_executions", "iter_contexts", "transaction"}
)
#: Name prefixes of the methods that only read (safe to retry).
READ_PREFIXES = ("get_", "count_", "lineage", "compare_", "fingerprint", "find_", "explain_")


@dataclass(frozen=True)
class Call:
    """One method of the store as a call of the API."""

    name: str
    signature: inspect.Signature
    hints: dict[str, Any]
    returns: Any
    #: The name of the ``**options`` parameter, when the method takes extra keywords.
    extra: str | None
    read: bool
    summary: str
    doc: str

    @property
    def path(self) -> str:
        return f"/store/{self.name}"

    def encode_arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The JSON body for a call with these arguments (raises TypeError as Python would)."""
        bound = self.signature.bind(None, *args, **kwargs)
        body: dict[str, Any] = {}
        encoder = _wire.Encoder()
        for name, value in list(bound.arguments.items())[1:]:
            try:
                if name == self.extra:
                    for key, item in value.items():
                        body[key] = encoder.any(item)
                else:
                    body[name] = encoder.encode(value, self.hints.get(name, Any))
            except RecursionError:
                raise InvalidArgumentError(
                    f"{self.name}: {name} holds a value nested more than 64 levels deep (or one "
                    "that contains itself); the store takes at most 64 levels"
                ) from None
        return body

    def decode_arguments(self, body: Any) -> dict[str, Any]:
        """The keyword arguments of a JSON body (the server's side)."""
        if type(body) is not dict:
            raise InvalidArgumentError(
                f"the body of {self.name} must be a JSON object of its arguments by name, got "
                f"{type(body).__name__}"
            )
        try:
            kwargs = self._decode(body)
        except RecursionError:
            raise InvalidArgumentError(
                f"{self.name}: the arguments are nested too deeply"
            ) from None
        try:
            self.signature.bind(None, **kwargs)
        except TypeError as exc:
            raise InvalidArgumentError(f"{self.name}: {exc}") from None
        return kwargs

    def _decode(self, body: dict[str, Any]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        decoder = _wire.Decoder(self.name)
        for key, value in body.items():
            decoder.where = f"{self.name}: {key}"
            if key in self.hints:
                kwargs[key] = decoder.decode(value, self.hints[key])
            elif self.extra is not None and key not in self.signature.parameters:
                kwargs[key] = decoder.decode(value, Any)
            else:
                raise InvalidArgumentError(
                    f"{self.name} has no argument {key!r}; its arguments: "
                    f"{', '.join(self.parameter_names)}"
                )
        return kwargs

    @property
    def parameter_names(self) -> list[str]:
        return [
            p.name
            for p in list(self.signature.parameters.values())[1:]
            if p.kind is not inspect.Parameter.VAR_KEYWORD
        ]

    def encode_result(self, value: Any) -> Any:
        return _wire.encode(value, self.returns)

    def answer_chunks(self, value: Any, batch: int = 500) -> Iterator[bytes]:
        """The JSON answer ``{"result": ...}`` in pieces: a long list is encoded ``batch``
        items at a time, so that the whole answer never exists twice in memory."""
        origin = typing.get_origin(self.returns) or self.returns
        if (
            not isinstance(value, list)
            or len(value) <= batch
            or origin
            not in (
                list,
                model.ResultPage,
            )
        ):
            yield json.dumps({"result": self.encode_result(value)}).encode()
            return
        (item,) = typing.get_args(self.returns) or (Any,)
        yield b'{"result": {"items": [' if isinstance(value, model.ResultPage) else b'{"result": ['
        for start in range(0, len(value), batch):
            encoded = [_wire.encode(v, item) for v in value[start : start + batch]]
            text = json.dumps(encoded)[1:-1]
            yield (b", " if start else b"") + text.encode()
        if isinstance(value, model.ResultPage):
            token = json.dumps(value.next_page_token).encode()
            yield b'], "next_page_token": ' + token + b"}}"
        else:
            yield b"]}"

    def decode_result(self, data: Any) -> Any:
        return _wire.decode(data, self.returns, f"the answer of {self.name}")


def _call(name: str, signature: inspect.Signature, hints: dict[str, Any], doc: str) -> Call:
    extra = next(
        (p.name for p in signature.parameters.values() if p.kind is inspect.Parameter.VAR_KEYWORD),
        None,
    )
    return Call(
        name=name,
        signature=signature,
        hints={k: v for k, v in hints.items() if k not in ("return", extra)},
        returns=hints.get("return", Any),
        extra=extra,
        read=name.startswith(READ_PREFIXES),
        summary=doc.split("\n\n")[0].replace("\n", " "),
        doc=doc,
    )


def _store_methods() -> dict[str, Any]:
    from mltrail.store import MetadataStore

    return {
        name: getattr(MetadataStore, name)
        for name in sorted(dir(MetadataStore))
        if not name.startswith("_")
        and name not in NOT_CALLS
        and inspect.isfunction(getattr(MetadataStore, name))
    }


@lru_cache(maxsize=1)
def calls() -> dict[str, Call]:
    """Every call of the API, by method name, read off the store class (the server's view)."""
    return {
        name: _call(
            name,
            inspect.signature(member),
            typing.get_type_hints(member),
            inspect.getdoc(member) or "",
        )
        for name, member in _store_methods().items()
    }


# ------------------------------------------------------------------- the client's catalog
#
# The remote client must not import the store (and SQLAlchemy with it) to know its calls: it
# reads them from _catalog.py, written from the store class by ``python -m mltrail.remote._api``
# (tests/server/test_catalog.py fails until the file matches the store again).

CATALOG = Path(__file__).with_name("_catalog.py")


def catalog_source() -> str:
    """The text of _catalog.py for the store class as it is."""
    entries = []
    for name, member in _store_methods().items():
        parameters = [
            (
                p.name,
                int(p.kind),
                None if p.default is inspect.Parameter.empty else repr(p.default),
                p.annotation if isinstance(p.annotation, str) else None,
            )
            for p in inspect.signature(member, eval_str=False).parameters.values()
        ]
        returns = inspect.signature(member, eval_str=False).return_annotation
        entries.append((name, parameters, returns, inspect.getdoc(member) or ""))
    body = pprint.pformat(entries, width=100, sort_dicts=False)
    return (
        '"""The store calls of the API, for the remote client: written by\n'
        "``python -m mltrail.remote._api`` from MetadataStore; do not edit.\n"
        '"""\n\n'
        "CALLS: list[tuple[str, list[tuple[str, int, str | None, str | None]], str, str]] = "
        f"{body}\n"
    )


def _namespace() -> dict[str, Any]:
    from collections.abc import Iterable, Iterator, Mapping, Sequence

    from mltrail.query.compare import ArtifactComparison, Comparison
    from mltrail.query.fingerprint import CachedExecution, CacheExplanation, Fingerprint

    return {
        **{name: getattr(model, name) for name in model.__all__},
        "PropertyValue": model.PropertyValue,
        "Any": Any,
        "Iterable": Iterable,
        "Iterator": Iterator,
        "Mapping": Mapping,
        "Sequence": Sequence,
        "ArtifactComparison": ArtifactComparison,
        "Comparison": Comparison,
        "CachedExecution": CachedExecution,
        "CacheExplanation": CacheExplanation,
        "Fingerprint": Fingerprint,
    }


@lru_cache(maxsize=1)
def client_calls() -> dict[str, Call]:
    """Every call of the API, by method name, from the generated catalog (the client's view)."""
    from mltrail.remote._catalog import CALLS

    namespace = _namespace()
    found: dict[str, Call] = {}
    for name, parameters, returns, doc in CALLS:
        built = []
        hints: dict[str, Any] = {}
        for pname, kind, default, annotation in parameters:
            value = inspect.Parameter.empty if default is None else eval(default, namespace)
            built.append(
                inspect.Parameter(
                    pname,
                    inspect._ParameterKind(kind),
                    default=value,
                    annotation=annotation or inspect.Parameter.empty,
                )
            )
            if annotation:
                hints[pname] = eval(annotation, namespace)
        answer = eval(returns, namespace)
        hints["return"] = type(None) if answer is None else answer  # as get_type_hints gives it
        signature = inspect.Signature(built, return_annotation=returns)
        found[name] = _call(name, signature, hints, doc)
    return found


if __name__ == "__main__":
    CATALOG.write_text(catalog_source(), encoding="utf-8")
    print(f"wrote {CATALOG}")
