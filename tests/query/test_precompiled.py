"""Lineage statements shipped compiled (mltrail/query/precompiled/): each file is what the code
compiles now on its database, a first answer of a shipped shape builds no statement, and a
stale file or another shape falls back to building and compiling."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

import mltrail as m
from _backends import BACKENDS
from _servers import Server, need, need_module, unavailable
from mltrail.query import _precompiled, lineage
from mltrail.query._subgraph import AnswerCache

T = m.EventType
STALE = "the lineage statements or their sources changed: run python -m mltrail.query._precompiled"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """SQL stores only: the remote client compiles nothing."""
    return str(request.param)


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """No answer compiled or file read yet in this process; the shapes whose statement gets
    built are listed."""
    built: list[str] = []
    build = lineage.answer_build

    def counted(q: lineage.LineageQuery, *args: Any, **kwargs: Any) -> list[Any]:
        built.append(q.direction.name)
        return build(q, *args, **kwargs)

    monkeypatch.setattr(lineage, "_ANSWERS", AnswerCache())
    monkeypatch.setattr(lineage, "answer_build", counted)
    monkeypatch.setattr(_precompiled, "_files", {})
    monkeypatch.setattr(_precompiled, "_key", [])
    yield built


def _chain(store: m.MetadataStore, steps: int) -> tuple[list[int], list[int]]:
    data = store.put_artifact_type(m.ArtifactType(name="Data"))
    step = store.put_execution_type(m.ExecutionType(name="Step"))
    run = store.put_context_type(m.ContextType(name="Run"))
    [first] = store.put_artifacts([m.Artifact(type_id=data, uri="/0")])
    artifacts, executions = [first], []
    for k in range(steps):
        output = m.Artifact(type_id=data, uri=f"/{k + 1}")
        execution_id, [_, output_id], _ = store.put_execution(
            m.Execution(type_id=step),
            [
                (m.Artifact(id=artifacts[-1], type_id=data, uri=f"/{k}"), m.Event(type=T.INPUT)),
                (output, m.Event(type=T.OUTPUT)),
            ],
            [m.Context(type_id=run, name="r")],
            reuse_context_if_already_exist=True,
        )
        artifacts.append(output_id)
        executions.append(execution_id)
    return artifacts, executions


def _shape(graph: m.LineageGraph) -> tuple[Any, ...]:
    return (
        sorted(a.id or 0 for a in graph.artifacts),
        sorted(e.id or 0 for e in graph.executions),
        len(graph.events),
        sorted(c.name or "" for c in graph.contexts),
        sorted(t.name for t in graph.artifact_types),
    )


def _shipped(conn: sa.Connection) -> dict[str, Any]:
    """The shipped file of ``conn``'s database; a database version without one (another
    machine's SQLite, a newer server) is skipped, or fails under MLTRAIL_REQUIRE_BACKENDS."""
    path = _precompiled.DIRECTORY / _precompiled.file_of(conn.dialect)
    if not path.is_file():
        unavailable(f"no statements shipped for this database ({path.name})", STALE)
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def test_the_shipped_statements_are_what_the_code_compiles(store: m.MetadataStore) -> None:
    with store.database.connection() as conn:
        shipped = _shipped(conn)
        assert shipped["key"] == _precompiled.sources_key(), STALE
        assert shipped == json.loads(json.dumps(_precompiled.compiled_document(conn))), STALE


def test_the_shipped_mysqlclient_statements_are_what_the_code_compiles(
    servers: dict[str, Server],
) -> None:
    server = servers["mysql"]
    need(server)
    need_module("MySQLdb", "mysqlclient")
    given = sa.make_url(server.run_database()).set(drivername="mysql+mysqldb", query={})
    with m.connect(given) as store, store.database.connection() as conn:
        shipped = _shipped(conn)
        assert shipped == json.loads(json.dumps(_precompiled.compiled_document(conn))), STALE


def test_answers_of_shipped_shapes_build_no_statement(
    store: m.MetadataStore, fresh: list[str]
) -> None:
    artifacts, executions = _chain(store, 4)
    up = store.get_provenance(artifacts[-1])  # types read
    again = store.get_provenance(artifacts[-1])  # types known
    down = store.get_impact(artifacts[1], max_hops=2)
    both = store.lineage(execution_ids=[executions[1]], direction="both")
    assert fresh == []
    assert _shape(up) == _shape(again) == (artifacts, executions, 8, ["r"], ["Data"])
    assert _shape(down)[:2] == (artifacts[1:3], executions[1:2])
    assert _shape(both)[:2] == (artifacts, executions)


def test_other_shapes_and_stale_files_are_built_and_compiled(
    store: m.MetadataStore, fresh: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    artifacts, executions = _chain(store, 3)
    two = store.lineage(artifact_ids=artifacts[-2:], direction="upstream")  # two starting ids
    assert fresh == ["UPSTREAM"]
    assert _shape(two)[:2] == (artifacts, executions)
    monkeypatch.setattr(_precompiled, "sources_key", lambda: "a source changed")
    monkeypatch.setattr(lineage, "_ANSWERS", AnswerCache())
    monkeypatch.setattr(_precompiled, "_files", {})
    monkeypatch.setattr(_precompiled, "_key", [])
    one = store.get_provenance(artifacts[-1])
    assert fresh == ["UPSTREAM", "UPSTREAM"]  # the file was not used
    assert _shape(one)[:2] == (artifacts, executions)


def test_a_file_for_another_paramstyle_is_not_used(tmp_path: Any) -> None:
    document = {"key": "k", "paramstyle": "qmark", "statements": {"s": ["SELECT 1", [], {}]}}
    path = tmp_path / "f.json"
    path.write_text(json.dumps(document))
    assert _precompiled._read(path, "k", "qmark") == {"s": ("SELECT 1", (), {})}
    assert _precompiled._read(path, "k", "format") is None
    assert _precompiled._read(path, "other", "qmark") is None
    assert _precompiled._read(tmp_path / "missing.json", "k", "qmark") is None
