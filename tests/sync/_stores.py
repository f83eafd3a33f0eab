"""Fresh stores on one backend, made on demand (the sync tests' "sites")."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import mltrail
from _servers import Server, need
from mltrail.store import MetadataStore

NewStore = Callable[[], MetadataStore]


def factory(backend: str, tmp_path: Path, servers: dict[str, Server]) -> Iterator[NewStore]:
    """Yields a function that opens a new empty store on ``backend`` at each call; closes them
    all afterwards."""
    opened: list[MetadataStore] = []
    count = 0

    def new() -> MetadataStore:
        nonlocal count
        count += 1
        url: str | None = None  # SQLite in memory
        if backend == "sqlite-memory":
            pass
        elif backend == "sqlite-file":
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
