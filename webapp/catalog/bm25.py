"""BM25 over bags of lemma terms: the one place a term index meets ``bm25s``.

A query term the index has never seen would only dilute ``bm25s``'s scores (or fail),
so unknown terms are dropped and a query with none scores zero everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence

import bm25s
import numpy as np


class TermBM25:
    """BM25 scores of every document (a bag of lemma terms) for a list of query terms."""

    def __init__(self, corpus: Sequence[Sequence[str]], *, k1: float, b: float) -> None:
        """Index ``corpus`` (document i = row i); an empty document gets a placeholder."""
        documents = [list(doc) or ["∅"] for doc in corpus]
        self.size = len(documents)
        self.vocabulary = frozenset(t for doc in documents for t in doc)
        self.bm25 = bm25s.BM25(k1=k1, b=b)
        self.bm25.index(documents, show_progress=False)

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        """BM25 score of each document for ``terms`` (zeros when no term is known)."""
        known = [t for t in terms if t in self.vocabulary]
        if not known:
            return np.zeros(self.size, np.float32)
        return np.asarray(self.bm25.get_scores(known), np.float32)
