"""MySQL/MariaDB through mysqlclient (``mysql+mysqldb://``), the C driver.

The contract suite runs on MariaDB through PyMySQL; what differs with mysqlclient is how a
call's transaction ends (and tests/backends/test_server_dialects.py kills its connection
mid-request). Its COMMIT goes with the call's last request, and its connection goes
back to the pool without a ROLLBACK. mysqlclient does not show the server's status flags to
Python, so both rest on mltrail's own notes of what was sent. These tests check the notes
against the server (``@@in_transaction``) and against what another connection sees.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

import mltrail as m
from _round_trips import counting
from _servers import Server, need, need_module
from mltrail import errors

T = m.EventType
WAIT = 60  # seconds; only reached when something is broken


@pytest.fixture
def server(servers: dict[str, Server]) -> Server:
    found = servers["mysql"]
    need(found)
    need_module("MySQLdb", "mysqlclient")
    return found


@pytest.fixture
def urls(server: Server) -> tuple[str, str]:
    """The session's MariaDB database, emptied: its URL through mysqlclient and through PyMySQL."""
    run = server.run_database()
    with m.connect(run):
        pass
    server.empty(run)
    given = sa.engine.make_url(run)
    # The query holds PyMySQL's options (ssl_disabled); mysqlclient has its own.
    mysqldb = given.set(drivername="mysql+mysqldb", query={})
    return (
        mysqldb.render_as_string(hide_password=False),
        given.set(drivername="mysql+pymysql").render_as_string(hide_password=False),
    )


def test_options_mysqlclient_does_not_know_are_refused(urls: tuple[str, str]) -> None:
    with pytest.raises(errors.InvalidArgumentError, match=r"ssl_disabled.*mysqlclient"):
        m.connect(urls[0] + "?ssl_disabled=true")


def _pipeline(store: m.MetadataStore, steps: int) -> tuple[int, list[int]]:
    """A run of ``steps`` steps, each output the next step's input; returns the run's context
    id and the outputs' ids."""
    data = store.put_artifact_type(
        m.ArtifactType(name="Data", properties={"rows": m.PropertyType.INT})
    )
    step = store.put_execution_type(m.ExecutionType(name="Step"))
    run = store.put_context_type(m.ContextType(name="Run"))
    [source] = store.put_artifacts([m.Artifact(type_id=data, uri="/d/0", properties={"rows": 0})])
    [previous] = store.get_artifacts_by_id([source])
    outputs: list[int] = []
    context_id = 0
    for k in range(1, steps + 1):
        output = m.Artifact(type_id=data, uri=f"/d/{k}", properties={"rows": k})
        _, ids, [context_id] = store.put_execution(
            m.Execution(type_id=step, name=f"s{k}"),
            [(previous, m.Event(type=T.INPUT)), (output, m.Event(type=T.OUTPUT))],
            [m.Context(type_id=run, name="run-0")],
            reuse_context_if_already_exist=True,
        )
        output.id = ids[1]
        previous = output
        outputs.append(ids[1])
    return context_id, outputs


def _in_transaction(store: m.MetadataStore) -> int:
    """The server's ``@@in_transaction`` on the connection the store's next call gets."""
    with store.database.connection() as conn:
        return int(conn.exec_driver_sql("SELECT @@in_transaction").scalar_one())


def _lineage(store: m.MetadataStore, artifact_id: int) -> m.LineageGraph:
    return store.get_lineage_subgraph(
        m.LineageSubgraphQueryOptions(
            starting_artifacts=m.StartingNodes(filter_query=f"id = {artifact_id}"),
            max_num_hops=20,
        )
    )


def test_the_url_chooses_mysqlclient(urls: tuple[str, str]) -> None:
    with m.connect(urls[0]) as store:
        assert store.database.engine.dialect.driver == "mysqldb"


def test_answers_are_those_read_through_pymysql(urls: tuple[str, str]) -> None:
    c_url, py_url = urls
    with m.connect(c_url) as c_store, m.connect(py_url) as py_store:
        context_id, outputs = _pipeline(c_store, 4)
        for store in (c_store, py_store):
            assert sorted(a.uri for a in store.get_artifacts_by_context(context_id)) == [
                f"/d/{k}" for k in range(5)
            ]
        assert c_store.get_artifacts_by_id(outputs) == py_store.get_artifacts_by_id(outputs)
        assert c_store.get_executions() == py_store.get_executions()
        assert _lineage(c_store, outputs[-1]) == _lineage(py_store, outputs[-1])
        filtered = "properties.rows.int_value > 2"
        assert c_store.get_artifacts(filter_query=filtered) == py_store.get_artifacts(
            filter_query=filtered
        )


