"""The local lexical back-end: BM25 over the catalogue's lexicon, mapped in every worker.

The lexicon (``webapp/catalog/lexicon.py``) holds each term's rows and BM25 weights;
a query's scores are its terms' weights added up (bit-identical to bm25s), its
candidates the top ``k`` of the rows a filter keeps, in time linear in the catalogue.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..catalog.lexicon import Lexicon
from .base import Where
from .lexical_base import LexicalHits


class LocalLexical:
    """:class:`~.lexical_base.LexicalBackend` over a :class:`Lexicon` in this process."""

    def __init__(self, lexicon: Lexicon) -> None:
        """Search ``lexicon`` (mapped, or built in memory for a small catalogue)."""
        self.lexicon = lexicon

    def __len__(self) -> int:
        """Number of documents."""
        return self.lexicon.size

    def search(
        self,
        terms: Sequence[str],
        k: int,
        where: Where | None = None,
        *,
        words: Sequence[str] | None = None,
    ) -> LexicalHits:
        """The top ``k`` rows ``where`` keeps for ``terms`` (see the contract)."""
        words = tuple(terms if words is None else words)
        scores = self.lexicon.scores(terms)
        best = float(scores.max()) if len(scores) else 0.0
        if best <= 0 or k <= 0:
            return LexicalHits.empty(words)
        kept = scores if where is None else np.where(where.mask, scores, 0.0)
        matching = np.flatnonzero(kept > 0)  # BM25 is sparse: rank only the rows that match
        rows = matching[top_rows(kept[matching], k)]
        return LexicalHits(rows, scores[rows], best, words, self.lexicon.contains(rows, words))

    def describe(self) -> dict[str, Any]:
        """Back-end and size."""
        return {
            "lexical": "local",
            "documents": len(self),
            "terms": len(self.lexicon.vocabulary),
            "postings": len(self.lexicon.rows),
        }

    def check(self) -> None:
        """Always ready: the lexicon is in this process."""


def top_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """Rows of the ``k`` highest ``scores``, best first, ties in row order: what a stable
    descending sort gives, in time linear in the catalogue (a partition, then a sort of k).
    (The search core's ``words.top_rows``, which moves here when it adopts this back-end.)"""
    n = len(scores)
    if k >= n:
        return np.argsort(-scores, kind="stable")
    threshold = np.partition(scores, n - k)[n - k]
    above = np.flatnonzero(scores > threshold)
    ties = np.flatnonzero(scores == threshold)[: k - len(above)]
    rows = np.concatenate([above, ties])
    return rows[np.argsort(-scores[rows], kind="stable")]
