"""A small least-recently-used map, for the caches of the engine (prompt setups, prompt states, results) and of the
sentence-embedding readers (folder sets, corrections). Not thread-safe: callers lock."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    """At most ``capacity`` entries (0: none are kept); ``on_evict`` is called with each value pushed out."""

    def __init__(self, capacity: int, on_evict: Callable[[V], object] | None = None) -> None:
        self.capacity = capacity
        self._items: OrderedDict[K, V] = OrderedDict()
        self._on_evict = on_evict

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        if self.capacity <= 0:
            return
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            _, old = self._items.popitem(last=False)
            if self._on_evict is not None:
                self._on_evict(old)

    def clear(self) -> None:
        while self._items:
            _, old = self._items.popitem(last=False)
            if self._on_evict is not None:
                self._on_evict(old)

    def __len__(self) -> int:
        return len(self._items)
