"""Change capture (schema version 3), on every backend: what each write notes in the change feed,
the stamps of node and property rows, tombstones, the feed's order under concurrent commits, and
the store's site UUID."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import mltrail as m
from _servers import SERVERS, Server, need
from mltrail import errors
from mltrail.backends.sql import clock, feed

pytestmark = pytest.mark.sql_only

P = m.PropertyType
A, X, C = 1, 2, 3  # feed kinds of nodes: artifact, execution, context
AT, XT, CT = 11, 12, 13  # of types


# ------------------------------------------------------------------------------------ helpers


def rows(store: m.MetadataStore, sql: str) -> list[tuple[Any, ...]]:
    with store.database.connection() as conn:
        return [tuple(row) for row in conn.exec_driver_sql(sql).all()]


class Feed:
    """A reader of a store's change feed that continues from the last position it read."""

    def __init__(self, store: m.MetadataStore) -> None:
        self.store = store
        self.last = max([seq for seq, *_ in self.read_all()], default=0)

    def read_all(self) -> list[tuple[Any, ...]]:
        return rows(self.store, "SELECT seq, kind, entity_id, source FROM mlt_change ORDER BY seq")

    def new(self) -> list[tuple[int, int]]:
        """(kind, id) of the rows after the last position read, in feed order."""
        found = rows(
            self.store,
            f"SELECT seq, kind, entity_id FROM mlt_change WHERE seq > {self.last} ORDER BY seq",
        )
        if found:
            self.last = found[-1][0]
        return [(kind, entity_id) for _, kind, entity_id in found]


def node_stamp(store: m.MetadataStore, table: str, node_id: int) -> tuple[int, int]:
    [(hlc, site)] = rows(store, f"SELECT hlc, site FROM {table} WHERE id = {node_id}")
    return int(hlc), int(site)


def prop_stamps(store: m.MetadataStore, table: str, node_id: int) -> dict[tuple[str, bool], int]:
    found = rows(store, f"SELECT name, is_custom, hlc, site FROM {table} WHERE node_id = {node_id}")
    assert {site for *_, site in found} <= {1}
    return {(name, bool(custom)): int(hlc) for name, custom, hlc, _ in found}


@pytest.fixture
def types(store: m.MetadataStore) -> dict[str, int]:
    return {
        "data": store.put_artifact_type(
            m.ArtifactType(name="Data", properties={"rows": P.INT, "split": P.STRING})
        ),
        "step": store.put_execution_type(m.ExecutionType(name="Step", properties={"lr": P.DOUBLE})),
        "run": store.put_context_type(m.ContextType(name="Run", properties={"note": P.STRING})),
    }


# ------------------------------------------------------------------------------ what is noted


def test_types_are_noted_when_created_or_changed_and_not_when_put_again(
    store: m.MetadataStore,
) -> None:
    reader = Feed(store)
    data = store.put_artifact_type(m.ArtifactType(name="D", properties={"a": P.INT}))
    step = store.put_execution_type(m.ExecutionType(name="S"))
    run = store.put_context_type(m.ContextType(name="R"))
    assert reader.new() == [(AT, data), (XT, step), (CT, run)]
    store.put_artifact_type(m.ArtifactType(name="D", properties={"a": P.INT}))
    store.put_execution_type(m.ExecutionType(name="S"))
    assert reader.new() == []
    store.put_artifact_type(
        m.ArtifactType(name="D", properties={"a": P.INT, "b": P.STRING}), can_add_fields=True
    )
    assert reader.new() == [(AT, data)]


SPECS = {
    "artifact": ("mlt_artifact", A, "data"),
    "execution": ("mlt_execution", X, "step"),
    "context": ("mlt_context", C, "run"),
}


def _node(kind: str, type_id: int, **fields: Any) -> Any:
    cls = {"artifact": m.Artifact, "execution": m.Execution, "context": m.Context}[kind]
    if kind == "context":
        fields.setdefault("name", "ctx")
    return cls(type_id=type_id, **fields)


