"""The Milvus back-end: one collection per space, searched exactly (FLAT, inner product).

The same code serves Milvus Lite (a local ``….db`` file: tests and development, one
process) and a Milvus server or cluster (``http://host:19530``: production, shared
by every worker). ``flask --app webapp index`` fills the collections
(:func:`open_milvus` with ``sync=True``); the server only checks them and fails fast
with :class:`IndexUnavailable` when one is missing, incomplete or unreachable.

The shopper's filters become a Milvus filter expression (string literals escaped),
so Milvus narrows before it ranks; returned product ids map back to catalogue rows.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
from pymilvus import MilvusClient, MilvusException

from ..catalog.embedding_cache import EmbeddingCache
from ..catalog.facets import Facets, Filters
from ..catalog.products import Product
from .base import IndexUnavailable, Where
from .milvus_sync import SyncReport, collection_name, sync

log = logging.getLogger(__name__)

INDEX_HINT = "flask --app webapp index"
#: Milvus answers at most this many results per search; a larger ``k`` is answered
#: by an exact scan of the vectors in memory
MAX_TOPK = 16_384
#: characters a Milvus string literal must escape (raw newlines end the literal)
_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"})


class MilvusIndex:
    """One space's vectors in a Milvus collection, searchable with the shop's filters."""

    def __init__(
        self,
        client: MilvusClient,
        space: str,
        products: Sequence[Product],
        cache: EmbeddingCache,
        *,
        uri: str = "",
        timeout: float | None = None,
    ) -> None:
        """Serve ``cache``'s vectors of ``space`` (row i = ``products[i]``) from ``client``."""
        if list(cache.ids) != [p.id for p in products]:
            raise ValueError(f"{space}: the cache's ids are not the catalogue's, in order")
        self.client = client
        self.uri = uri
        self.timeout = timeout
        self.collection = collection_name(space)
        self.products = products
        self.dim = int(cache.dim)
        #: the cache matrix, row-aligned with the catalogue (for exact uses: statistics)
        self.vectors = cache.vectors
        self._cache = cache
        self._row = {p.id: row for row, p in enumerate(products)}
        self._facets = Facets(products)
        #: what the last :meth:`sync` did (None before one)
        self.last_sync: SyncReport | None = None

    def __len__(self) -> int:
        """Number of catalogue items the collection serves."""
        return len(self.products)

    def describe(self) -> dict[str, Any]:
        """Back-end, where it lives (no credentials), collection and size."""
        return {
            "index": "milvus",
            "uri": public_uri(self.uri),
            "collection": self.collection,
            "items": len(self),
        }

    # -- building and readiness ---------------------------------------------------------
    def sync(self) -> SyncReport:
        """Upsert what changed since the last sync, delete what left, flush and load."""
        with unavailable_on_error(self.uri):
            self.last_sync = sync(self.client, self.collection, self.products, self._cache)
        return self.last_sync

    def check(self, expected_count: int | None = None) -> None:
        """Raise :class:`IndexUnavailable` unless the collection exists and holds
        ``expected_count`` entities (the catalogue's size by default); then load it."""
        expected = len(self) if expected_count is None else expected_count
        with unavailable_on_error(self.uri):
            if not self.client.has_collection(self.collection, timeout=self.timeout):
                raise IndexUnavailable(
                    f"Milvus collection {self.collection} is missing; run `{INDEX_HINT}`"
                )
            stats = self.client.get_collection_stats(self.collection, timeout=self.timeout)
            held = int(stats.get("row_count", -1))
            if held != expected:
                raise IndexUnavailable(
                    f"Milvus collection {self.collection} holds {held} items, the catalogue "
                    f"{expected}; run `{INDEX_HINT}`"
                )
            self.client.load_collection(self.collection, timeout=self.timeout)

    # -- searching ----------------------------------------------------------------------
    def search(
        self, query: np.ndarray, k: int, where: Where | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows and cosines of the ``k`` items nearest to ``query`` among those
        ``where`` keeps (all when None), best first."""
        k = min(k, len(self) if where is None else where.count)
        if k <= 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        if k > MAX_TOPK:
            return self._scan(query, k, where)
        with unavailable_on_error(self.uri):
            hits = self.client.search(
                self.collection,
                data=[query.tolist()],
                limit=k,
                filter=self.expression(where),
                output_fields=["id"],
                search_params={"metric_type": "IP"},
                anns_field="vector",
                timeout=self.timeout,
            )[0]
        try:
            rows = np.array([self._row[hit["id"]] for hit in hits], np.int64)
        except KeyError as exc:
            raise IndexUnavailable(
                f"Milvus collection {self.collection} holds id {exc} that is not in the "
                f"catalogue; run `{INDEX_HINT}`"
            ) from None
        return rows, np.array([hit["distance"] for hit in hits], np.float32)

    def expression(self, where: Where | None) -> str:
        """The Milvus filter expression that keeps exactly the rows ``where`` keeps."""
        if where is None:
            return ""
        kept = self._facets.mask(where.filters)
        kept[list(where.exclude)] = False
        if not np.array_equal(kept, where.mask):  # a mask the filters do not describe
            return f"id in {_string_list(self.products[r].id for r in where.rows)}"
        terms = filter_terms(where.filters)
        if where.exclude:
            ids = _string_list(self.products[r].id for r in sorted(set(where.exclude)))
            terms.append(f"id not in {ids}")
        return " and ".join(terms)

    def _scan(
        self, query: np.ndarray, k: int, where: Where | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact top ``k`` over the vectors in memory (beyond Milvus's ``MAX_TOPK``)."""
        rows = np.arange(len(self)) if where is None else where.rows
        scores = self.vectors[rows] @ query
        best = np.argsort(-scores, kind="stable")[:k]
        return rows[best].astype(np.int64), scores[best].astype(np.float32)


def filter_terms(filters: Filters) -> list[str]:
    """The shopper's filters as Milvus boolean terms (to be joined with ``and``)."""
    terms = []
    if filters.category:
        terms.append(f"category == {string_literal(filters.category)}")
    if filters.price_min is not None:
        terms.append(f"price >= {int(filters.price_min)}")
    if filters.price_max is not None:
        terms.append(f"price <= {int(filters.price_max)}")
    return terms


def string_literal(text: str) -> str:
    """``text`` as a double-quoted Milvus string literal: quotes, backslashes and line
    breaks escaped, so no value can end the literal or change the expression."""
    return '"' + str(text).translate(_ESCAPES) + '"'


def _string_list(values: Iterator[str]) -> str:
    """A Milvus list literal of strings."""
    return "[" + ", ".join(string_literal(v) for v in values) + "]"


def public_uri(uri: str) -> str:
    """``uri`` without user name, password or query (safe to show on ``/readyz``)."""
    parts = urlsplit(uri)
    if not parts.netloc:
        return uri
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@contextmanager
def unavailable_on_error(uri: str) -> Iterator[None]:
    """Turn Milvus client and connection failures into :class:`IndexUnavailable`."""
    try:
        yield
    except MilvusException as exc:
        raise IndexUnavailable(
            f"Milvus at {public_uri(uri)} failed: {getattr(exc, 'message', exc)}; "
            f"check VECTOR_BACKEND_URI and run `{INDEX_HINT}`"
        ) from None


def connect(uri: str, *, timeout: float = 10.0, token: str = "") -> MilvusClient:
    """A client for ``uri``: a local ``….db`` file (Milvus Lite) or ``http://host:19530``."""
    with unavailable_on_error(uri):
        return MilvusClient(uri=uri, token=token, timeout=timeout)


def open_milvus(
    uri: str,
    space: str,
    products: Sequence[Product],
    cache: EmbeddingCache,
    *,
    timeout: float = 10.0,
    sync: bool = False,
    token: str = "",
) -> MilvusIndex:
    """A ready :class:`MilvusIndex` for ``space``.

    ``sync=True`` (the ``index`` command) brings the collection in step with the
    catalogue and cache first; ``sync=False`` (serving) only checks that it holds the
    catalogue's count of items and loads it. Either raises :class:`IndexUnavailable`,
    never a raw client error, when Milvus is unreachable or the collection is not ready.
    """
    index = MilvusIndex(
        connect(uri, timeout=timeout, token=token), space, products, cache, uri=uri, timeout=timeout
    )
    if sync:
        index.sync()
    index.check()
    return index
