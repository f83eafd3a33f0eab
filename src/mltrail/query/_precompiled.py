"""Lineage answers compiled ahead of time, for the first answer of a process.

A lineage answer is one statement of 6,000 to 8,000 characters. Building it with SQLAlchemy and
compiling it took about 20 ms, which the first answer of every process paid (each ``mltrail
lineage`` command, each script that asks one question). The statements of the common questions
(one artifact or one execution to start from; upstream, downstream or both; with or without
``max_hops``; every field; types read or already known) are compiled for each database the
tests run against and ship as package data: one file per database kind and version in
``precompiled/``, written by ``python -m mltrail.query._precompiled``.

A file serves only the database kind, driver and version it was compiled for, and only while
its key matches: SQLAlchemy's version and the sources the statements are made from
(:data:`SOURCES`). Any other question, database or a stale file: the statement is built and
compiled as before. ``tests/query/test_precompiled.py`` fails while a file is stale or differs
from what the code compiles now, on every backend.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mltrail.model import LineageDirection

if TYPE_CHECKING:
    from mltrail.backends.sql.fast import Compiled
    from mltrail.query.lineage import LineageQuery

#: Where the compiled statements are, one JSON file per database (see :func:`file_of`).
DIRECTORY = Path(__file__).with_name("precompiled")
_PACKAGE = Path(__file__).resolve().parents[1]
#: The sources the statements are made from (relative to the package): a change to any of them
#: makes every file stale (ignored, and the test fails until they are written again).
SOURCES = (
    "query/lineage.py",
    "query/_subgraph.py",
    "query/_precompiled.py",
    "backends/sql/schema.py",
    "backends/sql/fast.py",
    "backends/sql/readers.py",
    "backends/sql/feed.py",
    "model.py",
)
_DIRECTIONS = {
    LineageDirection.UPSTREAM: "upstream",
    LineageDirection.DOWNSTREAM: "downstream",
    LineageDirection.BIDIRECTIONAL: "both",
}

_lock = threading.Lock()
_key: list[str | None] = []
_files: dict[str, dict[str, Compiled] | None] = {}


def sources_key() -> str | None:
    """The SHA-256 of SQLAlchemy's version and :data:`SOURCES` (None when one cannot be read)."""
    import sqlalchemy

    digest = hashlib.sha256(sqlalchemy.__version__.encode())
    try:
        for name in SOURCES:
            digest.update(name.encode() + b"\0" + (_PACKAGE / name).read_bytes())
    except OSError:
        return None
    return digest.hexdigest()


def shape_name(key: tuple[Any, ...], known: bool) -> str | None:
    """The name of a lineage statement among those shipped, or None when it is not one of them.
    ``key`` is the walk's shape (direction, unlimited, the two include-stop flags, the two
    id-list sizes, the four filter shapes); the question asks for every field (the caller
    checks)."""
    direction, unlimited, stop_a, stop_e, size_a, size_e, *filters = key
    if stop_a or stop_e or any(f is not None for f in filters):
        return None
    if (size_a, size_e) == (1, None):
        start = "artifact"
    elif (size_a, size_e) == (None, 1):
        start = "execution"
    else:
        return None
    hops = "all" if unlimited else "hops"
    return f"{start}-{_DIRECTIONS[direction]}-{hops}-{'known' if known else 'read'}"


def shapes() -> Iterator[tuple[str, LineageQuery, tuple[int | None, int | None], bool]]:
    """Every shipped statement: its name, a question of its shape, its id-list sizes and
    whether types are known."""
    from mltrail.query.lineage import LineageQuery

    for start in ("artifact", "execution"):
        for direction in _DIRECTIONS:
            for unlimited in (True, False):
                for known in (False, True):
                    q = LineageQuery(
                        artifact_ids=(1,) if start == "artifact" else None,
                        execution_ids=(1,) if start == "execution" else None,
                        direction=direction,
                        max_hops=None if unlimited else 1,
                    )
                    sizes = (1, None) if start == "artifact" else (None, 1)
                    key = (direction, unlimited, False, False, *sizes, None, None, None, None)
                    name = shape_name(key, known)
                    assert name is not None
                    yield name, q, sizes, known


def file_of(dialect: Any) -> str:
    """The file name of ``dialect``'s statements: kind, driver and server version (major for
    PostgreSQL, major.minor for the others), e.g. ``sqlite-pysqlite-3.40.json``."""
    numbers = [v for v in dialect.server_version_info or () if isinstance(v, int)]
    keep = 1 if dialect.name == "postgresql" else 2
    kind = f"{dialect.name}-mariadb" if getattr(dialect, "is_mariadb", False) else dialect.name
    version = ".".join(str(n) for n in numbers[:keep])
    return f"{kind}-{dialect.driver}-{version}.json"


