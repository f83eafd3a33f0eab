"""Servers for the server tests: real ``mltrail serve`` processes on SQLite files."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from server_helpers import AuthServer

from _remote import RemoteServer
from mltrail.server.tokens import Registry


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RemoteServer]:
    """A server without authentication (loopback only) on a SQLite file."""
    home = tmp_path_factory.mktemp("open")
    server = RemoteServer(f"sqlite:///{home / 'store.db'}", home)
    yield server
    server.close()


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    home = tmp_path_factory.mktemp("auth")
    server = RemoteServer(f"sqlite:///{home / 'store.db'}", home, args=("--auth",))
    registry = Registry(f"sqlite:///{home / 'server.db'}")
    admin = registry.create("*", "admin", "test admin")[0]
    yield AuthServer(server, registry, admin)
    registry.close()
    server.close()