def test_no_call_leaves_a_transaction_open(urls: tuple[str, str]) -> None:
    """After each kind of call the connection is idle on the server: a write, a read of one
    request, a read of several statements, a lineage answer, a failed call, a transaction."""
    with m.connect(urls[0]) as store:
        context_id, outputs = _pipeline(store, 2)
        assert _in_transaction(store) == 0
        calls: list[Any] = [
            lambda: store.get_artifacts_by_context(context_id),  # nodes and properties at once
            lambda: store.get_artifacts_by_id(outputs),
            lambda: store.get_artifacts(limit=1),
            lambda: _lineage(store, outputs[-1]),
            lambda: store.put_artifacts([m.Artifact(type_id=1, uri="/d/new")]),
        ]
        for call in calls:
            call()
            assert _in_transaction(store) == 0, call
        with pytest.raises(errors.InvalidArgumentError):
            store.put_artifacts([m.Artifact(type_id=1, uri="/d/x", properties={"nope": 1})])
        assert _in_transaction(store) == 0
        with store.transaction():
            store.put_artifacts([m.Artifact(type_id=1, uri="/d/in-block")])
        assert _in_transaction(store) == 0
        with pytest.raises(RuntimeError), store.transaction():
            store.put_artifacts([m.Artifact(type_id=1, uri="/d/rolled-back")])
            raise RuntimeError("leave the block")
        assert _in_transaction(store) == 0
        uris = {a.uri for a in store.get_artifacts()}
        assert {"/d/new", "/d/in-block"} <= uris and "/d/rolled-back" not in uris


def test_commits_reach_other_connections_and_reads_see_theirs(urls: tuple[str, str]) -> None:
    """A write whose COMMIT went with its last request is committed (another connection sees
    it), and a read after another connection's write sees it: no snapshot outlives a call."""
    c_url, py_url = urls
    with m.connect(c_url) as c_store, m.connect(py_url) as py_store:
        kind = c_store.put_artifact_type(m.ArtifactType(name="Data"))
        for k in range(3):
            [mine] = c_store.put_artifacts([m.Artifact(type_id=kind, uri=f"/c/{k}")])
            assert [a.uri for a in py_store.get_artifacts_by_id([mine])] == [f"/c/{k}"]
            [theirs] = py_store.put_artifacts([m.Artifact(type_id=kind, uri=f"/p/{k}")])
            assert [a.uri for a in c_store.get_artifacts_by_id([theirs])] == [f"/p/{k}"]
            assert len(c_store.get_artifacts_by_type("Data")) == 2 * (k + 1)


def test_calls_send_no_commit_or_rollback_of_their_own(
    urls: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A listing of everything is one request (its reads and its COMMIT); a pipeline step is
    three, as with PyMySQL; no call sends a COMMIT or a ROLLBACK as a request of its own."""
    with m.connect(urls[0]) as store:
        context_id, outputs = _pipeline(store, 2)
        [previous] = store.get_artifacts_by_id([outputs[-1]])
        [step] = store.get_execution_types()
        [run] = store.get_context_types()
        with counting(store, monkeypatch) as trips:
            store.get_artifacts_by_context(context_id)
            assert trips.count == 1, trips.sent()
            assert trips.sent()[0].rstrip().endswith("COMMIT")
            trips.reset()
            store.put_execution(
                m.Execution(type_id=step.id),
                [
                    (previous, m.Event(type=T.INPUT)),
                    (m.Artifact(type_id=previous.type_id, uri="/d/next"), m.Event(type=T.OUTPUT)),
                ],
                [m.Context(type_id=run.id, name="run-0")],
                reuse_context_if_already_exist=True,
            )
            sent = trips.sent()
            assert len(sent) <= 3, sent
            assert sent[-1].rstrip().endswith("COMMIT"), sent
            assert "COMMIT" not in sent and "ROLLBACK" not in sent, sent
