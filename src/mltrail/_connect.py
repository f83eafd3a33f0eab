"""``mltrail.connect``: open a store from a URL."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mltrail.errors import InvalidArgumentError

if TYPE_CHECKING:
    from mltrail.store import MetadataStore


def database_url(url: str | os.PathLike[str] | None) -> str:
    """The SQLAlchemy URL for what :func:`connect` accepts."""
    if url is None or url in ("", ":memory:"):
        return "sqlite://"
    if isinstance(url, os.PathLike) or "://" not in str(url):
        from pathlib import Path

        return f"sqlite:///{Path(url).expanduser()}"
    text = str(url)
    scheme = text.split("://", 1)[0].lower()
    if scheme in ("http", "https"):
        raise InvalidArgumentError(
            f"{text!r} names an mltrail server, not a database; open it with mltrail.connect"
        )
    return text


def is_server_url(url: object) -> bool:
    return isinstance(url, str) and url.split("://", 1)[0].lower() in ("http", "https")


def connect(
    url: str | os.PathLike[str] | None = None, *, migrate: bool = True, **options: Any
) -> MetadataStore:
    """Open a metadata store.

    ``url``: an mltrail server (``http://host:port`` for its default project,
    ``http://host:port/p/<project>`` for another; ``token=`` or ``$MLTRAIL_TOKEN`` for its bearer
    token, ``timeout=`` in seconds), which gives a :class:`~mltrail.remote.RemoteStore` with the
    same API; ``None`` (or ``":memory:"``) for a fresh in-memory SQLite store; ``sqlite:///path.db``
    or a plain file path for a SQLite file (created if missing); ``postgresql://user:pw@host/db``
    (``pip install 'mltrail[postgres]'``) or ``mysql://user:pw@host/db`` for MySQL and MariaDB
    (``pip install 'mltrail[mysql]'``), whose database must exist (mltrail creates its tables).
    Backend options may be given as URL query parameters or keywords (SQLite: ``busy_timeout`` in
    ms, ``synchronous``; servers: ``pool_size``, ``connect_timeout``, SSL settings... see
    docs/backends.md). A server that cannot be reached raises
    :class:`~mltrail.errors.UnavailableError`.

    Every backend takes ``statement_timeout`` (seconds, default 30; ``0`` or ``"none"``: no
    limit): a statement running longer is stopped by the database and the call raises
    :class:`~mltrail.errors.DeadlineExceededError`. ``read_only=True`` (SQLite also
    ``?mode=ro``) opens a store whose write calls raise
    :class:`~mltrail.errors.FailedPreconditionError`. A database that holds tables but none of
    mltrail's (an ML Metadata database, another application's) is refused with
    :class:`~mltrail.errors.FailedPreconditionError`, and nothing is written to it.

    A database with an older schema is migrated in one transaction, unless ``migrate=False``, in
    which case :class:`~mltrail.errors.SchemaVersionError` is raised; a database with a newer
    schema is refused the same way and left untouched.
    """
    # Imported here, not at the top: ``import mltrail`` stays light (see mltrail/__init__.py).
    if is_server_url(url):
        from mltrail.remote import RemoteStore

        return RemoteStore(str(url), **options)  # type: ignore[return-value]
    from mltrail.backends.sql.database import Database
    from mltrail.backends.sql.migrations import prepare_schema
    from mltrail.store import MetadataStore

    database = Database(database_url(url), options)
    try:
        version = prepare_schema(database, migrate=migrate)
    except BaseException:
        database.close()
        raise
    return MetadataStore(database, version)


@dataclass(frozen=True)
class MigrationPlan:
    """What :func:`migrate` found and did: the database's schema version before (``current``;
    0 for an empty database), the library's (``target``), the migrations between them as
    ``(version, summary)`` pairs, and whether they were applied."""

    location: str
    current: int
    target: int
    steps: tuple[tuple[int, str], ...]
    applied: bool

    @property
    def up_to_date(self) -> bool:
        return self.current == self.target


def migrate(url: str | os.PathLike[str], *, dry_run: bool = False) -> MigrationPlan:
    """Bring the store at ``url`` to this library's schema version, in one transaction (see
    docs/schema-and-migrations.md), or with ``dry_run`` only say what that would do.

    An empty database gets the whole schema (a new store); a store file that does not exist is
    refused (:class:`~mltrail.errors.NotFoundError`) rather than created. A server URL is
    refused: a server migrates its stores itself when it opens them.
    """
    if is_server_url(url):
        raise InvalidArgumentError(
            f"{url} is an mltrail server: it migrates its stores when it starts; run "
            "`mltrail migrate` on the server's database URL instead"
        )
    from mltrail.backends.sql.database import Database
    from mltrail.backends.sql.migrations import library_schema_version, pending, prepare_schema

    location = database_url(url)
    if location.startswith("sqlite:///"):
        from pathlib import Path

        path = Path(location[len("sqlite:///") :].split("?", 1)[0])
        if not path.exists():
            from mltrail.errors import NotFoundError

            raise NotFoundError(f"no store at {path}: check the path (mltrail init creates one)")
    database = Database(location, {})
    try:
        current, steps = pending(database)
        target = library_schema_version()
        if steps and not dry_run:
            prepare_schema(database, migrate=True)
        return MigrationPlan(
            location=database.description,
            current=current,
            target=target,
            steps=tuple((step.version, step.summary) for step in steps),
            applied=bool(steps) and not dry_run,
        )
    finally:
        database.close()
