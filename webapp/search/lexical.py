"""The lexical index: BM25 over lemmatised titles, tags and descriptions.

Lemmas on both sides make «котики», «котика» and «котик» one term, so the
exact-word signal survives Russian morphology. Titles and tags count more than
the generated description by being repeated in the indexed document.
"""

from __future__ import annotations

from collections.abc import Sequence

import bm25s
import numpy as np

from ..catalog.products import Product
from .cache import LRUCache
from .morphology import is_dictionary_word
from .query import analyse
from .spelling import SpellingPool, edits

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
        #: words of titles and tags: what shoppers call designs (a typo is only corrected
        #: into one of these, never into a word of the generated descriptions)
        self.shopper_words = frozenset(
            t for p in products for t in (*analyse(p.title), *analyse(" ; ".join(p.tags)))
        )
        self.corrections: LRUCache[tuple[str, float], str | None] = LRUCache(65536)
        self.spelling = SpellingPool(self.vocabulary)
        self.bm25 = bm25s.BM25(k1=1.2, b=0.5)
        self.bm25.index(corpus, show_progress=False)

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        """BM25 score of each row for ``terms`` (zeros when no term is known)."""
        known = [t for t in terms if t in self.vocabulary]
        if not known:
            return np.zeros(self.size, np.float32)
        return np.asarray(self.bm25.get_scores(known), np.float32)

    def correct(self, term: str, cutoff: float = 0.8) -> str | None:
        """The indexed term closest in spelling to ``term`` (``бабчка`` → ``бабочка``), if any."""
        return self.corrections.get_or_compute(
            (term, cutoff), lambda: self._guarded_closest(term, cutoff)
        )

    def _guarded_closest(self, term: str, cutoff: float) -> str | None:
        """The typo guard: a real dictionary word («водопад», «часовой») is never respelt
        into another word; a correction is a shopper's word (title or tag) within a small
        edit relative to the word's length (one edit per three letters, at least one)."""
        if is_dictionary_word(term):
            return None
        found = self.spelling.closest(term, cutoff)
        limit = max(1, len(term) // 3)
        if found is None or found not in self.shopper_words or edits(term, found) > limit:
            return None
        return found

    def respell(self, terms: Sequence[str], cutoff: float = 0.7) -> list[str]:
        """``terms`` with each unknown word replaced by its closest catalogue spelling;
        empty when some word has none, or when nothing changed."""
        words = [w if w in self.vocabulary else (self.correct(w, cutoff) or "") for w in terms]
        return words if all(words) and words != list(terms) else []

    def matched(self, row: int, terms: Sequence[str]) -> list[str]:
        """The query ``terms`` that occur in row ``row``'s document."""
        return [t for t in terms if t in self.doc_terms[row]]
