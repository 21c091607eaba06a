"""Ranking: every kind of query becomes signals, then one fusion and one floor.

A word query is read against the catalogue's words (``terms``), then asks every signal
for candidates: the query's vector in each text-capable space, BM25 of its own words and
of the words concept rules add, the rules' words as one vector, the category tree and
emoji. A picture asks its look and, for a photo, the words of what it shows; «похожие»
ask a design's neighbours. Whatever the query, the signals go through the same
:func:`~.fusion.fuse` and :class:`~.floor.RelevanceFloor`, and the answer is a
:class:`~.explanation.Ranking` whose designs explain themselves. Every constant comes
from ``RankingSettings`` (``search/settings.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..catalog.artifacts import CatalogArtifacts
from ..catalog.knowledge import NO_KNOWLEDGE, Knowledge
from ..encoders.space import Space
from ..index.base import VectorBackend, Where
from .cache import LRUCache
from .confidence import WordEvidence
from .explanation import Ranking, WordContext
from .floor import QueryEvidence, RelevanceFloor, likeness_answer
from .fusion import Fused, fuse
from .lexical import LexicalIndex
from .query import ParsedQuery
from .settings import RankingSettings
from .signals import Signal, SignalKind
from .signals.category import CategoryTree
from .signals.emoji import emoji_signal
from .signals.knowledge import Palette, definition_signal
from .signals.picture import PictureQuery, class_words, picture_signals
from .signals.vectors import Spaces, SpaceStats
from .signals.words import bm25
from .terms import QueryTerms, TermReader
from .timing import Timer


@dataclass(frozen=True)
class Candidates:
    """A word query's fused candidates before the floor, and what the floor reads of them."""

    fused: Fused
    evidence: QueryEvidence
    context: WordContext