def _put(store: m.MetadataStore, kind: str) -> Callable[[list[Any]], list[int]]:
    return getattr(store, f"put_{kind}s")  # type: ignore[no-any-return]


def _get(store: m.MetadataStore, kind: str, node_id: int) -> Any:
    [node] = getattr(store, f"get_{kind}s_by_id")([node_id])
    return node


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_node_writes_note_what_changed_and_stamp_only_what_changed(
    store: m.MetadataStore, types: dict[str, int], kind: str
) -> None:
    table, feed_kind, type_name = SPECS[kind]
    declared = {"artifact": "rows", "execution": "lr", "context": "note"}[kind]
    value = {"artifact": 5, "execution": 0.5, "context": "n"}[kind]
    reader = Feed(store)
    put = _put(store, kind)
    [node_id, other_id] = put(
        [
            _node(kind, types[type_name], properties={declared: value}, custom_properties={"c": 1}),
            _node(kind, types[type_name], name="other"),
        ]
    )
    assert reader.new() == [(feed_kind, node_id), (feed_kind, other_id)]
    row_stamp = node_stamp(store, table, node_id)
    stamps = prop_stamps(store, f"{table}_property", node_id)
    assert row_stamp[1] == 1 and set(stamps) == {(declared, False), ("c", True)}
    assert set(stamps.values()) == {row_stamp[0]}  # one tick for the whole transaction

    # Put back as stored: nothing changed, nothing noted, no stamp moves.
    put([_get(store, kind, node_id)])
    assert reader.new() == []
    assert node_stamp(store, table, node_id) == row_stamp
    assert prop_stamps(store, f"{table}_property", node_id) == stamps

    # One property changes: the node is noted, only that key's stamp moves (the node's own
    # fields are one register, unchanged).
    node = _get(store, kind, node_id)
    node.custom_properties = {"c": 2}
    put([node])
    assert reader.new() == [(feed_kind, node_id)]
    assert node_stamp(store, table, node_id) == row_stamp
    after = prop_stamps(store, f"{table}_property", node_id)
    assert after[(declared, False)] == stamps[(declared, False)]
    assert after[("c", True)] > stamps[("c", True)]

    # A field changes: the node's register is stamped anew.
    node = _get(store, kind, node_id)
    node.name = "renamed"
    put([node])
    assert reader.new() == [(feed_kind, node_id)]
    renamed = node_stamp(store, table, node_id)
    assert renamed[0] > row_stamp[0] and renamed[1] == 1
    assert prop_stamps(store, f"{table}_property", node_id) == after

    # A removed key leaves a tombstone with the stamp of the removal.
    node = _get(store, kind, node_id)
    node.custom_properties = {}
    put([node])
    assert reader.new() == [(feed_kind, node_id)]
    assert set(prop_stamps(store, f"{table}_property", node_id)) == {(declared, False)}
    [(name, custom, hlc, site)] = rows(
        store,
        "SELECT name, is_custom, hlc, site FROM mlt_tombstone "
        f"WHERE kind = {feed_kind} AND node_id = {node_id}",
    )
    assert (name, bool(custom), site) == ("c", True, 1) and hlc > after[("c", True)]

    # Written again: a newer property row; removed again: the tombstone is stamped anew.
    node.custom_properties = {"c": 3}
    put([node])
    assert prop_stamps(store, f"{table}_property", node_id)[("c", True)] > hlc
    node.custom_properties = {}
    put([node])
    [(again,)] = rows(
        store, f"SELECT hlc FROM mlt_tombstone WHERE kind = {feed_kind} AND node_id = {node_id}"
    )
    assert again > hlc
    assert reader.new() == [(feed_kind, node_id), (feed_kind, node_id)]
    # The other node was never touched again.
    assert rows(
        store,
        f"SELECT COUNT(*) FROM mlt_change WHERE kind = {feed_kind} AND entity_id = {other_id}",
    ) == [(1,)]


