"""Listings ordered by a property or custom property, paged with keyset tokens, on every backend.

The documented order: numbers (int and double values together), then strings (by code point),
booleans and struct values, each kind in the chosen direction with ties broken by id; nodes
without the property come last in both directions. Expected orders are computed in Python from
the nodes the store returned.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import mltrail as m
from _counting import count_statements
from mltrail.errors import InvalidArgumentError, QuerySyntaxError

# The remote client is exercised on one server here (one_remote, see tests/conftest.py).
pytestmark = pytest.mark.one_remote

KINDS = ("artifact", "execution", "context")
NODE = {"artifact": m.Artifact, "execution": m.Execution, "context": m.Context}
TYPE = {"artifact": m.ArtifactType, "execution": m.ExecutionType, "context": m.ContextType}

# Values of the custom property "v": ints and doubles that interleave and tie, strings that only
# a code-point comparison orders like Python, booleans, structs, and nodes without it (None).
MIXED = [
    3,
    1.5,
    -2,
    2,
    2.0,
    1.5,
    10**12,
    -0.25,
    "b",
    "B",
    "a",
    "x ",
    "x",
    "é",
    "b",
    "",
    True,
    False,
    True,
    {"k": 1},
    [1, 2],
    None,
    None,
    7,
    None,
    "a",
]


def kind_rank(value: Any) -> int:
    if value is None:
        return 4
    if isinstance(value, bool):
        return 2
    if isinstance(value, (int, float)):
        return 0
    if isinstance(value, str):
        return 1
    return 3


def expected_order(nodes: list[Any], key: Callable[[Any], Any], ascending: bool) -> list[int]:
    """Node ids in the documented order of the values ``key`` gives (None: no property)."""
    out: list[int] = []
    for rank in range(5):
        group = [n for n in nodes if kind_rank(key(n)) == rank]
        if rank in (0, 2):
            group.sort(key=lambda n: (key(n), n.id), reverse=not ascending)
        elif rank == 1:  # strings by their first 255 characters
            group.sort(key=lambda n: (key(n)[:255], n.id), reverse=not ascending)
        else:
            group.sort(key=lambda n: n.id, reverse=not ascending)
        out += [n.id for n in group]
    return out


class Listing:
    """One listing call (all nodes, by type or by context) with a way to fill it."""

    def __init__(self, store: m.MetadataStore, kind: str, scope: str) -> None:
        self.store, self.kind, self.scope = store, kind, scope
        props = {"acc": m.PropertyType.DOUBLE, "label": m.PropertyType.STRING}
        put_type = getattr(store, f"put_{kind}_type")
        self.type_id = put_type(TYPE[kind](name="Listed", properties=props))
        self.noise_type_id = put_type(TYPE[kind](name="Noise", properties=props))
        self.count = 0
        if scope == "context":
            holder = store.put_context_type(m.ContextType(name="Holder"))
            self.context_id, self.other_id = store.put_contexts(
                [m.Context(type_id=holder, name="in"), m.Context(type_id=holder, name="out")]
            )

    def add(self, values: list[dict[str, Any]], *, inside: bool = True) -> list[int]:
        """Nodes with these properties (``{"properties": ..., "custom_properties": ...}``)."""
        type_id = self.type_id if inside or self.scope == "context" else self.noise_type_id
        nodes = []
        for props in values:
            self.count += 1
            nodes.append(NODE[self.kind](type_id=type_id, name=f"n{self.count}", **props))
        ids = list(getattr(self.store, f"put_{self.kind}s")(nodes))
        if self.scope == "context":
            target = self.context_id if inside else self.other_id
            if self.kind == "artifact":
                links = [m.Attribution(artifact_id=i, context_id=target) for i in ids]
                self.store.put_attributions_and_associations(links, [])
            else:
                assoc = [m.Association(execution_id=i, context_id=target) for i in ids]
                self.store.put_attributions_and_associations([], assoc)
        return ids

    def list(self, list_options: m.ListOptions | None = None, **options: Any) -> m.ResultPage[Any]:
        if self.scope == "all":
            method = getattr(self.store, f"get_{self.kind}s")
            return method(list_options, **options)  # type: ignore[no-any-return]
        if self.scope == "type":
            method = getattr(self.store, f"get_{self.kind}s_by_type")
            return method("Listed", None, list_options, **options)  # type: ignore[no-any-return]
        method = getattr(self.store, f"get_{self.kind}s_by_context")
        return method(self.context_id, list_options, **options)  # type: ignore[no-any-return]

    def walk(self, limit: int | None, **options: Any) -> list[int]:
        """The ids of every page of a listing, checking page sizes."""
        ids: list[int] = []
        token = None
        for _ in range(1000):
            page = self.list(limit=limit, page_token=token, **options)
            if limit:
                assert len(page) <= limit
            ids += [n.id for n in page]
            token = page.next_page_token
            if token is None:
                return ids
            assert len(page) == limit, "a page before the last one is short"
        raise AssertionError("paging does not end")

    def nodes(self) -> list[Any]:
        return list(self.list())


LISTINGS = [
    ("artifact", "all"),
    ("execution", "all"),
    ("context", "all"),
    ("artifact", "type"),
    ("execution", "type"),
    ("context", "type"),
    ("artifact", "context"),
    ("execution", "context"),
]


@pytest.fixture(params=LISTINGS, ids=[f"{k}s-{s}" for k, s in LISTINGS])
def listing(request: pytest.FixtureRequest, store: m.MetadataStore) -> Listing:
    kind, scope = request.param
    return Listing(store, kind, scope)


def fill(listing: Listing) -> list[int]:
    """Nodes with the MIXED custom values (in two calls), declared accuracies with ties and gaps,
    and noise outside the listing's scope."""
    rows = []
    for i, value in enumerate(MIXED):
        custom = {} if value is None else {"v": value}
        props: dict[str, Any] = {} if i % 5 == 4 else {"acc": [0.5, 0.9, 0.1, 0.9][i % 4]}
        rows.append({"properties": props, "custom_properties": custom})
    ids = listing.add(rows[:11]) + listing.add(rows[11:])
    if listing.scope != "all":
        listing.add([{"custom_properties": {"v": 1}, "properties": {"acc": 0.7}}] * 3, inside=False)
    return ids


