"""Tokens and permissions on a real server with authentication on: every refusal, isolation."""

from __future__ import annotations

import pytest
from server_helpers import AuthServer, post

import mltrail as m
from mltrail.errors import PermissionDeniedError, UnauthenticatedError

TYPE = {"artifact_type": {"name": "Data"}}


def test_a_request_without_a_token_is_401_and_names_the_header(auth_server: AuthServer) -> None:
    with auth_server.client() as http:
        response = post(http, "get_artifacts")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    assert body["error"] == "UnauthenticatedError"
    assert "Authorization: Bearer" in body["message"]


@pytest.mark.parametrize("header", ["Bearer mlt_not_a_real_token", "Basic dXNlcjpwdw==", "Bearer"])
def test_a_bad_token_is_401(auth_server: AuthServer, header: str) -> None:
    with auth_server.client() as http:
        response = http.post(
            "/api/v1/store/get_artifacts", json={}, headers={"authorization": header}
        )
    assert response.status_code == 401
    assert response.json()["error"] == "UnauthenticatedError"


def test_a_revoked_token_is_refused_from_the_next_request(auth_server: AuthServer) -> None:
    secret, token = auth_server.registry.create("default", "reader", "soon revoked")
    with auth_server.client(secret) as http:
        assert post(http, "get_artifacts").status_code == 200
        auth_server.registry.revoke(token.id)
        response = post(http, "get_artifacts")
    assert response.status_code == 401
    assert "revoked" in response.json()["message"]


def test_the_remote_client_raises_the_same_errors(auth_server: AuthServer) -> None:
    with m.connect(auth_server.url) as anonymous, pytest.raises(UnauthenticatedError):
        anonymous.get_artifact_types()
    with m.connect(auth_server.url, token=auth_server.admin) as admin:
        admin.put_artifact_type(m.ArtifactType(name="Readable"))
    with m.connect(auth_server.url, token=auth_server.token("default", "reader")) as reader:
        assert reader.get_artifact_type("Readable").name == "Readable"
        with pytest.raises(PermissionDeniedError, match="needs a writer"):
            reader.put_artifact_type(m.ArtifactType(name="Refused"))


def test_the_token_comes_from_the_environment(
    auth_server: AuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLTRAIL_TOKEN", auth_server.token("default", "writer"))
    with m.connect(auth_server.url) as store:
        assert store.put_artifact_type(m.ArtifactType(name="FromEnvironment")) > 0


def test_readers_read_writers_write(auth_server: AuthServer) -> None:
    reader, writer = auth_server.token("default", "reader"), auth_server.token("default", "writer")
    with auth_server.client(reader) as http:
        refused = post(http, "put_artifact_type", **TYPE)
        assert refused.status_code == 403
        assert refused.json()["error"] == "PermissionDeniedError"
        assert post(http, "get_artifact_types").status_code == 200
    with auth_server.client(writer) as http:
        assert post(http, "put_artifact_type", **TYPE).status_code == 200


def test_a_token_of_one_project_opens_no_other(auth_server: AuthServer) -> None:
    with auth_server.client(auth_server.admin) as http:
        assert http.post("/api/v1/projects", json={"name": "alpha"}).status_code == 201
        assert http.post("/api/v1/projects", json={"name": "beta"}).status_code == 201
    alpha = auth_server.token("alpha", "admin")
    with auth_server.client(alpha) as http:
        assert post(http, "put_artifact_type", "alpha", **TYPE).status_code == 200
        for method, body in (("get_artifact_types", {}), ("put_artifact_type", TYPE)):
            response = post(http, method, "beta", **body)
            assert response.status_code == 403, method
            assert "project 'beta'" in response.json()["message"]
        assert post(http, "get_artifact_types").status_code == 403  # the default project
        assert http.get("/api/v1/tokens", params={"project": "beta"}).status_code == 403
        assert http.get("/api/v1/projects").json() == {"projects": ["alpha"]}


def test_projects_are_isolated(auth_server: AuthServer) -> None:
    admin = auth_server.admin
    with auth_server.client(admin) as http:
        for name in ("iso-a", "iso-b"):
            assert http.post("/api/v1/projects", json={"name": name}).status_code == 201
    with (
        m.connect(f"{auth_server.url}/p/iso-a", token=admin) as a,
        m.connect(f"{auth_server.url}/p/iso-b", token=admin) as b,
    ):
        at = a.put_artifact_type(m.ArtifactType(name="OnlyInA"))
        a.put_artifacts([m.Artifact(type_id=at, uri="/a")])
        assert [t.name for t in a.get_artifact_types()] == ["OnlyInA"]
        assert b.get_artifact_types() == []
        assert b.get_artifacts() == []
        assert b.get_artifacts_by_uri("/a") == []


def test_admin_routes_need_admins(auth_server: AuthServer) -> None:
    writer = auth_server.token("default", "writer")
    project_admin = auth_server.token("default", "admin")
    with auth_server.client(writer) as http:
        assert http.post("/api/v1/projects", json={"name": "nope"}).status_code == 403
        assert http.get("/api/v1/tokens", params={"project": "default"}).status_code == 403
        made = http.post("/api/v1/tokens", json={"project": "default", "role": "reader"})
        assert made.status_code == 403
        assert http.post("/api/v1/projects/default/reopen").status_code == 403
    with auth_server.client(project_admin) as http:
        # An admin of one project manages its tokens, but creates no project.
        assert http.post("/api/v1/projects", json={"name": "nope"}).status_code == 403
        made = http.post("/api/v1/tokens", json={"project": "default", "role": "reader"})
        assert made.status_code == 201, made.text
        secret, token_id = made.json()["token"], made.json()["id"]
        listed = http.get("/api/v1/tokens", params={"project": "default"}).json()["tokens"]
        assert token_id in [t["id"] for t in listed]
        assert all("token" not in t and "digest" not in t for t in listed)
        assert (
            http.post("/api/v1/tokens", json={"project": "*", "role": "admin"}).status_code == 403
        )
        assert http.delete(f"/api/v1/tokens/{token_id}").status_code == 200
    with auth_server.client(secret) as http:
        assert post(http, "get_artifacts").status_code == 401


def test_tokens_are_stored_as_digests_only(auth_server: AuthServer) -> None:
    secret = auth_server.token("default", "reader")
    registry_file = auth_server.server.home / "server.db"
    assert secret.encode() not in registry_file.read_bytes()
    wal = registry_file.with_name("server.db-wal")
    if wal.exists():
        assert secret.encode() not in wal.read_bytes()


def test_health_needs_no_token(auth_server: AuthServer) -> None:
    with auth_server.client() as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        assert http.get("/readyz").json()["status"] == "ready"


def test_every_call_checks_its_permission(auth_server: AuthServer) -> None:
    """Every store call refuses a request without a token, a token of another project, and
    (for calls that write) a reader; the check comes before the body is looked at."""
    from mltrail.remote._api import calls

    reader = auth_server.token("default", "reader")
    stranger = auth_server.token("elsewhere", "admin")
    with (
        auth_server.client() as anonymous,
        auth_server.client(reader) as as_reader,
        auth_server.client(stranger) as as_stranger,
    ):
        for name, call in calls().items():
            assert post(anonymous, name).status_code == 401, name
            assert post(as_stranger, name).status_code == 403, name
            status = post(as_reader, name).status_code
            if call.read:
                assert status != 403, name  # allowed: the empty body may still be refused (400)
            else:
                assert status == 403, name