def test_edges_note_the_node_they_travel_with(
    store: m.MetadataStore, types: dict[str, int]
) -> None:
    [a1, a2] = store.put_artifacts([m.Artifact(type_id=types["data"]) for _ in range(2)])
    [e1] = store.put_executions([m.Execution(type_id=types["step"])])
    [parent, child] = store.put_contexts(
        [m.Context(type_id=types["run"], name=n) for n in ("parent", "child")]
    )
    reader = Feed(store)
    store.put_events(
        [
            m.Event(artifact_id=a1, execution_id=e1, type=m.EventType.INPUT),
            m.Event(artifact_id=a2, execution_id=e1, type=m.EventType.OUTPUT),
        ]
    )
    assert reader.new() == [(X, e1)]
    store.put_attributions_and_associations(
        [m.Attribution(context_id=parent, artifact_id=a2)],
        [m.Association(context_id=parent, execution_id=e1)],
    )
    assert reader.new() == [(A, a2), (X, e1)]
    store.put_parent_contexts([m.ParentContext(child_id=child, parent_id=parent)])
    assert reader.new() == [(C, child)]
    # Refused calls (an event or a parent link given twice) note nothing.
    with pytest.raises(errors.AlreadyExistsError):
        store.put_events([m.Event(artifact_id=a1, execution_id=e1, type=m.EventType.INPUT)])
    with pytest.raises(errors.AlreadyExistsError):
        store.put_parent_contexts([m.ParentContext(child_id=child, parent_id=parent)])
    assert reader.new() == []


def test_put_execution_notes_its_new_and_changed_nodes_and_its_edges(
    store: m.MetadataStore, types: dict[str, int]
) -> None:
    [given] = store.put_artifacts([m.Artifact(type_id=types["data"], uri="/in")])
    [run] = store.put_contexts([m.Context(type_id=types["run"], name="run")])
    reader = Feed(store)
    stamp = node_stamp(store, "mlt_artifact", given)
    source = _get(store, "artifact", given)
    execution_id, [_, output], [run_id] = store.put_execution(
        m.Execution(type_id=types["step"], properties={"lr": 0.1}),
        [(source, m.Event(type=m.EventType.INPUT)), (m.Artifact(type_id=types["data"]),)],
        [m.Context(type_id=types["run"], name="run")],
        reuse_context_if_already_exist=True,
    )
    assert run_id == run
    # The reused context is unchanged; the input is unchanged but newly attributed to it.
    assert reader.new() == [(A, given), (A, output), (X, execution_id)]
    assert node_stamp(store, "mlt_artifact", given) == stamp  # passed back as stored
    [new_ctx] = store.put_contexts([m.Context(type_id=types["run"], name="second")])
    reader.new()
    ids = store.put_lineage_subgraph(
        [m.Execution(type_id=types["step"])],
        [m.Artifact(type_id=types["data"], uri="/lg")],
        [m.Context(type_id=types["run"], name="second")],
        [(0, 0, m.Event(type=m.EventType.OUTPUT))],
        reuse_context_if_already_exist=True,
    )
    assert ids[2] == [new_ctx]
    assert reader.new() == [(A, ids[1][0]), (X, ids[0][0])]
    # All of one transaction's rows have one stamp.
    [(hlc_a,)] = rows(store, f"SELECT hlc FROM mlt_artifact WHERE id = {ids[1][0]}")
    [(hlc_x,)] = rows(store, f"SELECT hlc FROM mlt_execution WHERE id = {ids[0][0]}")
    assert hlc_a == hlc_x


