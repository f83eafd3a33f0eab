"""The REST API's wire format (mltrail/remote/_wire.py), value by value: what JSON a value
becomes where a hint is expected, and that it comes back the same."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import pytest

import mltrail as m
from mltrail.errors import InvalidArgumentError
from mltrail.remote import _wire


@dataclasses.dataclass
class Sample:
    """Fields of each kind the wire leaves out at their default, or not."""

    given: int
    maybe: int | None = None
    named: dict[str, int] = dataclasses.field(default_factory=dict)
    listed: list[int] = dataclasses.field(default_factory=list)
    state: m.ArtifactState | None = None
    artifact: m.Artifact | None = None
    anything: Any = None


_wire.register(Sample)


def there_and_back(value: Any, hint: Any) -> tuple[Any, Any]:
    sent = json.loads(json.dumps(_wire.encode(value, hint)))
    return sent, _wire.decode(sent, hint)


def test_fields_at_their_default_are_left_out_and_others_are_not() -> None:
    sent, back = there_and_back(Sample(given=1), Sample)
    assert sent == {"given": 1}
    assert back == Sample(given=1)
    # None where the default is an empty dict is written, not taken for the default.
    odd = Sample(given=2, named=None, listed=[])  # type: ignore[arg-type]
    sent, back = there_and_back(odd, Sample)
    assert sent == {"given": 2, "named": None}
    assert back == odd


def test_hinted_values_are_plain_json_and_others_are_tagged() -> None:
    artifact = m.Artifact(type_id=3, uri="/d", state=m.ArtifactState.LIVE)
    value = Sample(
        given=1,
        maybe=2,
        named={"a": 1},
        listed=[1, 2],
        state=m.ArtifactState.LIVE,
        artifact=artifact,
        anything=(artifact, {1, 2}, {1: "x"}, math.inf, b"\x00"),
    )
    sent, back = there_and_back(value, Sample)
    assert sent["state"] == "LIVE" and sent["artifact"]["uri"] == "/d"
    assert sent["artifact"]["state"] == "LIVE"
    tagged = sent["anything"]
    assert tagged["$type"] == "tuple"
    assert [item["$type"] for item in tagged["items"]] == [
        "Artifact",
        "set",
        "dict",
        "float",
        "bytes",
    ]
    assert back == value


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ((1, "a"), tuple[int, str]),
        ((1, "a", 3), tuple[int, str]),  # not the hint's length: tagged items
        ([m.Artifact(type_id=1), None], list[m.Artifact | None]),
        ({"x": m.Context(type_id=1, name="c")}, dict[str, m.Context]),
        ({"$type": 1}, dict[str, int]),  # a key the wire uses itself
        (m.ResultPage([m.Artifact(type_id=1)], "t"), m.ResultPage[m.Artifact]),
        (m.ArtifactState.DELETED, m.ArtifactState),
        (float("nan"), float),
    ],
)
def test_values_come_back_as_they_went(value: Any, hint: Any) -> None:
    _, back = there_and_back(value, hint)
    if isinstance(value, float):
        assert math.isnan(back)
        return
    assert back == value and type(back) is type(value)
    if isinstance(value, m.ResultPage):
        assert back.next_page_token == "t"


def test_hand_written_values_and_their_errors() -> None:
    assert _wire.decode({"type_id": 1, "uri": "/x"}, m.Artifact) == m.Artifact(type_id=1, uri="/x")
    assert _wire.decode("LIVE", m.ArtifactState) is m.ArtifactState.LIVE
    assert _wire.decode("NOT_A_STATE", m.ArtifactState) == "NOT_A_STATE"  # the store refuses it
    with pytest.raises(InvalidArgumentError, match=r"Artifact has no field 'colour' \(fields: "):
        _wire.decode({"type_id": 1, "colour": "red"}, m.Artifact, "request")
    with pytest.raises(InvalidArgumentError, match="unknown value tag 'Nope'"):
        _wire.decode({"$type": "Nope"}, Any)
