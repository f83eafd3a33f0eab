"""The server's settings, declared once: ``create_app(settings=Settings(...))`` and the options
of ``mltrail serve`` are these fields."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: The largest request body the server reads unless told (bytes).
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class Settings:
    """How a server runs.

    ``home``: the directory of the server's own files and of its projects' stores (default:
    ``.mltrail`` at the root of the working tree). ``auth``: every request needs a bearer token
    of the registry (``registry``: a database URL; default ``<home>/server.db``, a SQLite file;
    replicas share a PostgreSQL or MySQL one). ``max_body_bytes``: larger requests are refused
    with :class:`~mltrail.errors.RequestTooLargeError` (413). ``cors_origins``: the web origins
    whose pages may call the API from a browser (none by default).
    """

    home: Path | None = None
    auth: bool = False
    registry: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    cors_origins: tuple[str, ...] = ()

    def registry_url(self, home: Path) -> str:
        return self.registry or f"sqlite:///{home / 'server.db'}"

    def resolved_home(self, store: str | None) -> Path:
        if self.home is not None:
            home = Path(self.home).expanduser().absolute()
            home.mkdir(parents=True, exist_ok=True)
            return home
        from mltrail._project import project_root, state_directory

        return state_directory(project_root())

    def default_store(self, store: str | None) -> str:
        """The default project's store: ``store``, else the working tree's embedded file."""
        if store is not None:
            return store
        from mltrail._project import default_store_location, project_root

        return default_store_location(project_root())
