"""The database servers the tests run against: PostgreSQL and MySQL/MariaDB.

Where they are: ``MLTRAIL_TEST_POSTGRESQL_URL`` and ``MLTRAIL_TEST_MYSQL_URL`` (an account that may
create and drop databases), by default the local servers of docs/backends.md. Each test session
(each pytest-xdist worker) creates its own database on each server, with a unique name, and drops
it at the end. Between tests every mltrail table is emptied and its ids restart at 1, so a store
on a server starts exactly as empty as a new SQLite store.

A server that cannot be reached skips the tests that need it, unless the environment variable
``MLTRAIL_REQUIRE_BACKENDS`` is set (to anything but ``0``): then those tests fail. The same holds
for optional test dependencies (:func:`need_module`).
"""

from __future__ import annotations

import importlib
import os
import secrets
import socket
from types import ModuleType
from typing import NoReturn

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from mltrail.backends.sql import schema
from mltrail.backends.sql.dialects import dialect_for

SERVERS = ("postgresql", "mysql")
DEFAULT_URLS = {
    "postgresql": "postgresql://postgres@127.0.0.1:5432/postgres",
    # The local server has no TLS; without this PyMySQL builds a TLS context per connection
    # (~65 ms of CPU) to try it first.
    "mysql": "mysql://root@127.0.0.1:3306/?ssl_disabled=true",
}
ENV = {"postgresql": "MLTRAIL_TEST_POSTGRESQL_URL", "mysql": "MLTRAIL_TEST_MYSQL_URL"}
#: Test databases are named PREFIX + HOST + "_" + pid + "_" + random + "_" + purpose.
PREFIX = "mltrail_test_"
HOST = "".join(c for c in socket.gethostname().lower() if c.isalnum())[:12] or "host"
#: mltrail's tables, children before parents (the order rows can be deleted in).
#: Tables whose rows a store keeps when it is emptied: the schema version, and the sites, whose
#: row 1 (the store itself) is kept with its feed position reset (see Server.empty).
KEPT = {"mlt_schema", "mlt_site"}
DELETE_ORDER = [t.name for t in reversed(schema.metadata.sorted_tables) if t.name not in KEPT]
WITH_IDS = {t.name for t in schema.metadata.sorted_tables if "id" in t.c}


def required() -> bool:
    """True when unreachable servers must fail the tests instead of skipping them."""
    return os.environ.get("MLTRAIL_REQUIRE_BACKENDS", "") not in ("", "0")


def _driver_url(url: URL) -> URL:
    """``url`` with mltrail's driver chosen (``postgresql+psycopg://``...)."""
    return dialect_for(url.drivername).engine_url(url)


