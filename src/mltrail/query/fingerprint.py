"""Execution fingerprints: "has this already run on the same inputs?"

A fingerprint is a digest over what determines an execution's outputs: its type, its parameters,
its code version and the content identity of its inputs. An execution recorded with a
fingerprint carries it in two custom properties, ``mltrail.fingerprint`` (the digest) and
``mltrail.fingerprint_parts`` (the parts, so that a later miss can be explained).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mltrail._plain import ValueProblem, plain_json, short
from mltrail.errors import FailedPreconditionError, InvalidArgumentError
from mltrail.model import Artifact, Execution

DIGEST_PROPERTY = "mltrail.fingerprint"
PARTS_PROPERTY = "mltrail.fingerprint_parts"


@dataclass(frozen=True)
class Fingerprint:
    """The identity of an execution's work. Build one with :meth:`of` or
    ``MetadataStore.fingerprint``; record it with :meth:`apply`."""

    execution_type: str
    parameters: Mapping[str, Any]
    code_version: str | None
    inputs: Mapping[str, str]
    type_version: str | None = None
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        _text(self.execution_type, "execution_type", required=True)
        _text(self.code_version, "code_version")
        _text(self.type_version, "type_version")
        object.__setattr__(self, "parameters", parameter_mapping(self.parameters, "parameters"))
        object.__setattr__(self, "inputs", input_mapping(self.inputs, "inputs"))
        text = json.dumps(self.parts(), sort_keys=True, separators=(",", ":"), allow_nan=False)
        object.__setattr__(self, "digest", "sha256:" + hashlib.sha256(text.encode()).hexdigest())

    @classmethod
    def of(
        cls,
        execution_type: str,
        *,
        parameters: Mapping[str, Any] | None = None,
        code_version: str | None = None,
        inputs: Mapping[str, str] | None = None,
        type_version: str | None = None,
    ) -> Fingerprint:
        """A fingerprint from explicit parts; ``inputs`` maps an input's name to its identity
        (typically its content digest)."""
        return cls(
            execution_type=execution_type,
            parameters=parameter_mapping(parameters, "parameters"),
            code_version=_text(code_version, "code_version") or None,
            inputs=input_mapping(inputs, "inputs"),
            type_version=_text(type_version, "type_version") or None,
        )

    def parts(self) -> dict[str, Any]:
        return {
            "type": self.execution_type,
            "type_version": self.type_version,
            "parameters": dict(self.parameters),
            "code_version": self.code_version,
            "inputs": dict(sorted(self.inputs.items())),
        }

    def apply(self, execution: Execution) -> Execution:
        """Record this fingerprint on ``execution`` (its custom properties); returns it."""
        execution.custom_properties[DIGEST_PROPERTY] = self.digest
        execution.custom_properties[PARTS_PROPERTY] = self.parts()
        return execution

    @classmethod
    def from_parts(cls, parts: Mapping[str, Any]) -> Fingerprint:
        return cls.of(
            str(parts.get("type", "")),
            parameters=parts.get("parameters") or {},
            code_version=parts.get("code_version"),
            inputs=parts.get("inputs") or {},
            type_version=parts.get("type_version"),
        )

    @classmethod
    def recorded_on(cls, execution: Execution) -> Fingerprint:
        """The fingerprint recorded on ``execution`` (by the Tracker, or :meth:`apply`), rebuilt
        from its ``mltrail.fingerprint_parts``; a FailedPreconditionError when it has none."""
        parts = execution.custom_properties.get(PARTS_PROPERTY)
        if not isinstance(parts, Mapping):
            raise FailedPreconditionError(
                f"execution {execution.id} has no recorded fingerprint (custom property "
                f"{PARTS_PROPERTY}): record executions with the Tracker, or give them one with "
                "Fingerprint.apply, to ask whether their work was done before"
            )
        try:
            return cls.from_parts(parts)
        except InvalidArgumentError as exc:
            raise FailedPreconditionError(
                f"execution {execution.id} has a malformed {PARTS_PROPERTY} ({exc}); record "
                "its fingerprint again with Fingerprint.apply"
            ) from None


def _text(value: Any, what: str, *, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        need = "a non-empty string" if required else "a string or None"
        raise InvalidArgumentError(f"{what} must be {need}, got {short(value)}")
    try:
        return _clean(value, what)
    except ValueProblem as problem:
        raise InvalidArgumentError(f"{what}: {problem}") from None


def _clean(value: str, what: str) -> str:
    plain_json(value, what)  # no lone surrogates
    if "\x00" in value:
        raise ValueProblem("it contains a NUL character (\\x00); remove it")
    return value


def _mapping(value: Any, what: str) -> Mapping[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(
            f"{what} must be a dict of names to values, got {type(value).__name__}"
        )
    for key in value:
        if not isinstance(key, str):
            raise InvalidArgumentError(f"{what}: the name {short(key)} must be a string")
        _text(key, f"{what}: a name")
    return value


def parameter_mapping(value: Any, what: str) -> dict[str, Any]:
    """Checked fingerprint parameters: names to JSON-like values (as STRUCT values allow)."""
    try:
        plain = plain_json(dict(_mapping(value, what)))
    except ValueProblem as problem:
        raise InvalidArgumentError(f"fingerprint {what} must be JSON-like: {problem}") from None
    assert isinstance(plain, dict)
    return plain


def input_mapping(value: Any, what: str) -> dict[str, str]:
    """Checked fingerprint inputs: names to identities (content digests), both strings."""
    out: dict[str, str] = {}
    for key, identity in _mapping(value, what).items():
        if not isinstance(identity, str):
            raise InvalidArgumentError(
                f"{what}[{key!r}] must be a string (the input's identity, e.g. its content "
                f"digest), got {short(identity)}"
            )
        out[key] = str(_text(identity, f"{what}[{key!r}]"))
    return out


@dataclass(frozen=True)
class CachedExecution:
    """An earlier COMPLETE execution with the same fingerprint, and what it produced."""

    execution: Execution
    outputs: list[Artifact]
    fingerprint: str


@dataclass(frozen=True)
class Difference:
    """One way a fingerprint differs from an earlier execution's.

    ``part`` is "type_version", "code_version", "parameter" or "input"; ``name`` the parameter or
    input name (empty otherwise); ``before`` / ``after`` the earlier and the new value (None when
    absent on that side).
    """

    part: str
    name: str
    before: Any
    after: Any

    def __str__(self) -> str:
        label = f"{self.part} {self.name}".strip()
        if self.before is None:
            return f"{label} is new ({_show(self.after)})"
        if self.after is None:
            return f"{label} was removed (was {_show(self.before)})"
        verb = "changed" if self.part != "input" else "changed content"
        return f"{label} {verb}: {_show(self.before)} → {_show(self.after)}"


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= 48 else text[:45] + "..."


@dataclass(frozen=True)
class CacheExplanation:
    """Why a fingerprint has no cached execution.

    ``nearest`` is the earlier execution of the same type whose fingerprint differs least (None
    when the type never ran with a fingerprint); ``differences`` lists what differs from it.
    ``cached`` is set instead when a matching COMPLETE execution exists.
    """

    fingerprint: str
    nearest: Execution | None
    differences: list[Difference]
    cached: CachedExecution | None = None

    def __str__(self) -> str:
        if self.cached is not None:
            return f"execution {self.cached.execution.id} already ran with this fingerprint"
        if self.nearest is None:
            return "no earlier execution of this type was recorded with a fingerprint"
        if not self.differences:
            state = self.nearest.last_known_state
            return (
                f"execution {self.nearest.id} has the same fingerprint but did not complete "
                f"({state.name if state is not None else 'no state'})"
            )
        return f"compared with execution {self.nearest.id}: " + "; ".join(
            str(d) for d in self.differences
        )


def differences(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Difference]:
    """What changed between two fingerprints' parts."""
    out: list[Difference] = []
    for scalar in ("type_version", "code_version"):
        if before.get(scalar) != after.get(scalar):
            out.append(Difference(scalar, "", before.get(scalar), after.get(scalar)))
    for part, key in (("parameter", "parameters"), ("input", "inputs")):
        old, new = before.get(key) or {}, after.get(key) or {}
        for name in sorted(set(old) | set(new)):
            if old.get(name) != new.get(name) or (name in old) != (name in new):
                out.append(Difference(part, name, old.get(name), new.get(name)))
    return out
