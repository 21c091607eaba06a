"""The lexical index: BM25 over lemmatised titles, tags and descriptions.

Lemmas on both sides make «котики», «котика» and «котик» one term, so the
exact-word signal survives Russian morphology. Titles and tags count more than
the generated description by being repeated in the indexed document
(``RankingSettings.words``). The index itself is the catalogue's lexicon
(``catalog/lexicon.py``), built once by ``flask --app webapp index`` and mapped by
every worker: each term's sorted rows and BM25 weights answer the scores and which
candidates contain a word as array operations. Typo correction, which needs the
morphology, is added here.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..catalog.artifacts import TextAnalysis
from ..catalog.definitions import design_words
from ..catalog.lemmas import DesignLemmas, design_lemmas
from ..catalog.lexicon import Lexicon
from ..catalog.products import Product
from ..language.emoji import emoji_table
from ..language.morphology import is_dictionary_word
from ..language.text import analyse
from .cache import LRUCache
from .settings import KnowledgeSettings, WordSettings
from .spelling import edits


def document_terms(lemmas: DesignLemmas, settings: WordSettings) -> list[str]:
    """The weighted bag of lemma terms indexed for one design."""
    return (
        list(lemmas.title) * settings.title_weight
        + list(lemmas.tags) * settings.tag_weight
        + list(lemmas.rest)
    )


#: texts whose lemmas the catalogue build remembers (titles, tags: they repeat)
ANALYSED_TEXTS = 1 << 18


def artifact_settings(words: WordSettings, knowledge: KnowledgeSettings) -> dict[str, Any]:
    """The ranking settings the catalogue's artifacts are built under (what the lexicon's
    documents and BM25, and the reverse dictionary's, depend on)."""
    return {
        "title_weight": words.title_weight,
        "tag_weight": words.tag_weight,
        "bm25_k1": words.bm25_k1,
        "bm25_b": words.bm25_b,
        "definition_title_weight": knowledge.definition_title_weight,
        "definition_k1": knowledge.definition_k1,
        "definition_b": knowledge.definition_b,
    }


def text_analysis(
    settings: WordSettings, knowledge: KnowledgeSettings | None = None
) -> TextAnalysis:
    """What building the catalogue's mapped artifacts needs of text: lemma terms, each
    design's weighted document and definition words, the emoji lookup, and the BM25
    parameters (under ``settings`` and ``knowledge``, the shipped ones by default)."""
    knowledge = knowledge or KnowledgeSettings()
    title = knowledge.definition_title_weight
    # titles, tags and section names repeat across a catalogue: each is analysed once
    analysed = functools.lru_cache(maxsize=ANALYSED_TEXTS)(analyse)
    return TextAnalysis(
        analysed,
        lambda product: document_terms(design_lemmas(product), settings),
        emoji_table,
        bm25=(settings.bm25_k1, settings.bm25_b),
        design_words=lambda p: design_words(
            analysed(p.title), [analysed(t) for t in p.tags], title
        ),
        definition_bm25=(knowledge.definition_k1, knowledge.definition_b),
        settings=artifact_settings(settings, knowledge),
    )


class LexicalIndex:
    """BM25 scores of every catalogue row for a list of query terms, the catalogue's
    vocabulary and shoppers' words, and typo correction into them."""

    def __init__(self, lexicon: Lexicon | Sequence[Product], settings: WordSettings) -> None:
        """Read ``lexicon`` (mapped or built in memory), or build one of ``products`` (row
        i = products[i]) under ``settings``."""
        if not isinstance(lexicon, Lexicon):
            documents = [document_terms(design_lemmas(p), settings) for p in lexicon]
            shoppers = {t for p in lexicon for t in design_lemmas(p).shopper_words}
            lexicon = Lexicon.build(documents, shoppers, k1=settings.bm25_k1, b=settings.bm25_b)
        self.lexicon = lexicon
        self.size = lexicon.size
        self.settings = settings
        #: every term of every design's document (a sorted, mapped set)
        self.vocabulary = lexicon.vocabulary
        #: words of titles and tags: what shoppers call designs (a typo is only corrected
        #: into one of these, never into a word of the generated descriptions)
        self.shopper_words = lexicon.shopper_words
        self.corrections: LRUCache[tuple[str, float], str | None] = LRUCache(65536)

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        """BM25 score of each row for ``terms`` (zeros when no term is known)."""
        return self.lexicon.scores(terms)

    def rows_with(self, words: Sequence[str]) -> np.ndarray:
        """The rows whose document contains any of ``words``, ascending."""
        return self.lexicon.rows_with(words)

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
        found = self.lexicon.spelling.closest(
            term,
            cutoff,
            min_length=self.settings.min_typo_length,
            length_window=self.settings.typo_length_window,
        )
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
        return self.lexicon.matched(row, terms)
