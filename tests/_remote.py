"""Real mltrail servers for the tests: ``mltrail serve`` in a process of its own.

A remote backend (``remote-sqlite``, ``remote-postgresql``) is a server started once per test
session (per pytest-xdist worker) on a store of that kind; the tests talk to it with the remote
client (``mltrail.connect("http://...")``) exactly as they talk to a SQL store. Between tests the
server's database is emptied directly, as the SQL backends' are, and the server is told to
reopen it (``POST /api/v1/projects/default/reopen``), as after restoring a backup: the types it
had read are gone.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from _servers import DELETE_ORDER

REMOTES = {"remote-sqlite": "sqlite-file", "remote-postgresql": "postgresql"}
#: Seconds a server may take to answer /healthz after its start.
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RemoteServer:
    """``mltrail serve STORE`` on a free loopback port, stopped by :meth:`close`."""

    def __init__(
        self,
        store: str | None,
        home: Path | None,
        *,
        args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self.store = store
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        logs = log_dir or home or cwd
        assert logs is not None, "give a home, a cwd or a log_dir"
        logs.mkdir(parents=True, exist_ok=True)
        self.log_path = logs / f"server-{self.port}.log"
        self._log = self.log_path.open("wb")
        command = [sys.executable, "-m", "mltrail", "serve", "--port", str(self.port)]
        command += [store] if store is not None else []
        command += ["--home", str(home)] if home is not None else []
        self.process = subprocess.Popen(
            [*command, *args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
        self._wait()
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def _wait(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mltrail serve exited at start:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.close()
        raise RuntimeError(f"mltrail serve did not answer within {START_TIMEOUT} s:\n{self.log()}")

    def reopen(self, project: str = "default") -> None:
        response = self.http.post(f"/api/v1/projects/{project}/reopen")
        assert response.status_code == 200, response.text

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-5000:]

    def close(self) -> None:
        if hasattr(self, "http"):
            self.http.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def empty_sqlite(path: Path) -> None:
    """Delete every row of a SQLite store but its schema version, and restart its ids."""
    conn = sqlite3.connect(path, timeout=30)
    try:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'mlt_%'"
            )
        ]
        ordered = [t for t in DELETE_ORDER if t in tables]
        with conn:
            for table in ordered:
                conn.execute(f'DELETE FROM "{table}"')
            if conn.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'"
            ).fetchone():
                conn.execute("DELETE FROM sqlite_sequence")
    finally:
        conn.close()