def test_a_failed_call_leaves_no_feed_row_and_notes_nothing_for_later_calls(
    store: m.MetadataStore, types: dict[str, int]
) -> None:
    [taken] = store.put_artifacts([m.Artifact(type_id=types["data"], name="taken")])
    reader = Feed(store)
    before = reader.read_all()
    # Fails after the new artifact and the execution were written (the event's artifact is
    # missing): the transaction rolls back, notes included.
    with pytest.raises(errors.InvalidArgumentError):
        store.put_execution(
            m.Execution(type_id=types["step"]),
            [
                (m.Artifact(type_id=types["data"]), m.Event(type=m.EventType.OUTPUT)),
                (None, m.Event(type=m.EventType.INPUT, artifact_id=10**9)),
            ],
            [],
        )
    with pytest.raises(errors.AlreadyExistsError):
        store.put_artifacts([m.Artifact(type_id=types["data"], name="taken")])
    assert reader.read_all() == before
    [fresh] = store.put_contexts([m.Context(type_id=types["run"], name="fresh")])
    assert reader.new() == [(C, fresh)]
    assert taken not in [i for k, i in reader.new() if k == A]


def test_feed_positions_follow_the_order_of_calls(
    store: m.MetadataStore, types: dict[str, int]
) -> None:
    reader = Feed(store)
    made = []
    for i in range(5):
        [a] = store.put_artifacts([m.Artifact(type_id=types["data"], uri=f"/{i}")])
        made.append((A, a))
    all_rows = reader.read_all()
    seqs = [seq for seq, *_ in all_rows]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # no gaps, ascending
    assert reader.new() == made
    assert {source for *_, source in all_rows} == {None}  # all made here


def test_the_clock_never_goes_back_and_follows_what_it_observes() -> None:
    first = clock.tick()
    assert clock.tick() > first
    ahead = first + (10_000 << 16)  # ten seconds ahead (another site's clock)
    clock.observe(ahead)
    assert clock.tick() > ahead
    clock.observe(first)  # an older stamp changes nothing
    assert clock.tick() > ahead


def test_notes_from_another_site_yield_to_local_ones(store: m.MetadataStore) -> None:
    def run(conn: sa.Connection) -> list[Any]:
        feed.note(conn, A, [1, 2], source=5)
        feed.note(conn, A, [2, 3])  # made here: wins
        feed.note(conn, A, [3, 4], source=6)  # stays made here (3), received (4)
        feed.note(conn, AT, [9])
        pending = feed.pending(conn)
        feed.discard(conn)
        return pending

    assert store.database.run(run, write=True) == [
        (AT, 9, None),
        (A, 1, 5),
        (A, 2, None),
        (A, 3, None),
        (A, 4, 6),
    ]
    assert Feed(store).read_all() == []  # discarded: nothing was written


# ------------------------------------------------------------------------------ commit order


