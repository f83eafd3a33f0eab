"""What the server dialects (PostgreSQL, MySQL/MariaDB) share: drivers, options and the pool.

A server URL names a driver (``postgresql+psycopg://``) or only the database (``postgresql://``),
which then gets the dialect's default driver. Options come from the URL's query or from keywords
to :func:`mltrail.connect` (keywords win): mltrail's own pool and timeout options are taken out,
everything else is handed to the driver unchanged (SSL settings, ``application_name``...).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL

from mltrail.backends.sql.dialects.base import Dialect
from mltrail.errors import FailedPreconditionError, InvalidArgumentError

#: mltrail's own options for server databases: name -> (kind of value, default).
POOL_OPTIONS: dict[str, tuple[str, Any]] = {
    "pool_size": ("int", 5),  # connections kept open
    "max_overflow": ("int", 10),  # extra connections opened under load, closed when idle
    "pool_timeout": ("float", 30.0),  # seconds a call waits for a free connection
    "pool_recycle": ("int", 1800),  # seconds after which a connection is replaced
    # Check each connection with a round trip before a call. Off by default: a call whose
    # connection the server closed (a restart, an idle timeout) runs again on a new one.
    "pool_pre_ping": ("bool", False),
}
DEFAULT_CONNECT_TIMEOUT = 10  # seconds; passed to the driver as connect_timeout

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class ServerDialect(Dialect):
    """A database server reached through a DBAPI driver and a connection pool."""

    #: The human name of the database, for messages.
    title: ClassVar[str] = "server"
    #: URL schemes (before ``+``) served by this dialect; the first is SQLAlchemy's name.
    schemes: ClassVar[tuple[str, ...]] = ()
    #: Supported drivers: SQLAlchemy driver name -> (module to import, pip requirement).
    drivers: ClassVar[dict[str, tuple[str, str]]] = {}
    #: The driver used when the URL names none.
    default_driver: ClassVar[str] = ""
    #: The mltrail extra that installs the default driver.
    extra: ClassVar[str] = ""
    #: The default port, for messages.
    default_port: ClassVar[int] = 0
    #: The driver chosen by :meth:`engine_url`.
    _driver = ""

    def engine_url(self, url: URL) -> URL:
        backend, _, driver = url.drivername.partition("+")
        driver = driver or self.default_driver
        if driver not in self.drivers:
            known = ", ".join(f"{self.schemes[0]}+{d}" for d in self.drivers)
            raise InvalidArgumentError(
                f"unsupported {self.title} driver {driver!r} in {backend}+{driver}://; use "
                f"{self.schemes[0]}:// (driver {self.default_driver}) or one of: {known}"
            )
        module, requirement = self.drivers[driver]
        try:
            importlib.import_module(module)
        except ImportError as exc:
            hint = (
                f"pip install 'mltrail[{self.extra}]'"
                if driver == self.default_driver
                else f"pip install '{requirement}'"
            )
            raise FailedPreconditionError(
                f"connecting to {self.title} with {backend}+{driver}:// needs the {driver} "
                f"driver, which is not installed ({exc}); install it with: {hint}"
            ) from exc
        self._driver = driver
        return url.set(drivername=f"{self.schemes[0]}+{driver}")

    def create_engine(self, url: URL, options: dict[str, Any]) -> Engine:
        options = dict(options)
        pool = {
            name: convert(options.pop(name, default), kind, name)
            for name, (kind, default) in POOL_OPTIONS.items()
        }
        for name, lowest in (("pool_size", 1), ("max_overflow", -1), ("pool_recycle", -1)):
            if pool[name] < lowest:  # -1: no limit (max_overflow), never recycle (pool_recycle)
                raise InvalidArgumentError(
                    f"{name}={pool[name]} is out of range; use {lowest} or more"
                )
        options["connect_timeout"] = convert(
            options.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT), "int", "connect_timeout"
        )
        connect_args = self.connect_args(options)
        engine = create_engine(
            url.set(query={}),
            connect_args=connect_args,
            # Every statement of a call sees one snapshot, as on SQLite: the store's checks
            # ("is this name taken?") and its writes agree; a row a concurrent call committed
            # meanwhile makes the write fail on a constraint, and the runner runs the call again.
            isolation_level="REPEATABLE READ",
            pool_reset_on_return=self.reset_on_return(),
            **pool,
        )
        self.configure(engine)
        return engine

    def reset_on_return(self) -> str | None:
        """What the pool does to a connection it takes back (SQLAlchemy's ``reset_on_return``):
        ``"rollback"`` by default; None when :meth:`configure` installs a reset of its own."""
        return "rollback"

    def connect_args(self, options: dict[str, Any]) -> dict[str, Any]:
        """The driver's keyword arguments from the options left after mltrail's own."""
        return options

    def configure(self, engine: Engine) -> None:
        """Set up each new connection of ``engine`` (session settings); default: nothing."""

    def describe(self, url: URL) -> str:
        host = url.host or "localhost"
        port = url.port or self.default_port
        user = f" as {url.username}" if url.username else ""
        return f"{self.title} database {url.database or '(default)'!r} on {host}:{port}{user}"


def convert(value: Any, kind: str, name: str) -> Any:
    """``value`` (text from a URL, or a keyword's value) as a bool, int or float."""
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError(value)
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError(value)
            return int(value)
        return float(value)
    except (TypeError, ValueError):
        expected = {"bool": "true or false", "int": "an integer", "float": "a number"}[kind]
        raise InvalidArgumentError(f"{name}={value!r} must be {expected}") from None


def check_files(options: dict[str, Any], names: tuple[str, ...], title: str) -> None:
    """Refuse options among ``names`` that name a file that does not exist (certificates, keys):
    the driver would fail later with a bare file error."""
    for name in names:
        value = options.get(name)
        if value in (None, "", "system") or not isinstance(value, (str, Path)):
            continue  # sslrootcert=system: libpq's store of trusted roots
        path = Path(value).expanduser()
        if not path.is_file():
            problem = "is a directory" if path.is_dir() else "does not exist"
            raise InvalidArgumentError(
                f"{name}={str(value)!r}: the file {problem}; give the path of the {title} "
                "certificate or key file this option names, or leave the option out"
            )


def boolean_option(value: Any, name: str) -> bool:
    """A boolean driver option given as text in a URL (``true``, ``0``...) or as a bool."""
    return bool(convert(value, "bool", name))
