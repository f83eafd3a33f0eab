"""Listings: limit, order, direction and keyset page tokens, for every call that lists nodes.

Every test runs against each listing source: all artifacts/executions/contexts, the members of a
context and the nodes of a type. Scoped sources also hold rows outside their scope, which must
never show up. Expected orders are computed from the timestamps the store returned.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest

import mltrail as m
from mltrail.errors import InvalidArgumentError

# The remote client is exercised on one server here (one_remote, see tests/conftest.py).
pytestmark = pytest.mark.one_remote

Order = m.OrderByField


class Source:
    """Something that lists nodes, and a way to add nodes inside (and outside) its scope."""

    kind = "artifact"
    scoped = False

    def __init__(self, store: m.MetadataStore) -> None:
        self.store = store
        self._names = itertools.count()
        self.type_id = self._put_type("Listed")
        self.noise_type_id = self._put_type("Noise")

    def _put_type(self, name: str, version: str | None = None) -> int:
        cls = {"artifact": m.ArtifactType, "execution": m.ExecutionType, "context": m.ContextType}
        return int(
            getattr(self.store, f"put_{self.kind}_type")(cls[self.kind](name=name, version=version))
        )

    def _new(self, type_id: int) -> Any:
        cls = {"artifact": m.Artifact, "execution": m.Execution, "context": m.Context}[self.kind]
        return cls(type_id=type_id, name=f"{self.kind}-{next(self._names)}")

    def _put(self, type_id: int, n: int) -> list[int]:
        nodes = [self._new(type_id) for _ in range(n)]
        return list(getattr(self.store, f"put_{self.kind}s")(nodes))

    def add(self, n: int) -> list[int]:
        """Add ``n`` nodes inside the scope (one call); returns their ids."""
        return self._put(self.type_id, n)

    def add_noise(self, n: int) -> None:
        """Add nodes of the same kind outside the scope (nothing for unscoped sources)."""

    def list(self, list_options: m.ListOptions | None = None, **options: Any) -> m.ResultPage[Any]:
        return getattr(self.store, f"get_{self.kind}s")(list_options, **options)  # type: ignore[no-any-return]

    def by_id(self, ids: list[int]) -> list[Any]:
        return list(getattr(self.store, f"get_{self.kind}s_by_id")(ids))

    def touch(self, ids: list[int]) -> None:
        """Change the nodes so their update times move."""
        nodes = self.by_id(ids)
        for node in nodes:
            node.custom_properties["touched"] = True
        getattr(self.store, f"put_{self.kind}s")(nodes)

    def other_scope(self) -> Source | None:
        """A source of the same call over another scope (for token mix-ups), if there is one."""
        return None


class Artifacts(Source):
    kind = "artifact"


class Executions(Source):
    kind = "execution"


class Contexts(Source):
    kind = "context"


class ByType(Source):
    scoped = True
    version: str | None = None

    def __init__(self, store: m.MetadataStore) -> None:
        super().__init__(store)
        if self.version is not None:
            self.type_id = self._put_type("Listed", self.version)
        self.type_name = "Listed"

    def add_noise(self, n: int) -> None:
        self._put(self.noise_type_id, n)
        if self.version is not None:
            unversioned = self._put_type("Listed")
            self._put(unversioned, n)

    def list(self, list_options: m.ListOptions | None = None, **options: Any) -> m.ResultPage[Any]:
        method = getattr(self.store, f"get_{self.kind}s_by_type")
        return method(self.type_name, self.version, list_options, **options)  # type: ignore[no-any-return]

    def other_scope(self) -> Source:
        other = type(self).__new__(type(self))
        other.__dict__.update(self.__dict__)
        other.type_name = "Noise"
        other.version = None
        return other


class ArtifactsByType(ByType):
    kind = "artifact"


class ArtifactsByVersionedType(ByType):
    kind = "artifact"
    version = "v2"


class ExecutionsByType(ByType):
    kind = "execution"


class ContextsByType(ByType):
    kind = "context"


class ByContext(Source):
    scoped = True

    def __init__(self, store: m.MetadataStore) -> None:
        super().__init__(store)
        ct = store.put_context_type(m.ContextType(name="Holder"))
        self.context_id, self.other_context_id = store.put_contexts(
            [m.Context(type_id=ct, name="holder"), m.Context(type_id=ct, name="other-holder")]
        )

    def _link(self, context_id: int, ids: list[int]) -> None:
        if self.kind == "artifact":
            self.store.put_attributions_and_associations(
                [m.Attribution(artifact_id=i, context_id=context_id) for i in ids], []
            )
        else:
            self.store.put_attributions_and_associations(
                [], [m.Association(execution_id=i, context_id=context_id) for i in ids]
            )

    def add(self, n: int) -> list[int]:
        ids = self._put(self.type_id, n)
        self._link(self.context_id, ids)
        return ids

    def add_noise(self, n: int) -> None:
        self._link(self.other_context_id, self._put(self.type_id, n))
        self._put(self.noise_type_id, n)

    def list(self, list_options: m.ListOptions | None = None, **options: Any) -> m.ResultPage[Any]:
        method = getattr(self.store, f"get_{self.kind}s_by_context")
        return method(self.context_id, list_options, **options)  # type: ignore[no-any-return]

    def other_scope(self) -> Source:
        other = type(self).__new__(type(self))
        other.__dict__.update(self.__dict__)
        other.context_id = self.other_context_id
        return other


class ArtifactsByContext(ByContext):
    kind = "artifact"


class ExecutionsByContext(ByContext):
    kind = "execution"


SOURCES = [
    Artifacts,
    Executions,
    Contexts,
    ArtifactsByType,
    ArtifactsByVersionedType,
    ExecutionsByType,
    ContextsByType,
    ArtifactsByContext,
    ExecutionsByContext,
]


@pytest.fixture(params=SOURCES, ids=[s.__name__ for s in SOURCES])
def source(request: pytest.FixtureRequest, store: m.MetadataStore) -> Source:
    return request.param(store)  # type: ignore[no-any-return]


def populate(source: Source, batches: list[int]) -> list[int]:
    """Add rows in several calls (so create times may differ), noise between them, and touch a
    few rows (so update times differ from create times). Returns the ids in scope."""
    ids: list[int] = []
    for size in batches:
        ids += source.add(size)
        source.add_noise(2)
    source.touch(ids[::7])
    return ids


def sort_key(order: Order) -> Callable[[Any], tuple[int, ...]]:
    if order is Order.ID:
        return lambda n: (n.id,)
    if order is Order.CREATE_TIME:
        return lambda n: (n.create_time_since_epoch, n.id)
    return lambda n: (n.last_update_time_since_epoch, n.id)


def expected_order(source: Source, ids: list[int], order: Order, ascending: bool) -> list[int]:
    nodes = sorted(source.by_id(ids), key=sort_key(order), reverse=not ascending)
    return [n.id for n in nodes]


def walk(
    source: Source,
    limit: int,
    between_pages: Callable[[], None] | None = None,
    **options: Any,
) -> list[list[int]]:
    """Every page of a listing, as lists of ids."""
    pages: list[list[int]] = []
    token = None
    while True:
        page = source.list(limit=limit, page_token=token, **options)
        assert len(page) <= limit
        pages.append([n.id for n in page])
        token = page.next_page_token
        if token is None:
            return pages
        assert len(pages) < 500, "paging does not end"
        if between_pages is not None:
            between_pages()


ORDER_NAMES = [
    ("id", Order.ID),
    ("create_time", Order.CREATE_TIME),
    ("update_time", Order.UPDATE_TIME),
    ("last_update_time", Order.UPDATE_TIME),
    ("ID", Order.ID),
]
#: Every order in both directions: a test walks them all over one population of its scope.
COMBINATIONS = [(order, ascending) for order in Order for ascending in (True, False)]


# -------------------------------------------------------------------------------------- basics


def test_without_options_everything_in_scope_is_listed_by_id(source: Source) -> None:
    ids = populate(source, [5, 10, 3])
    page = source.list()
    assert [n.id for n in page] == sorted(ids)
    assert page.next_page_token is None


def test_an_empty_scope_lists_nothing(source: Source) -> None:
    source.add_noise(3)
    page = source.list(limit=5)
    assert page == []
    assert page.next_page_token is None


def test_limit_order_and_direction(source: Source) -> None:
    ids = populate(source, [4, 9, 6])
    for order, ascending in COMBINATIONS:
        page = source.list(order_by=order, ascending=ascending, limit=5)
        expected = expected_order(source, ids, order, ascending)[:5]
        assert [n.id for n in page] == expected, (order, ascending)
        assert page.next_page_token is not None


def test_orders_may_be_given_by_name(store: m.MetadataStore) -> None:
    source = Artifacts(store)
    ids = populate(source, [4, 9, 6])
    for name, order in ORDER_NAMES:
        for ascending in (True, False):
            by_name = source.list(order_by=name, ascending=ascending, limit=7)
            expected = expected_order(source, ids, order, ascending)[:7]
            assert [n.id for n in by_name] == expected, (name, ascending)
            token = by_name.next_page_token
            assert source.list(order_by=order, ascending=ascending, page_token=token) == (
                source.list(order_by=name, ascending=ascending, page_token=token)
            ), (name, ascending)


@pytest.mark.store_semantics
def test_a_multi_page_walk_returns_every_row_exactly_once(source: Source) -> None:
    ids = populate(source, [90, 1, 120, 19])
    for order, ascending in COMBINATIONS:
        pages = walk(source, 17, order_by=order, ascending=ascending)
        assert [len(p) for p in pages] == [17] * 13 + [9], (order, ascending)  # 230 rows
        flat = [i for p in pages for i in p]
        assert flat == expected_order(source, ids, order, ascending), (order, ascending)


def test_a_scope_that_fills_the_last_page_exactly_has_no_empty_page(source: Source) -> None:
    populate(source, [10, 10])
    assert [len(p) for p in walk(source, 10)] == [10, 10]
    assert [len(p) for p in walk(source, 20)] == [20]


def test_the_page_size_may_change_between_pages(source: Source) -> None:
    ids = populate(source, [30])
    first = source.list(limit=4, order_by=Order.CREATE_TIME)
    second = source.list(limit=11, order_by=Order.CREATE_TIME, page_token=first.next_page_token)
    expected = expected_order(source, ids, Order.CREATE_TIME, True)
    assert [n.id for n in first] + [n.id for n in second] == expected[:15]


@pytest.mark.parametrize("limit", [None, 0])
def test_no_limit_lists_everything(source: Source, limit: int | None) -> None:
    ids = populate(source, [130, 20])
    page = source.list(limit=limit, order_by=Order.ID, ascending=False)
    assert [n.id for n in page] == sorted(ids, reverse=True)
    assert page.next_page_token is None


def test_list_options_and_keywords_are_equivalent(source: Source) -> None:
    ids = populate(source, [12, 8])
    via_object = source.list(m.ListOptions(limit=6, order_by=Order.UPDATE_TIME, is_asc=False))
    via_keywords = source.list(limit=6, order_by=Order.UPDATE_TIME, ascending=False)
    assert via_object == via_keywords
    assert via_object.next_page_token == via_keywords.next_page_token

    second = source.list(
        m.ListOptions(
            limit=6,
            order_by=Order.UPDATE_TIME,
            is_asc=False,
            page_token=via_object.next_page_token,
        )
    )
    expected = expected_order(source, ids, Order.UPDATE_TIME, False)
    assert [n.id for n in via_object] + [n.id for n in second] == expected[:12]


def test_keywords_override_the_list_options_object(source: Source) -> None:
    ids = populate(source, [9])
    page = source.list(
        m.ListOptions(limit=2, order_by=Order.ID, is_asc=True), limit=3, ascending=False
    )
    assert [n.id for n in page] == sorted(ids, reverse=True)[:3]


# -------------------------------------------------------------------------------------- tokens


def test_a_token_is_refused_with_other_order_or_direction(source: Source) -> None:
    populate(source, [10])
    token = source.list(limit=3, order_by=Order.CREATE_TIME, ascending=True).next_page_token
    assert token is not None
    with pytest.raises(InvalidArgumentError, match="page_token"):
        source.list(limit=3, order_by=Order.CREATE_TIME, ascending=False, page_token=token)
    with pytest.raises(InvalidArgumentError, match="page_token"):
        source.list(limit=3, order_by=Order.ID, ascending=True, page_token=token)
    with pytest.raises(InvalidArgumentError, match="page_token"):
        source.list(limit=3, order_by=Order.UPDATE_TIME, ascending=True, page_token=token)
    # the same options are fine
    assert len(source.list(limit=3, order_by="create_time", page_token=token)) == 3


def test_a_token_is_refused_by_another_listing(source: Source) -> None:
    populate(source, [10])
    token = source.list(limit=3).next_page_token
    other_kind = "execution" if source.kind == "artifact" else "artifact"
    with pytest.raises(InvalidArgumentError, match="page_token"):
        getattr(source.store, f"get_{other_kind}s")(limit=3, page_token=token)
    other_scope = source.other_scope()
    if other_scope is not None:
        with pytest.raises(InvalidArgumentError, match="page_token"):
            other_scope.list(limit=3, page_token=token)
    if source.scoped:
        with pytest.raises(InvalidArgumentError, match="page_token"):
            getattr(source.store, f"get_{source.kind}s")(limit=3, page_token=token)


def test_a_token_does_not_carry_over_between_look_alike_type_names(
    store: m.MetadataStore,
) -> None:
    first = store.put_artifact_type(m.ArtifactType(name="a:b"))
    second = store.put_artifact_type(m.ArtifactType(name="a", version="b:"))
    store.put_artifacts([m.Artifact(type_id=t) for t in (first, second) for _ in range(4)])
    token = store.get_artifacts_by_type("a:b", limit=2).next_page_token
    assert token is not None
    with pytest.raises(InvalidArgumentError, match="page_token"):
        store.get_artifacts_by_type("a", "b:", limit=2, page_token=token)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


GARBAGE_TOKENS = [
    "garbage",
    "!!!!",
    "a",
    _b64(b"not json"),
    _b64(b"{}"),
    _b64(b"[1, 2]"),
    _b64(json.dumps({"o": "id", "a": True, "q": "x", "v": 1, "i": "nope"}).encode()),
    _b64(b"\xff\xfe\xfd"),
]


def test_a_garbage_token_is_refused(source: Source) -> None:
    populate(source, [5])
    for token in GARBAGE_TOKENS:
        with pytest.raises(InvalidArgumentError, match="page_token"):
            source.list(limit=2, page_token=token)


def test_a_truncated_token_is_refused(source: Source) -> None:
    populate(source, [5])
    token = source.list(limit=2).next_page_token
    assert token is not None
    with pytest.raises(InvalidArgumentError, match="page_token"):
        source.list(limit=2, page_token=token[: len(token) // 2])


# ---------------------------------------------------------------------------------- bad options


def test_a_bad_limit_is_refused(source: Source) -> None:
    populate(source, [3])
    for limit in [-1, -100, "5", 2.5, True]:
        with pytest.raises(InvalidArgumentError, match="limit"):
            source.list(limit=limit)


def test_a_bad_order_is_refused(source: Source) -> None:
    populate(source, [3])
    for order in ["name", "uri", "", 3, None]:
        with pytest.raises(InvalidArgumentError, match="order_by"):
            source.list(m.ListOptions(order_by=order))


# ------------------------------------------------------------------------------------- stability


@pytest.mark.store_semantics
def test_paging_is_stable_while_rows_are_inserted(source: Source) -> None:
    """Every order in both directions, walked one after another over a scope that grows
    between pages (and between walks): each walk lists what was there when it began."""
    in_scope = populate(source, [25, 15])

    def insert_more() -> None:
        in_scope.extend(source.add(3))
        source.add_noise(1)

    for order, ascending in COMBINATIONS:
        initial = list(in_scope)
        limit = max(6, len(initial) // 7)  # about seven pages, however large the scope grew
        pages = walk(source, limit, between_pages=insert_more, order_by=order, ascending=ascending)
        seen = [i for p in pages for i in p]
        assert len(seen) == len(set(seen)), ("a row was listed twice", order, ascending)
        missing = set(initial) - set(seen)
        assert not missing, (
            f"{order} {ascending}: rows present from the start were skipped: {sorted(missing)}"
        )
        listed_initial = [i for i in seen if i in set(initial)]
        assert listed_initial == expected_order(source, initial, order, ascending), (
            order,
            ascending,
        )
