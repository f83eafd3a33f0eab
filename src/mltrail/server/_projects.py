"""The projects a server hosts: each an isolated store, opened on first use.

The default project's store is the one the server was started with (by default the embedded
SQLite file of the working tree, ``.mltrail/mltrail.db``). The other projects live beside it, in
the same kind of database (:class:`Places`):

- the default store is a SQLite file (or none is given): each project is a SQLite file
  ``<home>/projects/<name>.db``;
- PostgreSQL: each project is a schema ``mlt_p_<name>`` of the default store's database;
- MySQL/MariaDB: each project is a database ``<database>_p_<name>`` on the same server.

A project exists when its store does (its file, or its schema version table): nothing else
records it, so any number of server processes agree on the list.
"""

from __future__ import annotations

import abc
import os
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mltrail.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from mltrail.store import MetadataStore

if TYPE_CHECKING:
    from mltrail.backends.sql.database import Database

DEFAULT_PROJECT = "default"
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


def check_project_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidArgumentError(
            f"project name {name!r} is not valid: use 1 to 63 lower-case letters, digits, '-' "
            "and '_', starting with a letter or digit"
        )
    return name


class Places(abc.ABC):
    """Where the stores of the projects other than the default one live."""

    #: The longest project name the place can hold.
    max_name = 63

    @abc.abstractmethod
    def url(self, name: str) -> str:
        """The store URL of project ``name``."""

    @abc.abstractmethod
    def exists(self, name: str) -> bool:
        """Whether project ``name`` has a complete store."""

    @abc.abstractmethod
    def names(self) -> list[str]:
        """The projects that exist, by name."""

    @abc.abstractmethod
    def create(self, name: str) -> None:
        """Make an empty store for ``name``; AlreadyExistsError when it exists."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release what the place holds open."""

    def check(self, name: str) -> str:
        check_project_name(name)
        if len(name) > self.max_name:
            raise InvalidArgumentError(
                f"project name {name!r} is too long for this server's database: at most "
                f"{self.max_name} characters"
            )
        return name


class Files(Places):
    """SQLite files ``<home>/projects/<name>.db``."""

    def __init__(self, home: Path) -> None:
        self.directory = home / "projects"

    def close(self) -> None:
        """Nothing to release: each project's file is opened by its store."""

    def path(self, name: str) -> Path:
        return self.directory / f"{self.check(name)}.db"

    def url(self, name: str) -> str:
        return f"sqlite:///{self.path(name)}"

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.directory.glob("*.db") if _NAME.fullmatch(p.stem))

    def create(self, name: str) -> None:
        import mltrail

        path = self.path(name)
        if path.exists():
            raise AlreadyExistsError(f"project {name!r} already exists")
        self.directory.mkdir(parents=True, exist_ok=True)
        # The store is built under a temporary name and linked into place, so that a project
        # never exists half made (another process sees the file only once its schema is
        # complete), and two creators cannot both succeed.
        temporary = self.directory / f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"
        mltrail.connect(f"sqlite:///{temporary}").close()
        for suffix in ("-wal", "-shm"):
            Path(f"{temporary}{suffix}").unlink(missing_ok=True)
        try:
            os.link(temporary, path)
        except FileExistsError:
            raise AlreadyExistsError(f"project {name!r} already exists") from None
        finally:
            temporary.unlink(missing_ok=True)


