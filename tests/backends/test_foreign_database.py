"""mltrail never writes into another application's database: a database that is neither empty
nor mltrail's is refused, with nothing written, and an ML Metadata database is named as such."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

import mltrail
from _servers import SERVERS, Server, need_module
from mltrail.errors import FailedPreconditionError

#: The tables of an ML Metadata database (its SQLite schema), made by hand.
MLMD_TABLES = [
    "Type",
    "ParentType",
    "TypeProperty",
    "Artifact",
    "ArtifactProperty",
    "Execution",
    "ExecutionProperty",
    "Context",
    "ContextProperty",
    "ParentContext",
    "Event",
    "EventPath",
    "Association",
    "Attribution",
    "MLMDEnv",
]


def foreign_url(backend: str, tmp_path: Path, servers: dict[str, Server], tables: list[str]) -> str:
    """A database on ``backend`` holding ``tables`` (one row each) and nothing of mltrail's."""
    if backend == "sqlite-file":
        path = tmp_path / "other.db"
        with sqlite3.connect(path) as conn:
            for table in tables:
                conn.execute(f'CREATE TABLE "{table}" (id INTEGER PRIMARY KEY, name TEXT)')
                conn.execute(f"INSERT INTO \"{table}\" (name) VALUES ('kept')")
        conn.close()
        return f"sqlite:///{path}"
    server = servers[backend]
    url = server.new_database("foreign")
    with server.engine(url).begin() as conn:
        for table in tables:
            q = server.quote(table)
            conn.exec_driver_sql(f"CREATE TABLE {q} (id INTEGER PRIMARY KEY, name VARCHAR(20))")
            conn.exec_driver_sql(f"INSERT INTO {q} (id, name) VALUES (1, 'kept')")
    return url


def snapshot(backend: str, url: str, servers: dict[str, Server], tmp_path: Path) -> object:
    """Everything a refused open could have changed: the file's bytes and the files beside it,
    or the server database's tables."""
    if backend == "sqlite-file":
        return (
            (tmp_path / "other.db").read_bytes(),
            sorted(p.name for p in tmp_path.iterdir()),
        )
    with servers[backend].engine(url).connect() as conn:
        return sorted(sa.inspect(conn).get_table_names())


foreign_backends = pytest.mark.parametrize("backend", ["sqlite-file", *SERVERS], indirect=True)


@foreign_backends
def test_a_database_of_another_application_is_refused_and_left_alone(
    backend: str, tmp_path: Path, servers: dict[str, Server]
) -> None:
    tables = ["accounts", "invoices", "orders", "payments", "products", "sessions", "users"]
    url = foreign_url(backend, tmp_path, servers, tables)
    before = snapshot(backend, url, servers, tmp_path)
    for migrate in (True, False):
        with pytest.raises(FailedPreconditionError) as caught:
            mltrail.connect(url, migrate=migrate)
        message = str(caught.value)
        assert "not mltrail's (accounts, invoices, orders, payments, products and 2 more)" in (
            message
        )
        assert "Nothing was changed" in message and "new file or an empty database" in message
        assert "ML Metadata" not in message
    assert snapshot(backend, url, servers, tmp_path) == before


@foreign_backends
def test_an_ml_metadata_database_is_named_and_left_alone(
    backend: str, tmp_path: Path, servers: dict[str, Server]
) -> None:
    url = foreign_url(backend, tmp_path, servers, MLMD_TABLES)
    before = snapshot(backend, url, servers, tmp_path)
    with pytest.raises(FailedPreconditionError) as caught:
        mltrail.connect(url)
    message = str(caught.value)
    assert "is an ML Metadata (MLMD) database" in message
    assert "importing MLMD databases is not available in this version" in message
    assert "open a new store" in message
    assert snapshot(backend, url, servers, tmp_path) == before


def test_an_mlmd_database_is_recognised_by_its_node_tables_alone(tmp_path: Path) -> None:
    path = tmp_path / "mlmd.db"
    with sqlite3.connect(path) as conn:
        for table in ("Type", "Artifact", "Execution"):
            conn.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY)")
    conn.close()
    with pytest.raises(FailedPreconditionError, match="ML Metadata"):
        mltrail.connect(path)


def test_a_real_ml_metadata_database_is_refused(tmp_path: Path) -> None:
    # Needs the optional ml-metadata package (installed by CI); the hand-made databases above
    # cover the same refusal everywhere.
    metadata_store = need_module("ml_metadata.metadata_store.metadata_store")
    metadata_store_pb2 = need_module("ml_metadata.proto.metadata_store_pb2")
    path = tmp_path / "mlmd.sqlite"
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(path)
    config.sqlite.connection_mode = 3  # READWRITE_OPENCREATE
    mlmd = metadata_store.MetadataStore(config)
    model = metadata_store_pb2.ArtifactType(name="Model")
    type_id = mlmd.put_artifact_type(model)
    mlmd.put_artifacts([metadata_store_pb2.Artifact(type_id=type_id, uri="/m")])
    del mlmd
    before = path.read_bytes()
    with pytest.raises(FailedPreconditionError, match="is an ML Metadata"):
        mltrail.connect(path)
    assert path.read_bytes() == before


def test_an_empty_sqlite_file_becomes_a_store(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()  # a file of zero bytes: a database without tables
    with mltrail.connect(path) as store:
        assert store.get_artifact_types() == []
    with mltrail.connect(path) as store:  # and it is mltrail's from then on
        assert store.schema_version >= 1
