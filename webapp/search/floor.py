"""The relevance floor: whether a query is answered at all, and which candidates it keeps.

Nonsense must get «ничего не найдено», so a query is answered only when some candidate
has strong evidence: certain evidence (an exact emoji; a lexical match covering enough of
the query's words; a category its words name), or a calibrated score in an opening kind
of signal that reaches the gate (higher when most of the query's Russian words are
unknown to the catalogue and to every rule). An answered query then keeps the candidates
with certain evidence or a calibrated score at their kind's keep threshold, up to an
optional limit. One floor serves words, pictures, «похожие» and recommendations; the
thresholds live in ``RankingSettings.floor`` (docs/ranking.md «The floor's trade-off»).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .confidence import WordEvidence, confidence
from .fusion import Fused
from .settings import ConfidenceSettings, FloorSettings
from .signals import SignalKind

WORD_KINDS = (SignalKind.LEXICAL, SignalKind.MEANING)


@dataclass(frozen=True)
class QueryEvidence:
    """What the floor needs to know about the query behind a fused list."""

    #: per fused candidate, the share of the query's word groups its text contains, own
    #: words and rule words alike (0–1)
    coverage: np.ndarray | None = None
    #: most of the query's Russian words are unknown to the catalogue and to every rule
    unexplained: bool = False
    #: for a word query: what its candidates' confidence reads (None: not a word query)
    words: WordEvidence | None = None


@dataclass(frozen=True)
class Answer:
    """What a query is answered with: candidates best first, the first ``sure`` of them
    confident results, the rest shown apart («Может подойти»)."""

    fused: Fused
    sure: int


class RelevanceFloor:
    """The floor under one :class:`FloorSettings` and :class:`ConfidenceSettings`."""

    def __init__(self, settings: FloorSettings, confidence: ConfidenceSettings) -> None:
        """Judge with ``settings``' thresholds and ``confidence``'s model."""
        self.settings = settings
        self.confidence = confidence

    def certain(self, fused: Fused, query: QueryEvidence) -> np.ndarray:
        """Per candidate: evidence that needs no threshold (emoji, covered words, category)."""
        s = self.settings
        certain = fused.has(SignalKind.EMOJI) | (fused.best(SignalKind.CATEGORY) >= s.min_coverage)
        if query.coverage is not None:
            certain |= fused.has(*WORD_KINDS) & (query.coverage >= s.min_coverage)
        return certain

    def answers(self, fused: Fused, query: QueryEvidence) -> bool:
        """Whether some candidate's evidence reaches the gate."""
        opened = self.certain(fused, query)
        for kind in self.settings.open_kinds:
            opened |= fused.has(kind) & (
                fused.best(kind) >= self.settings.gate(kind, query.unexplained)
            )
        return bool(opened.any())

    def keeps(self, fused: Fused, query: QueryEvidence) -> np.ndarray:
        """Per candidate: whether an answered query keeps it."""
        kept = self.certain(fused, query)
        for kind, z in self.settings.keep_z.items():
            kept |= fused.has(kind) & (fused.best(kind) >= z)
        return kept

    def judge(
        self,
        fused: Fused,
        query: QueryEvidence,
        *,
        gate: bool = True,
        limit: int | None = None,
    ) -> Answer:
        """The answer: the candidates kept, best first (none when the gate stays shut).

        A word query's candidates are then judged by their confidence: the confident ones
        are the answer (only those the query's whole phrase explains, when it explains
        some); the others the thresholds keep follow apart, the phrase's first, down to
        the settings' floor of confidence. ``gate=False`` skips
        the gate (a filtered view of a query already answered); ``limit`` ends an answer
        by likeness after that many designs.
        """
        if gate and not self.answers(fused, query):
            return Answer(fused.take(np.zeros(len(fused), bool)), 0)
        kept = self.keeps(fused, query)
        if query.words is None:
            order = np.flatnonzero(kept)[:limit]
            return Answer(fused.take(order), len(order))
        c = self.confidence
        p = confidence(fused, query.words, c)
        best = float(p[kept].max()) if kept.any() else 0.0
        first = query.words.explained
        sure = kept & (p >= c.keep) & (p >= c.relative * best)
        if first.any():  # the whole phrase explains some designs: they are the answer
            sure &= first
        maybe = kept & ~sure & (p >= c.maybe)
        position = np.arange(len(fused))
        order = np.lexsort((position, ~first, ~sure))  # sure, then phrase first, then fused
        order = order[(sure | maybe)[order]]
        return Answer(fused.take(order), int(sure.sum()))


def likeness_answer(fused: Fused, sure_z: float, gap: float, maybe_z: float) -> Answer:
    """Where an answer by likeness (a picture's look-alikes) ends: the leading designs whose
    score reaches ``sure_z`` and lies within ``gap`` of the best are confident; the next
    ones down to ``maybe_z`` follow apart; the rest are dropped."""
    scores = fused.scores
    if not len(scores):
        return Answer(fused, 0)
    sure = (scores >= sure_z) & (scores >= scores[0] - gap)
    shown = sure | (scores >= maybe_z)
    return Answer(fused.take(np.flatnonzero(shown)), int(sure.sum()))
