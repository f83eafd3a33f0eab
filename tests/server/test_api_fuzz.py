"""The REST API fuzzed from its OpenAPI document: random bodies for every store call.

Each example picks a call of ``/api/v1/openapi.json`` and sends a body built from its
parameters' names (and some unknown ones) with random JSON values, well-typed and not, tags of
the wire format included. Every answer must be JSON, ``{"result": ...}`` or an error of the
error tree with that class's status, never a 500 or a stack trace; a call that fails must leave
the store's tables exactly as they were.

Deterministic like tests/test_fuzz.py: ``MLTRAIL_FUZZ_EXAMPLES=N`` runs more examples,
``MLTRAIL_FUZZ_RANDOM=1`` explores new ones.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mltrail as m
from _dump import dump
from _remote import RemoteServer
from mltrail import errors
from mltrail.backends.sql.database import Database

EXAMPLES = int(os.environ.get("MLTRAIL_FUZZ_EXAMPLES", "100")) * 3
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("MLTRAIL_FUZZ_RANDOM", "") in ("", "0"),
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
STATUSES = {cls.http_status for cls in vars(errors).values() if isinstance(cls, type)}


class Target:
    def __init__(self, home: Path) -> None:
        self.path = home / "store.db"
        with m.connect(self.path) as store:
            at = store.put_artifact_type(
                m.ArtifactType(name="Data", properties={"rows": m.PropertyType.INT})
            )
            et = store.put_execution_type(m.ExecutionType(name="Step"))
            ct = store.put_context_type(m.ContextType(name="Run"))
            store.put_execution(
                m.Execution(type_id=et, name="e1", last_known_state="COMPLETE"),
                [
                    (
                        m.Artifact(type_id=at, uri="/d", name="d", properties={"rows": 3}),
                        m.Event(type=m.EventType.OUTPUT),
                    )
                ],
                [m.Context(type_id=ct, name="run-1")],
            )
        self.server = RemoteServer(f"sqlite:///{self.path}", home)
        self.database = Database(f"sqlite:///{self.path}")
        document = self.server.http.get("/api/v1/openapi.json").json()
        self.calls: dict[str, dict[str, Any]] = {}
        for path, item in document["paths"].items():
            if path.startswith("/api/v1/store/"):
                body = item["post"]["requestBody"]["content"]["application/json"]["schema"]
                self.calls[path.rsplit("/", 1)[1]] = body["properties"]

    def dump(self) -> list[tuple[Any, ...]]:
        return dump(self.database)

    def close(self) -> None:
        self.database.close()
        self.server.close()


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    found = Target(tmp_path_factory.mktemp("fuzz"))
    yield found
    found.close()


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["LIVE", "INPUT", "OUTPUT", "COMPLETE", "INT", "uri = '/d'", "id > 0", "up"]),
    st.integers(min_value=0, max_value=5),
)
TAGS = st.sampled_from(
    [
        {"$type": "Artifact", "type_id": 1, "uri": "/x"},
        {"$type": "Event", "artifact_id": 1, "execution_id": 1, "type": "INPUT"},
        {"$type": "Context", "type_id": 3, "name": "run-1"},
        {"$type": "enum", "enum": "ArtifactState", "name": "LIVE"},
        {"$type": "float", "value": "nan"},
        {"$type": "tuple", "items": [1, 2]},
        {"$type": "set", "items": [1]},
        {"$type": "bytes", "base64": "AAA="},
        {"$type": "opaque", "class": "Thing", "repr": "<thing>"},
        {"$type": "ref", "id": 7},
        {"$type": "nonsense"},
        {"$type": "enum", "enum": "Nope", "name": "X"},
    ]
)
JSON = st.recursive(
    st.one_of(SCALARS, TAGS),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "type_id",
                    "uri",
                    "name",
                    "type",
                    "properties",
                    "custom_properties",
                    "filter_query",
                    "x",
                ]
            ),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=12,
)


@st.composite
def requests(draw: st.DrawFn, calls: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    name = draw(st.sampled_from(sorted(calls)))
    names = [*sorted(calls[name]), "unknown_argument"]
    chosen = draw(st.lists(st.sampled_from(names), unique=True, max_size=len(names)))
    return name, {key: draw(JSON) for key in chosen}


def test_random_bodies_get_json_answers_and_failures_change_nothing(target: Target) -> None:
    http: httpx.Client = target.server.http

    @FUZZ
    @given(st.data())
    def run(data: st.DataObject) -> None:
        name, body = data.draw(requests(target.calls))
        before = target.dump() if name.startswith("put_") else None
        response = http.post(f"/api/v1/store/{name}", json=body)
        assert response.status_code != 500, (name, body, response.text)
        assert "Traceback" not in response.text
        payload = response.json()
        if response.status_code == 200:
            assert set(payload) == {"result"}, payload
            return
        assert response.status_code in STATUSES, (name, body, response.text)
        cls = getattr(errors, payload["error"])
        assert cls.http_status == response.status_code, payload
        if before is not None:
            assert target.dump() == before, (name, body, payload)

    run()
