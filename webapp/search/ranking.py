"""Ranking: candidates from every signal, fused, then cut by the relevance floor.

Signals are the vector spaces (kNN in FAISS, cosine calibrated to z-scores),
BM25 over lemmas (with diminutive bases), and emoji typed into the query. The
weights and thresholds were chosen by measurement: see docs/ranking.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..catalog.products import Product
from ..encoders.spaces import Space
from ..index.base import VectorBackend, Where
from .cache import LRUCache, QueryVectorCache, prefetch
from .floor import RelevanceFloor
from .fusion import FUSERS, Fused, Signal, SpaceStats
from .hierarchy import CategoryTree
from .lexical import LexicalIndex
from .query import ParsedQuery
from .timing import Timer
from .words import WordSignals


@dataclass(frozen=True)
class RankingConfig:
    """Knobs of fusion and the relevance floor (chosen by measurement, docs/ranking.md)."""

    fusion: str = "weighted"
    weights: Mapping[str, float] = field(
        default_factory=lambda: {
            "lexical": 2.0,
            "meaning": 1.5,
            "meaning-vector": 0.5,
            "category": 1.0,
            "emoji": 10.0,
            "ruclip-image": 0.5,
            "ruclip-combined": 0.5,
            "xmodal": 0.2,
        }
    )
    candidates: int = 100  # per signal
    #: a query is answered only if some vector hit stands this many σ above the catalogue
    #: mean (or a lexical/emoji match exists); nonsense stays below it (swept on the dev
    #: sets with 56 nonsense queries: docs/ranking.md «The floor's trade-off»)
    min_query_z: float = 5.0
    #: once a query is answered, vector-only hits down to this z are kept
    min_item_z: float = 3.5
    min_coverage: float = 0.5  # share of query terms a lexical hit must contain
    #: spaces whose z-scores may open the floor (calibrated on the offline text encoders;
    #: the cross-modal space joins them, measured in docs/training.md)
    floor_prefix: str | tuple[str, ...] = ("text-", "xmodal")
    #: spaces whose z-scores may keep a vector-only hit (at ``min_item_z``) once the query
    #: is answered
    keep_prefix: str | tuple[str, ...] = "text-"
    #: further spaces that may keep a hit, each at its own z: the cross-modal space finds
    #: designs whose words say nothing, at a lower z than text matches (docs/training.md)
    keep_z: Mapping[str, float] = field(
        default_factory=lambda: {"xmodal": 2.5, "meaning-vector": 4.4}
    )
    #: the gate for a query most of whose Russian words neither the catalogue nor a rule
    #: explains («кредитный рейтинг заемщика»): its vector evidence must be this strong
    unexplained_z: float = 6.0
    #: at most this many words a concept rule added are embedded as the «meaning» vector
    meaning_vector_words: int = 8
    #: whether thesaurus rules also expand words the catalogue itself uses (occasion and
    #: staff rules always apply)
    thesaurus_known_words: bool = True


class Ranker:
    """Turns an understood query into fused, floor-checked candidates."""

    def __init__(
        self,
        products: Sequence[Product],
        spaces: Sequence[Space],
        indexes: Mapping[str, VectorBackend],
        config: RankingConfig | None = None,
    ) -> None:
        """Rank ``products`` by BM25 and by those ``spaces`` (their ``indexes``) that have a
        text encoder; an image-only space takes no text query."""
        self.row_of = {p.id: i for i, p in enumerate(products)}
        self.spaces = [s for s in spaces if s.encoder is not None]
        self.indexes = {s.name: indexes[s.name] for s in self.spaces}
        self.stats = {s.name: SpaceStats.of(self.indexes[s.name].vectors) for s in self.spaces}
        self.lexical = LexicalIndex(products)
        self.words = WordSignals(self.lexical)
        self.tree = CategoryTree(products)
        self.config = config or RankingConfig()
        self.query_vectors = QueryVectorCache()
        #: ranked lists of recent queries (ranking is a pure function of the understood
        #: query while the indexes and ``config`` stay the same)
        self._ranked: LRUCache[ParsedQuery, tuple[Fused, ...]] = LRUCache(256)
        self._ranked_config = self.config

    def rank(
        self, parsed: ParsedQuery, timer: Timer | None = None, where: Where | None = None
    ) -> list[Fused]:
        """All candidates among the rows ``where`` keeps (all when None) that pass the
        relevance floor, best first. Filters are pushed into every signal's candidate
        search, so a narrow filter still gets its full share of candidates; whether the
        query is answered at all is the unfiltered ranking's call (a query about cats is
        about something the shop sells, whatever the category shown).

        A repeated query is answered from an LRU of ranked lists, without encoding,
        kNN, BM25 or fusion; the raw text only matters through what it was understood as.
        """
        if self._ranked_config is not self.config:  # re-tuned: forget old rankings
            self._ranked.clear()
            self._ranked_config = self.config
        key = (
            dataclasses.replace(parsed, raw="", layout_fixed=False, truncated=False),
            None if where is None else (where.filters, where.exclude),
        )
        if where is not None and not self.rank(parsed, timer):
            return []
        return list(
            self._ranked.get_or_compute(
                key, lambda: tuple(self._rank(parsed, timer or Timer(), where))
            )
        )

    def clear_caches(self) -> None:
        """Forget cached query vectors, ranked lists and spelling corrections."""
        self._ranked.clear()
        self.query_vectors.clear()
        self.lexical.corrections.clear()

    def _rank(self, parsed: ParsedQuery, timer: Timer, where: Where | None) -> list[Fused]:
        """Signals, fusion and the relevance floor for one query."""
        signals = self._vector_signals(parsed, timer, where)
        mask = None if where is None else where.mask
        with timer.stage("lexical"):
            k = self.config.candidates
            groups = self.words.term_groups(parsed)
            signals += self.words.bm25("lexical", [t for g in groups for t in g], groups, k, mask)
            meaning = self.words.meaning_groups(
                parsed, groups, thesaurus_known_words=self.config.thesaurus_known_words
            )
            groups = [g + m for g, m in zip(groups, meaning, strict=True)] if meaning else groups
            signals += self.words.bm25("meaning", [t for g in meaning for t in g], groups, k, mask)
            emoji = self._emoji_signal(parsed)
        late = emoji + self._meaning_vector(meaning, timer, where)
        with timer.stage("lexical"):
            found = np.concatenate([np.empty(0, np.int64), *(s.rows for s in signals + late)])
            beside = found if self.config.fusion == "weighted" else None  # rank-based: all rows
            signals += self.tree.signal(groups, alone=self.config.min_coverage, beside=beside)
            signals += late
        with timer.stage("fuse"):
            fused = FUSERS[self.config.fusion](signals, self.config.weights)
            floor = RelevanceFloor(self.config, self.words, groups)
            answered = where is not None  # filtered: the unfiltered ranking passed the gate
            if not answered and not floor.answers(fused):
                return []
            kept = [f for f in fused if floor.keeps(f)]
            return self.words.attach_terms(kept, groups, meaning)

    def _vector_signals(
        self, parsed: ParsedQuery, timer: Timer, where: Where | None
    ) -> list[Signal]:
        """kNN candidates from every space, with z-score calibration (the query encoded by
        every model first, side by side)."""
        signals = []
        with timer.stage("encode"):
            prefetch(self.query_vectors, [s.encoder for s in self.spaces], parsed.text)
        for space in self.spaces:
            with timer.stage("encode"):
                query = self.query_vectors.encode(space.encoder, parsed.text)
            with timer.stage("knn"):
                rows, cosines = self.indexes[space.name].search(
                    query, self.config.candidates, where
                )
                z = self.stats[space.name].zscores(query, cosines)
            signals.append(Signal(space.name, rows, cosines, z))
        return signals

    def _meaning_vector(
        self, meaning: Sequence[tuple[str, ...]], timer: Timer, where: Where | None
    ) -> list[Signal]:
        """The words concept rules added, embedded together in the first text space: what
        they mean together («пломбир» → «мороженое»), weighted below the query's own vector."""
        words = list(dict.fromkeys(t for group in meaning for t in group))
        space = next((s for s in self.spaces if s.name.startswith("text-")), None)
        if not words or space is None:
            return []
        text = ", ".join(words[: self.config.meaning_vector_words])
        with timer.stage("encode"):
            query = self.query_vectors.encode(space.encoder, text)
        with timer.stage("knn"):
            rows, cosines = self.indexes[space.name].search(query, self.config.candidates, where)
            z = self.stats[space.name].zscores(query, cosines)
        return [Signal("meaning-vector", rows, cosines, z)]

    def _emoji_signal(self, parsed: ParsedQuery) -> list[Signal]:
        """Exact matches for emoji typed into the query."""
        rows = np.array([self.row_of[i] for i in parsed.emoji_ids if i in self.row_of], np.int64)
        ones = np.ones(len(rows), np.float32)
        return [Signal("emoji", rows, ones, ones)] if len(rows) else []

    def suggest(self, parsed: ParsedQuery) -> list[str]:
        """A did-you-mean query for one that found nothing: each unknown word respelt
        as the closest catalogue word, when one is close enough; else nothing."""
        respelt = self.lexical.respell(parsed.terms)
        return [" ".join(respelt)] if respelt else []
