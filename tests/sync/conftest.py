"""Stores for sync tests: several fresh stores ("sites") per test on one backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _stores import NewStore, factory

from _servers import SERVERS, Server

#: A site's own file store, and the server databases a central store runs on.
SYNC_BACKENDS = ["sqlite-file", *SERVERS]


@pytest.fixture(params=SYNC_BACKENDS)
def new_store(
    request: pytest.FixtureRequest, tmp_path: Path, servers: dict[str, Server]
) -> Iterator[NewStore]:
    """Makes a fresh store on the test's backend at each call."""
    yield from factory(str(request.param), tmp_path, servers)


@pytest.fixture
def new_site(tmp_path: Path, servers: dict[str, Server]) -> Iterator[NewStore]:
    """Makes a fresh SQLite file store (a site) at each call."""
    yield from factory("sqlite-file", tmp_path / "sites", servers)
