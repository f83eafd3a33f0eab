"""Error answers are JSON with the error's class and status, never a stack trace; the remote
client raises the class the server named."""

from __future__ import annotations

import json

import httpx
import pytest
from server_helpers import post

import mltrail as m
from _remote import RemoteServer, free_port
from mltrail import errors


@pytest.fixture
def http(open_server: RemoteServer) -> httpx.Client:
    return open_server.http


def shape(response: httpx.Response, error: type[errors.MltrailError]) -> dict[str, object]:
    assert response.status_code == error.http_status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"] == error.__name__
    assert isinstance(body["message"], str) and body["message"]
    assert "Traceback" not in response.text and 'File "' not in response.text
    return dict(body)


def test_invalid_argument(http: httpx.Client) -> None:
    body = shape(post(http, "get_artifacts_by_id", artifact_ids=["x"]), errors.InvalidArgumentError)
    assert "must hold int ids" in str(body["message"])


def test_query_syntax_error_carries_its_position(http: httpx.Client) -> None:
    body = shape(post(http, "get_artifacts", filter_query="uri = "), errors.QuerySyntaxError)
    assert (body["line"], body["column"]) == (1, 6)
    assert str(body["query"]).strip() == "uri ="
    assert "^" in str(body["message"]) and "^" not in str(body["reason"])


def test_not_found(http: httpx.Client) -> None:
    shape(post(http, "get_artifact_type", type_name="NoSuchType"), errors.NotFoundError)


def test_already_exists(http: httpx.Client) -> None:
    kind = {"artifact_type": {"name": "Dup", "properties": {"a": "INT"}}}
    assert post(http, "put_artifact_type", **kind).status_code == 200
    changed = {"artifact_type": {"name": "Dup", "properties": {"a": "STRING"}}}
    shape(post(http, "put_artifact_type", **changed), errors.AlreadyExistsError)


def test_unknown_arguments_and_bodies(http: httpx.Client) -> None:
    body = shape(post(http, "get_artifacts_by_id", ids=[1]), errors.InvalidArgumentError)
    assert "no argument 'ids'" in str(body["message"])
    missing = shape(post(http, "get_artifacts_by_id"), errors.InvalidArgumentError)
    assert "artifact_ids" in str(missing["message"])
    raw = http.post("/api/v1/store/get_artifacts", content=b"{not json")
    assert "not JSON" in str(shape(raw, errors.InvalidArgumentError)["message"])
    listed = http.post("/api/v1/store/get_artifacts", json=[1])
    assert "JSON object" in str(shape(listed, errors.InvalidArgumentError)["message"])
    deep = http.post("/api/v1/store/get_artifacts", content=b"[" * 100_000 + b"]" * 100_000)
    shape(deep, errors.InvalidArgumentError)
    tag = post(http, "get_artifacts_by_id", artifact_ids={"$type": "nonsense"})
    assert "unknown value tag" in str(shape(tag, errors.InvalidArgumentError)["message"])


def test_routes_and_methods_that_do_not_exist(http: httpx.Client) -> None:
    body = shape(http.get("/api/v1/nothing"), errors.NotFoundError)
    assert "/api/v1/nothing" in str(body["message"])
    assert http.get("/api/v1/store/get_artifacts").status_code == 405
    assert http.get("/api/v1/store/get_artifacts").json()["error"] == "InvalidArgumentError"
    shape(post(http, "get_artifacts", "no-such-project"), errors.NotFoundError)
    bad = shape(post(http, "get_artifacts", "Bad Name"), errors.InvalidArgumentError)
    assert "project name 'Bad Name'" in str(bad["message"])


def test_a_body_over_the_limit_is_413(tmp_path_factory: pytest.TempPathFactory) -> None:
    home = tmp_path_factory.mktemp("small")
    server = RemoteServer(f"sqlite:///{home / 's.db'}", home, args=("--max-body-size", "1000"))
    try:
        big = {"artifact_ids": list(range(1000))}
        shape(
            server.http.post("/api/v1/store/get_artifacts_by_id", json=big),
            errors.RequestTooLargeError,
        )
        chunks = (b'{"artifact_ids": [' + b"1," * 2000 + b"1]}",)
        streamed = server.http.post("/api/v1/store/get_artifacts_by_id", content=iter(chunks))
        shape(streamed, errors.RequestTooLargeError)
        with m.connect(server.url) as store, pytest.raises(errors.RequestTooLargeError):
            store.get_artifacts_by_id(list(range(1000)))
        assert server.http.post(
            "/api/v1/store/get_artifacts_by_id", json={"artifact_ids": [1]}
        ).json() == {"result": []}
    finally:
        server.close()


def test_the_client_rebuilds_each_error_with_its_data(open_server: RemoteServer) -> None:
    with m.connect(open_server.url) as store:
        with pytest.raises(errors.QuerySyntaxError) as caught:
            store.get_artifacts(filter_query="name = 'a' AND")
        direct = m.connect()
        with pytest.raises(errors.QuerySyntaxError) as expected:
            direct.get_artifacts(filter_query="name = 'a' AND")
        assert str(caught.value) == str(expected.value)
        assert (caught.value.line, caught.value.column) == (
            expected.value.line,
            expected.value.column,
        )
        with pytest.raises(errors.NotFoundError):
            store.get_execution_type("Nothing")


def test_an_unreachable_server_is_unavailable() -> None:
    store = m.connect(f"http://127.0.0.1:{free_port()}")
    with store, pytest.raises(errors.UnavailableError, match="cannot reach the mltrail server"):
        store.get_artifacts()


def test_a_url_that_is_not_an_mltrail_server(open_server: RemoteServer) -> None:
    store = m.connect(f"{open_server.url}/not-api")
    with store, pytest.raises(errors.NotFoundError, match="no such route"):
        store.get_artifacts()


def test_unknown_options_of_a_server_url() -> None:
    with pytest.raises(errors.InvalidArgumentError, match="unknown option"):
        m.connect("http://127.0.0.1:1", pool_size=3)


def test_the_openapi_document_lists_every_call(http: httpx.Client) -> None:
    document = http.get("/api/v1/openapi.json").json()
    from mltrail.remote._api import calls

    paths = document["paths"]
    for name in calls():
        operation = paths[f"/api/v1/store/{name}"]["post"]
        assert operation["operationId"] == name
        assert "requestBody" in operation
    assert "Artifact" in document["components"]["schemas"]
    json.dumps(document)  # serializable as a whole


def test_a_long_listing_is_streamed_and_whole(open_server: RemoteServer) -> None:
    with m.connect(open_server.url) as store:
        at = store.put_artifact_type(m.ArtifactType(name="Many"))
        ids = store.put_artifacts([m.Artifact(type_id=at, uri=f"/many/{i}") for i in range(1234)])
        response = open_server.http.post(
            "/api/v1/store/get_artifacts_by_type", json={"type_name": "Many"}
        )
        assert "content-length" not in response.headers  # sent in pieces
        items = response.json()["result"]["items"]
        assert [a["id"] for a in items] == ids
        got = store.get_artifacts_by_type("Many")
        assert [a.id for a in got] == ids and got.next_page_token is None
        assert [a.uri for a in store.get_artifacts_by_id(ids)] == [
            f"/many/{i}" for i in range(1234)
        ]
        short = open_server.http.post(
            "/api/v1/store/get_artifacts_by_id", json={"artifact_ids": ids[:3]}
        )
        assert short.headers["content-length"] == str(len(short.content))
