"""Lineage answers take a fixed number of statements, whatever their depth and number of contexts,
and no list of ids travels back to the database: the answer is read joined to the walk."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

import mltrail as m
from mltrail.backends.sql import fast

pytestmark = pytest.mark.sql_only  # counts statements of the SQL layer


class Statements:
    """Every statement the store sends: through the hot-path cursor and through SQLAlchemy."""

    def __init__(self) -> None:
        self.sql: list[str] = []

    def count(self) -> int:
        return sum(1 for text in self.sql if text.lstrip().upper().startswith(("SELECT", "WITH")))


@pytest.fixture
def statements(store: m.MetadataStore, monkeypatch: pytest.MonkeyPatch) -> Iterator[Statements]:
    seen = Statements()
    execute = fast.FastStatement.execute

    def counting(self: fast.FastStatement, conn: sa.Connection, params: Any = None) -> Any:
        seen.sql.append(self._sql(conn)[0])
        return execute(self, conn, params)

    def on_cursor(_conn: Any, _cursor: Any, text: str, *_args: Any) -> None:
        seen.sql.append(text)

    monkeypatch.setattr(fast.FastStatement, "execute", counting)
    engine = store._db.engine
    sa.event.listen(engine, "before_cursor_execute", on_cursor)
    yield seen
    sa.event.remove(engine, "before_cursor_execute", on_cursor)


def _pipeline(store: m.MetadataStore, name: str, runs: int, steps: int, shared: bool) -> list[int]:
    """``runs`` chains of ``steps`` steps, a context per run; with ``shared`` every run starts
    from one source artifact (so the source belongs to every run's context)."""
    data = store.put_artifact_type(
        m.ArtifactType(name="Data", properties={"n": m.PropertyType.INT})
    )
    step = store.put_execution_type(m.ExecutionType(name="Step"))
    run_type = store.put_context_type(m.ContextType(name="Run"))
    first = m.Artifact(type_id=data, uri="/shared", properties={"n": 0})
    [first.id] = store.put_artifacts([first])
    finals = []
    for run in range(runs):
        artifact = first
        if not shared:
            artifact = m.Artifact(type_id=data, uri=f"/{run}/0")
            [artifact.id] = store.put_artifacts([artifact])
        for k in range(steps):
            output = m.Artifact(type_id=data, uri=f"/{run}/{k + 1}", custom_properties={"k": k})
            _, ids, _ = store.put_execution(
                m.Execution(type_id=step, last_known_state=m.ExecutionState.COMPLETE),
                [
                    (artifact, m.Event(type=m.EventType.INPUT)),
                    (output, m.Event(type=m.EventType.OUTPUT)),
                ],
                [m.Context(type_id=run_type, name=f"{name}-{run}")],
                reuse_context_if_already_exist=True,
            )
            output.id = ids[1]
            artifact = output
        finals.append(artifact.id)
    return finals


def _count(statements: Statements, call: Any) -> tuple[int, Any]:
    statements.sql.clear()
    answer = call()
    return statements.count(), answer


def test_statements_per_answer_do_not_grow_with_depth_or_contexts(
    store: m.MetadataStore, statements: Statements
) -> None:
    shallow = _pipeline(store, "shallow", runs=2, steps=2, shared=False)
    deep = _pipeline(store, "deep", runs=1, steps=40, shared=False)
    wide = _pipeline(store, "wide", runs=30, steps=2, shared=True)
    counts = {}
    for name, final in (("shallow", shallow[0]), ("deep", deep[0]), ("wide", wide[0])):
        count, graph = _count(statements, lambda f=final: store.get_provenance(f))
        counts[name] = count
        if name == "deep":
            assert len(graph.artifacts) == 41 and len(graph.events) == 80
        if name == "wide":
            assert len(graph.contexts) == 30  # the shared source is in every run's context
        options = m.LineageSubgraphQueryOptions(
            starting_artifacts=m.StartingNodes(filter_query=f"id = {final}"),
            direction=m.LineageDirection.UPSTREAM,
            max_num_hops=100,
        )
        count, _ = _count(statements, lambda o=options: store.get_lineage_subgraph(o))
        counts[name + ", filter"] = count
    # One statement walks the graph and reads the whole answer.
    assert counts == dict.fromkeys(counts, 1)


def test_a_node_limit_adds_one_statement(store: m.MetadataStore, statements: Statements) -> None:
    [final] = _pipeline(store, "chain", runs=1, steps=40, shared=False)
    count, graph = _count(statements, lambda: store.lineage(artifact_ids=[final], max_nodes=500))
    assert (count, graph.truncated, len(graph.artifacts)) == (2, False, 41)
    count, graph = _count(statements, lambda: store.lineage(artifact_ids=[final], max_nodes=5))
    assert graph.truncated and len(graph.artifacts) + len(graph.executions) == 5
    assert count <= 4  # the walk, the events for exact depths, the cut answer
