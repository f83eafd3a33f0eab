"""Shared fixtures: a ``store`` parametrized over every backend.

Backends: SQLite in memory and in a file, PostgreSQL and MySQL/MariaDB (see ``_servers.py`` for
where the servers are, how each session gets a database of its own, and when an unreachable
server skips or fails its tests).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import mltrail
from _backends import BACKENDS
from _remote import REMOTES, RemoteServer, empty_sqlite
from _servers import SERVERS, Server, need
from mltrail import MetadataStore
from mltrail.backends.sql.database import Database

#: The remote backend that tests marked ``one_remote`` leave out.
ONE_REMOTE_SKIPPED = "remote-postgresql"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sql_only: the test inspects the SQL layer, so it runs on SQL stores only"
    )
    config.addinivalue_line(
        "markers",
        "store_semantics: the test checks what the store computes (orders, pages walked while "
        "rows are added, lineage walks against a reference): through the remote client the same "
        "call runs unchanged on the server's store, so it runs on the local backends only (the "
        "module's other tests cover the remote client's transport of that call)",
    )
    config.addinivalue_line(
        "markers",
        "one_remote: the test reads through the remote client on one server (remote-sqlite): "
        "the same reads on a server backed by PostgreSQL exercise nothing that the "
        "remote-sqlite and postgresql backends do not",
    )


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker more than the machine has cores (at most 12, which keeps the
    database servers' connections within their defaults). Many tests spend their time waiting
    on other processes (database servers, ``mltrail serve``, S3, SSH, Chromium); with a worker
    per core the cores idle meanwhile. ``PYTEST_XDIST_AUTO_NUM_WORKERS`` still decides when set."""
    configured = os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS", "").strip()
    if configured:
        return int(configured)
    return min((os.cpu_count() or 1) + 1, 12)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``sql_only`` (they look below the API) or ``store_semantics`` are not run on
    remote backends; tests marked ``one_remote`` run on the remote-sqlite one only."""
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("backend") if callspec is not None else None
        remote = isinstance(backend, str) and backend in REMOTES
        local_only = any(item.get_closest_marker(name) for name in ("sql_only", "store_semantics"))
        refused = local_only or (
            backend == ONE_REMOTE_SKIPPED and item.get_closest_marker("one_remote") is not None
        )
        (dropped if remote and refused else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


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


class RemoteStores:
    """The session's mltrail servers, one per remote backend, started on first use."""

    def __init__(self, home: Path, servers: dict[str, Server]) -> None:
        self.home = home
        self.servers = servers
        self.running: dict[str, tuple[RemoteServer, str]] = {}

    def empty_url(self, backend: str) -> str:
        """The URL of the server of ``backend``, its store emptied."""
        if backend not in self.running:
            self.running[backend] = self._start(backend)
        server, store = self.running[backend]
        if store.startswith("sqlite:///"):
            empty_sqlite(Path(store[len("sqlite:///") :]))
        else:
            self.servers[REMOTES[backend]].empty(store)
        server.reopen()  # the server forgets what it read of the store before it was emptied
        return server.url

    def _start(self, backend: str) -> tuple[RemoteServer, str]:
        kind = REMOTES[backend]
        home = self.home / backend
        if kind in SERVERS:
            database = self.servers[kind]
            need(database)
            store = database.new_database("remote")
        else:
            home.mkdir(parents=True, exist_ok=True)
            store = f"sqlite:///{home / 'store.db'}"
        return RemoteServer(store, home), store

    def close(self) -> None:
        for server, _ in self.running.values():
            server.close()


@pytest.fixture(scope="session")
def remote_stores(
    tmp_path_factory: pytest.TempPathFactory, servers: dict[str, Server]
) -> Iterator[RemoteStores]:
    remotes = RemoteStores(tmp_path_factory.mktemp("servers"), servers)
    yield remotes
    remotes.close()


def store_url(
    backend: str, tmp_path: Path, servers: dict[str, Server], request: pytest.FixtureRequest
) -> str | None:
    """A URL of an empty database on ``backend``."""
    if backend in REMOTES:
        remotes: RemoteStores = request.getfixturevalue("remote_stores")
        return remotes.empty_url(backend)
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
def empty_url(
    backend: str, tmp_path: Path, servers: dict[str, Server], request: pytest.FixtureRequest
) -> str | None:
    """The URL of an empty database on the current backend (None: a new in-memory store; an
    ``http://`` URL for a remote backend)."""
    return store_url(backend, tmp_path, servers, request)


@pytest.fixture
def store(empty_url: str | None) -> Iterator[MetadataStore]:
    """A fresh, empty store on the current backend."""
    with mltrail.connect(empty_url) as opened:
        yield opened


@pytest.fixture
def backing_database(
    store: MetadataStore, backend: str, request: pytest.FixtureRequest
) -> Iterator[Database]:
    """The SQL database behind ``store``: its own, or the one its server writes to."""
    if backend not in REMOTES:
        yield store.database
        return
    remotes: RemoteStores = request.getfixturevalue("remote_stores")
    database = Database(remotes.running[backend][1])
    yield database
    database.close()
