"""The calls of the REST API: one per public :class:`~mltrail.store.MetadataStore` method.

A method ``m`` is ``POST /api/v1/store/m`` (``/p/<project>/api/v1/store/m`` for a named project)
with its arguments as a JSON object by parameter name, and answers ``{"result": ...}``. The
catalog is read off the store class itself, so the API cannot miss a method: the server builds
its routes from it and the remote client its methods.
"""

from __future__ import annotations

import inspect
import json
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from mltrail import model
from mltrail.errors import InvalidArgumentError
from mltrail.remote import _wire

API_PREFIX = "/api/v1"
#: Methods that are not calls: they manage the local object or are built from other calls.
NOT_CALLS = frozenset({"close", "iter_artifacts", "iter_executions", "iter_contexts"})
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


@lru_cache(maxsize=1)
def calls() -> dict[str, Call]:
    """Every call of the API, by method name."""
    from mltrail.store import MetadataStore

    found: dict[str, Call] = {}
    for name in sorted(dir(MetadataStore)):
        member = getattr(MetadataStore, name)
        if name.startswith("_") or name in NOT_CALLS or not inspect.isfunction(member):
            continue
        signature = inspect.signature(member)
        hints = typing.get_type_hints(member)
        extra = next(
            (
                p.name
                for p in signature.parameters.values()
                if p.kind is inspect.Parameter.VAR_KEYWORD
            ),
            None,
        )
        doc = inspect.getdoc(member) or ""
        found[name] = Call(
            name=name,
            signature=signature,
            hints={k: v for k, v in hints.items() if k not in ("return", extra)},
            returns=hints.get("return", Any),
            extra=extra,
            read=name.startswith(READ_PREFIXES),
            summary=doc.split("\n\n")[0].replace("\n", " "),
            doc=doc,
        )
    return found
