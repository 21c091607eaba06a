"""Confidence: how likely each candidate of an answered query is to be what the shopper
means, so the answer is ordered by meaning and ends where relevance ends.

Fusion gives each candidate a score, but a score says little about where to stop: a
query whose phrase a rule explains («на 23 февраля») has designs that share only one of
its words or a few of its letters right behind the ones it means. A candidate's
confidence is a logistic model of its calibrated evidence, in two stages:

1. its evidence as features (:data:`FEATURES`): its fused score, absolute and relative to
   the best; how much of the query's words its own text covers, and with the words rules
   add; each kind of signal's calibrated score; its rank;
2. the same features, the first stage's confidence, and how close the candidate is to
   the answer's head (the first stage's most confident designs, in the text and the
   cross-modal spaces): designs on the topic of the best ones hold together, accidental
   neighbours («бегемот» → «человек бежит») do not (:data:`SECOND`).

Both stages' coefficients are fitted on the development sets by
``benchmarks/calibrate_confidence.py`` and live in ``RankingSettings.confidence``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .fusion import Fused
from .settings import ConfidenceSettings
from .signals import SignalKind

#: the first stage's features, in order (``bias`` is the intercept)
FEATURES = (
    "bias",
    "relative",
    "score",
    "own",
    "coverage",
    "z_text",
    "no_text",
    "z_gap",
    "z_cross",
    "z_meaning",
    "lexical",
    "meaning",
    "category",
    "emoji",
    "log_rank",
    "definition",
    "colour",
)
#: the second stage's: the first's, closeness to the answer's head, the first confidence
SECOND = (*FEATURES, "head_text", "head_cross", "first", "first_best")


@dataclass(frozen=True)
class WordEvidence:
    """What the confidence of a word query's candidates reads beside the fused evidence."""

    #: per candidate, the share of the query's word groups its own words cover (0–1)
    own: np.ndarray
    #: …counting the words concept rules add as well
    coverage: np.ndarray
    #: item vectors of the text space and the cross-modal space (None: not configured)
    spaces: tuple[np.ndarray | None, np.ndarray | None] = (None, None)
    #: per candidate, whether its text covers the query's whole phrase (every word, by
    #: its own words or the words curated rules add); None: not a phrase query (one word
    #: that no curated rule explains)
    phrase: np.ndarray | None = None

    @property
    def explained(self) -> np.ndarray:
        """Per candidate, whether the whole phrase explains it (all False when it explains
        none, or the query is no phrase)."""
        if self.phrase is None or not self.phrase.any():
            return np.zeros(len(self.own), bool)
        return self.phrase


def features(fused: Fused, evidence: WordEvidence, absent_z: float) -> np.ndarray:
    """The first stage's (candidates × :data:`FEATURES`) matrix; a candidate missing from
    the text space counts as ``absent_z`` there."""
    n = len(fused)
    if not n:
        return np.zeros((0, len(FEATURES)))
    top = max(float(fused.scores[0]), 1e-6)
    text = fused.best(SignalKind.TEXT)
    has_text = np.isfinite(text)
    text_or_absent = np.where(has_text, text, absent_z)
    columns = [
        np.ones(n),
        fused.scores / top,
        fused.scores,
        evidence.own,
        evidence.coverage,
        np.where(has_text, text, 0.0),
        (~has_text).astype(float),
        text_or_absent - text_or_absent.max(),
        _or_zero(fused.best(SignalKind.CROSS_MODAL)),
        _or_zero(fused.best(SignalKind.MEANING_VECTOR)),
        _or_zero(fused.best(SignalKind.LEXICAL)),
        _or_zero(fused.best(SignalKind.MEANING)),
        _or_zero(fused.best(SignalKind.CATEGORY)),
        fused.has(SignalKind.EMOJI).astype(float),
        np.log(np.arange(1, n + 1)),
        _or_zero(fused.best(SignalKind.DEFINITION)),
        _or_zero(fused.best(SignalKind.COLOUR)),
    ]
    return np.column_stack(columns).astype(np.float64)


def head_closeness(
    rows: np.ndarray,
    first: np.ndarray,
    spaces: Sequence[np.ndarray | None],
    head: int,
) -> np.ndarray:
    """Per candidate and space, its cosine to the answer's head: the first-stage
    confidence-weighted mean vector of the ``head`` most confident candidates (0 where a
    space is not configured)."""
    order = np.argsort(-first, kind="stable")[:head]
    out = np.zeros((len(rows), len(spaces)))
    for j, vectors in enumerate(spaces):
        if vectors is None or not len(rows):
            continue
        centre = (np.asarray(vectors[rows[order]], np.float64) * first[order, None]).sum(axis=0)
        norm = float(np.linalg.norm(centre))
        if norm > 0:
            out[:, j] = _cosines(vectors, rows, centre / norm)
    return out


#: candidates whose vectors are gathered and multiplied at a time (a multiple of every BLAS
#: kernel's unroll, so each row's product is bit for bit what one call over all rows gives)
GATHER_ROWS = 2048


def _cosines(vectors: np.ndarray, rows: np.ndarray, unit: np.ndarray) -> np.ndarray:
    """``vectors[rows] @ unit`` in float64, gathered a block of rows at a time: the
    20,000 candidates of a broad query at a million designs need neither an 80 MB float64
    copy nor its page faults (about 3× faster, the same bits)."""
    out = np.empty(len(rows))
    block = np.empty((min(GATHER_ROWS, len(rows)), vectors.shape[1]))
    for start in range(0, len(rows), GATHER_ROWS):
        end = min(len(rows), start + GATHER_ROWS)
        part = block[: end - start]
        part[:] = vectors[rows[start:end]]
        out[start:end] = part @ unit
    return out


def logistic(matrix: np.ndarray, names: Sequence[str], weights: Mapping[str, float]) -> np.ndarray:
    """σ(matrix · w) with ``w`` read by feature name (a name without a weight counts 0)."""
    w = np.array([weights.get(name, 0.0) for name in names])
    return 1.0 / (1.0 + np.exp(-np.clip(matrix @ w, -40.0, 40.0)))


def second_features(
    fused: Fused, evidence: WordEvidence, settings: ConfidenceSettings
) -> np.ndarray:
    """The second stage's (candidates × :data:`SECOND`) matrix."""
    x = features(fused, evidence, settings.absent_z)
    first_weights, head = settings.first, settings.head
    first = logistic(x, FEATURES, first_weights)
    near = head_closeness(fused.rows, first, evidence.spaces, head)
    best = np.full(len(first), first.max() if len(first) else 0.0)
    return np.column_stack([x, near, first, best])


def confidence(fused: Fused, evidence: WordEvidence, settings: ConfidenceSettings) -> np.ndarray:
    """Per candidate, the probability (0–1) that it is what the query means; an exact
    emoji, and a design of the category the query's words name, are certain."""
    x = second_features(fused, evidence, settings)
    return with_certainty(logistic(x, SECOND, settings.second), x)


def with_certainty(p: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Confidences ``p`` with certain evidence (an exact emoji; the category the query's
    words name, whole) set to 1, read from the features ``x`` (either stage's)."""
    emoji = x[:, FEATURES.index("emoji")] > 0
    category = x[:, FEATURES.index("category")] >= 1.0
    return np.where(emoji | category, 1.0, p)


def _or_zero(values: np.ndarray) -> np.ndarray:
    """``values`` with a missing score (-inf) as 0."""
    return np.where(np.isfinite(values), values, 0.0)
