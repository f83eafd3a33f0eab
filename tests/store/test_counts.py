"""count_artifacts / iter_artifacts and their execution and context variants, on every backend."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

import mltrail as m
from _counting import count_statements
from mltrail.errors import InvalidArgumentError, QuerySyntaxError

# The remote client is exercised on one server here (one_remote, see tests/conftest.py).
pytestmark = pytest.mark.one_remote

KINDS = ["artifact", "execution", "context"]
NODE = {"artifact": m.Artifact, "execution": m.Execution, "context": m.Context}
TYPE = {"artifact": m.ArtifactType, "execution": m.ExecutionType, "context": m.ContextType}

FILTERS = [
    None,
    "",
    "type = 'Kept'",
    "custom_properties.n >= 10",
    "custom_properties.n < 0",
    "custom_properties.tag = 'odd' AND NOT type = 'Other'",
    "custom_properties.missing IS NULL",
    "contexts_a.name = 'holder'",
]


class Nodes:
    def __init__(self, store: m.MetadataStore, kind: str) -> None:
        self.store, self.kind = store, kind
        self._names = itertools.count()
        put_type = getattr(store, f"put_{kind}_type")
        self.kept = put_type(TYPE[kind](name="Kept"))
        self.other = put_type(TYPE[kind](name="Other"))

    def add(self, n: int, type_id: int | None = None, start: int = 0) -> list[int]:
        nodes = [
            NODE[self.kind](
                type_id=type_id or self.kept,
                name=f"n{next(self._names)}",
                custom_properties={"n": start + i, "tag": "odd" if i % 2 else "even"},
            )
            for i in range(n)
        ]
        return list(getattr(self.store, f"put_{self.kind}s")(nodes))

    def get(self, **options: Any) -> m.ResultPage[Any]:
        return getattr(self.store, f"get_{self.kind}s")(**options)  # type: ignore[no-any-return]

    def iterate(self, *args: Any, **options: Any) -> Any:
        return getattr(self.store, f"iter_{self.kind}s")(*args, **options)

    def count(self, *args: Any) -> int:
        return getattr(self.store, f"count_{self.kind}s")(*args)  # type: ignore[no-any-return]

    def count_by_type(self, *args: Any) -> dict[str, int]:
        counted = getattr(self.store, f"count_{self.kind}s_by_type")
        return counted(*args)  # type: ignore[no-any-return]


@pytest.fixture(params=KINDS)
def nodes(request: pytest.FixtureRequest, store: m.MetadataStore) -> Nodes:
    found = Nodes(store, request.param)
    ids = found.add(13) + found.add(6, found.other, start=5)
    holder = store.put_context_type(m.ContextType(name="Holder"))
    (context_id,) = store.put_contexts([m.Context(type_id=holder, name="holder")])
    if found.kind == "artifact":
        store.put_attributions_and_associations(
            [m.Attribution(artifact_id=i, context_id=context_id) for i in ids[::3]], []
        )
    elif found.kind == "execution":
        store.put_attributions_and_associations(
            [], [m.Association(execution_id=i, context_id=context_id) for i in ids[::3]]
        )
    return found


def _filter_fits(nodes: Nodes, query: str | None) -> bool:
    # Contexts have no contexts_* neighbours in the filter language.
    return not (nodes.kind == "context" and query and "contexts_a" in query)


# ---------------------------------------------------------------------------------------- counts


def test_counts_equal_the_length_of_the_listing(nodes: Nodes) -> None:
    checked = 0
    for query in FILTERS:
        if not _filter_fits(nodes, query):
            continue
        expected = len(nodes.get(filter_query=query))
        assert nodes.count(query) == expected, query
        checked += expected
    assert checked > 0
    assert nodes.count() == len(nodes.get()) >= 19


@pytest.mark.sql_only
def test_a_count_is_one_statement(nodes: Nodes, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = len([n for n in nodes.get() if n.custom_properties.get("n", -1) >= 10])
    calls = count_statements(monkeypatch)
    assert nodes.count("custom_properties.n >= 10") == expected > 0
    assert len(calls) == 1
    assert "count(" in calls[0].lower()


def test_counts_of_an_empty_store_are_zero(store: m.MetadataStore) -> None:
    assert store.count_artifacts() == 0
    assert store.count_executions("name = 'x'") == 0
    assert store.count_contexts() == 0


def test_a_bad_count_filter_is_refused(nodes: Nodes) -> None:
    with pytest.raises(QuerySyntaxError):
        nodes.count("name = ")
    with pytest.raises(InvalidArgumentError, match="filter_query"):
        nodes.count(5)


def test_counts_by_type_equal_the_listing_grouped_by_type(nodes: Nodes) -> None:
    checked = 0
    for query in FILTERS:
        if not _filter_fits(nodes, query):
            continue
        expected: dict[str, int] = {}
        for node in nodes.get(filter_query=query):
            expected[node.type] = expected.get(node.type, 0) + 1
        got = nodes.count_by_type(query)
        assert got == expected, query
        assert list(got) == sorted(got), "in type name order"
        checked += sum(got.values())
    assert checked > 0
    holder = {"Holder": 1} if nodes.kind == "context" else {}
    assert nodes.count_by_type() == {**holder, "Kept": 13, "Other": 6}


def test_counts_by_type_leave_out_types_without_nodes(nodes: Nodes) -> None:
    assert nodes.count_by_type("type = 'Other'") == {"Other": 6}
    assert nodes.count_by_type("custom_properties.n < 0") == {}
    # "Holder" is a context type with one context: only contexts count it.
    holders = {"Holder": 1} if nodes.kind == "context" else {}
    assert nodes.count_by_type("name = 'holder'") == holders


def test_counts_by_type_sum_the_versions_of_a_type(store: m.MetadataStore) -> None:
    first = store.put_artifact_type(m.ArtifactType(name="Model"))
    second = store.put_artifact_type(m.ArtifactType(name="Model", version="2"))
    other = store.put_artifact_type(m.ArtifactType(name="Data"))
    store.put_artifacts(
        [m.Artifact(type_id=t) for t in (first, first, second, other, second, second)]
    )
    assert store.count_artifacts_by_type() == {"Data": 1, "Model": 5}
    assert store.count_artifacts_by_type("type = 'Model'") == {"Model": 5}
    assert store.count_artifacts_by_type(f"type_id = {second}") == {"Model": 3}


@pytest.mark.sql_only
def test_counts_by_type_are_one_statement(nodes: Nodes, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = count_statements(monkeypatch)
    assert nodes.count_by_type("custom_properties.n >= 10") == {"Kept": 3, "Other": 1}
    assert len(calls) == 1
    assert "group by" in calls[0].lower()


def test_counts_by_type_of_an_empty_store_are_empty(store: m.MetadataStore) -> None:
    assert store.count_artifacts_by_type() == {}
    assert store.count_executions_by_type("name = 'x'") == {}
    assert store.count_contexts_by_type() == {}


def test_a_bad_count_by_type_filter_is_refused(nodes: Nodes) -> None:
    with pytest.raises(QuerySyntaxError) as raised:
        nodes.count_by_type("name = ")
    assert (raised.value.line, raised.value.column) == (1, 7)
    with pytest.raises(InvalidArgumentError, match="filter_query"):
        nodes.count_by_type(5)


# ------------------------------------------------------------------------------------- iterators


def test_iteration_yields_the_listing_without_limit(nodes: Nodes) -> None:
    for query in FILTERS:
        if not _filter_fits(nodes, query):
            continue
        for page_size in (1, 2, 7, 1000):
            got = [n.id for n in nodes.iterate(filter_query=query, page_size=page_size)]
            assert got == [n.id for n in nodes.get(filter_query=query)], (query, page_size)


@pytest.mark.store_semantics
@pytest.mark.parametrize("ascending", [True, False], ids=["asc", "desc"])
@pytest.mark.parametrize(
    "order", ["id", "create_time", m.OrderByField.UPDATE_TIME, "custom_properties.n"]
)
def test_iteration_keeps_the_order(nodes: Nodes, order: Any, ascending: bool) -> None:
    expected = [n.id for n in nodes.get(order_by=order, ascending=ascending)]
    for page_size in (1, 2, 7):
        got = nodes.iterate(order_by=order, ascending=ascending, page_size=page_size)
        assert [n.id for n in got] == expected


def test_iteration_by_a_property_with_ties_and_a_filter(nodes: Nodes) -> None:
    query = "custom_properties.n >= 4"
    matching = nodes.get(filter_query=query)
    values = [n.custom_properties["n"] for n in matching]
    assert len(set(values)) < len(values), "the data should hold ties"
    expected = [
        n.id for n in sorted(matching, key=lambda n: (n.custom_properties["n"], n.id), reverse=True)
    ]
    for page_size in (1, 2, 7):
        options = m.ListOptions(order_by="custom_properties.n", is_asc=False, filter_query=query)
        assert [n.id for n in nodes.iterate(options, page_size=page_size)] == expected


@pytest.mark.sql_only
def test_iteration_reads_one_page_per_call(nodes: Nodes, monkeypatch: pytest.MonkeyPatch) -> None:
    total = nodes.count()
    calls = count_statements(monkeypatch)
    iterator = nodes.iterate(page_size=5)
    first = [next(iterator) for _ in range(5)]
    assert len(first) == 5
    assert len(calls) == 2  # one page and its properties, nothing more yet
    rest = list(iterator)
    assert len(first) + len(rest) == total
    pages = -(-total // 5)
    assert len(calls) == 2 * pages


def test_iteration_is_not_a_snapshot(nodes: Nodes) -> None:
    iterator = nodes.iterate(page_size=4)
    seen = [next(iterator).id for _ in range(4)]
    added = nodes.add(3, start=100)
    seen += [n.id for n in iterator]
    assert seen[-3:] == added  # ordered by id, nodes added meanwhile come at the end
    assert seen == [n.id for n in nodes.get()]


def test_iteration_may_start_from_a_page_token(nodes: Nodes) -> None:
    page = nodes.get(order_by="custom_properties.n", limit=4)
    rest = nodes.iterate(order_by="custom_properties.n", page_token=page.next_page_token)
    listed = [n.id for n in nodes.get(order_by="custom_properties.n")]
    assert [n.id for n in page] + [n.id for n in rest] == listed


@pytest.mark.parametrize("page_size", [0, -1, 2.5, "3", True, None])
def test_a_bad_page_size_is_refused_at_the_call(nodes: Nodes, page_size: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="page_size"):
        nodes.iterate(page_size=page_size)


def test_bad_iteration_options_are_refused_at_the_call(nodes: Nodes) -> None:
    with pytest.raises(InvalidArgumentError, match="limit"):
        nodes.iterate(limit=3)
    with pytest.raises(InvalidArgumentError, match="limit"):
        nodes.iterate(m.ListOptions(limit=3))
    with pytest.raises(QuerySyntaxError):
        nodes.iterate(filter_query="name = ")
    with pytest.raises(InvalidArgumentError, match="order_by"):
        nodes.iterate(order_by="properties.")
    with pytest.raises(InvalidArgumentError, match="page_token"):
        nodes.iterate(page_token="garbage")
