"""A least-recently-used cache bounded by the total size of its entries, not only their number.

Caches keyed by request text (filter queries, the statements compiled for them) must not let a
caller pin memory with many large distinct requests: each entry has a weight (about the bytes it
holds), entries heavier than ``max_entry`` are not kept, and the least recently used go once the
total passes ``max_total`` or the count passes ``max_count``.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SizedLRU(Generic[K, V]):
    """A thread-safe LRU map whose entries weigh what the caller says they weigh."""

    def __init__(self, *, max_total: int, max_entry: int, max_count: int = 1024) -> None:
        self.max_total = max_total
        self.max_entry = max_entry
        self.max_count = max_count
        self._items: collections.OrderedDict[K, tuple[V, int]] = collections.OrderedDict()
        self._total = 0
        self._lock = threading.Lock()

    @property
    def total(self) -> int:
        """The summed weight of the entries held."""
        return self._total

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: K) -> V | None:
        with self._lock:
            entry = self._items.get(key)
            if entry is None:
                return None
            self._items.move_to_end(key)
            return entry[0]

    def put(self, key: K, value: V, weight: int) -> None:
        """Keep ``value`` under ``key`` unless it weighs more than ``max_entry``."""
        if weight > self.max_entry:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._total -= old[1]
            self._items[key] = (value, weight)
            self._total += weight
            while self._items and (
                self._total > self.max_total or len(self._items) > self.max_count
            ):
                _, (_, dropped) = self._items.popitem(last=False)
                self._total -= dropped

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._total = 0
