"""The sync routes on a real server with authentication: who may read and apply, the answers'
shapes, and push/pull through them (mltrail.sync over HttpPeer)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_helpers import AuthServer, log_runs

import mltrail as m
from _canon import canon
from _remote import RemoteServer
from _servers import SERVERS, Server, need
from mltrail import sync
from mltrail.errors import (
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    RequestTooLargeError,
    SyncConflictError,
    UnauthenticatedError,
)
from mltrail.remote.client import error_from
from mltrail.server._errors import error_body
from mltrail.sync import _check
from mltrail.sync._http import HttpPeer
from mltrail.sync._peers import StorePeer

SITE = "0b7c1c36-3e7e-4f55-9a8e-2d5a8f4b1c2d"
#: Every sync route with a well-formed request (the apply body is checked after the token).
ROUTES = [
    ("GET", "sync/site", None),
    ("GET", f"sync/applied?site={SITE}", None),
    ("POST", "sync/changes", {"since": 0, "exclude": None, "limit": 10}),
    ("POST", "sync/subset", {"selection": {"artifact": 1}, "limit": 10}),
    ("POST", "sync/apply", {"digest": "", "batch": {}}),
]
_names = (f"sync{i}" for i in itertools.count())


def call(
    http: httpx.Client, method: str, route: str, body: Any, project: str | None = None
) -> httpx.Response:
    prefix = f"/p/{project}" if project else ""
    url = f"{prefix}/api/v1/{route}"
    if method == "GET":
        return http.get(url)
    return http.post(url, content=json.dumps(body).encode())


def new_project(auth_server: AuthServer) -> str:
    name = next(_names)
    with auth_server.client(auth_server.admin) as http:
        assert http.post("/api/v1/projects", json={"name": name}).status_code == 201
    return name


@pytest.fixture
def site(tmp_path: Path) -> Iterator[m.MetadataStore]:
    with m.connect(f"sqlite:///{tmp_path / 'site.db'}") as store:
        yield store


@pytest.fixture
def other_site(tmp_path: Path) -> Iterator[m.MetadataStore]:
    with m.connect(f"sqlite:///{tmp_path / 'other.db'}") as store:
        yield store


# ------------------------------------------------------------------------------ permissions


@pytest.mark.parametrize("project", [None, "anyproject"])
@pytest.mark.parametrize(("method", "route", "body"), ROUTES)
def test_every_sync_route_needs_a_token(
    auth_server: AuthServer, method: str, route: str, body: Any, project: str | None
) -> None:
    with auth_server.client() as http:
        response = call(http, method, route, body, project)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"] == "UnauthenticatedError"


@pytest.mark.parametrize(("method", "route", "body"), ROUTES)
def test_a_token_of_another_project_is_refused_on_every_route(
    auth_server: AuthServer, method: str, route: str, body: Any
) -> None:
    project, other = new_project(auth_server), new_project(auth_server)
    token = auth_server.token(project, "admin")
    with auth_server.client(token) as http:
        for where in (None, other):
            response = call(http, method, route, body, where)
            assert response.status_code == 403, response.text
            assert response.json()["error"] == "PermissionDeniedError"
            assert f"project {where or 'default'!r}" in response.json()["message"]


def test_a_reader_cannot_apply(auth_server: AuthServer) -> None:
    project = new_project(auth_server)
    with auth_server.client(auth_server.token(project, "reader")) as http:
        # refused before the body is read: even an empty body is not looked at
        response = http.post(f"/p/{project}/api/v1/sync/apply", content=b"")
    assert response.status_code == 403
    assert "needs a writer" in response.json()["message"]


def test_a_project_that_does_not_exist_is_not_found(auth_server: AuthServer) -> None:
    with auth_server.client(auth_server.admin) as http:
        response = http.get("/p/nosuchproject/api/v1/sync/site")
    assert response.status_code == 404
    assert "there is no project 'nosuchproject'" in response.json()["message"]


def test_malformed_requests_are_invalid_arguments(auth_server: AuthServer) -> None:
    reader = auth_server.token("default", "reader")
    bad: list[tuple[str, str, Any, str]] = [
        ("GET", "sync/applied", None, "site"),
        ("GET", "sync/applied?site=not-a-uuid", None, "site must be a site id"),
        ("POST", "sync/changes", {"since": 0}, "missing ['limit']"),
        ("POST", "sync/changes", {"since": -1, "limit": 5}, "since must be an integer"),
        ("POST", "sync/changes", {"since": 0, "limit": True}, "limit must be an integer"),
        ("POST", "sync/changes", {"since": 0, "limit": 10**6}, "limit must be an integer"),
        ("POST", "sync/changes", {"since": 0, "limit": 5, "exclude": "x"}, "exclude must be"),
        ("POST", "sync/changes", {"since": 0, "limit": 5, "more": 1}, "unknown ['more']"),
        ("POST", "sync/changes", [0, 5], "must be a JSON object"),
        ("POST", "sync/subset", {"selection": {}, "limit": 5}, "choose one part"),
        ("POST", "sync/subset", {"selection": {"run": 1}, "limit": 5}, "choose one part"),
        ("POST", "sync/subset", {"selection": {"artifact": "a"}, "limit": 5}, "selection.artifact"),
        ("POST", "sync/subset", {"selection": {"context": ""}, "limit": 5}, "selection.context"),
    ]
    with auth_server.client(reader) as http:
        for method, route, body, message in bad:
            response = call(http, method, route, body)
            assert response.status_code == 400, (route, body, response.text)
            assert response.json()["error"] == "InvalidArgumentError"
            assert message in response.json()["message"], (route, body)
        response = http.post("/api/v1/sync/changes", content=b"{not json")
        assert response.status_code == 400


def test_the_routes_are_in_the_api_document(auth_server: AuthServer) -> None:
    with auth_server.client() as http:
        paths = http.get("/api/v1/openapi.json").json()["paths"]
    assert paths["/api/v1/sync/site"]["get"]["tags"] == ["sync"]
    assert "site" in [p["name"] for p in paths["/api/v1/sync/applied"]["get"]["parameters"]]
    changes = paths["/api/v1/sync/changes"]["post"]
    assert changes["requestBody"]["content"]["application/json"]["schema"]["required"] == [
        "since",
        "limit",
    ]
    assert (
        "application/x-ndjson"
        in paths["/api/v1/sync/subset"]["post"]["responses"]["200"]["content"]
    )
    assert "applied" in json.dumps(paths["/api/v1/sync/apply"]["post"]["responses"]["200"])


def test_a_conflict_error_carries_its_conflicts_to_the_client() -> None:
    conflicts = [{"kind": "property_type", "message": "Data.rows is INT here", "resolve": "rename"}]
    body = error_body(SyncConflictError("1 conflict(s)", conflicts=conflicts))
    assert body["conflicts"] == conflicts
    rebuilt = error_from(409, json.loads(json.dumps(body)), "test")
    assert isinstance(rebuilt, SyncConflictError)
    assert rebuilt.conflicts == conflicts and rebuilt.message == "1 conflict(s)"


# ---------------------------------------------------------------------- transfers over HTTP


def test_push_and_pull_through_a_project(
    auth_server: AuthServer, site: m.MetadataStore, other_site: m.MetadataStore
) -> None:
    project = new_project(auth_server)
    url = f"{auth_server.url}/p/{project}"
    writer = auth_server.token(project, "writer")
    log_runs(site, "run-1", "run-2")
    sent = sync.push(site, url, token=writer)
    assert sent.created == sent.records > 0 and sent.target == url
    with m.connect(url, token=writer) as central:
        assert (central.count_artifacts(), central.count_executions()) == (3, 2)
    received = sync.pull(other_site, url, token=auth_server.token(project, "reader"))
    assert received.created == received.records > 0
    assert canon(other_site) == canon(site)
    # nothing is sent twice; a new change travels alone
    assert sync.push(site, url, token=writer).records == 0
    log_runs(site, "run-3")
    again = sync.push(site, url, token=writer)
    assert 0 < again.records < sent.records
    sync.pull(other_site, url, token=writer)
    assert canon(other_site) == canon(site)


def test_a_reader_pulls_only_from_its_project(
    auth_server: AuthServer, site: m.MetadataStore, other_site: m.MetadataStore
) -> None:
    project, other = new_project(auth_server), new_project(auth_server)
    sync.push(site, f"{auth_server.url}/p/{project}", token=auth_server.admin)
    reader = auth_server.token(project, "reader")
    log_runs(site, "run-1")
    with pytest.raises(PermissionDeniedError, match="needs a writer"):
        sync.push(site, f"{auth_server.url}/p/{project}", token=reader)
    for url in (auth_server.url, f"{auth_server.url}/p/{other}"):
        with pytest.raises(PermissionDeniedError):
            sync.pull(other_site, url, token=reader)
    with pytest.raises(UnauthenticatedError):
        sync.pull(other_site, f"{auth_server.url}/p/{project}", token="")
    assert other_site.count_artifacts() == 0


def test_a_remote_store_is_an_end_with_its_token(
    auth_server: AuthServer, site: m.MetadataStore, other_site: m.MetadataStore
) -> None:
    project = new_project(auth_server)
    log_runs(site, "run-1")
    with m.connect(
        f"{auth_server.url}/p/{project}", token=auth_server.token(project, "writer")
    ) as remote:
        report = sync.push(site, remote)
        assert report.created > 0 and remote.count_artifacts() == 2
        sync.pull(other_site, remote)
        assert remote.count_executions() == 1  # the store stays open after the transfer
    assert canon(other_site) == canon(site)


def test_changes_and_subsets_are_the_store_peers_bytes(
    auth_server: AuthServer, site: m.MetadataStore
) -> None:
    project = new_project(auth_server)
    log_runs(site, "run-1", "run-2")
    sync.push(site, f"{auth_server.url}/p/{project}", token=auth_server.admin)
    reader = auth_server.token(project, "reader")
    with m.connect(f"sqlite:///{auth_server.server.home / 'projects' / f'{project}.db'}") as direct:
        local = StorePeer(direct)
        with auth_server.client(reader) as http:
            base = f"/p/{project}/api/v1/sync"
            assert http.get(f"{base}/site").json() == {"site": local.site()}
            response = http.post(f"{base}/changes", json={"since": 0, "exclude": None, "limit": 4})
            assert response.headers["content-type"] == "application/json"
            assert response.content == local.changes(0, None, 4).data
            applied = http.get(f"{base}/applied", params={"site": StorePeer(site).site()}).json()
            assert applied == {"position": local.applied(StorePeer(site).site())}
            assert applied["position"] > 0
            [model] = [a for a in direct.get_artifacts() if a.type == "Model"][:1]
            response = http.post(
                f"{base}/subset", json={"selection": {"artifact": model.id}, "limit": 2}
            )
            assert response.headers["content-type"].startswith("application/x-ndjson")
            lines = response.content.splitlines()
            assert lines == list(local.subset({"artifact": model.id}, 2)) and len(lines) == 2
            assert all(_check.decode(line)["from"] is None for line in lines)
            missing = http.post(
                f"{base}/subset", json={"selection": {"context": "nope"}, "limit": 2}
            )
            assert missing.status_code == 404 and missing.json()["error"] == "NotFoundError"


def test_a_pulled_subset_over_http(
    auth_server: AuthServer, site: m.MetadataStore, other_site: m.MetadataStore
) -> None:
    project = new_project(auth_server)
    url = f"{auth_server.url}/p/{project}"
    log_runs(site, "run-1", "run-2")
    sync.push(site, url, token=auth_server.admin)
    report = sync.pull(other_site, url, token=auth_server.admin, context="mnist", batch_size=2)
    assert report.batches >= 3 and report.position is None
    assert other_site.count_contexts() == 1 and other_site.count_executions() == 2
    with pytest.raises(NotFoundError, match="no context named 'nope'"):
        sync.pull(other_site, url, token=auth_server.admin, context="nope")


def test_a_conflict_arrives_with_its_conflicts(
    auth_server: AuthServer, site: m.MetadataStore, other_site: m.MetadataStore
) -> None:
    project = new_project(auth_server)
    url = f"{auth_server.url}/p/{project}"
    site.put_artifact_type(m.ArtifactType(name="Data", properties={"rows": m.PropertyType.INT}))
    other_site.put_artifact_type(
        m.ArtifactType(name="Data", properties={"rows": m.PropertyType.STRING})
    )
    sync.push(site, url, token=auth_server.admin)
    with pytest.raises(SyncConflictError) as raised:
        sync.push(other_site, url, token=auth_server.admin)
    assert raised.value.conflicts and raised.value.conflicts[0]["kind"] == "property_type"
    assert {"kind", "message", "resolve"} <= set(raised.value.conflicts[0])


def test_a_batch_over_the_body_limit_is_refused(tmp_path: Path, site: m.MetadataStore) -> None:
    server = RemoteServer(
        f"sqlite:///{tmp_path / 'small.db'}", tmp_path / "home", args=("--max-body-size", "8000")
    )
    try:
        log_runs(site, *[f"run-{i}" for i in range(20)])
        with pytest.raises(RequestTooLargeError, match="8,000 bytes"):
            sync.push(site, server.url)
        report = sync.push(site, server.url, batch_size=1)  # small batches fit
        assert report.batches > 20
        with m.connect(server.url) as central:
            assert central.count_executions() == 20
    finally:
        server.close()


def test_an_http_peer_refuses_a_url_that_is_no_server() -> None:
    with pytest.raises(InvalidArgumentError, match="http://host:port"):
        HttpPeer("ftp://example.org")
    with pytest.raises(InvalidArgumentError, match="http://host:port"):
        HttpPeer("http://")


@pytest.mark.parametrize("kind", SERVERS)
def test_sites_meet_through_a_server_on_a_database_server(
    kind: str,
    servers: dict[str, Server],
    tmp_path: Path,
    site: m.MetadataStore,
    other_site: m.MetadataStore,
) -> None:
    database = servers[kind]
    need(database)
    url = database.new_database("synced")
    server = RemoteServer(url, tmp_path / "home")
    try:
        log_runs(site, "run-1", "run-2")
        log_runs(other_site, "run-3")  # the same dataset (by digest) and pipeline (by name)
        for store in (site, other_site):
            sync.push(store, server.url, batch_size=3)
        for store in (site, other_site):
            sync.pull(store, server.url, batch_size=3)
        with m.connect(url) as central:
            assert canon(site) == canon(other_site) == canon(central)
            assert (
                central.count_artifacts(),
                central.count_executions(),
                central.count_contexts(),
            ) == (4, 3, 1)
    finally:
        server.close()