def custom_v(node: Any) -> Any:
    return node.custom_properties.get("v")


def accuracy(node: Any) -> Any:
    return node.properties.get("acc")


# ------------------------------------------------------------------------------------- ordering


@pytest.mark.store_semantics
@pytest.mark.parametrize("ascending", [True, False], ids=["asc", "desc"])
def test_mixed_custom_values_order_and_page_as_documented(
    listing: Listing, ascending: bool
) -> None:
    fill(listing)
    expected = expected_order(listing.nodes(), custom_v, ascending)
    for limit in (None, 1, 2, 7):
        got = listing.walk(limit, order_by="custom_properties.v", ascending=ascending)
        assert got == expected, f"limit {limit}"


@pytest.mark.store_semantics
@pytest.mark.parametrize("ascending", [True, False], ids=["asc", "desc"])
def test_a_declared_property_orders_with_ties_by_id_and_missing_last(
    listing: Listing, ascending: bool
) -> None:
    fill(listing)
    nodes = listing.nodes()
    expected = expected_order(nodes, accuracy, ascending)
    missing = [n.id for n in nodes if "acc" not in n.properties]
    assert missing and expected[-len(missing) :] == sorted(missing, reverse=not ascending)
    for limit in (None, 2, 7):
        assert listing.walk(limit, order_by="properties.acc", ascending=ascending) == expected


@pytest.mark.parametrize("ascending", [True, False], ids=["asc", "desc"])
def test_long_strings_order_by_their_first_255_characters(
    store: m.MetadataStore, ascending: bool
) -> None:
    listing = Listing(store, "artifact", "all")
    # MySQL sorts text by its first 1024 bytes only: these agree in 1100 bytes, then differ.
    shared = "é" * 550
    values = [shared + c for c in "dbca"] + ["é" * 254 + "f", "é" * 254 + "a" * 900, "é" * 256]
    listing.add([{"custom_properties": {"s": v}} for v in values])
    expected = expected_order(listing.nodes(), lambda n: n.custom_properties["s"], ascending)
    for limit in (None, 1, 3):
        assert listing.walk(limit, order_by="custom_properties.s", ascending=ascending) == expected
    ties = [n.id for n in listing.nodes() if n.custom_properties["s"].startswith(shared)]
    assert [i for i in expected if i in ties] == sorted(ties, reverse=not ascending)


