"""Caches of parsed filters, compiled filters and their statements are bounded by size.

Many distinct large filters must not pin memory: each cache weighs its entries by the length of
the filter text, drops the least recently used past its total, and keeps no entry above its
per-entry bound.
"""

from __future__ import annotations

import gc
import os
import tracemalloc

import mltrail as m
from mltrail._lru import SizedLRU
from mltrail.backends.sql.fast import StatementCache, key_weight
from mltrail.backends.sql.schema import TypeKind
from mltrail.query import _parse, filters
from mltrail.query.filters import FilterShape, analyze
from mltrail.store import _listing


def filter_text(seed: int, size: int) -> str:
    """A filter of about ``size`` characters (a few long strings) whose shape follows ``seed``."""
    count = 2 + seed % 5
    head = f"custom_properties.p{seed % 7} = {seed}"
    body = str(seed) * ((size - len(head)) // (count * len(str(seed))) - 4)
    return " OR ".join([head, *(f"name = '{body}{i}'" for i in range(count))])


def test_the_lru_drops_the_least_recently_used_by_weight() -> None:
    cache: SizedLRU[str, int] = SizedLRU(max_total=10, max_entry=6, max_count=3)
    cache.put("a", 1, 4)
    cache.put("b", 2, 4)
    assert cache.get("a") == 1  # b is now the least recently used
    cache.put("c", 3, 4)  # 12 > 10: b goes
    assert (cache.get("b"), cache.get("a"), cache.get("c"), cache.total) == (None, 1, 3, 8)
    cache.put("big", 4, 7)  # heavier than one entry may be: not kept, nothing dropped
    assert (cache.get("big"), len(cache), cache.total) == (None, 2, 8)
    cache.put("a", 5, 2)  # replacing re-weighs
    assert (cache.get("a"), cache.total) == (5, 6)
    for key in "wxyz":
        cache.put(key, 0, 1)
    assert len(cache) == 3 and cache.total == 3  # at most max_count entries
    cache.clear()
    assert (len(cache), cache.total) == (0, 0)


def test_statement_keys_weigh_their_filter_shapes() -> None:
    shape = FilterShape("digest", 500)
    assert key_weight(("x", shape, None, FilterShape("other", 20))) == 521
    assert key_weight("plain") == 1
    # Shapes compare by digest: equal shapes of texts of other lengths share statements.
    assert shape == FilterShape("digest", 9) and hash(shape) == hash(FilterShape("digest", 9))
    statements = StatementCache(4, max_weight=1_000, max_entry=600)
    from sqlalchemy import select

    from mltrail.backends.sql import schema

    def build() -> object:
        return select(schema.artifact.c.id)

    first = statements.get(("k", shape), build)  # type: ignore[arg-type]
    assert statements.get(("k", shape), build) is first  # type: ignore[arg-type]
    statements.get(("k2", FilterShape("d2", 600)), build)  # type: ignore[arg-type]
    assert statements.weight == 501  # 601 would pass 1,000 together: the first was dropped
    statements.get(("k3", FilterShape("d3", 700)), build)  # type: ignore[arg-type]
    assert statements.weight == 501 and len(statements) == 1  # too heavy to keep


def test_parse_and_analyze_caches_stay_within_their_bounds() -> None:
    trees, compiled = _parse._TREES, filters._COMPILED
    for seed in range(60):
        text = filter_text(seed, 4_000)
        assert analyze(TypeKind.ARTIFACT, text) is analyze(TypeKind.ARTIFACT, text)
        assert trees.total <= trees.max_total and compiled.total <= compiled.max_total
    held = [len(key[1]) for key in compiled._items]
    assert sum(held) == compiled.total and len(held) < 20
    # Texts above the per-entry bound are compiled every time, never held.
    long_text = filter_text(99, 9_000)
    assert analyze(TypeKind.ARTIFACT, long_text) is not analyze(TypeKind.ARTIFACT, long_text)
    assert all(key[1] != long_text for key in compiled._items)
    # Small filters are still served from the cache.
    assert analyze(TypeKind.ARTIFACT, "name = 'x'") is analyze(TypeKind.ARTIFACT, "name = 'x'")


#: Where a filter's compiled forms are allocated: the traces counted by :func:`_held`. Other
#: threads of the process (the test runner's messaging, event loops of earlier tests) allocate
#: elsewhere, and their memory is not the caches'.
_CACHE_CODE = [
    tracemalloc.Filter(True, f"*{os.sep}{name}{os.sep}*")
    for name in ("mltrail", "lark", "sqlalchemy")
]


def _held() -> int:
    """Bytes held by allocations made in mltrail, Lark or SQLAlchemy code."""
    snapshot = tracemalloc.take_snapshot().filter_traces(_CACHE_CODE)
    return sum(stat.size for stat in snapshot.statistics("filename"))


def test_memory_stops_growing_once_the_caches_are_full() -> None:
    """Compiling distinct large filters: after the caches fill, memory no longer grows."""
    analyze(TypeKind.ARTIFACT, "name = 'warm-up'")
    texts = [filter_text(seed, 4_000) for seed in range(2_000, 2_040)]
    gc.collect()
    tracemalloc.start()
    try:
        start = _held()
        for text in texts[:20]:
            analyze(TypeKind.ARTIFACT, text)
        gc.collect()
        full = _held()
        for text in texts[20:]:
            analyze(TypeKind.ARTIFACT, text)
        gc.collect()
        end = _held()
    finally:
        tracemalloc.stop()
    # Holding every filter, the second 20 would take as much again as the first 20.
    assert end - full < (full - start) / 4, (start, full, end)


def test_listing_statements_stay_within_their_bound(store: m.MetadataStore) -> None:
    kind = store.put_artifact_type(m.ArtifactType(name="T"))
    store.put_artifacts([m.Artifact(type_id=kind, name="0-0")])
    listings = _listing._LISTINGS
    for seed in range(1_000, 1_040):
        assert store.get_artifacts(filter_query=filter_text(seed, 7_900)) == []
        assert listings.weight <= 1 << 17
    # 40 distinct statements of ~8k characters each would weigh 320k: the oldest went.
    assert len(listings) < 40
