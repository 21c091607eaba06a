"""The lexical index: BM25 over lemmatised titles, tags and descriptions.

Lemmas on both sides make «котики», «котика» and «котик» one term, so the
exact-word signal survives Russian morphology. Titles and tags count more than
the generated description by being repeated in the indexed document
(``RankingSettings.words``). Each term's sorted rows (its postings) answer which
candidates contain a word as array operations.
"""

from __future__ import annotations

from collections.abc import Sequence

import bm25s
import numpy as np

from ..catalog.artifacts import TextAnalysis
from ..catalog.lemmas import DesignLemmas, design_lemmas
from ..catalog.products import Product
from ..language.emoji import emoji_table
from ..language.morphology import is_dictionary_word
from ..language.text import analyse
from .cache import LRUCache
from .settings import WordSettings
from .spelling import SpellingPool, edits


def document_terms(lemmas: DesignLemmas, settings: WordSettings) -> list[str]:
    """The weighted bag of lemma terms indexed for one design."""
    return (
        list(lemmas.title) * settings.title_weight
        + list(lemmas.tags) * settings.tag_weight
        + list(lemmas.rest)
    )


def text_analysis(settings: WordSettings) -> TextAnalysis:
    """What building the catalogue's mapped artifacts needs of text: lemma terms, each
    design's weighted document (under ``settings``) and the emoji lookup."""
    return TextAnalysis(
        analyse, lambda product: document_terms(design_lemmas(product), settings), emoji_table
    )


class LexicalIndex:
    """BM25 scores of every catalogue row for a list of query terms."""

    def __init__(self, products: Sequence[Product], settings: WordSettings) -> None:
        """Index ``products`` (row i = products[i])."""
        self.size = len(products)
        self.settings = settings
        lemmas = [design_lemmas(p) for p in products]
        corpus = [document_terms(d, settings) or ["∅"] for d in lemmas]
        self.doc_terms = [frozenset(terms) for terms in corpus]
        self.vocabulary = frozenset().union(*self.doc_terms)
        postings: dict[str, list[int]] = {}
        for row, terms in enumerate(self.doc_terms):
            for term in terms:
                postings.setdefault(term, []).append(row)
        #: each term's rows, ascending
        self.postings = {t: np.array(rows, np.int64) for t, rows in postings.items()}
        #: words of titles and tags: what shoppers call designs (a typo is only corrected
        #: into one of these, never into a word of the generated descriptions)
        self.shopper_words = frozenset(t for d in lemmas for t in d.shopper_words)
        self.corrections: LRUCache[tuple[str, float], str | None] = LRUCache(65536)
        self.spelling = SpellingPool(
            self.vocabulary, settings.min_typo_length, settings.typo_length_window
        )
        self.bm25 = bm25s.BM25(k1=settings.bm25_k1, b=settings.bm25_b)
        self.bm25.index(corpus, show_progress=False)

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        """BM25 score of each row for ``terms`` (zeros when no term is known)."""
        known = [t for t in terms if t in self.vocabulary]
        if not known:
            return np.zeros(self.size, np.float32)
        return np.asarray(self.bm25.get_scores(known), np.float32)

    def rows_with(self, words: Sequence[str]) -> np.ndarray:
        """The rows whose document contains any of ``words``, ascending."""
        found = [self.postings[w] for w in words if w in self.postings]
        if not found:
            return np.empty(0, np.int64)
        return found[0] if len(found) == 1 else np.unique(np.concatenate(found))

    def correct(self, term: str, cutoff: float | None = None) -> str | None:
        """The indexed term closest in spelling to ``term`` (``бабчка`` → ``бабочка``), if any
        (at ``cutoff``, by default the settings' typo cut-off)."""
        cutoff = self.settings.typo_cutoff if cutoff is None else cutoff
        return self.corrections.get_or_compute(
            (term, cutoff), lambda: self._guarded_closest(term, cutoff)
        )

    def _guarded_closest(self, term: str, cutoff: float) -> str | None:
        """The typo guard: a real dictionary word («водопад», «часовой») is never respelt
        into another word; a correction is a shopper's word (title or tag) within a small
        edit relative to the word's length (one edit per ``letters_per_edit``, at least one)."""
        if is_dictionary_word(term):
            return None
        found = self.spelling.closest(term, cutoff)
        limit = max(1, len(term) // self.settings.letters_per_edit)
        if found is None or found not in self.shopper_words or edits(term, found) > limit:
            return None
        return found

    def respell(self, terms: Sequence[str]) -> list[str]:
        """``terms`` with each unknown word replaced by its closest catalogue spelling (at the
        looser respell cut-off); empty when some word has none, or when nothing changed."""
        cutoff = self.settings.respell_cutoff
        words = [w if w in self.vocabulary else (self.correct(w, cutoff) or "") for w in terms]
        return words if all(words) and words != list(terms) else []

    def matched(self, row: int, terms: Sequence[str]) -> list[str]:
        """The query ``terms`` that occur in row ``row``'s document."""
        return [t for t in terms if t in self.doc_terms[row]]