@pytest.mark.parametrize("backend", SERVERS, indirect=True)
def test_a_reader_misses_nothing_when_transactions_commit_out_of_order(
    store: m.MetadataStore, empty_url: str, types: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """T1 writes first, T2 writes and commits, a reader reads the feed, then T1 commits: the
    reader, continuing from its last position, sees T1's change."""
    reader = Feed(store)
    with m.connect(empty_url) as first, m.connect(empty_url) as second:
        written, release = threading.Event(), threading.Event()
        original = feed.flush

        def paused(conn: sa.Connection, dialect: Any, batch: Any = None) -> None:
            if threading.current_thread().name == "t1":
                # T1's node row is written; its feed positions are not taken yet.
                written.set()
                assert release.wait(60)
            original(conn, dialect, batch)

        monkeypatch.setattr(feed, "flush", paused)
        outcome: dict[str, Any] = {}

        def t1() -> None:
            try:
                outcome["ids"] = first.put_artifacts([m.Artifact(type_id=types["data"], uri="/t1")])
            except BaseException as exc:  # reported below
                outcome["error"] = exc

        thread = threading.Thread(target=t1, name="t1")
        thread.start()
        try:
            assert written.wait(60)
            [t2_id] = second.put_artifacts([m.Artifact(type_id=types["data"], uri="/t2")])
            seen = reader.new()  # between the two commits
            assert seen == [(A, t2_id)]
        finally:
            release.set()
            thread.join(60)
        assert "error" not in outcome, outcome.get("error")
        [t1_id] = outcome["ids"]
        assert reader.new() == [(A, t1_id)]


@pytest.mark.parametrize("backend", SERVERS, indirect=True)
def test_a_transaction_holding_feed_positions_makes_later_ones_wait(
    store: m.MetadataStore, empty_url: str, types: dict[str, int]
) -> None:
    """T1 has taken its feed positions and not committed: T2's commit waits for T1's, so no
    later position commits before an earlier one; the reader sees both, in order."""
    reader = Feed(store)
    with m.connect(empty_url) as first, m.connect(empty_url) as second:
        taken, release = threading.Event(), threading.Event()
        t2_done = threading.Event()

        def t1_body(conn: sa.Connection) -> None:
            feed.note(conn, A, [10**6])
            feed.flush(conn, first.database.dialect)  # positions taken, row lock held
            taken.set()
            assert release.wait(60)

        def t2() -> None:
            second.put_artifacts([m.Artifact(type_id=types["data"], uri="/t2")])
            t2_done.set()

        one = threading.Thread(target=lambda: first.database.run(t1_body, write=True))
        one.start()
        assert taken.wait(60)
        two = threading.Thread(target=t2)
        two.start()
        try:
            # T2 cannot take its positions while T1 holds the row: it is still running.
            assert not t2_done.wait(1.0)
            assert reader.new() == []  # nothing committed yet
        finally:
            release.set()
            one.join(60)
            two.join(60)
        assert t2_done.is_set()
        seen = reader.new()
        assert seen[0] == (A, 10**6) and [k for k, _ in seen] == [A, A] and len(seen) == 2


# ------------------------------------------------------------------------------ sites


def site_uuid(store: m.MetadataStore) -> str:
    with store.database.connection() as conn:
        return feed.self_uuid(conn)


def test_two_stores_have_different_site_uuids(store: m.MetadataStore) -> None:
    with m.connect() as other:
        mine, theirs = site_uuid(store), site_uuid(other)
    assert mine != theirs
    assert rows(store, "SELECT id, uuid FROM mlt_site") == [(1, mine)]


@pytest.fixture
def reopenable(
    request: pytest.FixtureRequest, tmp_path: Path, servers: dict[str, Server]
) -> Iterator[str]:
    kind = request.param
    if kind == "sqlite-file":
        yield f"sqlite:///{tmp_path / 'site.db'}"
        return
    server = servers[kind]
    need(server)
    url = server.new_database("site")
    yield url
    server.drop_everything(url)


@pytest.mark.parametrize("reopenable", ["sqlite-file", *SERVERS], indirect=True)
def test_a_store_keeps_its_site_uuid_across_reopen(reopenable: str) -> None:
    with m.connect(reopenable) as store:
        first = site_uuid(store)
        store.put_artifact_type(m.ArtifactType(name="D"))
    with m.connect(reopenable) as store:
        assert site_uuid(store) == first
        assert rows(store, "SELECT uuid FROM mlt_site WHERE id = 1") == [(first,)]


@pytest.mark.parametrize("backend", ["mysql"], indirect=True)
def test_a_mysql_store_without_its_site_row_refuses_writes_instead_of_losing_changes(
    store: m.MetadataStore, types: dict[str, int]
) -> None:
    """MySQL/MariaDB take feed positions from the self row (PostgreSQL from a sequence)."""
    before = Feed(store).read_all()
    [(own,)] = rows(store, "SELECT uuid FROM mlt_site WHERE id = 1")
    with store.database.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM mlt_site")
    try:
        with pytest.raises(errors.MltrailError):
            store.put_artifacts([m.Artifact(type_id=types["data"], uri="/lost")])
        assert Feed(store).read_all() == before
        assert rows(store, "SELECT COUNT(*) FROM mlt_artifact") == [(0,)]
    finally:
        with store.database.engine.begin() as conn:
            conn.exec_driver_sql(f"INSERT INTO mlt_site (id, uuid) VALUES (1, '{own}')")
