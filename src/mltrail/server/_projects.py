"""The projects a server hosts: each an isolated store, opened on first use.

The server's home is a directory. The default project's store is the one the server was started
with (by default the embedded SQLite file of the working tree, ``.mltrail/mltrail.db``); every other
project is a SQLite file ``<home>/projects/<name>.db``. A project exists when its file does:
nothing else records it, so any number of server processes over one home agree on the list.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

from mltrail.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from mltrail.store import MetadataStore

DEFAULT_PROJECT = "default"
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


def check_project_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidArgumentError(
            f"project name {name!r} is not valid: use 1 to 63 lower-case letters, digits, '-' "
            "and '_', starting with a letter or digit"
        )
    return name


class Projects:
    """Project name → store. Thread-safe; databases stay open until :meth:`close`.

    :meth:`store` gives a new :class:`~mltrail.store.MetadataStore` object over the project's
    open database for each request: nothing one request learns (the types it read) is kept for
    the next, so replicas and other writers of the same database can never make it stale.
    """

    def __init__(self, default_store: str | None, home: Path) -> None:
        self.home = home
        self.default_store = default_store
        self._stores: dict[str, MetadataStore] = {}
        self._lock = threading.Lock()

    @property
    def directory(self) -> Path:
        return self.home / "projects"

    def path(self, name: str) -> Path:
        return self.directory / f"{check_project_name(name)}.db"

    def url(self, name: str) -> str | None:
        if name == DEFAULT_PROJECT:
            return self.default_store
        return f"sqlite:///{self.path(name)}"

    def exists(self, name: str) -> bool:
        return name == DEFAULT_PROJECT or self.path(name).is_file()

    def names(self) -> list[str]:
        found = sorted(p.stem for p in self.directory.glob("*.db") if _NAME.fullmatch(p.stem))
        return [DEFAULT_PROJECT, *[n for n in found if n != DEFAULT_PROJECT]]

    def store(self, name: str) -> MetadataStore:
        """The open store of project ``name``; NotFoundError when there is no such project."""
        store = self._stores.get(name)
        if store is None:
            store = self._opened(name)
        return MetadataStore(store.database, store.schema_version)

    def _opened(self, name: str) -> MetadataStore:
        if not self.exists(name):
            raise NotFoundError(
                f"there is no project {name!r} on this server; an admin creates it with "
                f"POST /api/v1/projects (mltrail project create {name})"
            )
        with self._lock:
            store = self._stores.get(name)
            if store is None:
                store = self._stores[name] = self._open(name)
        return store

    def _open(self, name: str) -> MetadataStore:
        import mltrail

        url = self.url(name)
        if url is not None and url.startswith("sqlite:///"):
            Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        return mltrail.connect(url)

    def create(self, name: str) -> None:
        """Create project ``name`` (an empty store). AlreadyExistsError when it exists."""
        check_project_name(name)
        if self.exists(name):
            raise AlreadyExistsError(f"project {name!r} already exists")
        self.directory.mkdir(parents=True, exist_ok=True)
        # The store is built under a temporary name and renamed, so that a project never exists
        # half made (another process sees the file only once its schema is complete).
        temporary = self.directory / f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"
        import mltrail

        mltrail.connect(f"sqlite:///{temporary}").close()
        for suffix in ("-wal", "-shm"):
            Path(f"{temporary}{suffix}").unlink(missing_ok=True)
        try:
            os.link(temporary, self.path(name))  # fails if another process made it meanwhile
        except FileExistsError:
            raise AlreadyExistsError(f"project {name!r} already exists") from None
        finally:
            temporary.unlink(missing_ok=True)

    def reopen(self, name: str) -> None:
        """Close the project's database and forget what was read of it: the next request opens
        it again. For a database restored from a backup or changed by other means than the API
        (types are otherwise only ever added, and what the server knows of them stays right)."""
        if not self.exists(name):
            self.store(name)  # raises NotFoundError
        with self._lock:
            store = self._stores.pop(name, None)
        if store is not None:
            store.close()

    def close(self) -> None:
        with self._lock:
            for store in self._stores.values():
                store.close()
            self._stores.clear()