class Server:
    """One server for one test session: a database of its own, created on first use."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.admin = _driver_url(make_url(os.environ.get(ENV[kind]) or DEFAULT_URLS[kind]))
        self.unreachable: str | None = None
        self.databases: list[str] = []
        self._engines: dict[str, sa.Engine] = {}
        self.run_url: str | None = None
        try:
            self._admin_engine = sa.create_engine(
                self.admin,
                isolation_level="AUTOCOMMIT",
                poolclass=sa.pool.NullPool,
                connect_args={"connect_timeout": 5},
            )
            with self._admin_engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except Exception as exc:  # any failure to reach the server
            self.unreachable = f"{kind} server at {self.admin.render_as_string()}: {exc}"

    # ------------------------------------------------------------------ databases

    def new_database(self, purpose: str = "run") -> str:
        """Create a database with a unique name; returns its mltrail URL. Dropped at the end."""
        if not self.databases:
            self.drop_stale_databases()
        name = f"{PREFIX}{HOST}_{os.getpid()}_{secrets.token_hex(3)}_{purpose}"
        with self._admin_engine.connect() as conn:
            if self.kind == "mysql":
                conn.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
            else:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
                # A throwaway database need not survive a power cut: commits do not wait for
                # the disk (results are the same; only durability differs).
                conn.exec_driver_sql(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
        self.databases.append(name)
        return self.admin.set(database=name).render_as_string(hide_password=False)

    def drop_stale_databases(self) -> None:
        """Drop the databases of earlier sessions on this machine that were killed before they
        could drop their own (their process no longer exists)."""
        if self.kind == "mysql":
            listing = "SELECT schema_name FROM information_schema.schemata"
        else:
            listing = "SELECT datname FROM pg_database"
        with self._admin_engine.connect() as conn:
            for (name,) in conn.exec_driver_sql(listing).fetchall():
                parts = str(name)[len(PREFIX) :].split("_")
                if not str(name).startswith(PREFIX) or len(parts) < 4 or parts[0] != HOST:
                    continue
                if parts[1].isdigit() and not _alive(int(parts[1])):
                    self.databases.append(str(name))  # dropped with ours at the end
        self._drop(self.databases)
        self.databases.clear()

    def run_database(self) -> str:
        """The session's database for store tests (created on first use)."""
        if self.run_url is None:
            self.run_url = self.new_database("run")
        return self.run_url

    def close(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._drop(self.databases)
        self._admin_engine.dispose()

    def _drop(self, names: list[str]) -> None:
        with self._admin_engine.connect() as conn:
            for name in names:
                if self.kind == "mysql":
                    conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
                else:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def engine(self, url: str) -> sa.Engine:
        """A plain SQLAlchemy engine on ``url`` (no mltrail), for set-up and inspection."""
        engine = self._engines.get(url)
        if engine is None:
            engine = self._engines[url] = sa.create_engine(_driver_url(make_url(url)), pool_size=1)
        return engine

    # ------------------------------------------------------------------ between tests

    def tables(self, conn: sa.Connection) -> list[str]:
        return sorted(sa.inspect(conn).get_table_names())

    def empty(self, url: str) -> None:
        """Delete every row of every table but the schema version and the store's own site
        (whose feed position goes back to 0), and restart the ids.

        Only tables that hold rows are touched (most tests write to a few), children before
        parents; DELETE and a sequence reset are much faster than TRUNCATE on both servers.
        """
        with self.engine(url).begin() as conn:
            present = set(self.tables(conn))
            tables = [t for t in DELETE_ORDER if t in present]
            tables += sorted(present - set(DELETE_ORDER) - KEPT)
            if not tables:
                return
            q = self.quote
            probes = [
                f"SELECT '{t}' FROM {self.one_row} WHERE EXISTS (SELECT 1 FROM {q(t)})"
                for t in tables
            ]
            if "mlt_site" in present:
                probes.append(
                    f"SELECT 'mlt_site' FROM {self.one_row} WHERE EXISTS (SELECT 1 FROM "
                    "mlt_site WHERE id <> 1 OR feed_seq <> 0 OR applied_seq <> 0)"
                )
            used = {row[0] for row in conn.exec_driver_sql(" UNION ALL ".join(probes))}
            if not used:
                return
            if self.kind == "postgresql":
                conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
            for table in tables:
                if table in used:
                    conn.exec_driver_sql(f"DELETE FROM {q(table)}")
            if "mlt_site" in used:
                conn.exec_driver_sql("DELETE FROM mlt_site WHERE id <> 1")
                conn.exec_driver_sql("UPDATE mlt_site SET feed_seq = 0, applied_seq = 0")
            if self.kind == "postgresql":
                conn.exec_driver_sql(
                    "SELECT setval(c.oid, 1, false) FROM pg_class c "
                    "WHERE c.relkind = 'S' AND c.relnamespace = current_schema()::regnamespace"
                )
                if "mlt_site" in present:  # row 1 stays: the next site is 2
                    conn.exec_driver_sql(
                        "SELECT setval(pg_get_serial_sequence('mlt_site', 'id'), 1, true)"
                    )
                return
            for table in tables:
                if table in used and table in WITH_IDS:
                    conn.exec_driver_sql(f"ALTER TABLE {q(table)} AUTO_INCREMENT = 1")

    def quote(self, name: str) -> str:
        return f"`{name}`" if self.kind == "mysql" else f'"{name}"'

    @property
    def one_row(self) -> str:
        return "DUAL" if self.kind == "mysql" else "(SELECT 1) AS one"

    def drop_everything(self, url: str) -> None:
        """Drop every table (and sequence) in the database: back to a new, empty database."""
        with self.engine(url).begin() as conn:
            if self.kind == "postgresql":
                conn.exec_driver_sql("DROP SCHEMA public CASCADE")
                conn.exec_driver_sql("CREATE SCHEMA public")
                return
            conn.exec_driver_sql("SET SESSION lock_wait_timeout = 60")
            conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0")
            for table in self.tables(conn):
                conn.exec_driver_sql(f"DROP TABLE `{table}`")
            conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 1")


def need(server: Server) -> None:
    """Skip (or, with MLTRAIL_REQUIRE_BACKENDS, fail) the calling test if ``server`` is down."""
    if server.unreachable is None:
        return
    unavailable(
        f"cannot reach the {server.unreachable}",
        f"set {ENV[server.kind]} to test against another server",
    )


def unavailable(message: str, hint: str) -> NoReturn:
    """Skip the calling test because what it needs is missing (``message``; ``hint`` says how
    to get it), or fail it when ``MLTRAIL_REQUIRE_BACKENDS`` is set."""
    if required():
        pytest.fail(f"{message} (MLTRAIL_REQUIRE_BACKENDS is set, so this is a failure)")
    pytest.skip(f"{message}; {hint}")


def need_module(name: str, extra: str = "mlmd") -> ModuleType:
    """The optional test dependency ``name`` (e.g. ML Metadata), which mltrail's ``extra``
    installs: the calling test is skipped without it, or fails when
    ``MLTRAIL_REQUIRE_BACKENDS`` is set (CI installs them all)."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        unavailable(
            f"the optional test dependency {name} is not installed ({exc})",
            f"make test EXTRAS=dev,postgres,mysql,{extra} installs it",
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
