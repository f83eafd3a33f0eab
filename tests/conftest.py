"""Shared fixtures: a ``store`` parametrized over every backend.

Backends: SQLite in memory and in a file, PostgreSQL and MySQL/MariaDB (see ``_servers.py`` for
where the servers are, how each session gets a database of its own, and when an unreachable
server skips or fails its tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import mltrail
from _servers import SERVERS, Server, need
from mltrail import MetadataStore

BACKENDS = ["sqlite-memory", "sqlite-file", *SERVERS]


@pytest.fixture(scope="session")
def servers() -> Iterator[dict[str, Server]]:
    """The database servers, each checked once; their databases are dropped at the end."""
    opened: dict[str, Server] = {}

    class Lazy(dict[str, Server]):
        def __missing__(self, kind: str) -> Server:
            server = opened[kind] = Server(kind)
            self[kind] = server
            return server

    yield Lazy()
    for server in opened.values():
        if server.unreachable is None:
            server.close()


@pytest.fixture
def server(backend: str, servers: dict[str, Server]) -> Server:
    """The current backend's server (skips or fails the test when it is unreachable)."""
    if backend not in SERVERS:
        raise AssertionError(f"{backend} is not a server backend")
    found = servers[backend]
    need(found)
    return found


def store_url(backend: str, tmp_path: Path, servers: dict[str, Server]) -> str | None:
    """A URL of an empty database on ``backend``."""
    if backend == "sqlite-memory":
        return None
    if backend == "sqlite-file":
        return f"sqlite:///{tmp_path / 'store.db'}"
    if backend in SERVERS:
        server = servers[backend]
        need(server)
        url = server.run_database()
        server.empty(url)
        return url
    raise AssertionError(f"unknown backend {backend}")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def empty_url(backend: str, tmp_path: Path, servers: dict[str, Server]) -> str | None:
    """The URL of an empty database on the current backend (None: a new in-memory store)."""
    return store_url(backend, tmp_path, servers)


@pytest.fixture
def store(empty_url: str | None) -> Iterator[MetadataStore]:
    """A fresh, empty store on the current backend."""
    with mltrail.connect(empty_url) as opened:
        yield opened
