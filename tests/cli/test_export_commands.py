"""``mltrail export openlineage``: the toy pipeline's executions as OpenLineage events, to a file
and to a real server with authentication."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import mltrail as m
from _cli import failed, ok
from _remote import RemoteServer
from _servers import need_module
from mltrail.server.tokens import Registry


@pytest.fixture(autouse=True)
def client_installed() -> None:
    need_module("openlineage.client")


def read(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_execution_to_a_file(project: Path) -> None:
    assert ok("export", "openlineage", "--to", "events.jsonl").stdout == (
        "sent 6 events of 3 executions to events.jsonl\n"
    )
    events = read(project / "events.jsonl")
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"] * 3
    jobs = {(e["job"]["namespace"], e["job"]["name"]) for e in events}  # type: ignore[index]
    assert jobs == {("mltrail", "prepare"), ("mltrail", "train")}
    first = events[1]
    inputs = [(d["namespace"], d["name"]) for d in first["inputs"]]  # type: ignore[union-attr]
    assert inputs == [("mltrail", "artifact/1"), ("file", "data/raw.csv")]  # no uri, a path
    ok("export", "openlineage", "c:toy", "e:2", "--to", "events.jsonl", "--namespace", "lab")
    again = read(project / "events.jsonl")[6:]
    assert len(again) == 6  # the context's three executions, e:2 once
    assert {e["job"]["namespace"] for e in again} == {"lab"}  # type: ignore[index]
    runs = {e["run"]["runId"] for e in events}  # type: ignore[index]
    assert runs == {e["run"]["runId"] for e in again}  # type: ignore[index]


def test_what_it_refuses(project: Path) -> None:
    assert "this command takes executions or contexts" in failed(
        "export", "openlineage", "a:1", "--to", "x.jsonl"
    )
    assert "no execution named '99'" in failed("export", "openlineage", "99", "--to", "x.jsonl")
    assert "Missing option '--to'" in failed("export", "openlineage", code=2)
    assert not (project / "x.jsonl").exists()


def test_to_a_server_with_a_token(
    project: Path, auth_central: tuple[RemoteServer, Registry]
) -> None:
    server, registry = auth_central
    writer = registry.create("default", "writer", "cli test")[0]
    reader = registry.create("default", "reader", "cli test")[0]
    refused = failed(
        "export", "openlineage", "e:2", "--to", server.url, env={"OPENLINEAGE_API_KEY": reader}
    )
    assert "PermissionDeniedError" in refused and "0 of 2 events were sent" in refused
    assert "UnauthenticatedError" in failed(
        "export", "openlineage", "e:2", "--to", server.url, env={"OPENLINEAGE_API_KEY": None}
    )
    sent = ok(
        "export",
        "openlineage",
        "e:2",
        "--to",
        server.url,
        "--token-env",
        "CENTRAL_TOKEN",
        env={"CENTRAL_TOKEN": writer},
    )
    assert sent.stdout == f"sent 2 events of 1 executions to {server.url}\n"
    with m.connect(server.url, token=writer) as there:
        [run] = there.get_executions()
        assert (run.type, run.last_known_state) == ("mltrail/train", m.ExecutionState.COMPLETE)
        assert len(there.get_events_by_execution_ids([run.id])) == 5
