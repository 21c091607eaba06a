"""Russian morphology for query understanding and the lexical index.

pymorphy3 turns words into dictionary forms, tells dictionary words from guesses
and nouns from the rest, and diminutives are traced back to their base nouns
(``ёлочка`` → ``ёлка``). Each per-word answer is memoised (``clear_word_caches``
forgets them, for cold benchmarks).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import pymorphy3

# Function words and shop filler that carry no motif ("что-нибудь для мальчика").
STOPWORDS = frozenset(
    """
а без в во вот все всё где да для до его ее её же за и из или к как ко ли на над не нибудь ни
но о об около от по под при про с со так то тот у что чтобы это этот я мы вы он она они мой
свой какой-то какой-нибудь что-то что-нибудь кто-то нечто-то нечто что-либо хотеть нужный
найти искать показать вышивка дизайн машинный узор рисунок
""".split()
)


def lemmatise(tokens: Iterable[str]) -> tuple[str, ...]:
    """Dictionary forms of Russian tokens (``котики`` → ``котик``); others unchanged."""
    return tuple(_lemma(t) for t in tokens)


def content_terms(lemmas: Iterable[str]) -> tuple[str, ...]:
    """Drop stop words and one-letter tokens from ``lemmas``."""
    return tuple(t for t in lemmas if len(t) > 1 and t not in STOPWORDS)


# Diminutive suffixes of a lemma and the endings that give the base noun back:
# ёлочка → ёлка, совушка → сова, машинка → машина, грибочек → гриб, лошадка → лошадь.
_DIMINUTIVES = (
    ("очка", ("ка", "а")),
    ("ечка", ("ка", "а")),
    ("ушка", ("а",)),
    # consonant alternations: черепашка → черепаха, собачка → собака, птичка → птица
    ("шка", ("ха",)),
    ("чка", ("ка", "ца")),
    ("юшка", ("я",)),
    ("ышко", ("о",)),
    ("ечко", ("це", "о")),
    ("очек", ("",)),
    ("ечек", ("",)),
    ("ик", ("",)),
    ("чик", ("",)),
    ("ок", ("",)),
    ("ка", ("а", "ь", "")),
)


@lru_cache(maxsize=65536)
def diminutive_bases(lemma: str) -> tuple[str, ...]:
    """Dictionary nouns a diminutive lemma comes from (``котик`` → ``кот``), else ()."""
    bases = []
    for suffix, endings in _DIMINUTIVES:
        if lemma.endswith(suffix) and len(lemma) > len(suffix) + 1:
            stem = lemma[: -len(suffix)]
            bases += [stem + e for e in endings if _is_noun_lemma(stem + e)]
    return tuple(dict.fromkeys(b for b in bases if b != lemma))


@lru_cache(maxsize=1)
def _morph() -> pymorphy3.MorphAnalyzer:
    """The process-wide Russian morphological analyser (loaded once, lazily)."""
    return pymorphy3.MorphAnalyzer(lang="ru")


@lru_cache(maxsize=65536)
def _lemma(token: str) -> str:
    """The most probable normal form of one token, ё folded to е."""
    if not any("а" <= ch <= "я" or ch == "ё" for ch in token):
        return token
    return _morph().parse(token)[0].normal_form.replace("ё", "е")


@lru_cache(maxsize=65536)
def _is_noun_lemma(word: str) -> bool:
    """True when ``word`` is the dictionary form of a known noun."""
    return is_dictionary_word(word) and any(
        p.tag.POS == "NOUN" and p.normal_form.replace("ё", "е") == word
        for p in _morph().parse(word)
    )


@lru_cache(maxsize=65536)
def is_dictionary_word(token: str) -> bool:
    """True when ``token`` is a word of at least two letters that the Russian dictionary
    knows (not a guess)."""
    return len(token) >= 2 and token.isalpha() and _morph().word_is_known(token)


def clear_word_caches() -> None:
    """Forget the per-word analyses (lemmas, noun checks, diminutive bases)."""
    for cached in (_lemma, _is_noun_lemma, is_dictionary_word, diminutive_bases):
        cached.cache_clear()
