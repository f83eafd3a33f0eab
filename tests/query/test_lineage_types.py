"""Lineage answers reuse the types they read before while the change feed shows that no type
changed since, and read them again when one did, whoever changed it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import mltrail as m
from mltrail.backends.sql import readers

pytestmark = pytest.mark.sql_only  # the types are read by the SQL layer

P, T = m.PropertyType, m.EventType


@pytest.fixture
def url(empty_url: str | None, tmp_path: Path) -> str:
    """A database two stores can open (an in-memory one is private to its store)."""
    return empty_url if empty_url is not None else f"sqlite:///{tmp_path / 'two.db'}"


@pytest.fixture
def two(url: str) -> Iterator[tuple[m.MetadataStore, m.MetadataStore]]:
    """Two stores on one database, as two processes would have."""
    with m.connect(url) as first, m.connect(url) as second:
        yield first, second


@pytest.fixture
def type_reads(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """The ids of every read of types by id (the answers' only other way to get them)."""
    reads: list[list[int]] = []
    read = readers.types_by_ids

    def counting(conn: Any, ids: Any) -> Any:
        reads.append(list(ids))
        return read(conn, ids)

    monkeypatch.setattr(readers, "types_by_ids", counting)
    return reads


def _chain(store: m.MetadataStore, data: str = "Data", step: str = "Step") -> int:
    """A source, a step and its output; the output's id."""
    source = m.Artifact(type=data, uri="/in")
    output = m.Artifact(type=data, uri="/out")
    _, [_, out], _ = store.put_execution(
        m.Execution(type=step),
        [(source, m.Event(type=T.INPUT)), (output, m.Event(type=T.OUTPUT))],
        [m.Context(type="Run", name=f"run-{data}")],
        reuse_context_if_already_exist=True,
    )
    return out


def _types(graph: m.LineageGraph) -> dict[str, Any]:
    kinds = [*graph.artifact_types, *graph.execution_types, *graph.context_types]
    return {t.name: t for t in kinds}


def _setup(store: m.MetadataStore) -> int:
    store.put_artifact_type(m.ArtifactType(name="Data", properties={"rows": P.INT}))
    store.put_execution_type(m.ExecutionType(name="Step"))
    store.put_context_type(m.ContextType(name="Run"))
    return _chain(store)


def test_unchanged_types_are_not_read_again(
    two: tuple[m.MetadataStore, m.MetadataStore], type_reads: list[list[int]]
) -> None:
    first, _ = two
    out = _setup(first)
    answers = [first.get_provenance(out) for _ in range(4)]
    assert {name: dict(t.properties) for name, t in _types(answers[0]).items()} == {
        "Data": {"rows": P.INT},
        "Step": {},
        "Run": {},
    }
    assert all(_types(a) == _types(answers[0]) for a in answers)
    assert type_reads == []  # the first answer read them in its statement; the rest reused them
    # Writes that change no type leave them known.
    _chain(first)
    assert _types(first.get_provenance(out)) == _types(answers[0])
    assert type_reads == []


def test_a_property_another_store_added_is_in_the_next_answer(
    two: tuple[m.MetadataStore, m.MetadataStore], type_reads: list[list[int]]
) -> None:
    first, second = two
    out = _setup(first)
    before = _types(first.get_provenance(out))
    assert dict(before["Data"].properties) == {"rows": P.INT}
    second.put_artifact_type(
        m.ArtifactType(name="Data", properties={"rows": P.INT, "acc": P.DOUBLE}),
        can_add_fields=True,
    )
    second.put_execution_type(m.ExecutionType(name="Step", description="trains"))
    after = _types(first.get_provenance(out))
    assert dict(after["Data"].properties) == {"rows": P.INT, "acc": P.DOUBLE}
    assert after["Step"].description == "trains"
    assert len(type_reads) == 1  # read again once, then known again
    assert _types(first.get_provenance(out)) == after
    assert len(type_reads) == 1


def test_a_type_first_seen_is_read_with_the_answer(
    two: tuple[m.MetadataStore, m.MetadataStore], type_reads: list[list[int]]
) -> None:
    first, second = two
    out = _setup(first)
    first.get_provenance(out)
    second.put_artifact_type(m.ArtifactType(name="Model", properties={"auc": P.DOUBLE}))
    second.put_execution_type(m.ExecutionType(name="Train"))
    model = _chain(second, data="Model", step="Train")
    assert set(_types(first.get_provenance(model))) == {"Model", "Train", "Run"}
    assert dict(_types(first.get_provenance(model))["Model"].properties) == {"auc": P.DOUBLE}
    # The first answer's types are still right for it.
    assert set(_types(first.get_provenance(out))) == {"Data", "Step", "Run"}


def test_types_are_read_again_when_the_feed_moved_past_the_window(
    two: tuple[m.MetadataStore, m.MetadataStore], type_reads: list[list[int]]
) -> None:
    """Further behind than the window the answer does not look for a type change: it reads
    its types again."""
    from mltrail.query import _subgraph

    first, second = two
    out = _setup(first)
    first.get_provenance(out)
    many = [m.Artifact(type="Data", uri=f"/x/{k}") for k in range(_subgraph._SeenTypes.WINDOW + 1)]
    second.put_artifacts(many)  # one feed row per new artifact: no type changed
    second.put_artifact_type(
        m.ArtifactType(name="Data", properties={"rows": P.INT, "split": P.STRING}),
        can_add_fields=True,
    )
    after = _types(first.get_provenance(out))
    assert dict(after["Data"].properties) == {"rows": P.INT, "split": P.STRING}
    assert len(type_reads) == 1


def test_a_transaction_that_changes_a_type_answers_with_its_own_view(
    two: tuple[m.MetadataStore, m.MetadataStore],
) -> None:
    """Its type changes reach the feed only at its commit: until then its answers read their
    types, and what they read is not kept (a rollback would make it wrong)."""
    first, _ = two
    out = _setup(first)
    first.get_provenance(out)  # the types are known now

    def data_properties() -> set[str]:
        return set(_types(first.get_provenance(out))["Data"].properties)

    with first.transaction():
        first.put_artifact_type(
            m.ArtifactType(name="Data", properties={"rows": P.INT, "acc": P.DOUBLE}),
            can_add_fields=True,
        )
        assert data_properties() == {"rows", "acc"}
    assert data_properties() == {"rows", "acc"}
    with pytest.raises(RuntimeError), first.transaction():
        first.put_artifact_type(
            m.ArtifactType(name="Data", properties={"split": P.STRING}),
            can_add_fields=True,
            can_omit_fields=True,
        )
        assert data_properties() == {"rows", "acc", "split"}
        raise RuntimeError("rolled back")
    assert data_properties() == {"rows", "acc"}


def test_types_replaced_meanwhile_by_another_answer_are_not_trusted(
    two: tuple[m.MetadataStore, m.MetadataStore],
) -> None:
    """An answer's statement looked for type changes after the position it was given; if
    another answer replaced the known types with ones from another position meanwhile, that
    look says nothing about them: the types are read again."""
    from mltrail.query import _subgraph

    first, _ = two
    out = _setup(first)
    first.get_provenance(out)
    engine = first.database.engine
    seen = _subgraph._SEEN[engine]
    data_id = first.get_artifact_type("Data").id
    stale = dataclasses.replace(seen.types[data_id], properties={})
    # Known types from an older position, without the property the type has.
    _subgraph._SEEN[engine] = _subgraph._SeenTypes(seen.position - 1, {data_id: stale})
    with first.database.connection() as conn:
        types = _subgraph._known_types(conn, {data_id}, seen.position, seen.position, changed=False)
    assert dict(types[data_id].properties) == {"rows": P.INT}
    # With the types it looked after, the answer trusts them.
    _subgraph._SEEN[engine] = _subgraph._SeenTypes(seen.position, {data_id: stale})
    with first.database.connection() as conn:
        types = _subgraph._known_types(conn, {data_id}, seen.position, seen.position, changed=False)
    assert types[data_id] is stale