def finder(shape: str) -> Callable[[Any], Compiled | None]:
    """A function giving the shipped compiled statement ``shape`` for a dialect, or None."""

    def find(dialect: Any) -> Compiled | None:
        statements = _statements(dialect)
        return statements.get(shape) if statements is not None else None

    return find


def _statements(dialect: Any) -> dict[str, Compiled] | None:
    name = file_of(dialect)
    with _lock:
        if name in _files:
            return _files[name]
        if not _key:
            _key.append(sources_key())
        found = _read(DIRECTORY / name, _key[0], dialect.paramstyle)
        _files[name] = found
        return found


def _read(path: Path, key: str | None, paramstyle: str) -> dict[str, Compiled] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if key is None or not isinstance(data, dict) or data.get("key") != key:
        return None
    if data.get("paramstyle") != paramstyle:
        return None
    return {
        str(name): (str(sql), tuple(order) if order is not None else None, dict(defaults))
        for name, (sql, order, defaults) in data["statements"].items()
    }


def compiled_document(conn: Any) -> dict[str, Any]:
    """Every shipped statement compiled on ``conn``'s database, as its file holds them."""
    from mltrail.backends.sql.fast import compile_statement
    from mltrail.query._subgraph import joins_ids, packs_rows
    from mltrail.query.lineage import _Filters, answer_build

    joined, packed = joins_ids(conn), packs_rows(conn)
    nothing = _Filters(None, None, None, None)
    statements = {}
    for name, q, sizes, known in shapes():
        [statement] = answer_build(q, nothing, sizes, joined=joined, packed=packed, known=known)
        sql, order, defaults = compile_statement(statement, conn.dialect)
        statements[name] = [sql, list(order) if order is not None else None, defaults]
    return {"key": sources_key(), "paramstyle": conn.dialect.paramstyle, "statements": statements}


def write(urls: list[str], directory: Path = DIRECTORY) -> list[Path]:
    """Compile the statements on each database of ``urls`` (a scratch database is created on
    each server and dropped after) and write their files; the paths written."""
    import mltrail

    written = []
    directory.mkdir(exist_ok=True)
    for url in urls:
        with (
            _Scratch(url) as scratch,
            mltrail.connect(scratch) as store,
            store.database.connection() as conn,
        ):
            document = compiled_document(conn)
            path = directory / file_of(conn.dialect)
        path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written


class _Scratch:
    """A scratch database on the server of ``url`` (SQLite: in memory), dropped at the end."""

    NAME = "mltrail_precompile"

    def __init__(self, url: str) -> None:
        import sqlalchemy as sa

        self.url = sa.make_url(url)
        self.admin: Any = None

    def __enter__(self) -> str:
        import sqlalchemy as sa

        if self.url.get_backend_name() == "sqlite":
            return "sqlite://"
        self.admin = sa.create_engine(
            self.url.set(drivername=self._admin_driver()), isolation_level="AUTOCOMMIT"
        )
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {self.NAME}")
            conn.exec_driver_sql(f"CREATE DATABASE {self.NAME}")
        return self.url.set(database=self.NAME).render_as_string(hide_password=False)

    def __exit__(self, *exc: object) -> None:
        if self.admin is not None:
            with self.admin.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {self.NAME}")
            self.admin.dispose()

    def _admin_driver(self) -> str:
        backend, _, driver = self.url.drivername.partition("+")
        if backend in ("mysql", "mariadb"):
            return "mysql+" + (driver or "pymysql")
        return "postgresql+" + (driver or "psycopg")


def main(argv: list[str] | None = None) -> None:
    import argparse
    import os

    parser = argparse.ArgumentParser(
        prog="python -m mltrail.query._precompiled",
        description="Compile the shipped lineage statements on SQLite and on the test servers.",
    )
    parser.add_argument(
        "urls",
        nargs="*",
        help="databases to compile for (default: SQLite, and the test servers: "
        "MLTRAIL_TEST_POSTGRESQL_URL, MLTRAIL_TEST_MYSQL_URL, and MariaDB through mysqlclient)",
    )
    args = parser.parse_args(argv)
    urls = args.urls or [
        "sqlite://",
        os.environ.get("MLTRAIL_TEST_POSTGRESQL_URL", "postgresql://postgres@127.0.0.1:5432/"),
        os.environ.get("MLTRAIL_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/?ssl_disabled=true"),
        "mysql+mysqldb://root@127.0.0.1:3306/",
    ]
    written = write(urls)
    for stale in set(DIRECTORY.glob("*.json")) - set(written):
        stale.unlink()  # a database version no longer compiled for
    for path in written:
        print(path)


if __name__ == "__main__":
    main()
