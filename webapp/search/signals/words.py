"""Word signals: BM25 over the catalogue's lemmas, for the query's own words and for the
words concept rules add («по смыслу»).

Calibration: a candidate's BM25 score as a share of the best score in the whole
catalogue, times the share of the query's word groups its text covers, so a design
matching one word of three never looks like a full match.
"""

from __future__ import annotations

import numpy as np

from ..lexical import LexicalIndex
from ..terms import Groups, TermReader
from . import Signal, SignalKind


def bm25(
    kind: SignalKind,
    lexical: LexicalIndex,
    reader: TermReader,
    words: list[str],
    groups: Groups,
    k: int,
    mask: np.ndarray | None = None,
) -> list[Signal]:
    """BM25 candidates for ``words`` (at most ``k``, among the rows ``mask`` keeps),
    calibrated by coverage of ``groups``; empty when nothing matches."""
    if not words:
        return []
    scores = lexical.scores(words)
    top = float(scores.max()) if len(scores) else 0.0
    if top <= 0:
        return []
    kept = scores if mask is None else np.where(mask, scores, 0.0)
    matching = np.flatnonzero(kept > 0)  # BM25 is sparse: rank only the rows that match
    rows = matching[top_rows(kept[matching], k)]
    coverage = reader.coverage(rows, groups)
    return [Signal.of(kind, rows, scores[rows], coverage * scores[rows] / top)]


def top_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """Rows of the ``k`` highest ``scores``, best first, ties in row order: what a stable
    descending sort gives, in time linear in the catalogue (a partition, then a sort of k)."""
    n = len(scores)
    if k >= n:
        return np.argsort(-scores, kind="stable")
    threshold = np.partition(scores, n - k)[n - k]
    above = np.flatnonzero(scores > threshold)
    ties = np.flatnonzero(scores == threshold)[: k - len(above)]
    rows = np.concatenate([above, ties])
    return rows[np.argsort(-scores[rows], kind="stable")]