def test_the_best_run_is_one_call(store: m.MetadataStore) -> None:
    listing = Listing(store, "execution", "all")
    ids = listing.add([{"properties": {"acc": a}} for a in (0.71, 0.93, 0.88, 0.93)])
    listing.add([{"properties": {}}])
    best = store.get_executions(order_by="properties.acc", ascending=False, limit=1)
    assert [e.id for e in best] == [ids[3]]  # the later of the two 0.93 runs: ties by id
    worst = store.get_executions(order_by="properties.acc", limit=1)
    assert [e.properties["acc"] for e in worst] == [0.71]


def test_property_order_combines_with_a_filter(listing: Listing) -> None:
    fill(listing)
    query = "properties.acc >= 0.5"
    matching = [n for n in listing.nodes() if n.properties.get("acc", 0) >= 0.5]
    for ascending in (True, False):
        expected = expected_order(matching, custom_v, ascending)
        options = {"order_by": "custom_properties.v", "ascending": ascending}
        assert listing.walk(3, filter_query=query, **options) == expected
        assert [n.id for n in listing.list(filter_query=query, **options)] == expected


def test_a_property_and_a_custom_property_of_the_same_name_are_different(
    store: m.MetadataStore,
) -> None:
    listing = Listing(store, "artifact", "all")
    ids = listing.add(
        [
            {"properties": {"label": "b"}, "custom_properties": {"label": "z"}},
            {"properties": {"label": "a"}},
            {"custom_properties": {"label": "a"}},
        ]
    )
    assert [a.id for a in store.get_artifacts(order_by="properties.label")] == [
        ids[1],
        ids[0],
        ids[2],
    ]
    assert [a.id for a in store.get_artifacts(order_by="custom_properties.label")] == [
        ids[2],
        ids[0],
        ids[1],
    ]


def test_an_unknown_property_lists_everything_by_id(listing: Listing) -> None:
    ids = fill(listing)
    assert listing.walk(4, order_by="properties.nothing") == sorted(ids)
    assert listing.walk(4, order_by="properties.nothing", ascending=False) == sorted(
        ids, reverse=True
    )


def test_property_names_with_dots_and_spaces(store: m.MetadataStore) -> None:
    listing = Listing(store, "artifact", "all")
    ids = listing.add([{"custom_properties": {"a.b c": v}} for v in (2, 1, 3)])
    got = [a.id for a in store.get_artifacts(order_by="custom_properties.a.b c")]
    assert got == [ids[1], ids[0], ids[2]]
    assert [a.id for a in store.get_artifacts(order_by="custom_properties.a")] == ids


def test_list_options_take_a_property_order(store: m.MetadataStore) -> None:
    listing = Listing(store, "artifact", "type")
    ids = listing.add([{"properties": {"acc": v}} for v in (0.2, 0.8, 0.5)])
    options = m.ListOptions(order_by="properties.acc", is_asc=False, limit=2)
    first = listing.list(options)
    assert [a.id for a in first] == [ids[1], ids[2]]
    options.page_token = first.next_page_token
    assert [a.id for a in listing.list(options)] == [ids[0]]
    # prefixes are case-insensitive, property names are not
    assert [a.id for a in store.get_artifacts(order_by="PROPERTIES.acc")] == [
        ids[0],
        ids[2],
        ids[1],
    ]
    assert [a.id for a in store.get_artifacts(order_by="properties.ACC")] == ids


def test_a_big_remainder_after_a_token_is_listed_whole(store: m.MetadataStore) -> None:
    listing = Listing(store, "artifact", "all")
    count = 1100  # beyond one IN list: the rest's properties are read with the same conditions
    listing.add([{"custom_properties": {"v": i % 97, "i": i}} for i in range(count)])
    first = store.get_artifacts(order_by="custom_properties.v", ascending=False, limit=5)
    rest = store.get_artifacts(
        order_by="custom_properties.v", ascending=False, page_token=first.next_page_token
    )
    nodes = [*first, *rest]
    assert rest.next_page_token is None
    assert [a.id for a in nodes] == expected_order(nodes, custom_v, False)
    assert len({a.id for a in nodes}) == count
    assert all(a.custom_properties["v"] == a.custom_properties["i"] % 97 for a in rest)


