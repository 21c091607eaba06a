"""The lexical index: BM25 over lemmatised titles, tags and descriptions.

Lemmas on both sides make «котики», «котика» and «котик» one term, so the
exact-word signal survives Russian morphology. Titles and tags count more than
the generated description by being repeated in the indexed document.
"""

from __future__ import annotations

from collections.abc import Sequence

import bm25s
import numpy as np

from .catalog import Product
from .query import analyse

TITLE_WEIGHT = 3
TAG_WEIGHT = 2


def document_terms(product: Product) -> list[str]:
    """The weighted bag of lemma terms indexed for ``product``."""
    title = list(analyse(product.title))
    tags = list(analyse(" ; ".join(product.tags)))
    rest = list(analyse(f"{product.subcategory} {product.description}"))
    return title * TITLE_WEIGHT + tags * TAG_WEIGHT + rest


class LexicalIndex:
    """BM25 scores of every catalogue row for a list of query terms."""

    def __init__(self, products: Sequence[Product]) -> None:
        """Index ``products`` (row i = products[i])."""
        self.size = len(products)
        corpus = [document_terms(p) or ["∅"] for p in products]
        self.doc_terms = [frozenset(terms) for terms in corpus]
        self.vocabulary = frozenset().union(*self.doc_terms)
        self.bm25 = bm25s.BM25(k1=1.2, b=0.5)
        self.bm25.index(corpus, show_progress=False)

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        """BM25 score of each row for ``terms`` (zeros when no term is known)."""
        known = [t for t in terms if t in self.vocabulary]
        if not known:
            return np.zeros(self.size, np.float32)
        return np.asarray(self.bm25.get_scores(known), np.float32)

    def matched(self, row: int, terms: Sequence[str]) -> list[str]:
        """The query ``terms`` that occur in row ``row``'s document."""
        return [t for t in terms if t in self.doc_terms[row]]
