"""PostgreSQL and MySQL/MariaDB: URLs and drivers, options, errors, isolation, retries, collation.

The contract itself (every store call, filters, lineage, paging) runs on both servers through the
``store`` fixture of tests/conftest.py; this file covers what is particular to server databases.
"""

from __future__ import annotations

import secrets
import ssl
import threading
import traceback
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

import mltrail
from _servers import SERVERS, Server, need, need_module
from mltrail import errors
from mltrail.backends.sql import schema
from mltrail.backends.sql.database import Database
from mltrail.backends.sql.dialects import _server, dialect_for
from mltrail.backends.sql.dialects.base import Failure
from mltrail.backends.sql.dialects.mysql import (
    MAX_RECURSION,
    binary_collation,
    migration_lock_name,
    supports_insert_returning,
)
from mltrail.backends.sql.dialects.postgresql import PostgreSQLDialect
from mltrail.backends.sql.fast import Batch, FastStatement

WAIT = 60  # seconds; only reached when something is broken
TEXT_COLUMNS = {
    (t.name, c.name)
    for t in schema.metadata.sorted_tables
    for c in t.columns
    if isinstance(c.type, sa.String)
}


@pytest.fixture(params=SERVERS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server(kind: str, servers: dict[str, Server]) -> Server:
    found = servers[kind]
    need(found)
    return found


@pytest.fixture
def url(server: Server) -> str:
    """The session's database on the server, with mltrail's tables present and empty."""
    run = server.run_database()
    with mltrail.connect(run):
        pass
    server.empty(run)
    return run


# ------------------------------------------------------------------------------ URLs and drivers


@pytest.mark.parametrize(
    ("given", "engine"),
    [
        ("postgresql://u@db.example/ml", "postgresql+psycopg"),
        ("postgres://u@db.example/ml", "postgresql+psycopg"),
        ("POSTGRESQL://u@db.example/ml", "postgresql+psycopg"),
        ("postgresql+psycopg://u@db.example/ml", "postgresql+psycopg"),
        ("mysql://u@db.example/ml", "mysql+pymysql"),
        ("mariadb://u@db.example/ml", "mysql+pymysql"),
        ("mysql+pymysql://u@db.example/ml", "mysql+pymysql"),
        ("mariadb+pymysql://u@db.example/ml", "mysql+pymysql"),
    ],
)
def test_url_schemes_choose_the_driver(given: str, engine: str) -> None:
    db = Database(given)  # no connection is opened yet
    try:
        assert db.engine.url.drivername == engine
        assert db.engine.url.host == "db.example" and db.engine.url.database == "ml"
    finally:
        db.close()


@pytest.mark.parametrize(
    ("given", "module", "words"),
    [
        (
            "postgresql+psycopg2://u@h/db",
            "psycopg2",
            ["psycopg2 driver", "pip install 'psycopg2-binary'"],
        ),
        (
            "mysql+mysqldb://u@h/db",
            "MySQLdb",
            ["mysqldb driver", "pip install 'mltrail[mysqlclient]'"],
        ),
    ],
)
def test_a_driver_that_is_not_installed_says_what_to_install(
    given: str, module: str, words: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _without_module(monkeypatch, module)
    with pytest.raises(errors.FailedPreconditionError) as raised:
        mltrail.connect(given)
    for word in words:
        assert word in str(raised.value)


def test_prepare_threshold_is_refused_for_psycopg2() -> None:
    """psycopg2 prepares nothing; its libpq would refuse the option with a bare error."""
    dialect = PostgreSQLDialect()
    dialect._driver = "psycopg2"  # chosen by the URL once psycopg2 is installed
    with pytest.raises(errors.InvalidArgumentError, match="prepare_threshold is an option of"):
        dialect.connect_args({"prepare_threshold": "none"})
    assert "prepare_threshold" not in dialect.connect_args({})


@pytest.mark.parametrize(
    ("given", "module", "extra"),
    [
        ("postgresql://u@h/db", "psycopg", "mltrail[postgres]"),
        ("mysql://u@h/db", "pymysql", "mltrail[mysql]"),
        ("mariadb://u@h/db", "pymysql", "mltrail[mysql]"),
    ],
)
def test_a_missing_default_driver_names_the_extra(
    given: str, module: str, extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _without_module(monkeypatch, module)
    with pytest.raises(errors.FailedPreconditionError) as raised:
        mltrail.connect(given)
    assert f"pip install '{extra}'" in str(raised.value)
    assert isinstance(raised.value.__cause__, ImportError)


def _without_module(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    """The dialects' imports of driver modules, with ``module`` not installed."""
    real = _server.importlib.import_module

    def without(name: str, *args: Any) -> Any:
        if name == module:
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real(name, *args)

    monkeypatch.setattr(_server.importlib, "import_module", without)


def test_unsupported_drivers_and_databases_are_refused() -> None:
    with pytest.raises(errors.InvalidArgumentError, match="postgresql\\+psycopg"):
        mltrail.connect("postgresql+asyncpg://u@h/db")
    with pytest.raises(errors.InvalidArgumentError, match="mysql://"):
        mltrail.connect("oracle://u@h/db")


def test_messages_never_show_the_password() -> None:
    db = Database("postgresql://alice:s3cret@db.example:6543/ml")
    try:
        assert "s3cret" not in db.description
        assert db.description == "PostgreSQL database 'ml' on db.example:6543 as alice"
    finally:
        db.close()
    with pytest.raises(errors.UnavailableError) as raised:
        mltrail.connect("mysql://alice:s3cret@127.0.0.1:1/ml?connect_timeout=5")
    assert "s3cret" not in str(raised.value)


# ------------------------------------------------------------------------------ options


def test_the_pool_has_sane_defaults() -> None:
    db = Database("postgresql://u@db.example/ml")
    try:
        pool: Any = db.engine.pool
        assert (pool.size(), pool._max_overflow, pool._timeout) == (5, 10, 30.0)
        assert pool._pre_ping is False and pool._recycle == 1800  # see the reconnect tests
    finally:
        db.close()


def test_pool_options_come_from_the_url_or_keywords() -> None:
    db = Database(
        "mysql://u@db.example/ml?pool_size=2&max_overflow=0&pool_pre_ping=false&pool_recycle=60",
        {"pool_timeout": 5},
    )
    try:
        pool: Any = db.engine.pool
        assert (pool.size(), pool._max_overflow, pool._timeout) == (2, 0, 5.0)
        assert pool._pre_ping is False and pool._recycle == 60
        assert db.engine.url.query == {}  # mltrail's options are not sent to the driver
    finally:
        db.close()


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("pool_size=many", ["pool_size", "integer"]),
        ("pool_size=0", ["pool_size=0", "out of range"]),
        ("pool_pre_ping=perhaps", ["pool_pre_ping", "true or false"]),
        ("connect_timeout=soon", ["connect_timeout", "integer"]),
    ],
)
def test_bad_options_are_refused(kind: str, query: str, words: list[str]) -> None:
    with pytest.raises(errors.InvalidArgumentError) as raised:
        mltrail.connect(f"{kind}://u@db.example/ml?{query}")
    for word in words:
        assert word in str(raised.value)


def test_postgresql_sessions_plan_for_cheap_random_reads(servers: dict[str, Server]) -> None:
    server = servers["postgresql"]
    need(server)
    url = make_url(server.run_database())
    with server.engine(url.render_as_string(hide_password=False)).connect() as plain:
        own = plain.exec_driver_sql("SHOW random_page_cost").scalar()  # without mltrail
    for query, expected in [
        ({}, "1.1"),
        ({"random_page_cost": "2.5"}, "2.5"),
        ({"random_page_cost": "server", "options": "-c work_mem=8MB"}, own),
    ]:
        given = url.update_query_dict(query).render_as_string(hide_password=False)
        with mltrail.connect(given) as store, store.database.connection() as conn:
            assert conn.exec_driver_sql("SHOW random_page_cost").scalar() == expected
            if "options" in query:
                assert conn.exec_driver_sql("SHOW work_mem").scalar() == "8MB"
    with pytest.raises(errors.InvalidArgumentError, match="random_page_cost"):
        mltrail.connect(url.update_query_dict({"random_page_cost": "cheap"}).render_as_string())


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("postgresql://u@h/db?busy_timeout=5", ["busy_timeout", "libpq connection parameter"]),
        ("mysql://u@h/db?busy_timeout=5", ["busy_timeout", "PyMySQL connection argument"]),
    ],
)
def test_unknown_driver_options_are_refused_before_connecting(url: str, words: list[str]) -> None:
    with pytest.raises(errors.InvalidArgumentError) as raised:
        mltrail.connect(url)
    for word in [*words, "pool_size"]:
        assert word in str(raised.value)


