"""The lookups and listings the API offers are answered from indexes, on every backend.

Each check runs one public call on a populated store, records the statements it runs, and asks
the database for their plans (SQLite ``EXPLAIN QUERY PLAN``, PostgreSQL and MariaDB ``EXPLAIN``).
A plan that reads a whole node table fails the check, and so does a page in id order that
sorts its rows (its cost would then grow with the size of the scope, not of the page).
PostgreSQL is asked with sequential scans and sorts discouraged, so that on a small test table
the question is whether an index can answer, not whether the planner prefers one. MariaDB
cannot be told so: at this test's size it may read the small type table first and sort the
type's rows, so there only the full scans are checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import mltrail
from mltrail import Artifact, Context, Event, EventType, Execution, MetadataStore
from mltrail.backends.sql import fast

NODE_TABLES = ("mlt_artifact", "mlt_execution", "mlt_context")
TYPES = 4
PER_TYPE = 150


@pytest.fixture
def populated(store: MetadataStore) -> MetadataStore:
    """Artifacts of several types in several contexts, with properties, names and events."""
    p = mltrail.PropertyType
    types = [
        store.put_artifact_type(
            mltrail.ArtifactType(name=f"Data{t}", properties={"rows": p.INT, "acc": p.DOUBLE})
        )
        for t in range(TYPES)
    ]
    step = store.put_execution_type(mltrail.ExecutionType(name="Step"))
    run = store.put_context_type(mltrail.ContextType(name="Run"))
    for t, type_id in enumerate(types):
        artifacts = [
            Artifact(
                type_id=type_id,
                uri=f"/d/{t}/{i}",
                name=f"a-{t}-{i}" if i % 10 == 0 else None,
                external_id=f"x-{t}-{i}" if i % 10 == 1 else None,
                properties={"rows": i, "acc": i / PER_TYPE},
            )
            for i in range(PER_TYPE)
        ]
        store.put_lineage_subgraph(
            [Execution(type_id=step)],
            artifacts,
            [Context(type_id=run, name=f"run-{t}")],
            [],
        )
    # Some events, so that lineage lookups have rows to find.
    produced = store.get_artifacts_by_type("Data0", limit=5)
    for artifact in produced:
        store.put_execution(Execution(type_id=step), [(artifact, Event(type=EventType.INPUT))], [])
    return store


Recorded = list[tuple[str, Any]]


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorded]:
    """The SQL text and parameters of every statement run from now on."""
    calls: Recorded = []
    original = fast.FastStatement.execute

    def recording(self: fast.FastStatement, conn: Any, params: Any = None) -> Any:
        sql, getter, defaults = self._sql(conn)
        args: Any = {**defaults, **params} if defaults and params else (params or defaults)
        if getter is not None:
            args = getter(args)
        calls.append((sql, args))
        return original(self, conn, params)

    prepare = fast.FastStatement.prepared

    def recording_prepared(self: fast.FastStatement, conn: Any, rows: Any) -> Any:
        # Statements a dialect sends together (batched reads, multi-row writes).
        sql, args = prepare(self, conn, rows)
        calls.extend((sql, one) for one in args[:1])
        return sql, args

    monkeypatch.setattr(fast.FastStatement, "execute", recording)
    monkeypatch.setattr(fast.FastStatement, "prepared", recording_prepared)
    yield calls


def _plan(store: MetadataStore, sql: str, args: Any) -> list[str]:
    """The plan of one recorded statement, one line per step."""
    db = store.database
    with db.connection() as conn:
        raw: Any = conn.connection.dbapi_connection
        cursor = raw.cursor()
        try:
            name = conn.dialect.name
            if name == "sqlite":
                cursor.execute("EXPLAIN QUERY PLAN " + sql, args)
                return [str(row[-1]) for row in cursor.fetchall()]
            if name == "postgresql":
                cursor.execute("SET enable_seqscan = off")
                cursor.execute("SET enable_sort = off")
                try:
                    cursor.execute("EXPLAIN " + sql, args)
                    return [str(row[0]) for row in cursor.fetchall()]
                finally:
                    raw.rollback()
            cursor.execute("EXPLAIN " + sql, args)
            columns = [d[0].lower() for d in cursor.description]
            lines = []
            for row in cursor.fetchall():
                entry = dict(zip(columns, row, strict=True))
                lines.append(
                    f"table={entry['table']} type={entry['type']} key={entry['key']} "
                    f"extra={entry.get('extra')}"
                )
            raw.rollback()
            return lines
        finally:
            cursor.close()


def _full_scans(dialect: str, plan: list[str]) -> list[str]:
    """The steps of ``plan`` that read every row of a node table."""
    tables = "|".join(NODE_TABLES)
    if dialect == "sqlite":
        pattern = rf"^SCAN ({tables})\b"
    elif dialect == "postgresql":
        pattern = rf"Seq Scan on ({tables})\b"
    else:
        pattern = rf"table=({tables}) type=(ALL|index) key=(None|PRIMARY)\b"
    return [line for line in plan if re.search(pattern, line.strip())]


def _sorts(dialect: str, plan: list[str]) -> list[str]:
    """The steps of ``plan`` that sort rows."""
    if dialect == "sqlite":
        return [line for line in plan if "TEMP B-TREE FOR ORDER BY" in line]
    if dialect == "postgresql":
        return [line for line in plan if re.search(r"^\s*(->\s*)?(Incremental )?Sort\b", line)]
    return [line for line in plan if "filesort" in line.lower()]


def _check(
    store: MetadataStore,
    recorded: Recorded,
    call: Callable[[], Any],
    *,
    ordered: bool = False,
    in_order_scan: bool = False,
) -> None:
    """Run ``call`` and check the plans of its queries; ``ordered``: no sort either;
    ``in_order_scan``: a node table may be read in its key order (a page of everything stops
    after its rows), but then must not be sorted."""
    recorded.clear()
    call()
    assert recorded, "the call ran no statement"
    dialect = store.database.dialect.name
    for sql, args in recorded:
        if not sql.lstrip().upper().startswith("SELECT"):
            continue
        plan = _plan(store, sql, args)
        if not in_order_scan:
            assert not _full_scans(dialect, plan), (sql, plan)
        if (ordered or in_order_scan) and dialect in ("sqlite", "postgresql"):
            assert not _sorts(dialect, plan), (sql, plan)


def test_a_page_of_one_type_in_id_order_reads_only_the_page(
    populated: MetadataStore, recorded: Recorded
) -> None:
    first = populated.get_artifacts_by_type("Data2", limit=20)
    assert first.next_page_token is not None
    _check(
        populated,
        recorded,
        lambda: populated.get_artifacts_by_type("Data2", limit=20),
        ordered=True,
    )
    _check(
        populated,
        recorded,
        lambda: populated.get_artifacts_by_type(
            "Data2", limit=20, page_token=first.next_page_token
        ),
        ordered=True,
    )
    _check(
        populated,
        recorded,
        lambda: populated.get_artifacts_by_type("Data2", limit=20, ascending=False),
        ordered=True,
    )


def test_a_page_of_one_type_in_time_order_reads_only_that_type(
    populated: MetadataStore, recorded: Recorded
) -> None:
    for order in ("create_time", "update_time"):
        _check(
            populated,
            recorded,
            lambda order=order: populated.get_artifacts_by_type(  # type: ignore[misc]
                "Data1", limit=20, order_by=order
            ),
        )


def test_a_page_of_everything_in_id_order_reads_only_the_page(
    populated: MetadataStore, recorded: Recorded
) -> None:
    first = populated.get_artifacts(limit=20)
    _check(populated, recorded, lambda: populated.get_artifacts(limit=20), in_order_scan=True)
    _check(
        populated,
        recorded,
        lambda: populated.get_artifacts(limit=20, page_token=first.next_page_token),
        ordered=True,
    )


def test_a_page_of_everything_in_time_order_reads_the_time_index(
    populated: MetadataStore, recorded: Recorded
) -> None:
    # The page is read in the time index's order and stops after its rows (PostgreSQL may sort
    # the rows of one time among themselves by id: an incremental sort, never of the table;
    # MariaDB only has to avoid reading every artifact, as in the tests above).
    dialect = populated.database.dialect.name
    for order, column in (
        ("create_time", "create_time_since_epoch"),
        ("update_time", "last_update_time_since_epoch"),
    ):
        first = populated.get_artifacts(limit=20, order_by=order)
        assert first.next_page_token is not None
        for token in (None, first.next_page_token):
            recorded.clear()
            populated.get_artifacts(limit=20, order_by=order, page_token=token)
            [(sql, args)] = [r for r in recorded if r[0].lstrip().upper().startswith("SELECT")][:1]
            plan = _plan(populated, sql, args)
            if dialect == "mysql":  # at this size it starts from the small type table
                assert not _full_scans(dialect, plan), plan
                continue
            assert any(f"ix_mlt_artifact_{column}" in line for line in plan), plan
            sorts = [line for line in _sorts(dialect, plan) if "Sort Key" not in line]
            assert all("Incremental" in line for line in sorts), plan


def test_a_context_listing_reads_only_its_members(
    populated: MetadataStore, recorded: Recorded
) -> None:
    context = populated.get_context_by_type_and_name("Run", "run-1")
    assert context is not None
    _check(populated, recorded, lambda: populated.get_artifacts_by_context(context.id))
    _check(populated, recorded, lambda: populated.get_artifacts_by_context(context.id, limit=20))
    _check(populated, recorded, lambda: populated.get_executions_by_context(context.id))


def test_lookups_by_key_use_an_index(populated: MetadataStore, recorded: Recorded) -> None:
    store = populated
    calls: list[Callable[[], Any]] = [
        lambda: store.get_artifacts_by_external_ids(["x-1-11"]),
        lambda: store.get_artifact_by_type_and_name("Data1", "a-1-10"),
        lambda: store.get_artifacts_by_uri("/d/3/7"),
        lambda: store.get_artifacts_by_id([5, 6]),
        lambda: store.get_context_by_type_and_name("Run", "run-2"),
        lambda: store.get_contexts_by_artifact(7),
        lambda: store.get_events_by_artifact_ids([1, 2]),
        lambda: store.get_events_by_execution_ids([5]),
    ]
    for call in calls:
        _check(store, recorded, call)


def test_filters_on_names_and_property_values_use_an_index(
    populated: MetadataStore, recorded: Recorded
) -> None:
    store = populated
    for query in (
        "name = 'a-2-20'",
        "external_id = 'x-0-31'",
        "properties.rows = 17",
        "properties.acc > 0.99",
        "contexts_r.name = 'run-3'",
    ):
        _check(store, recorded, lambda query=query: store.get_artifacts(filter_query=query))  # type: ignore[misc]
