"""Faults of the environment reach callers as typed errors that say what to do, never as raw
driver errors, and never with SQL text: a full disk, a damaged SQLite file, a request beyond a
database's limits, a value above the server's packet size, a missing certificate file."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection

import mltrail
from _servers import SERVERS, Server
from mltrail import MetadataStore
from mltrail.errors import FailedPreconditionError, InvalidArgumentError, UnavailableError


def assert_no_sql(message: str) -> None:
    for keyword in ("SELECT", "INSERT", "UPDATE", "DELETE", "[SQL"):
        assert keyword not in message, message


# ---------------------------------------------------------------- a full disk


@pytest.mark.parametrize("backend", ["sqlite-memory", "sqlite-file"], indirect=True)
def test_a_full_sqlite_database_is_a_failed_precondition_and_changes_nothing(
    store: MetadataStore,
) -> None:
    store.put_artifact_type(mltrail.ArtifactType(name="Data", properties={"blob": "STRING"}))
    [kept] = store.put_artifacts([mltrail.Artifact(type="Data", uri="/kept")])
    with store.database.connection() as conn:
        # SQLite's own size limit: the database is "full" at its current size, exactly as
        # when the disk has no room left (the same SQLITE_FULL error).
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
        conn.exec_driver_sql(f"PRAGMA max_page_count = {pages}")
    big = mltrail.Artifact(type="Data", uri="/big", properties={"blob": "x" * 1_000_000})
    with pytest.raises(FailedPreconditionError) as caught:
        store.put_artifacts([big])
    message = str(caught.value)
    assert "is full (database or disk is full)" in message
    assert "nothing was changed: free disk space" in message
    assert_no_sql(message)
    assert [a.id for a in store.get_artifacts()] == [kept]  # reads still work, nothing added


# ---------------------------------------------------------------- a damaged SQLite file


def damaged_copy(tmp_path: Path, name: str, damage: Any) -> Path:
    """A real store file, written and closed, then damaged by ``damage(bytearray)``."""
    path = tmp_path / name
    with mltrail.connect(path) as store:
        store.put_artifact_type(mltrail.ArtifactType(name="Data"))
        store.put_artifacts([mltrail.Artifact(type="Data", uri=f"/{i}") for i in range(500)])
    data = bytearray(path.read_bytes())
    damage(data)
    path.write_bytes(bytes(data))
    return path


def garble_a_table_name(data: bytearray) -> None:
    # The name of a table in the schema (sqlite_master) becomes invalid UTF-8: sqlite3 raised
    # UnicodeDecodeError when mltrail read the table names.
    start = data.index(b"mlt_artifact")
    data[start : start + 4] = b"\xff\xfe\xff\xfe"


def garble_the_header(data: bytearray) -> None:
    data[0:16] = b"not sqlite at all"[:16]


def garble_every_page(data: bytearray) -> None:
    for page in range(1, len(data) // 4096):
        data[page * 4096 + 100 : page * 4096 + 300] = b"\x37" * 200


@pytest.mark.parametrize(
    "damage", [garble_a_table_name, garble_the_header, garble_every_page], ids=lambda f: f.__name__
)
def test_a_damaged_sqlite_file_is_refused_with_what_to_do(tmp_path: Path, damage: Any) -> None:
    path = damaged_copy(tmp_path, "store.db", damage)
    before = path.read_bytes()
    with pytest.raises(FailedPreconditionError) as caught, mltrail.connect(path) as store:
        store.get_artifacts()  # when the open itself did not notice, the first read does
    message = str(caught.value)
    assert f"SQLite file {path} is damaged or is not a SQLite database" in message
    assert "restore it from a backup" in message and ".recover" in message
    assert "server" not in message and "credentials" not in message
    assert_no_sql(message)
    assert path.read_bytes() == before


def test_a_file_that_is_not_a_database_is_refused_read_only_too(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 200)
    with pytest.raises(FailedPreconditionError, match="is damaged or is not a SQLite database"):
        mltrail.connect(path, read_only=True)


# ---------------------------------------------------------------- requests beyond limits


def too_large_statement(kind: str) -> tuple[str, tuple[Any, ...]]:
    """A statement (in the driver's own placeholder style) that each database refuses as too
    large, with its parameters."""
    if kind == "sqlite":  # more bound variables than this SQLite allows (32766, 250000...)
        probe = sqlite3.connect(":memory:")
        count, mark = probe.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) + 1, "?"
        probe.close()
    elif kind == "postgresql":  # more than the protocol's 65535 parameters
        count, mark = 70_000, "%s"
    else:  # MariaDB/MySQL join at most 61 tables
        joins = " ".join(f"JOIN mlt_type t{i} ON t{i}.id = t0.id" for i in range(1, 64))
        return f"SELECT t0.id FROM mlt_type t0 {joins}", ()
    return f"SELECT 1 WHERE 1 IN ({', '.join([mark] * count)})", (1,) * count


def test_a_request_beyond_the_database_limits_is_an_invalid_argument(
    store: MetadataStore,
) -> None:
    kind = store.database.dialect.name
    sql, params = too_large_statement(kind)

    def run(conn: Connection) -> Any:
        return conn.exec_driver_sql(sql, params).all()

    with pytest.raises(InvalidArgumentError) as caught:
        store.database.run(run, write=False)
    message = str(caught.value)
    assert f"the request is too large for {store.database.description}" in message
    assert "narrow it" in message and "nothing was changed" in message
    assert_no_sql(message)
    # The connection (pool) is still good.
    store.put_artifact_type(mltrail.ArtifactType(name="Data"))
    assert [t.name for t in store.get_artifact_types()] == ["Data"]


@pytest.mark.parametrize("backend", ["sqlite-memory", "sqlite-file"], indirect=True)
def test_an_expression_too_deep_for_sqlite_is_an_invalid_argument(store: MetadataStore) -> None:
    deep = "SELECT 1 WHERE " + " AND ".join(["(1 = 1"] * 1200) + ")" * 1200
    with pytest.raises(InvalidArgumentError, match="too large for") as caught:
        store.database.run(lambda conn: conn.exec_driver_sql(deep).all(), write=False)
    assert_no_sql(str(caught.value))


# ---------------------------------------------------------------- the server's packet size


@pytest.mark.parametrize("backend", ["mysql"], indirect=True)
def test_a_value_above_max_allowed_packet_is_an_invalid_argument(store: MetadataStore) -> None:
    [(limit,)] = store.database.run(
        lambda conn: conn.exec_driver_sql("SELECT @@max_allowed_packet").all(), write=False
    )
    assert limit <= 64 * 1024 * 1024  # the test sends a value bigger than that
    store.put_artifact_type(mltrail.ArtifactType(name="Data", properties={"blob": "STRING"}))
    big = mltrail.Artifact(type="Data", uri="/big", properties={"blob": "x" * (int(limit) + 1)})
    with pytest.raises(InvalidArgumentError) as caught:
        store.put_artifacts([big])
    message = str(caught.value)
    assert f"larger than the server's max_allowed_packet ({limit} bytes)" in message
    assert "gone away" not in message
    assert_no_sql(message)
    # The broken connection was dropped; the next calls get a good one.
    [small] = store.put_artifacts([mltrail.Artifact(type="Data", uri="/small")])
    assert [a.id for a in store.get_artifacts()] == [small]


# ---------------------------------------------------------------- connect options and errors


@pytest.mark.parametrize(
    ("backend", "option"),
    [
        ("postgresql", "sslrootcert"),
        ("postgresql", "sslcert"),
        ("postgresql", "sslkey"),
        ("mysql", "ssl_ca"),
        ("mysql", "ssl_cert"),
        ("mysql", "ssl_key"),
    ],
    indirect=["backend"],
)
def test_a_missing_certificate_file_is_an_invalid_argument_naming_it(
    backend: str, option: str, servers: dict[str, Server], tmp_path: Path
) -> None:
    assert backend in SERVERS
    missing = tmp_path / "nowhere" / "ca.pem"
    url = servers[backend].admin.render_as_string(hide_password=False)
    with pytest.raises(InvalidArgumentError) as caught:
        mltrail.connect(url, **{option: str(missing)})
    assert f"{option}={str(missing)!r}: the file does not exist" in str(caught.value)


def test_a_sqlite_file_that_cannot_be_opened_is_explained_by_path_not_server(
    tmp_path: Path,
) -> None:
    with pytest.raises(UnavailableError) as caught:
        mltrail.connect(tmp_path / "no-such-directory" / "store.db")
    message = str(caught.value)
    assert "that its directory exists" in message
    assert "server" not in message and "credentials" not in message
    assert "check the path in the URL" in message


def test_a_mysql_message_quoting_the_statement_is_shown_without_it() -> None:
    import pymysql
    from sqlalchemy.exc import DBAPIError

    from mltrail.backends.sql.dialects.mysql import MySQLDialect

    orig = pymysql.err.ProgrammingError(
        1064, "You have an error in your SQL syntax; near 'SELEC id FROM mlt_type' at line 1"
    )
    error = DBAPIError.instance("SELEC id FROM mlt_type", None, orig, pymysql.err.Error)
    reason = MySQLDialect().reason(error)
    assert reason == "You have an error in your SQL syntax; (the statement is not shown)"
