"""Ranking: candidates from every signal, fused, then cut by the relevance floor.

Signals are the vector spaces (kNN in FAISS, cosine calibrated to z-scores),
BM25 over lemmas (with diminutive bases), and emoji typed into the query. The
weights and thresholds were chosen by measurement: see docs/ranking.md.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np

from ..catalog.products import Product
from ..encoders.base import TextEncoder
from ..encoders.spaces import Space
from .fusion import FUSERS, Fused, Signal, SpaceStats
from .lexical import LexicalIndex
from .query import ParsedQuery
from .timing import Timer
from .vector_index import VectorIndex

K = TypeVar("K")
V = TypeVar("V")


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


class LRUCache(Generic[K, V]):
    """A thread-safe least-recently-used map; values are computed outside the lock."""

    def __init__(self, size: int) -> None:
        """Keep at most ``size`` entries."""
        self.size = size
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compute(self, key: K, compute: Callable[[], V]) -> V:
        """The cached value of ``key``, or ``compute()`` stored as it (slow work unlocked)."""
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        value = compute()
        with self._lock:
            self._data[key] = value
            while len(self._data) > self.size:
                self._data.popitem(last=False)
        return value

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._data.clear()


class QueryVectorCache(LRUCache[tuple[str, str], np.ndarray]):
    """Query vectors per (encoder, text)."""

    def __init__(self, size: int = 4096) -> None:
        """Keep at most ``size`` vectors."""
        super().__init__(size)

    def encode(self, encoder: TextEncoder, text: str) -> np.ndarray:
        """The vector of ``text`` under ``encoder``, computed once per LRU lifetime."""
        return self.get_or_compute((encoder.model_id, text), lambda: encoder.encode_query(text))


class Ranker:
    """Turns an understood query into fused, floor-checked candidates."""

    def __init__(self, products: Sequence[Product], spaces: Sequence[Space],
                 vectors: Mapping[str, np.ndarray], config: RankingConfig | None = None) -> None:
        """Index ``vectors`` (space name → item matrix in catalogue order) and ``products``."""
        self.row_of = {p.id: i for i, p in enumerate(products)}
        self.spaces = list(spaces)
        self.indexes = {s.name: VectorIndex(vectors[s.name]) for s in self.spaces}
        self.stats = {s.name: SpaceStats.of(vectors[s.name]) for s in self.spaces}
        self.lexical = LexicalIndex(products)
        self.config = config or RankingConfig()
        self.query_vectors = QueryVectorCache()
        #: ranked lists of recent queries (ranking is a pure function of the understood
        #: query while the indexes and ``config`` stay the same)
        self._ranked: LRUCache[ParsedQuery, tuple[Fused, ...]] = LRUCache(256)
        self._ranked_config = self.config

    def rank(self, parsed: ParsedQuery, timer: Timer | None = None) -> list[Fused]:
        """All candidates that pass the relevance floor, best first.

        A repeated query is answered from an LRU of ranked lists, without encoding,
        kNN, BM25 or fusion; the raw text only matters through what it was understood as.
        """
        if self._ranked_config is not self.config:  # re-tuned: forget old rankings
            self._ranked.clear()
            self._ranked_config = self.config
        key = dataclasses.replace(parsed, raw="", layout_fixed=False, truncated=False)
        return list(self._ranked.get_or_compute(
            key, lambda: tuple(self._rank(parsed, timer or Timer()))))

    def clear_caches(self) -> None:
        """Forget cached query vectors and ranked lists (benchmarks measure cold queries)."""
        self._ranked.clear()
        self.query_vectors.clear()

    def _rank(self, parsed: ParsedQuery, timer: Timer) -> list[Fused]:
        """Signals, fusion and the relevance floor for one query."""
        signals = self._vector_signals(parsed, timer)
        with timer.stage("lexical"):
            groups = self._term_groups(parsed)
            signals += self._lexical_signal(groups)
            signals += self._emoji_signal(parsed)
        with timer.stage("fuse"):
            fused = FUSERS[self.config.fusion](signals, self.config.weights)
            evidence = [self._evidence(f, groups) for f in fused]
            if not any(e >= self.config.min_query_z for e in evidence):
                return []
            return [f for f, e in zip(fused, evidence, strict=True)
                    if e >= self.config.min_item_z]

    def _vector_signals(self, parsed: ParsedQuery, timer: Timer) -> list[Signal]:
        """kNN candidates from every space, with z-score calibration."""
        signals = []
        for space in self.spaces:
            if space.encoder is None:  # an image-only space: text cannot query it
                continue
            with timer.stage("encode"):
                query = self.query_vectors.encode(space.encoder, parsed.text)
            with timer.stage("knn"):
                rows, cosines = self.indexes[space.name].search(query, self.config.candidates)
                z = self.stats[space.name].zscores(query, cosines)
            signals.append(Signal(space.name, rows, cosines, z))
        return signals

    def _lexical_signal(self, groups: Sequence[tuple[str, ...]]) -> list[Signal]:
        """BM25 candidates, calibrated as term coverage × share of the best score."""
        scores = self.lexical.scores([t for group in groups for t in group])
        top = float(scores.max()) if len(scores) else 0.0
        if top <= 0:
            return []
        rows = np.argsort(-scores, kind="stable")[: self.config.candidates]
        rows = rows[scores[rows] > 0]
        coverage = np.array([self._coverage(r, groups) for r in rows.tolist()], np.float32)
        return [Signal("lexical", rows, scores[rows], coverage * scores[rows] / top)]

    def _term_groups(self, parsed: ParsedQuery) -> list[tuple[str, ...]]:
        """Per query term, the words that count as it: itself when the catalogue uses it,
        else the base nouns of a diminutive (``ёлочки`` → ``ёлка``), else the closest
        spelling (``бабчка`` → ``бабочка``)."""
        vocabulary = self.lexical.vocabulary
        expansions = parsed.expansions
        groups = []
        for term in dict.fromkeys(parsed.terms):
            bases = tuple(b for b in expansions.get(term, ()) if b in vocabulary)
            if term in vocabulary or bases:
                groups.append((term,) if term in vocabulary else bases)
                continue
            corrected = self.lexical.correct(term)
            groups.append((corrected,) if corrected else (term,))
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
                                      >= self.config.min_coverage):
            return float("inf")
        return max((calibrated for name, (_, calibrated, _) in evidence.items()
                    if name.startswith(self.config.floor_prefix)), default=float("-inf"))

    def matched_terms(self, row: int, parsed: ParsedQuery) -> list[str]:
        """The query words (in any accepted form) that row ``row``'s text contains."""
        return self.lexical.matched(row, [t for group in self._term_groups(parsed) for t in group])