def test_paging_by_a_property_is_stable_while_nodes_are_added(listing: Listing) -> None:
    initial = fill(listing)
    seen: list[int] = []
    token = None
    added = 0
    while True:
        page = listing.list(order_by="custom_properties.v", limit=4, page_token=token)
        seen += [n.id for n in page]
        token = page.next_page_token
        if token is None:
            break
        added += 1
        listing.add([{"custom_properties": {"v": added}}, {"custom_properties": {"v": "zz"}}])
    assert len(seen) == len(set(seen)), "a node was listed twice"
    assert set(initial) <= set(seen)
    assert [i for i in seen if i in set(initial)] == expected_order(
        [n for n in listing.nodes() if n.id in set(initial)], custom_v, True
    )


@pytest.mark.sql_only
def test_a_property_listing_costs_two_statements_per_page(
    store: m.MetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    listing = Listing(store, "artifact", "all")
    listing.add([{"custom_properties": {"v": i % 3, "w": i}} for i in range(60)])
    calls = count_statements(monkeypatch)
    page = store.get_artifacts(order_by="custom_properties.v", limit=25)
    assert len(calls) == 2  # the page, and the properties of its nodes
    store.get_artifacts(order_by="custom_properties.v", limit=25, page_token=page.next_page_token)
    assert len(calls) == 4


# ---------------------------------------------------------------------------------- bad options


def _decode(token: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))  # type: ignore[no-any-return]


def _encode(payload: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def test_a_token_only_pages_the_property_order_it_was_made_for(listing: Listing) -> None:
    fill(listing)
    token = listing.list(order_by="custom_properties.v", limit=3).next_page_token
    assert token is not None
    for other in (
        {"order_by": "custom_properties.w"},
        {"order_by": "properties.v"},
        {"order_by": "custom_properties.v", "ascending": False},
        {"order_by": "id"},
    ):
        with pytest.raises(InvalidArgumentError, match="page_token"):
            listing.list(limit=3, page_token=token, **other)
    id_token = listing.list(limit=3).next_page_token
    with pytest.raises(InvalidArgumentError, match="page_token"):
        listing.list(order_by="custom_properties.v", limit=3, page_token=id_token)


def bad_keys() -> Iterator[Any]:
    yield from [None, 3, "x", [], [0], [0, "x"], [1, 2], [2, "yes"], [5, None], [-1, None]]
    yield from [[True, 1], [3, 1], [4, "x"], [0, None], [1, None], [0, True], [0, 1, 2]]


def test_a_token_with_a_forged_key_is_refused(store: m.MetadataStore) -> None:
    listing = Listing(store, "artifact", "all")
    listing.add([{"custom_properties": {"v": i}} for i in range(5)])
    token = store.get_artifacts(order_by="custom_properties.v", limit=2).next_page_token
    assert token is not None
    payload = _decode(token)
    assert payload["v"] == [0, 1]
    for key in bad_keys():
        forged = _encode({**payload, "v": key})
        with pytest.raises(InvalidArgumentError, match="page_token"):
            store.get_artifacts(order_by="custom_properties.v", limit=2, page_token=forged)
    # a well-formed key of another kind of value is a valid place to continue from
    later = _encode({**payload, "v": [1, "a"]})
    assert store.get_artifacts(order_by="custom_properties.v", page_token=later) == []


@pytest.mark.parametrize(
    "order", ["properties.", "custom_properties.", "properties." + "x" * 256, "property.x"]
)
def test_a_bad_property_order_is_refused(store: m.MetadataStore, order: str) -> None:
    with pytest.raises(InvalidArgumentError, match="order_by") as raised:
        store.get_artifacts(order_by=order)
    assert "properties.<name>" in str(raised.value) or "property name" in str(raised.value)


def test_a_bad_filter_with_a_property_order_is_a_syntax_error(store: m.MetadataStore) -> None:
    with pytest.raises(QuerySyntaxError):
        store.get_artifacts(order_by="properties.acc", filter_query="acc >")
