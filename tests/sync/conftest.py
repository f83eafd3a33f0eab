"""Stores for sync tests: several fresh stores ("sites") per test on one backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import mltrail
from _servers import SERVERS, Server, need
from mltrail.store import MetadataStore

#: A site's own file store, and the server databases a central store runs on.
SYNC_BACKENDS = ["sqlite-file", *SERVERS]

NewStore = Callable[[], MetadataStore]


def _factory(backend: str, tmp_path: Path, servers: dict[str, Server]) -> Iterator[NewStore]:
    opened: list[MetadataStore] = []
    count = 0

    def new() -> MetadataStore:
        nonlocal count
        count += 1
        if backend == "sqlite-file":
            tmp_path.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{tmp_path / f'site{count}.db'}"
        else:
            server = servers[backend]
            need(server)
            url = server.new_database("sync")
        store = mltrail.connect(url)
        opened.append(store)
        return store

    yield new
    for store in opened:
        store.close()


@pytest.fixture(params=SYNC_BACKENDS)
def new_store(
    request: pytest.FixtureRequest, tmp_path: Path, servers: dict[str, Server]
) -> Iterator[NewStore]:
    """Makes a fresh store on the test's backend at each call."""
    yield from _factory(str(request.param), tmp_path, servers)


@pytest.fixture
def new_site(tmp_path: Path, servers: dict[str, Server]) -> Iterator[NewStore]:
    """Makes a fresh SQLite file store (a site) at each call."""
    yield from _factory("sqlite-file", tmp_path / "sites", servers)