class Ranker:
    """Turns an understood query, a picture or a design into a ranked, floor-checked answer."""

    def __init__(
        self,
        catalog: CatalogArtifacts,
        spaces: Sequence[Space],
        indexes: Mapping[str, VectorBackend],
        settings: RankingSettings,
        *,
        picture_space: str = "",
        text_space: str = "",
        knowledge: Knowledge = NO_KNOWLEDGE,
        moments: Mapping[str, SpaceStats] | None = None,
    ) -> None:
        """Rank ``catalog``'s designs (its mapped table, lexicon, category tree and, with
        definitions, reverse dictionary) by BM25 and by ``spaces`` (their ``indexes``; the
        spaces' ``moments`` when ``index`` computed them); a picture is searched in
        ``picture_space`` by look and, for photos, in ``text_space`` by words;
        ``knowledge`` (definitions, colours) adds its signals where it is built."""
        self.settings = settings
        self.table = catalog.table
        self.spaces = Spaces(spaces, indexes, settings.fusion.stats_sample, moments)
        self.lexical = LexicalIndex(catalog.lexicon, settings.words)
        known = settings.knowledge
        self.reader = TermReader(
            self.lexical,
            thesaurus_known_words=settings.words.thesaurus_known_words,
            definitions=knowledge.definitions if known.decode_words else None,
            genus=known.decode_genus,
        )
        self.reverse = catalog.reverse if knowledge.definitions is not None else None
        shares = None
        if knowledge.colours is not None:
            shares = knowledge.colour_shares(list(self.table.ids))
        self.palette = None if shares is None else Palette(shares)
        self.tree = CategoryTree(catalog.sections.nodes)
        self.floor = RelevanceFloor(settings.floor, settings.confidence)
        self.picture_space, self.text_space = picture_space, text_space
        by_name = {s.name: s for s in spaces}
        self.class_words = class_words(by_name.get(picture_space), by_name.get(text_space))
        #: ranked answers of recent word queries (ranking is a pure function of the understood
        #: query, the filter and the settings while the indexes stay the same)
        self._ranked: LRUCache[tuple[object, ...], Ranking] = LRUCache(256)

    # -- words ---------------------------------------------------------------------------
    def rank(
        self, parsed: ParsedQuery, timer: Timer | None = None, where: Where | None = None
    ) -> Ranking:
        """The answer to a word query among the rows ``where`` keeps (all when None).

        Filters are pushed into every signal's candidate search, so a narrow filter still
        gets its full share of candidates. Whether the query is answered at all is the
        unfiltered answer's call (a query about cats is about something the shop sells,
        whatever the category shown): a filtered query first asks :meth:`answered`.
        A repeated query is answered from an LRU of ranked answers.
        """
        timer = timer or Timer()
        if where is not None and not self.answered(parsed, timer):
            return Ranking(self._none())
        filters = None if where is None else (where.filters, where.exclude)
        key = (self.settings.fingerprint, parsed.cache_key, filters)
        return self._ranked.get_or_compute(key, lambda: self._rank(parsed, timer, where))

    def answered(self, parsed: ParsedQuery, timer: Timer | None = None) -> bool:
        """Whether the unfiltered query is answered (passes the floor's gate)."""
        return len(self.rank(parsed, timer)) > 0

    def _rank(self, parsed: ParsedQuery, timer: Timer, where: Where | None) -> Ranking:
        """Signals, fusion and the relevance floor for one word query."""
        candidates = self.candidates(parsed, timer, where)
        with timer.stage("floor"):
            answer = self.floor.judge(candidates.fused, candidates.evidence, gate=where is None)
        return Ranking(answer.fused, candidates.context, sure=answer.sure)

    def candidates(
        self, parsed: ParsedQuery, timer: Timer | None = None, where: Where | None = None
    ) -> Candidates:
        """Every signal's candidates for a word query, fused, with what the floor reads about
        them (before the floor: what calibration and evaluation look at)."""
        timer = timer or Timer()
        k = self.settings.fusion.candidates
        mask = None if where is None else where.mask
        with timer.stage("understand"):
            terms = self.reader.read(parsed)
        signals = self.spaces.query_signals(parsed.text, k, timer, where)
        with timer.stage("words"):
            signals += self._word_signals(terms, k, mask)
        with timer.stage("emoji"):
            signals += emoji_signal(self.table.rows_of(parsed.emoji_ids))
        with timer.stage("knowledge"):
            signals += self._knowledge_signals(terms, k, mask)
        added = terms.added_words[: self.settings.words.meaning_vector_words]
        signals += self.spaces.meaning_signal(added, k, timer, where)
        with timer.stage("category"):
            signals = self._with_category(signals, terms)
        with timer.stage("fuse"):
            fused = fuse(signals, self.settings.fusion)
            evidence = self._evidence(fused, terms)
        context = WordContext(
            self.lexical,
            terms,
            parsed.concepts,
            self.reverse,
            self.palette,
            self.settings.knowledge.colour_match,
        )
        return Candidates(fused, evidence, context)

    def _word_signals(self, terms: QueryTerms, k: int, mask: np.ndarray | None) -> list[Signal]:
        """BM25 of the query's own words (calibrated by coverage of its own groups) and of
        the words rules add (by coverage of the expanded groups)."""
        own = bm25(
            SignalKind.LEXICAL, self.lexical, self.reader, terms.own_words, terms.groups, k, mask
        )
        added = [t for g in terms.meaning for t in g]
        meaning = bm25(
            SignalKind.MEANING, self.lexical, self.reader, added, terms.expanded, k, mask
        )
        return own + meaning

    def _knowledge_signals(
        self, terms: QueryTerms, k: int, mask: np.ndarray | None
    ) -> list[Signal]:
        """The reverse dictionary, for a description (a query of several words, or one
        with a word nothing explains), and the query's colours in the pictures."""
        known = self.settings.knowledge
        signals = []
        vocabulary = self.lexical.vocabulary
        unknown = any(not any(w in vocabulary for w in g) for g in terms.expanded)
        if len(terms.groups) >= known.definition_min_words or unknown:
            words = [t for g in terms.groups for t in g]
            signals += definition_signal(self.reverse, words, k, mask)
        if self.palette is not None:
            signals += self.palette.signal(terms, known.colour_match, k, mask)
        return signals

    def _with_category(self, signals: list[Signal], terms: QueryTerms) -> list[Signal]:
        """``signals`` with the category tree's inserted before the rules' vector (the order
        fusion sums in); a weak category match only keeps designs other signals found."""
        found = np.concatenate([np.empty(0, np.int64), *(s.rows for s in signals)])
        beside = found if self.settings.fusion.method == "weighted" else None  # rrf: all rows
        tree = self.tree.signal(
            terms.expanded, alone=self.settings.floor.min_coverage, beside=beside
        )
        late = (SignalKind.EMOJI, SignalKind.MEANING_VECTOR)
        early = [s for s in signals if s.kind not in late]
        return early + tree + [s for s in signals if s.kind in late]

    def _evidence(self, fused: Fused, terms: QueryTerms) -> QueryEvidence:
        """What the floor reads: each candidate's coverage of the query's word groups (by
        its own words, and with the words rules add), whether the query's words are mostly
        unknown to the shop, and the spaces the answer's coherence is measured in."""
        colours = self._showing(terms)
        coverage = np.zeros(len(fused), np.float32)
        words = fused.has(SignalKind.LEXICAL, SignalKind.MEANING, SignalKind.COLOUR)
        coverage[words] = self.reader.coverage(fused.rows[words], terms.expanded, colours)
        own = np.zeros(len(fused), np.float32)
        lexical = fused.has(SignalKind.LEXICAL, SignalKind.COLOUR)
        own[lexical] = self.reader.coverage(fused.rows[lexical], terms.groups, colours)
        phrase = None
        if len(terms.groups) > 1 or terms.curated:
            phrase = np.zeros(len(fused), bool)
            phrase[words] = self.reader.coverage(fused.rows[words], terms.phrase, colours) >= 1.0
        spaces = (
            self.spaces.vectors_of(SignalKind.TEXT),
            self.spaces.vectors_of(SignalKind.CROSS_MODAL),
        )
        unexplained = self.reader.unexplained(terms, self.settings.floor.unexplained_share)
        return QueryEvidence(coverage, unexplained, WordEvidence(own, coverage, spaces, phrase))

    def _showing(self, terms: QueryTerms) -> dict[int, np.ndarray]:
        """Per colour word of the query, the rows whose picture shows that colour."""
        if self.palette is None or not terms.colours:
            return {}
        return self.palette.showing(terms, self.settings.knowledge.colour_match)

    def suggest(self, parsed: ParsedQuery) -> list[str]:
        """A did-you-mean query for one that found nothing: each unknown word respelt as
        the closest catalogue word, when one is close enough; else nothing."""
        respelt = self.lexical.respell(parsed.terms)
        return [" ".join(respelt)] if respelt else []

    # -- a picture, a design, a taste ---------------------------------------------------
    def rank_picture(self, query: PictureQuery, where: Where | None, timer: Timer) -> Ranking:
        """Designs that look like ``query`` (and, for a photo, show what it shows)."""
        limit = self.settings.picture.results
        with timer.stage("knn"):
            found = picture_signals(
                query,
                self.spaces,
                self.picture_space,
                self.class_words,
                self.text_space,
                limit,
                where,
            )
        with timer.stage("fuse"):
            fused = fuse(found.signals, self.settings.fusion)
        with timer.stage("floor"):
            kept = self.floor.judge(fused, QueryEvidence(), limit=limit).fused
            p = self.settings.picture
            answer = likeness_answer(kept, p.sure_z, p.sure_gap, p.maybe_z)
        shown = found.labels[: self.settings.picture.shown_labels]
        return Ranking(answer.fused, labels=shown, sure=answer.sure)

    def rank_signals(self, signals: Sequence[Signal], limit: int) -> Ranking:
        """The answer ``signals`` give on their own, ended after ``limit`` designs: how
        «похожие», recommendations and co-visits are ranked."""
        fused = fuse(signals, self.settings.fusion)
        return Ranking(self.floor.judge(fused, QueryEvidence(), limit=limit).fused)

    def clear_caches(self) -> None:
        """Forget cached query vectors, ranked answers and spelling corrections."""
        self._ranked.clear()
        self.spaces.clear()
        self.lexical.corrections.clear()

    def _none(self) -> Fused:
        """An empty answer."""
        return fuse([], self.settings.fusion)