def test_mysql_text_is_always_utf8mb4() -> None:
    with pytest.raises(errors.InvalidArgumentError, match="utf8mb4"):
        mltrail.connect("mysql://u@db.example/ml?charset=latin1")


def test_driver_options_reach_the_driver(server: Server, url: str) -> None:
    if server.kind == "postgresql":
        named = make_url(url).update_query_dict({"application_name": "mltrail-test"})
        with (
            mltrail.connect(named.render_as_string(hide_password=False)) as store,
            store.database.connection() as conn,
        ):
            assert conn.exec_driver_sql("SHOW application_name").scalar() == "mltrail-test"
        # The server has no TLS: demanding it must fail, which shows the option arrived.
        demand = {"sslmode": "require"}
    else:
        with mltrail.connect(url, connect_timeout=7) as store, store.database.connection() as conn:
            assert conn.exec_driver_sql("SELECT @@character_set_client").scalar() == "utf8mb4"
        demand = {"ssl_disabled": "false", "ssl_verify_cert": "true"}
    plain = make_url(url).set(query={}).render_as_string(hide_password=False)
    with pytest.raises(errors.UnavailableError) as raised:
        mltrail.connect(plain, **demand)
    assert "ssl" in str(raised.value).lower()


def test_pymysql_connections_without_tls_options_share_one_context(
    servers: dict[str, Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given no TLS option, PyMySQL tries TLS (and falls back to plain text on a server without
    it) with a default context it made anew for each connection, at some 50 ms apiece: the
    connections of every store share one context made the same way."""
    server = servers["mysql"]
    need(server)
    run = server.run_database()
    plain = make_url(run).set(query={}).render_as_string(hide_password=False)
    made: list[Any] = []
    original = ssl.create_default_context
    monkeypatch.setattr(
        ssl, "create_default_context", lambda *a, **k: made.append(1) or original(*a, **k)
    )
    contexts = []
    for _ in range(3):
        with mltrail.connect(plain) as store:
            store.put_artifact_type(mltrail.ArtifactType(name="Tls"))
            with store.database.connection() as conn:
                driver = conn.connection.driver_connection
                contexts.append(driver.ctx)
                assert driver.ssl and not driver._ssl_required  # TLS if offered, as before
    assert contexts[0] is not None and all(c is contexts[0] for c in contexts)
    assert len(made) <= 1  # none when an earlier test of this process made it
    given = make_url(plain).update_query_dict({"ssl_disabled": "true"})
    with (
        mltrail.connect(given.render_as_string(hide_password=False)) as store,
        store.database.connection() as conn,
    ):
        assert not conn.connection.driver_connection.ssl


# ------------------------------------------------------------------------------ connection errors


def test_an_unreachable_server_is_unavailable(kind: str) -> None:
    with pytest.raises(errors.UnavailableError) as raised:
        mltrail.connect(f"{kind}://someone@127.0.0.1:1/ml?connect_timeout=5")
    message = str(raised.value)
    assert "cannot connect to" in message and "127.0.0.1:1" in message
    assert "check the host and port" in message and raised.value.http_status == 503


def test_bad_credentials_are_unavailable_with_a_hint(server: Server) -> None:
    wrong = server.admin.set(username="mltrail_nobody", password="wrong", database=None)
    if server.kind == "postgresql":
        wrong = wrong.set(database="postgres")
    with pytest.raises(errors.UnavailableError) as raised:
        mltrail.connect(wrong.render_as_string(hide_password=False))
    assert "user name and password" in str(raised.value)


def test_a_missing_database_is_unavailable_with_a_hint(server: Server) -> None:
    missing = server.admin.set(database="mltrail_no_such_database")
    with pytest.raises(errors.UnavailableError) as raised:
        mltrail.connect(missing.render_as_string(hide_password=False))
    message = str(raised.value)
    assert "does not exist" in message and "CREATE DATABASE" in message
    assert "mltrail_no_such_database" in message


def _backend_id(conn: sa.Connection) -> int:
    sql = (
        "SELECT pg_backend_pid()" if conn.dialect.name == "postgresql" else "SELECT CONNECTION_ID()"
    )
    return int(conn.exec_driver_sql(sql).scalar_one())


def _kill(server: Server, backend_id: int) -> None:
    with server.engine(server.run_database()).connect() as admin:
        if server.kind == "postgresql":
            admin.exec_driver_sql(f"SELECT pg_terminate_backend({backend_id})")
        else:
            admin.exec_driver_sql(f"KILL CONNECTION {backend_id}")
        admin.commit()


def test_a_connection_lost_during_a_call_is_unavailable_and_replaced(
    server: Server, url: str
) -> None:
    with mltrail.connect(url) as store:
        store.put_artifact_type(mltrail.ArtifactType(name="Data"))

        def dies(conn: sa.Connection) -> None:
            _kill(server, _backend_id(conn))
            conn.exec_driver_sql("SELECT 1").scalar()

        with pytest.raises(errors.UnavailableError) as raised:
            store.database.run(dies, write=True)
        assert "not committed" in str(raised.value)
        # The next call gets a working connection.
        assert [t.name for t in store.get_artifact_types()] == ["Data"]


def test_an_idle_connection_that_died_is_replaced_without_failing_the_call(
    server: Server, url: str
) -> None:
    with mltrail.connect(url) as store:
        with store.database.connection() as conn:
            idle = _backend_id(conn)
        _kill(server, idle)  # e.g. an idle timeout
        # The call's first statement finds the connection closed; nothing was committed, so
        # the call runs again on a new connection (no check before each call: no round trip).
        store.put_artifact_type(mltrail.ArtifactType(name="Data"))
        assert [t.name for t in store.get_artifact_types()] == ["Data"]
        with store.database.connection() as conn:
            assert _backend_id(conn) != idle


@pytest.mark.parametrize(
    ("kind", "driver"), [("postgresql", None), ("mysql", None), ("mysql", "mysqldb")]
)
def test_a_call_that_sent_its_commit_is_not_run_again_when_the_connection_dies(
    server: Server, url: str, driver: str | None
) -> None:
    """A call's last batch carries its COMMIT: once it is sent, the call may have been
    committed, so a lost connection fails the call instead of running it again (with
    mysqlclient too, which then also reads what is left of the request on closing)."""
    sleep = "SELECT pg_sleep(2)" if server.kind == "postgresql" else "SELECT SLEEP(2)"
    if driver is not None:
        need_module("MySQLdb", "mysqlclient")
        # The query holds PyMySQL's options (ssl_disabled); mysqlclient has its own.
        url = make_url(url).set(drivername=f"mysql+{driver}", query={}).render_as_string(False)
    with mltrail.connect(url) as store:
        store.put_artifact_type(mltrail.ArtifactType(name="Data"))
        runs = []

        def last_batch_dies(conn: sa.Connection) -> None:
            runs.append(1)
            victim = _backend_id(conn)
            killer = threading.Timer(0.5, _kill, (server, victim))
            killer.start()
            batch = Batch()
            batch.tail.extend(["SELECT 1", sleep])
            try:
                store.database.dialect.run_batch(conn, batch, last=True)
            finally:
                killer.join(WAIT)

        with pytest.raises(errors.UnavailableError) as raised:
            store.database.run(last_batch_dies, write=True)
        assert runs == [1]
        assert "check whether it took effect" in str(raised.value)
        # Without the COMMIT in it, the same loss is before any commit: the call runs again.
        runs.clear()

        def first_run_dies(conn: sa.Connection) -> None:
            runs.append(1)
            if len(runs) == 1:
                _kill(server, _backend_id(conn))
            conn.exec_driver_sql("SELECT 1").scalar()

        store.database.run(first_run_dies, write=True)
        assert runs == [1, 1]


def test_a_read_whose_connection_dies_in_its_last_request_is_run_again(
    server: Server, url: str
) -> None:
    """A read's last request may carry its COMMIT too, but a read changes nothing: it runs
    again on a new connection."""
    sleep = "SELECT pg_sleep(2)" if server.kind == "postgresql" else "SELECT SLEEP(2)"
    slow, probe = FastStatement(sa.text(sleep)), FastStatement(sa.text("SELECT 7"))
    with mltrail.connect(url) as store:
        store.put_artifact_type(mltrail.ArtifactType(name="Data"))
        runs = []

        def read(conn: sa.Connection) -> Any:
            runs.append(1)
            reads: list[Any] = [(probe, {}), (probe, {})]
            if len(runs) == 1:
                reads.insert(0, (slow, {}))
                killer = threading.Timer(0.5, _kill, (server, _backend_id(conn)))
                killer.start()
                try:
                    return store.database.dialect.run_reads(conn, reads, last=True)
                finally:
                    killer.join(WAIT)
            return store.database.dialect.run_reads(conn, reads, last=True)

        assert store.database.run(read, write=False) == [[(7,)], [(7,)]]
        assert runs == [1, 1]


@pytest.fixture
def pg_url(servers: dict[str, Server]) -> tuple[Server, str]:
    server = servers["postgresql"]
    need(server)
    run = server.run_database()
    with mltrail.connect(run):
        pass
    server.empty(run)
    return server, run


def _steps(store: mltrail.MetadataStore, count: int) -> list[int]:
    """``count`` pipeline steps (an input, a new output, a run context); the outputs' ids."""
    data = store.put_artifact_type(
        mltrail.ArtifactType(name="Data", properties={"rows": mltrail.PropertyType.INT})
    )
    step = store.put_execution_type(mltrail.ExecutionType(name="Step"))
    run = store.put_context_type(mltrail.ContextType(name="Run"))
    previous = mltrail.Artifact(type_id=data, uri="/d/0")
    [previous.id] = store.put_artifacts([previous])
    outputs = []
    for k in range(count):
        output = mltrail.Artifact(type_id=data, uri=f"/d/{k + 1}", properties={"rows": k})
        _, [_, output.id], _ = store.put_execution(
            mltrail.Execution(type_id=step),
            [
                (previous, mltrail.Event(type=mltrail.EventType.INPUT)),
                (output, mltrail.Event(type=mltrail.EventType.OUTPUT)),
            ],
            [mltrail.Context(type_id=run, name="run-0")],
            reuse_context_if_already_exist=True,
        )
        outputs.append(output.id)
        previous = output
    return outputs


def _prepared(conn: sa.Connection) -> set[str]:
    rows = conn.exec_driver_sql("SELECT name FROM pg_prepared_statements")
    return {row[0] for row in rows if row[0].startswith("mlt_")}


def test_postgresql_batches_use_statements_prepared_once_per_connection(
    pg_url: tuple[Server, str],
) -> None:
    server, url = pg_url
    with mltrail.connect(url) as store:
        first = _steps(store, 3)
        with store.database.connection() as conn:
            prepared = _prepared(conn)
            victim = _backend_id(conn)
        # The rows, properties, events, memberships and the feed's write of a step.
        assert len(prepared) >= 7
        _kill(server, victim)  # a new connection has none: they are prepared again on it
        second = _steps(store, 2)
        with store.database.connection() as conn:
            assert _backend_id(conn) != victim
            again = _prepared(conn)
        assert len(again) >= 7 and len(again & prepared) >= 6  # the same statements
        artifacts = store.get_artifacts_by_id(first + second)
        assert [a.properties["rows"] for a in artifacts] == [0, 1, 2, 0, 1]
        # Each output's OUTPUT event, and the INPUT event of each output a later step read.
        assert len(store.get_events_by_artifact_ids(first + second)) == 5 + (2 + 1)
        with store.database.connection() as conn:
            fed = conn.exec_driver_sql("SELECT count(*) FROM mlt_change WHERE kind = 1").scalar()
        assert fed is not None and fed >= 5 + 2  # every new artifact reached the feed


def test_postgresql_batches_survive_the_driver_deallocating_on_rollback(
    pg_url: tuple[Server, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """psycopg follows a ROLLBACK with DEALLOCATE ALL once it prepared statements of its own
    (after five runs of one): the next batch prepares again what the session lost."""
    _, url = pg_url
    with mltrail.connect(url) as store:
        _steps(store, 8)
        with store.database.connection() as conn:
            before = _prepared(conn)
            psycopg_own = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE '_pg3%%'"
            ).scalar()
        assert before and psycopg_own
        with pytest.raises(errors.NotFoundError):  # read from the database, then rolled back
            store.put_contexts([mltrail.Context(type_id=10_000, name="x")])
        with store.database.connection() as conn:
            assert _prepared(conn) == set()  # psycopg deallocated everything
        dialect = store.database.dialect
        run_batch, failures = dialect.run_batch, []

        def watched(*args: Any, **kwargs: Any) -> None:
            try:
                run_batch(*args, **kwargs)
            except Exception as exc:
                failures.append(exc)
                raise

        monkeypatch.setattr(dialect, "run_batch", watched)
        more = _steps(store, 2)
        assert len(store.get_artifacts_by_id(more)) == 2
        assert failures == []  # known lost before a batch needed them, not by a failed batch


def test_postgresql_prepares_nothing_with_prepare_threshold_none(
    pg_url: tuple[Server, str],
) -> None:
    """With ``prepare_threshold=none`` in the URL (for PgBouncer in transaction mode) neither
    psycopg nor mltrail's batches prepare anything on the server session."""
    _, url = pg_url
    given = sa.make_url(url)
    with mltrail.connect(given.update_query_dict({"prepare_threshold": "none"})) as store:
        outputs = _steps(store, 8)  # psycopg prepares a statement on its 5th run by default
        assert len(store.get_artifacts_by_id(outputs)) == 8
        with store.database.connection() as conn:
            assert conn.connection.dbapi_connection.prepare_threshold is None  # type: ignore[union-attr]
            names = conn.exec_driver_sql("SELECT name FROM pg_prepared_statements").scalars()
            assert list(names) == []
    with mltrail.connect(given.update_query_dict({"prepare_threshold": "0"})) as store:
        _steps(store, 2)
        with store.database.connection() as conn:
            names = list(conn.exec_driver_sql("SELECT name FROM pg_prepared_statements").scalars())
            assert any(name.startswith("mlt_") for name in names)
            assert any(not name.startswith("mlt_") for name in names)  # psycopg's own
    for bad in ("-1", "often", "1.5"):
        with pytest.raises(errors.InvalidArgumentError, match="prepare_threshold"):
            mltrail.connect(given.update_query_dict({"prepare_threshold": bad}))


@pytest.mark.parametrize("how", ["core", "fast", "reads"])
def test_a_read_call_is_a_read_only_transaction(server: Server, url: str, how: str) -> None:
    """Whichever way a read call's first statement goes (SQLAlchemy, the hot path's cursor,
    several reads in one request), its transaction is READ ONLY: a write in it fails."""
    probe = FastStatement(sa.text("SELECT 1"))

    def first(conn: sa.Connection) -> None:
        if how == "core":
            conn.exec_driver_sql("SELECT 1").all()
        elif how == "fast":
            probe.all(conn)
        else:
            store.database.dialect.run_reads(conn, [(probe, {}), (probe, {})])

    def writes(conn: sa.Connection) -> None:
        first(conn)
        conn.exec_driver_sql("UPDATE mlt_type SET description = 'x'")

    with mltrail.connect(url) as store:
        store.put_artifact_type(mltrail.ArtifactType(name="Data"))
        for _ in range(2):  # and again on the same connection
            with pytest.raises((errors.MltrailError, sa.exc.DBAPIError), match=r"(?i)read.only"):
                store.database.run(writes, write=False)
            assert store.get_artifact_type("Data").description in (None, "y")
            store.database.run(writes, write=True)  # a write call may write
            assert store.get_artifact_type("Data").description == "x"
            store.put_artifact_type(mltrail.ArtifactType(name="Data", description="y"))
            store.database.run(first, write=False)  # a read that writes nothing is fine


def test_a_pool_whose_connections_all_died_is_replaced_without_failing_the_call(
    server: Server, url: str
) -> None:
    with mltrail.connect(url) as store:
        engine = store.database.engine
        opened = [engine.connect() for _ in range(3)]  # three connections in the pool
        idle = [_backend_id(conn) for conn in opened]
        for conn in opened:
            conn.rollback()
            conn.close()
        for backend_id in idle:  # as a server restart does
            _kill(server, backend_id)
        assert store.get_artifact_types() == []
        with store.database.connection() as conn:
            assert _backend_id(conn) not in idle


# ------------------------------------------------------------------------------ classification


def _error(orig: Exception, cls: type[sa.exc.DBAPIError] = sa.exc.OperationalError) -> Any:
    return cls("SELECT 1", None, orig)


class _PgError(Exception):
    def __init__(self, sqlstate: str | None) -> None:
        super().__init__(f"error {sqlstate}")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("sqlstate", "failure"),
    [
        ("40001", Failure.RETRY),  # serialization failure
        ("40P01", Failure.RETRY),  # deadlock detected
        ("55P03", Failure.RETRY),  # lock not available
        ("08006", Failure.UNAVAILABLE),  # connection failure
        ("57P01", Failure.UNAVAILABLE),  # admin shutdown
        ("28P01", Failure.UNAVAILABLE),  # bad password
        ("3D000", Failure.UNAVAILABLE),  # no such database
        ("42501", Failure.DENIED),  # insufficient privilege
        ("42601", Failure.OTHER),  # syntax error
        (None, Failure.UNAVAILABLE),  # the driver lost the connection
    ],
)
def test_postgresql_failures_are_classified(sqlstate: str | None, failure: Failure) -> None:
    assert dialect_for("postgresql").classify(_error(_PgError(sqlstate))) is failure


def test_postgresql_unique_violations_are_conflicts() -> None:
    error = _error(_PgError("23505"), sa.exc.IntegrityError)
    assert dialect_for("postgresql").classify(error) is Failure.CONFLICT


class _MyError(Exception):
    pass


@pytest.mark.parametrize(
    ("code", "failure"),
    [
        (1213, Failure.RETRY),  # deadlock
        (1205, Failure.RETRY),  # lock wait timeout
        (2006, Failure.UNAVAILABLE),  # server has gone away
        (2013, Failure.UNAVAILABLE),  # lost connection during query
        (1927, Failure.UNAVAILABLE),  # connection killed
        (2003, Failure.UNAVAILABLE),  # cannot connect
        (1045, Failure.UNAVAILABLE),  # access denied
        (1049, Failure.UNAVAILABLE),  # unknown database
        (1142, Failure.DENIED),  # command denied
        (1064, Failure.OTHER),  # syntax error
    ],
)
def test_mysql_failures_are_classified(code: int, failure: Failure) -> None:
    assert dialect_for("mysql").classify(_error(_MyError(code, "message"))) is failure


def test_mysql_duplicates_are_conflicts() -> None:
    error = _error(_MyError(1062, "Duplicate entry"), sa.exc.IntegrityError)
    assert dialect_for("mysql").classify(error) is Failure.CONFLICT


def test_a_real_deadlock_is_retried_until_both_calls_succeed(server: Server, url: str) -> None:
    """Two calls lock two rows in opposite orders; the database kills one, mltrail reruns it."""
    with mltrail.connect(url) as store:
        first = store.put_artifact_type(mltrail.ArtifactType(name="A"))
        second = store.put_artifact_type(mltrail.ArtifactType(name="B"))
        t = schema.type_
        both_hold_one = threading.Barrier(2, timeout=WAIT)
        attempts: list[str] = []
        failures: list[str] = []

        def call(name: str, ids: tuple[int, int]) -> None:
            def fn(conn: sa.Connection) -> None:
                attempts.append(name)
                for n, type_id in enumerate(ids):
                    conn.execute(sa.update(t).where(t.c.id == type_id).values(description=name))
                    if n == 0 and attempts.count(name) == 1:
                        both_hold_one.wait()  # each holds its first row; now cross over

            try:
                store.database.run(fn, write=True)
            except BaseException:
                failures.append(traceback.format_exc())

        threads = [
            threading.Thread(target=call, args=("one", (first, second))),
            threading.Thread(target=call, args=("two", (second, first))),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=WAIT)
        assert not failures, "\n".join(failures)
        assert len(attempts) >= 3, attempts  # one of the two ran again
        described = {t.description for t in store.get_artifact_types()}
        assert len(described) == 1 and described <= {"one", "two"}


# ------------------------------------------------------------------------------ isolation


@pytest.mark.parametrize("backend", ["sqlite-file", *SERVERS], indirect=True)
def test_a_read_call_sees_one_snapshot(store: mltrail.MetadataStore) -> None:
    """Rows another client commits in the middle of a read call are not seen by that call."""
    store.put_artifact_type(mltrail.ArtifactType(name="Before"))
    other = Database(store.database.url)
    t = schema.type_

    def count(conn: sa.Connection) -> int:
        return int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())

    def read(conn: sa.Connection) -> tuple[int, int]:
        seen = count(conn)
        other.run(
            lambda c: c.execute(sa.insert(t).values(kind=1, name="During", version="")),
            write=True,
        )
        return seen, count(conn)

    try:
        assert store.database.run(read, write=False) == (1, 1)
        assert store.database.run(count, write=False) == 2
    finally:
        other.close()


@pytest.mark.parametrize("backend", SERVERS, indirect=True)
def test_read_calls_cannot_write(store: mltrail.MetadataStore) -> None:
    def write(conn: sa.Connection) -> None:
        conn.execute(sa.insert(schema.type_).values(kind=1, name="Sneaky", version=""))

    with pytest.raises(sa.exc.DBAPIError, match=r"(?i)read.only"):
        store.database.run(write, write=False)
    assert store.get_artifact_types() == []


# ------------------------------------------------------------------------------ schema details


def test_mysql_tables_are_innodb_utf8mb4_and_case_sensitive(servers: dict[str, Server]) -> None:
    server = servers["mysql"]
    need(server)
    run = server.run_database()
    with mltrail.connect(run) as store, store.database.connection() as conn:
        collation = binary_collation(conn.dialect)
        tables = conn.execute(
            sa.text(
                "SELECT table_name, engine, table_collation FROM information_schema.tables "
                "WHERE table_schema = DATABASE() AND table_name LIKE 'mlt\\_%'"
            )
        ).fetchall()
        columns = conn.execute(
            sa.text(
                "SELECT table_name, column_name, character_set_name, collation_name "
                "FROM information_schema.columns WHERE table_schema = DATABASE() "
                "AND table_name LIKE 'mlt\\_%' AND collation_name IS NOT NULL"
            )
        ).fetchall()
        mode = conn.exec_driver_sql("SELECT @@SESSION.sql_mode").scalar_one()
        mariadb = getattr(conn.dialect, "is_mariadb", False)
        limit = "max_recursive_iterations" if mariadb else "cte_max_recursion_depth"
        recursion = conn.exec_driver_sql(f"SELECT @@SESSION.{limit}").scalar_one()
    assert {name for name, *_ in tables} == {t.name for t in schema.metadata.sorted_tables}
    assert {(engine, table_collation) for _, engine, table_collation in tables} == {
        ("InnoDB", collation)
    }
    assert collation in ("utf8mb4_nopad_bin", "utf8mb4_0900_bin")
    assert {(t, c) for t, c, *_ in columns} == TEXT_COLUMNS
    assert {(charset, col) for _, _, charset, col in columns} == {("utf8mb4", collation)}
    assert "STRICT_ALL_TABLES" in mode
    assert int(recursion) == MAX_RECURSION


def test_postgresql_text_columns_compare_by_code_point(servers: dict[str, Server]) -> None:
    server = servers["postgresql"]
    need(server)
    with mltrail.connect(server.run_database()) as store, store.database.connection() as conn:
        columns = conn.execute(
            sa.text(
                "SELECT table_name, column_name, collation_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name LIKE 'mlt\\_%' "
                "AND data_type IN ('text', 'character varying')"
            )
        ).fetchall()
    assert {(t, c) for t, c, _ in columns} == TEXT_COLUMNS
    assert {collation for *_, collation in columns} == {"C"}


@pytest.mark.parametrize(
    ("mariadb", "version", "returning"),
    [
        (True, (10, 4, 30), False),
        (True, (10, 5, 0), True),
        (True, (11, 4), True),
        (False, (8, 0, 36), False),
        (False, (8, 4, 0), False),
    ],
)
def test_insert_returning_is_used_where_the_server_has_it(
    mariadb: bool, version: tuple[int, ...], returning: bool
) -> None:
    dialect: Any = SimpleNamespace(is_mariadb=mariadb, server_version_info=version)
    assert supports_insert_returning(dialect) is returning


@pytest.mark.parametrize("backend", SERVERS, indirect=True)
def test_new_ids_come_back_in_request_order(
    store: mltrail.MetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mltrail.backends.sql.fast import FastStatement

    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    many = FastStatement.execute_many

    def record_many(self: FastStatement, conn: Any, rows: Any) -> None:
        # Prepared statements go to the driver directly, past SQLAlchemy's events.
        statements.append(self.prepared(conn, rows)[0])
        many(self, conn, rows)

    kind = store.put_artifact_type(mltrail.ArtifactType(name="Data"))
    sa.event.listen(store.database.engine, "before_cursor_execute", record)
    with monkeypatch.context() as patched:
        patched.setattr(FastStatement, "execute_many", record_many)
        ids = store.put_artifacts(
            [mltrail.Artifact(type_id=kind, uri=f"/{i}", name=f"n{i}") for i in range(50)]
        )
    sa.event.remove(store.database.engine, "before_cursor_execute", record)
    artifacts = store.get_artifacts_by_id(ids)
    assert [a.uri for a in artifacts] == [f"/{i}" for i in range(50)]
    assert len(set(ids)) == 50
    with store.database.connection() as conn:
        name, returning = conn.dialect.name, conn.dialect.insert_returning
    inserts = [s for s in statements if s.startswith("INSERT INTO mlt_artifact ")]
    if name == "postgresql":
        # The 50 ids come from the sequence in one statement; the rows follow in one
        # (pipelined) executemany of one statement text.
        assert sum("nextval" in s for s in statements) == 1
        assert len(inserts) == 1 and "RETURNING" not in inserts[0]
    else:
        # With RETURNING (MariaDB >= 10.5) the 50 rows go in one batched statement.
        batched = [s for s in inserts if "RETURNING" in s]
        assert bool(batched) is returning


def test_the_migration_lock_name_fits_mysql() -> None:
    assert len(migration_lock_name("x" * 64)) <= 64
    assert migration_lock_name("a") != migration_lock_name("b")


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_value_the_database_cannot_hold_is_an_invalid_argument(
    store: mltrail.MetadataStore,
) -> None:
    """A value the server refuses (PostgreSQL text cannot hold NUL) is an InvalidArgumentError.

    The store refuses NUL characters itself on every backend, so the runner's mapping of the
    server's data errors is exercised with a statement of its own.
    """
    kind = store.put_artifact_type(mltrail.ArtifactType(name="Data"))
    with pytest.raises(errors.InvalidArgumentError) as raised:
        store.put_artifacts([mltrail.Artifact(type_id=kind, name="a\x00b")])
    assert "NUL" in str(raised.value)

    def write_nul(conn: sa.Connection) -> None:
        conn.exec_driver_sql("SELECT %(v)s::text", {"v": "a\x00b"})

    with pytest.raises(errors.InvalidArgumentError) as raised:
        store.database.run(write_nul, write=True)
    assert "cannot store a value" in str(raised.value)
    assert store.get_artifacts() == []


# ------------------------------------------------------------------------------ privileges


@pytest.fixture
def accounts(server: Server) -> Iterator[dict[str, str]]:
    """Two new accounts on the server, dropped afterwards: "app" may read and write the session
    database's tables, "reader" may only read them. Values: their user names."""
    run = server.run_database()
    with mltrail.connect(run):  # the tables exist, created by the test's (admin) account
        pass
    server.empty(run)
    suffix = secrets.token_hex(3)
    names = {"app": f"mltrail_app_{suffix}", "reader": f"mltrail_reader_{suffix}"}
    database = make_url(run).database
    with server.engine(run).connect() as admin:
        for role, user in names.items():
            rights = "SELECT, INSERT, UPDATE, DELETE" if role == "app" else "SELECT"
            if server.kind == "postgresql":
                admin.exec_driver_sql(f"CREATE ROLE {user} LOGIN PASSWORD 'pw'")
                admin.exec_driver_sql(f"GRANT USAGE ON SCHEMA public TO {user}")
                admin.exec_driver_sql(f"GRANT {rights} ON ALL TABLES IN SCHEMA public TO {user}")
                admin.exec_driver_sql(
                    f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {user}"
                )
            else:
                admin.execute(sa.text(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'"))
                admin.execute(sa.text(f"GRANT {rights} ON `{database}`.* TO '{user}'@'%'"))
        admin.commit()
    try:
        yield names
    finally:
        with server.engine(run).connect() as admin:
            for user in names.values():
                if server.kind == "postgresql":
                    admin.exec_driver_sql(f"DROP OWNED BY {user}")
                    admin.exec_driver_sql(f"DROP ROLE {user}")
                else:
                    admin.execute(sa.text(f"DROP USER '{user}'@'%'"))
            admin.commit()


def _as(url: str, user: str) -> str:
    return make_url(url).set(username=user, password="pw").render_as_string(hide_password=False)


def test_read_write_privileges_suffice_once_the_tables_exist(
    server: Server, accounts: dict[str, str]
) -> None:
    run = server.run_database()
    with mltrail.connect(_as(run, accounts["app"]), migrate=False) as store:
        kind = store.put_artifact_type(mltrail.ArtifactType(name="Data"))
        [artifact] = store.put_artifacts([mltrail.Artifact(type_id=kind, uri="/a")])
        assert [a.id for a in store.get_artifacts()] == [artifact]
    with mltrail.connect(_as(run, accounts["reader"])) as store:
        assert [t.name for t in store.get_artifact_types()] == ["Data"]
        with pytest.raises(errors.PermissionDeniedError) as raised:
            store.put_artifact_type(mltrail.ArtifactType(name="Other"))
        assert "lacks a privilege" in str(raised.value) and "docs/backends.md" in str(raised.value)
        assert [t.name for t in store.get_artifact_types()] == ["Data"]


def test_creating_the_tables_needs_more_than_read_write(
    server: Server, accounts: dict[str, str]
) -> None:
    empty = server.new_database("privileges")
    if server.kind == "mysql":  # the same rights on the new, empty database
        app, database = accounts["app"], make_url(empty).database
        with server.engine(server.run_database()).connect() as admin:
            admin.execute(
                sa.text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON `{database}`.* TO '{app}'@'%'")
            )
            admin.commit()
    with pytest.raises(errors.FailedPreconditionError) as raised:
        mltrail.connect(_as(empty, accounts["app"]))
    message = str(raised.value)
    assert "from schema version 0 to" in message and "denied" in message.lower()
    with server.engine(empty).connect() as admin:
        assert sa.inspect(admin).get_table_names() == []  # nothing was created


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
@pytest.mark.parametrize("ignore", [False, True])
def test_a_bulk_load_that_fails_is_a_database_error(
    store: mltrail.MetadataStore, ignore: bool
) -> None:
    # 100 attributions to contexts and artifacts that do not exist: the COPY (and, with
    # ignore, the insert from its temporary table) fails on the foreign keys.
    rows = [{"context_id": 1, "artifact_id": i} for i in range(1, 101)]
    with store.database.engine.connect() as conn:
        with pytest.raises(sa.exc.DBAPIError):
            store.database.dialect.insert_rows(conn, schema.attribution, rows, ignore=ignore)
        conn.rollback()
    assert store.get_contexts_by_artifact(1) == []


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_bulk_load_skips_existing_keys_when_told(store: mltrail.MetadataStore) -> None:
    kind = store.put_context_type(mltrail.ContextType(name="Run"))
    [ctx] = store.put_contexts([mltrail.Context(type_id=kind, name="r")])
    a_kind = store.put_artifact_type(mltrail.ArtifactType(name="Data"))
    ids = store.put_artifacts([mltrail.Artifact(type_id=a_kind, uri=f"/{i}") for i in range(100)])
    store.put_attributions_and_associations(
        [mltrail.Attribution(artifact_id=ids[0], context_id=ctx)], []
    )
    rows = [{"context_id": ctx, "artifact_id": i} for i in ids]
    with store.database.engine.begin() as conn:
        store.database.dialect.insert_rows(conn, schema.attribution, rows, ignore=True)
    assert len(store.get_artifacts_by_context(ctx)) == 100


def test_a_transaction_on_a_connection_that_died_gets_a_new_one(server: Server, url: str) -> None:
    with mltrail.connect(url) as store:
        with store.database.connection() as conn:
            idle = _backend_id(conn)
        _kill(server, idle)
        with store.transaction():
            store.put_artifact_type(mltrail.ArtifactType(name="Data"))
            assert [t.name for t in store.get_artifact_types()] == ["Data"]
        assert [t.name for t in store.get_artifact_types()] == ["Data"]
