"""What every UI page shares: security headers, the JSON twin, sign-in, the vendored files."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import httpx
from ui_helpers import Authed

from mltrail.server.ui import SECURITY_HEADERS, STATIC


def test_a_page_and_its_json_twin(client: httpx.Client) -> None:
    html = client.get("/ui/")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    for name, value in SECURITY_HEADERS.items():
        assert html.headers[name] == value
    assert "script-src 'self'" in html.headers["content-security-policy"]
    twin = client.get("/api/v1/ui/").json()
    assert twin["counts"] == {"artifacts": 9, "executions": 3, "contexts": 3}
    for kind, count in twin["counts"].items():
        assert re.search(rf'<span class="number">{count}</span> {kind}', html.text)
    assert client.get("/", follow_redirects=False).headers["location"] == "/ui/"


def test_pages_of_another_project(client: httpx.Client) -> None:
    created = client.post("/api/v1/projects", json={"name": "vision"})
    assert created.status_code in (201, 409)  # made by an earlier test of the same server
    html = client.get("/p/vision/ui/")
    assert html.status_code == 200 and 'href="/p/vision/ui/artifacts"' in html.text
    assert client.get("/p/vision/api/v1/ui/").json()["counts"]["artifacts"] == 0
    missing = client.get("/p/nothing/ui/")
    assert missing.status_code == 404 and "NotFoundError" in missing.text
    assert client.get("/p/nothing/api/v1/ui/").json()["error"] == "NotFoundError"


def test_nothing_is_shown_without_a_token(auth_client: Authed) -> None:
    client = auth_client.client
    refused = client.get("/ui/")
    assert refused.status_code == 401
    assert 'name="token"' in refused.text and "number" not in refused.text
    assert client.get("/api/v1/ui/").json()["error"] == "UnauthenticatedError"
    wrong = client.post("/ui/signin", data={"token": "mlt_wrong"}, follow_redirects=False)
    assert wrong.status_code == 401 and "mltrail_token" not in wrong.headers.get("set-cookie", "")
    other = auth_client.token("elsewhere")
    denied = client.get("/ui/", headers={"authorization": f"Bearer {other}"})
    assert denied.status_code == 403 and "number" not in denied.text


def test_signing_in_and_out(auth_client: Authed) -> None:
    client = auth_client.client
    token = auth_client.token()
    signed = client.post("/ui/signin", data={"token": token}, follow_redirects=False)
    assert signed.status_code == 303 and signed.headers["location"] == "/ui/"
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    page = client.get("/ui/")
    assert page.status_code == 200 and "Sign out" in page.text
    out = client.post("/ui/signout", follow_redirects=False)
    assert out.status_code == 303
    client.cookies.clear()
    assert client.get("/ui/").status_code == 401
    bearer = client.get("/api/v1/ui/", headers={"authorization": f"Bearer {token}"})
    assert bearer.status_code == 200


def test_signing_in_returns_to_the_page_that_asked(auth_client: Authed) -> None:
    client = auth_client.client
    asked = "/ui/artifacts?type=Model&limit=2"
    refused = client.get(asked)
    assert refused.status_code == 401
    assert '<input type="hidden" name="next" value="/ui/artifacts?type=Model&amp;limit=2">' in (
        refused.text
    )
    token = auth_client.token()
    signed = client.post("/ui/signin", data={"token": token, "next": asked}, follow_redirects=False)
    assert signed.status_code == 303 and signed.headers["location"] == asked
    assert client.get(signed.headers["location"]).status_code == 200
    client.cookies.clear()
    wrong = client.post("/ui/signin", data={"token": "mlt_wrong", "next": asked})
    assert wrong.status_code == 401 and 'name="next" value="/ui/artifacts?' in wrong.text
    for elsewhere in (
        "https://evil.example/ui/",
        "//evil.example/ui/",
        "/ui//evil.example",
        "/ui/\\evil.example",
        "/api/v1/ui/",
        "/p/other/ui/",
        "javascript:alert(1)",
    ):
        sent = client.post(
            "/ui/signin", data={"token": token, "next": elsewhere}, follow_redirects=False
        )
        assert sent.headers["location"] == "/ui/", elsewhere
        client.cookies.clear()


def vendored_rows() -> list[dict[str, Any]]:
    text = (STATIC / "vendor" / "VENDORED.md").read_text(encoding="utf-8")
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("`"):
            files = re.findall(r"`([^`]+)`", cells[0])
            rows.append({"files": files, "version": cells[2], "sha256": cells[4].split(", ")})
    return rows


def test_vendored_files_are_what_the_table_says() -> None:
    rows = vendored_rows()
    assert rows
    for row in rows:
        for name, digest in zip(row["files"], row["sha256"], strict=True):
            data = (STATIC / "vendor" / name).read_bytes()
            assert hashlib.sha256(data).hexdigest() == digest, name
    for licence in Path(STATIC / "vendor").glob("*.LICENSE"):
        assert "MIT" in licence.read_text() or "Permission is hereby granted" in licence.read_text()
