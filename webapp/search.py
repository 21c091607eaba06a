"""The search service: one query's journey through every stage, timed.

understand → encode → kNN per space → BM25 → fuse → relevance floor →
filter/sort/page → catalogue lookup. The web layer and the CLI are thin shells
over :meth:`SearchEngine.search`; nothing here knows about requests.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import filters as flt
from .catalog import Catalog, Product
from .encoders.base import TextEncoder
from .fusion import FUSERS, Fused, Signal, SpaceStats
from .lexical import LexicalIndex
from .query import ParsedQuery, QueryUnderstanding, emoji_table
from .spaces import Space
from .store import CatalogStore
from .vector_index import VectorIndex


@dataclass(frozen=True)
class RankingConfig:
    """Knobs of fusion and the relevance floor (chosen by measurement, docs/ranking.md)."""

    fusion: str = "weighted"
    weights: Mapping[str, float] = field(default_factory=lambda: {
        "lexical": 2.0, "emoji": 10.0,
        "ruclip-image": 0.5, "ruclip-text": 0.5, "ruclip-combined": 0.5})
    candidates: int = 100  # per signal
    #: a query is answered only if some vector hit stands this many σ above the catalogue
    #: mean (or a lexical/emoji match exists); nonsense stays below it
    min_query_z: float = 4.4
    #: once a query is answered, vector-only hits down to this z are kept
    min_item_z: float = 3.5
    min_coverage: float = 0.5  # share of query terms a lexical hit must contain
    #: spaces whose z-scores the floor was calibrated on (the offline text encoders)
    floor_prefix: str = "text-"


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


class Timer:
    """Collects wall-clock milliseconds per named stage."""

    def __init__(self) -> None:
        """Start with no stages timed."""
        self.stages: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the enclosed block and add it to stage ``name``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = (time.perf_counter() - start) * 1000
            self.stages[name] = round(self.stages.get(name, 0.0) + elapsed, 3)


class QueryVectorCache:
    """LRU cache of query vectors per (encoder, text)."""

    def __init__(self, size: int = 4096) -> None:
        """Keep at most ``size`` vectors."""
        self.size = size
        self._data: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()

    def encode(self, encoder: TextEncoder, text: str) -> np.ndarray:
        """The vector of ``text`` under ``encoder``, computed once per LRU lifetime."""
        key = (encoder.model_id, text)
        vector = self._data.get(key)
        if vector is None:
            vector = encoder.encode_query(text)
            self._data[key] = vector
            if len(self._data) > self.size:
                self._data.popitem(last=False)
        else:
            self._data.move_to_end(key)
        return vector


class SearchEngine:
    """Everything needed to answer queries over one catalogue, loaded once per process."""

    def __init__(self, catalog: Catalog, spaces: Sequence[Space],
                 vectors: Mapping[str, np.ndarray], store: CatalogStore,
                 *, ranking: RankingConfig | None = None, max_query_length: int = 200) -> None:
        """Build the indexes over ``vectors`` (space name → item matrix in catalogue order)."""
        self.catalog = catalog
        self.products = catalog.products
        self.row_of = {p.id: i for i, p in enumerate(self.products)}
        self.spaces = list(spaces)
        self.indexes = {s.name: VectorIndex(vectors[s.name]) for s in self.spaces}
        self.stats = {s.name: SpaceStats.of(vectors[s.name]) for s in self.spaces}
        self.lexical = LexicalIndex(self.products)
        self.facets = flt.Facets(self.products)
        self.understanding = QueryUnderstanding(
            emoji_table((p.id, p.title) for p in self.products), max_query_length)
        self.store = store
        self.ranking = ranking or RankingConfig()
        self.query_vectors = QueryVectorCache()

    # -- the query's journey ---------------------------------------------------------
    def search(self, request: SearchRequest) -> SearchResult:
        """Answer ``request``: rank, filter, sort, page and look up the products."""
        timer = Timer()
        with timer.stage("understand"):
            parsed = self.understanding.parse(request.query)
        ranked = self.rank(parsed, timer) if not parsed.empty else []
        with timer.stage("filter"):
            rows = np.array([f.row for f in ranked], np.int64)
            rows = flt.apply(rows, self.facets, request.filters, request.sort)
            window = rows[flt.page_slice(len(rows), request.page, request.per_page)]
        by_row = {f.row: f for f in ranked}
        hits = self._lookup([by_row[int(r)] for r in window], parsed, timer)
        suggestions = self.suggest(parsed) if not len(rows) else []
        return SearchResult(request, parsed, len(rows), hits, timer.stages, suggestions)

    def rank(self, parsed: ParsedQuery, timer: Timer | None = None) -> list[Fused]:
        """All candidates that pass the relevance floor, best first."""
        timer = timer or Timer()
        signals = self._vector_signals(parsed, timer)
        with timer.stage("lexical"):
            groups = self._term_groups(parsed)
            signals += self._lexical_signal(groups)
            signals += self._emoji_signal(parsed)
        with timer.stage("fuse"):
            fused = FUSERS[self.ranking.fusion](signals, self.ranking.weights)
            evidence = [self._evidence(f, groups) for f in fused]
            if not any(e >= self.ranking.min_query_z for e in evidence):
                return []
            return [f for f, e in zip(fused, evidence, strict=True)
                    if e >= self.ranking.min_item_z]

    def _vector_signals(self, parsed: ParsedQuery, timer: Timer) -> list[Signal]:
        """kNN candidates from every space, with z-score calibration."""
        signals = []
        for space in self.spaces:
            with timer.stage("encode"):
                query = self.query_vectors.encode(space.encoder, parsed.text)
            with timer.stage("knn"):
                rows, cosines = self.indexes[space.name].search(query, self.ranking.candidates)
                z = self.stats[space.name].zscores(query, cosines)
            signals.append(Signal(space.name, rows, cosines, z))
        return signals

    def _lexical_signal(self, groups: Sequence[tuple[str, ...]]) -> list[Signal]:
        """BM25 candidates, calibrated as term coverage × share of the best score."""
        scores = self.lexical.scores([t for group in groups for t in group])
        top = float(scores.max()) if len(scores) else 0.0
        if top <= 0:
            return []
        rows = np.argsort(-scores, kind="stable")[: self.ranking.candidates]
        rows = rows[scores[rows] > 0]
        coverage = np.array([self._coverage(r, groups) for r in rows.tolist()], np.float32)
        return [Signal("lexical", rows, scores[rows], coverage * scores[rows] / top)]

    def _term_groups(self, parsed: ParsedQuery) -> list[tuple[str, ...]]:
        """Per query term, the words that count as it: itself, or the base nouns of a
        diminutive the catalogue does not use (``ёлочки`` → ``ёлка``)."""
        expansions = parsed.expansions
        groups = []
        for term in dict.fromkeys(parsed.terms):
            bases = tuple(b for b in expansions.get(term, ()) if b in self.lexical.vocabulary)
            groups.append((term,) if term in self.lexical.vocabulary or not bases else bases)
        return groups

    def _coverage(self, row: int, groups: Sequence[tuple[str, ...]]) -> float:
        """Share of query terms that row ``row`` contains (in any accepted form)."""
        if not groups:
            return 0.0
        return sum(bool(self.lexical.matched(row, g)) for g in groups) / len(groups)

    def _emoji_signal(self, parsed: ParsedQuery) -> list[Signal]:
        """Exact matches for emoji typed into the query."""
        rows = np.array([self.row_of[i] for i in parsed.emoji_ids if i in self.row_of], np.int64)
        ones = np.ones(len(rows), np.float32)
        return [Signal("emoji", rows, ones, ones)] if len(rows) else []

    def _evidence(self, item: Fused, groups: Sequence[tuple[str, ...]]) -> float:
        """The strongest evidence for a candidate, on the vector z-score scale.

        An exact emoji or a lexical match covering enough of the query counts as
        certain; otherwise it is the best z-score among the vector spaces.
        """
        evidence = item.evidence
        if "emoji" in evidence:
            return float("inf")
        if "lexical" in evidence and (self._coverage(item.row, groups)
                                      >= self.ranking.min_coverage):
            return float("inf")
        return max((calibrated for name, (_, calibrated, _) in evidence.items()
                    if name.startswith(self.ranking.floor_prefix)), default=float("-inf"))

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
        words = [t for group in self._term_groups(parsed) for t in group]
        terms = self.lexical.matched(item.row, words) if "lexical" in signals else []
        return {"signals": signals, "terms": terms}

    def suggest(self, parsed: ParsedQuery) -> list[str]:
        """Did-you-mean titles for a query that found nothing (nearest titles by any space)."""
        if parsed.empty:
            return []
        space = self.spaces[0]
        rows, _ = self.indexes[space.name].search(
            self.query_vectors.encode(space.encoder, parsed.text), 3)
        return [self.products[r].title for r in rows.tolist()]

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
        chosen = next(s for s in self.spaces if s.name == (space or self.spaces[0].name))
        rows, _ = self.indexes[chosen.name].search(chosen.encoder.encode_query(query), k)
        return [self.products[r].id for r in rows.tolist()]

    def cosines(self, query: str, ids: Sequence[str]) -> list[float]:
        """Cosine of the understood query with each item in the first (text) space."""
        space = self.spaces[0]
        vector = self.query_vectors.encode(space.encoder, self.understanding.parse(query).text)
        rows = [self.row_of[i] for i in ids if i in self.row_of]
        return [float(v) for v in self.indexes[space.name].vectors[rows] @ vector]

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
