"""The one cache type of the search core: a thread-safe least-recently-used map.

Query vectors, ranked lists and spelling corrections all use it, so every
cache has the same locking, eviction and statistics, and one
``SearchEngine.clear_caches()`` empties them all.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

import numpy as np

from ..encoders.base import ProjectingEncoder, TextEncoder

K = TypeVar("K")
V = TypeVar("V")


class LRUCache(Generic[K, V]):
    """A thread-safe LRU map; values are computed outside the lock (``size`` 0 keeps nothing)."""

    def __init__(self, size: int) -> None:
        """Keep at most ``size`` entries."""
        self.size = max(0, int(size))
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get_or_compute(self, key: K, compute: Callable[[], V]) -> V:
        """The cached value of ``key``, or ``compute()`` stored as it (slow work unlocked)."""
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                self.hits += 1
                return self._data[key]
            self.misses += 1
        value = compute()
        if self.size:
            with self._lock:
                self._data[key] = value
                self._data.move_to_end(key)
                while len(self._data) > self.size:
                    self._data.popitem(last=False)
        return value

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` has a value now (neither a hit nor a miss)."""
        with self._lock:
            return key in self._data

    def clear(self) -> None:
        """Forget every entry (the statistics stay)."""
        with self._lock:
            self._data.clear()

    def info(self) -> dict[str, int]:
        """Hits, misses, current and maximum size."""
        with self._lock:
            return {
                "hits": self.hits,
                "misses": self.misses,
                "size": len(self._data),
                "maxsize": self.size,
            }


class QueryVectorCache(LRUCache[tuple[str, str], np.ndarray]):
    """Query vectors per (encoder identity, understood text): the only query-vector cache."""

    def __init__(self, size: int = 4096) -> None:
        """Keep at most ``size`` vectors."""
        super().__init__(size)

    def encode(self, encoder: TextEncoder, text: str) -> np.ndarray:
        """The vector of ``text`` under ``encoder``, computed once per LRU lifetime.

        An encoder that projects another one's vectors (``base`` + ``project_query``, the
        trained cross-modal heads) projects the base vector from this cache, so a query
        is encoded once per model. The cached array is shared between requests, so it is
        made read-only.
        """

        def compute() -> np.ndarray:
            if isinstance(encoder, ProjectingEncoder):
                vector = encoder.project_query(self.encode(encoder.base, text))
            else:
                vector = encoder.encode_query(text)
            vector.setflags(write=False)
            return vector

        return self.get_or_compute((encoder.model_id, text), compute)


#: at most this many other models encode a query beside the request's own thread
ENCODE_THREADS = 2
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _encode_pool() -> ThreadPoolExecutor:
    """The process's small pool for encoding side by side (made on first use, and again
    in a forked child: :func:`_forget_pool`)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(ENCODE_THREADS, thread_name_prefix="encode")
        return _pool


def _forget_pool() -> None:
    """In a forked child (a gunicorn worker forked from the master that answered the
    priming query) the pool's threads do not exist, yet its idle count says they wait:
    work handed to it would never run. The child makes its own pool on first use."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


def prefetch(cache: QueryVectorCache, encoders: Sequence[TextEncoder], text: str) -> None:
    """Encode ``text`` into ``cache`` with every distinct model that has no vector for it
    yet, side by side: ONNX Runtime, torch, numpy's BLAS and FAISS release the GIL, so a
    query pays about the slowest encoder instead of their sum. Encoders that project
    another one's vector (``base``) are left to :meth:`QueryVectorCache.encode`, which
    then finds their base here. The vectors are the ones each encoder gives alone."""
    pending: dict[tuple[str, str], TextEncoder] = {}
    for encoder in encoders:
        key = (encoder.model_id, text)
        if not isinstance(encoder, ProjectingEncoder) and key not in pending and key not in cache:
            pending[key] = encoder
    if len(pending) < 2:
        return
    first, *others = pending.values()
    futures = [_encode_pool().submit(cache.encode, encoder, text) for encoder in others]
    try:
        cache.encode(first, text)
    finally:
        for future in futures:
            future.result()
