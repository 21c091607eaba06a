"""Fusion and ranking: many signals in, one ranked list with reasons out.

Every signal (a vector space, BM25, an exact emoji match) proposes candidate
rows with raw scores. Raw scores are calibrated to a common scale first:
cosine similarities become z-scores against the whole catalogue (computed in
closed form from the space's mean and covariance, so no full scan is needed),
and BM25 becomes the share of the best match. The fused score is a weighted
sum of calibrated scores; reciprocal rank fusion is kept as the measured
alternative (see docs/ranking.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

RRF_K = 60


@dataclass(frozen=True)
class Signal:
    """Candidates from one source: rows, raw scores and calibrated scores, best first."""

    name: str
    rows: np.ndarray
    raw: np.ndarray
    calibrated: np.ndarray


@dataclass
class Fused:
    """One fused candidate with the evidence behind its score."""

    row: int
    score: float
    #: signal name → (raw score, calibrated score, 1-based rank in that signal)
    evidence: dict[str, tuple[float, float, int]] = field(default_factory=dict)
    #: the query words (in any accepted form) this item's text contains
    terms: tuple[str, ...] = ()
    #: words a concept rule added to the query («по смыслу») that this item's text contains
    meaning: tuple[str, ...] = ()


@dataclass(frozen=True)
class SpaceStats:
    """Catalogue-wide moments of one space, for closed-form cosine z-scores."""

    mean: np.ndarray
    covariance: np.ndarray

    @classmethod
    def of(cls, vectors: np.ndarray, sample: int = 32_768) -> SpaceStats:
        """Moments of the item vectors of a space: of every row up to ``sample`` rows, and
        of ``sample`` evenly spaced rows beyond (a million-row space stays a second's work,
        and its memory-mapped pages are not all read in by each worker)."""
        vectors = np.asarray(vectors[:: max(1, -(-len(vectors) // sample))], np.float32)
        mean = vectors.mean(axis=0)
        centred = vectors - mean
        return cls(mean.astype(np.float32), (centred.T @ centred / len(vectors)).astype(np.float32))

    def zscores(self, query: np.ndarray, cosines: np.ndarray) -> np.ndarray:
        """How many standard deviations each cosine sits above the catalogue mean."""
        mu = float(query @ self.mean)
        sigma = float(np.sqrt(max(query @ self.covariance @ query, 1e-12)))
        return (cosines - mu) / sigma


def weighted_fusion(signals: Sequence[Signal], weights: Mapping[str, float]) -> list[Fused]:
    """Rank the union of candidates by the weighted sum of calibrated scores (summed as the
    candidates are collected, signal by signal)."""
    fused = _collect(signals, weights)
    return sorted(fused.values(), key=lambda f: (-f.score, f.row))


def reciprocal_rank_fusion(signals: Sequence[Signal], weights: Mapping[str, float]) -> list[Fused]:
    """Rank the union of candidates by weighted reciprocal rank ``Σ w / (k + rank)``."""
    fused = _collect(signals)
    for item in fused.values():
        item.score = sum(
            weights.get(name, 1.0) / (RRF_K + rank) for name, (_, _, rank) in item.evidence.items()
        )
    return sorted(fused.values(), key=lambda f: (-f.score, f.row))


def _collect(
    signals: Sequence[Signal], weights: Mapping[str, float] | None = None
) -> dict[int, Fused]:
    """Union of all candidates, each with its scores and 1-based rank per signal; with
    ``weights``, each candidate's score is the weighted sum of its calibrated scores."""
    fused: dict[int, Fused] = {}
    for signal in signals:
        weight = 0.0 if weights is None else weights.get(signal.name, 1.0)
        name = signal.name
        triples = zip(
            signal.rows.tolist(), signal.raw.tolist(), signal.calibrated.tolist(), strict=True
        )
        for rank, (row, raw, calibrated) in enumerate(triples, start=1):
            item = fused.get(row)
            if item is None:
                item = fused[row] = Fused(row, 0.0)
            item.evidence[name] = (raw, calibrated, rank)
            item.score += weight * calibrated
    return fused


FUSERS = {"weighted": weighted_fusion, "rrf": reciprocal_rank_fusion}