class ServerPlaces(Places):
    """Projects as schemas (PostgreSQL) or databases (MySQL) next to the default store: each a
    container (:meth:`container`) whose ``mlt_schema`` table marks a complete store."""

    def __init__(self, base: str) -> None:
        from sqlalchemy.engine import make_url

        self.base = make_url(base)
        self._database: Database | None = None

    @abc.abstractmethod
    def prefix(self) -> str:
        """What every project's container name starts with."""

    def container(self, name: str) -> str:
        return self.prefix() + self.check(name)

    @abc.abstractmethod
    def _create_sql(self, name: str) -> str:
        """The statement that makes the project's empty container."""

    def _run(self, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Run one statement on the default store's database (rows of a SELECT)."""
        from sqlalchemy import Connection

        from mltrail.backends.sql.database import Database

        reads = sql.lstrip().upper().startswith("SELECT")

        def run(conn: Connection) -> list[Any]:
            result = conn.exec_driver_sql(sql, params or {})
            return list(result.fetchall()) if reads else []

        if self._database is None:
            self._database = Database(self.base, {"pool_size": 1})
        return self._database.run(run, write=not reads)

    def exists(self, name: str) -> bool:
        found = self._run(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %(c)s "
            "AND table_name = 'mlt_schema'",
            {"c": self.container(name)},
        )
        return bool(found)

    def names(self) -> list[str]:
        rows = self._run(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'mlt_schema'"
        )
        prefix = self.prefix()
        found = (str(r[0])[len(prefix) :] for r in rows if str(r[0]).startswith(prefix))
        return sorted(n for n in found if _NAME.fullmatch(n))

    def create(self, name: str) -> None:
        import mltrail

        if self.exists(name):
            raise AlreadyExistsError(f"project {name!r} already exists")
        try:
            self._run(self._create_sql(name))
        except Exception as exc:  # the schema or database exists: a concurrent creator
            if self.exists(name) or "exist" in str(exc).lower():
                raise AlreadyExistsError(f"project {name!r} already exists") from None
            raise
        mltrail.connect(self.url(name)).close()

    def close(self) -> None:
        if self._database is not None:
            self._database.close()
            self._database = None


class Schemas(ServerPlaces):
    """PostgreSQL: schema ``mlt_p_<name>`` of the default store's database."""

    PREFIX = "mlt_p_"
    max_name = 63 - len(PREFIX)

    def prefix(self) -> str:
        return self.PREFIX

    def url(self, name: str) -> str:
        given = self.base.query.get("options")
        given = " ".join(given) if isinstance(given, tuple) else (given or "")
        options = f'{given} -csearch_path="{self.container(name)}"'.strip()
        return self.base.update_query_dict({"options": options}).render_as_string(
            hide_password=False
        )

    def _create_sql(self, name: str) -> str:
        return f'CREATE SCHEMA "{self.container(name)}"'


class Databases(ServerPlaces):
    """MySQL/MariaDB: database ``<database>_p_<name>`` on the default store's server."""

    def prefix(self) -> str:
        return f"{self.base.database}_p_"

    @property
    def max_name(self) -> int:  # type: ignore[override]
        return 64 - len(self.prefix())

    def url(self, name: str) -> str:
        return self.base.set(database=self.container(name)).render_as_string(hide_password=False)

    def _create_sql(self, name: str) -> str:
        return f"CREATE DATABASE `{self.container(name)}` CHARACTER SET utf8mb4"


def places_for(default_store: str | None, home: Path) -> Places:
    """The place of the projects of a server whose default project is ``default_store``."""
    if default_store and "://" in default_store:
        scheme = default_store.split("://", 1)[0].split("+", 1)[0].lower()
        if scheme in ("postgresql", "postgres"):
            return Schemas(default_store)
        if scheme in ("mysql", "mariadb"):
            return Databases(default_store)
    return Files(home)


class Projects:
    """Project name → open store, shared by the requests of the process (a store is safe to
    share between threads). Stores stay open until :meth:`close`.

    What a store keeps between calls stays true whatever other processes write to its database
    (replicas, sites, scripts): the types it has read, which are only ever added to (a type that
    lacks a property a request names is read again before the request is refused), and compiled
    statements. Only a database changed behind the API (restored from a backup) needs
    :meth:`reopen`.
    """

    def __init__(self, default_store: str | None, home: Path) -> None:
        self.home = home
        self.default_store = default_store
        self.places = places_for(default_store, home)
        self._stores: dict[str, MetadataStore] = {}
        self._lock = threading.Lock()

    def url(self, name: str) -> str | None:
        if name == DEFAULT_PROJECT:
            return self.default_store
        return self.places.url(name)

    def exists(self, name: str) -> bool:
        check_project_name(name)
        return name == DEFAULT_PROJECT or self.places.exists(name)

    def names(self) -> list[str]:
        return [DEFAULT_PROJECT, *[n for n in self.places.names() if n != DEFAULT_PROJECT]]

    def store(self, name: str) -> MetadataStore:
        """A store of project ``name``; NotFoundError when there is no such project."""
        store = self._stores.get(name)
        return store if store is not None else self._opened(name)

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
        if name == DEFAULT_PROJECT:
            raise AlreadyExistsError(f"project {name!r} already exists")
        self.places.create(name)

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
        self.places.close()
