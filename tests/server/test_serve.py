"""``mltrail serve`` and the admin commands, run as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import mltrail as m
from _remote import RemoteServer
from mltrail.cli import main
from mltrail.errors import UnauthenticatedError
from mltrail.server.serve import is_loopback


def mltrail_command(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mltrail", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("127.0.0.2", True),
        ("0.0.0.0", False),
        ("192.168.1.4", False),
        ("example.org", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_another_address_without_auth_is_refused(tmp_path: Path) -> None:
    done = mltrail_command("serve", "--host", "0.0.0.0", "--home", str(tmp_path))
    assert done.returncode == 1
    assert "refusing to serve 0.0.0.0 without authentication" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "server.db").exists()


def test_another_address_with_auth_is_served_and_locked(tmp_path: Path) -> None:
    server = RemoteServer(None, tmp_path, args=("--host", "0.0.0.0", "--auth"), cwd=tmp_path)
    try:
        with m.connect(server.url) as store, pytest.raises(UnauthenticatedError):
            store.get_artifacts()
    finally:
        server.close()


def test_serve_with_no_arguments_uses_the_embedded_store(tmp_path: Path) -> None:
    server = RemoteServer(None, None, cwd=tmp_path)
    try:
        with m.connect(server.url) as store:
            store.put_artifact_type(m.ArtifactType(name="Zero"))
        with m.connect(tmp_path / ".mltrail" / "mltrail.db") as local:
            assert [t.name for t in local.get_artifact_types()] == ["Zero"]
    finally:
        server.close()


def test_several_workers_serve_one_store(tmp_path: Path) -> None:
    server = RemoteServer(f"sqlite:///{tmp_path / 's.db'}", tmp_path, args=("--workers", "2"))
    try:
        with m.connect(server.url) as store:
            at = store.put_artifact_type(m.ArtifactType(name="Shared"))
            ids = [store.put_artifacts([m.Artifact(type_id=at, uri=f"/{i}")])[0] for i in range(40)]
            assert sorted(a.id for a in store.get_artifacts()) == sorted(ids)
    finally:
        server.close()


def test_tokens_from_the_command_line(tmp_path: Path) -> None:
    runner = CliRunner()
    home = str(tmp_path)
    made = runner.invoke(
        main, ["token", "create", "--project", "default", "--role", "reader", "--home", home]
    )
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip().splitlines()[0]
    assert secret.startswith("mlt_")
    listed = runner.invoke(main, ["token", "list", "--home", home, "--json"])
    assert '"role": "reader"' in listed.stdout and secret not in listed.stdout
    bad = runner.invoke(
        main, ["token", "create", "--project", "Bad Name", "--role", "reader", "--home", home]
    )
    assert bad.exit_code == 1 and "project name 'Bad Name' is not valid" in bad.stderr
    server = RemoteServer(f"sqlite:///{tmp_path / 's.db'}", tmp_path, args=("--auth",))
    try:
        with m.connect(server.url, token=secret) as store:
            assert store.get_artifacts() == []
            revoked = runner.invoke(main, ["token", "revoke", "1", "--home", home])
            assert revoked.exit_code == 0, revoked.output
            with pytest.raises(UnauthenticatedError):
                store.get_artifacts()
    finally:
        server.close()


def test_projects_from_the_command_line(tmp_path: Path) -> None:
    runner = CliRunner()
    assert (
        runner.invoke(main, ["project", "create", "vision", "--home", str(tmp_path)]).exit_code == 0
    )
    again = runner.invoke(main, ["project", "create", "vision", "--home", str(tmp_path)])
    assert again.exit_code == 1 and "already exists" in again.stderr
    listed = runner.invoke(main, ["project", "list", "--home", str(tmp_path)])
    assert listed.stdout.split() == ["default", "vision"]


def test_cors_is_off_unless_an_origin_is_given(tmp_path: Path, open_server: RemoteServer) -> None:
    preflight = {"origin": "https://ui.example.org", "access-control-request-method": "POST"}
    closed = open_server.http.options("/api/v1/store/get_artifacts", headers=preflight)
    assert "access-control-allow-origin" not in closed.headers
    asked = open_server.http.post("/api/v1/store/get_artifacts", json={}, headers=preflight)
    assert "access-control-allow-origin" not in asked.headers
    server = RemoteServer(
        f"sqlite:///{tmp_path / 's.db'}", tmp_path, args=("--cors-origin", "https://ui.example.org")
    )
    try:
        opened = server.http.options("/api/v1/store/get_artifacts", headers=preflight)
        assert opened.headers["access-control-allow-origin"] == "https://ui.example.org"
        other = {**preflight, "origin": "https://evil.example.com"}
        refused = server.http.options("/api/v1/store/get_artifacts", headers=other)
        assert "access-control-allow-origin" not in refused.headers
    finally:
        server.close()
