"""The search service: one query's journey through every stage, timed.

understand → rank (encode, kNN, BM25, fuse, floor) → filter/sort/page →
catalogue lookup. The web layer and the CLI are thin shells over
:meth:`SearchEngine.search`; nothing here knows about requests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..catalog.products import Catalog, Product
from ..catalog.store import CatalogStore
from ..encoders.spaces import Space
from . import filters as flt
from .fusion import Fused
from .query import ParsedQuery, QueryUnderstanding, emoji_table
from .ranking import Ranker, RankingConfig
from .timing import Timer


@dataclass(frozen=True)
class SearchRequest:
    """What a shopper asked for."""

    query: str
    filters: flt.Filters = flt.Filters()
    sort: str = "relevance"
    page: int = 1
    per_page: int = 24


@dataclass(frozen=True)
class Hit:
    """One result: the product, its fused score and why it matched."""

    product: Product
    score: float
    why: dict[str, Any]


@dataclass
class SearchResult:
    """A page of results plus everything the page and the API show about it."""

    request: SearchRequest
    parsed: ParsedQuery | None
    total: int
    hits: list[Hit]
    timings: dict[str, float]
    suggestions: list[str] = field(default_factory=list)

    @property
    def took_ms(self) -> float:
        """Total time spent in the search core."""
        return round(sum(self.timings.values()), 2)

    @property
    def pages(self) -> int:
        """Number of pages for ``total`` results."""
        return max(1, -(-self.total // self.request.per_page))


class SearchEngine:
    """Everything needed to answer queries over one catalogue, loaded once per process."""

    def __init__(self, catalog: Catalog, spaces: Sequence[Space],
                 vectors: Mapping[str, np.ndarray], store: CatalogStore,
                 *, ranking: RankingConfig | None = None, max_query_length: int = 200) -> None:
        """Build the indexes over ``vectors`` (space name → item matrix in catalogue order)."""
        self.catalog = catalog
        self.products = catalog.products
        self.ranker = Ranker(self.products, spaces, vectors, ranking)
        self.row_of = self.ranker.row_of
        self.spaces = self.ranker.spaces
        self.indexes = self.ranker.indexes
        self.query_vectors = self.ranker.query_vectors
        self.facets = flt.Facets(self.products)
        self.understanding = QueryUnderstanding(
            emoji_table((p.id, p.title) for p in self.products), max_query_length)
        self.store = store

    # -- the query's journey ---------------------------------------------------------
    def search(self, request: SearchRequest) -> SearchResult:
        """Answer ``request``: rank, filter, sort, page and look up the products."""
        timer = Timer()
        with timer.stage("understand"):
            parsed = self.understanding.parse(request.query)
        ranked = self.ranker.rank(parsed, timer) if not parsed.empty else []
        with timer.stage("filter"):
            rows = np.array([f.row for f in ranked], np.int64)
            rows = flt.apply(rows, self.facets, request.filters, request.sort)
            window = rows[flt.page_slice(len(rows), request.page, request.per_page)]
        by_row = {f.row: f for f in ranked}
        hits = self._lookup([by_row[int(r)] for r in window], parsed, timer)
        suggestions = self.suggest(parsed) if not len(rows) else []
        return SearchResult(request, parsed, len(rows), hits, timer.stages, suggestions)

    # -- presentation helpers ----------------------------------------------------------
    def _lookup(self, page: list[Fused], parsed: ParsedQuery, timer: Timer) -> list[Hit]:
        """Fetch the page's products from the store and attach the reasons."""
        with timer.stage("lookup"):
            products = self.store.get_many([self.products[f.row].id for f in page])
        return [Hit(product, round(f.score, 4), self._why(f, parsed))
                for product, f in zip(products, page, strict=True)]

    def _why(self, item: Fused, parsed: ParsedQuery) -> dict[str, Any]:
        """Which signals matched this item and how strongly."""
        signals = {name: {"score": round(raw, 4), "calibrated": round(cal, 3), "rank": rank}
                   for name, (raw, cal, rank) in sorted(item.evidence.items())}
        terms = self.ranker.matched_terms(item.row, parsed) if "lexical" in signals else []
        return {"signals": signals, "terms": terms}

    def suggest(self, parsed: ParsedQuery) -> list[str]:
        """A did-you-mean query for one that found nothing: each unknown word respelt
        as the closest catalogue word, when one is close enough; else nothing."""
        lexical = self.ranker.lexical
        words = [w if w in lexical.vocabulary else (lexical.correct(w, cutoff=0.7) or "")
                 for w in parsed.terms]
        if not all(words) or words == list(parsed.terms):
            return []
        return [" ".join(words)]

    def similar(self, product_id: str, k: int) -> list[Hit]:
        """Designs nearest to ``product_id`` in the richest configured space."""
        row = self.row_of[product_id]
        space = self.spaces[-1].name
        rows, scores = self.indexes[space].similar(row, k)
        products = self.store.get_many([self.products[r].id for r in rows.tolist()])
        return [Hit(p, round(float(s), 4), {"signals": {space: {"score": round(float(s), 4)}}})
                for p, s in zip(products, scores.tolist(), strict=True)]

    def vector_only(self, query: str, k: int, space: str | None = None) -> list[str]:
        """The plain baseline: raw query → one space's top-k ids, no understanding or floor."""
        chosen = next(s for s in self.spaces if s.name == space) if space else self.text_space
        assert chosen.encoder is not None, f"space {chosen.name} has no text encoder"
        rows, _ = self.indexes[chosen.name].search(chosen.encoder.encode_query(query), k)
        return [self.products[r].id for r in rows.tolist()]

    def cosines(self, query: str, ids: Sequence[str]) -> list[float]:
        """Cosine of the understood query with each item in the first text space."""
        space = self.text_space
        vector = self.query_vectors.encode(space.encoder, self.understanding.parse(query).text)
        rows = [self.row_of[i] for i in ids if i in self.row_of]
        return [float(v) for v in self.indexes[space.name].vectors[rows] @ vector]

    @property
    def text_space(self) -> Space:
        """The first space that text queries can search."""
        return next(s for s in self.spaces if s.encoder is not None)

    def browse(self, request: SearchRequest) -> SearchResult:
        """Products that pass the filters, in catalogue (or price) order, without a query."""
        timer = Timer()
        with timer.stage("filter"):
            rows = flt.apply(np.arange(len(self.products)), self.facets, request.filters,
                             request.sort)
            window = rows[flt.page_slice(len(rows), request.page, request.per_page)]
        with timer.stage("lookup"):
            products = self.store.get_many([self.products[r].id for r in window.tolist()])
        hits = [Hit(p, 0.0, {}) for p in products]
        return SearchResult(request, None, len(rows), hits, timer.stages)
