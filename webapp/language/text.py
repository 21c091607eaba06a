"""Normalising text and turning it into the lemma terms both sides of search compare."""

from __future__ import annotations

import re

from .morphology import content_terms, lemmatise

#: a word: letters and digits, hyphenated parts kept together («что-то», «чёрно-белый»)
WORD = re.compile(r"[0-9a-zа-яё]+(?:-[0-9a-zа-яё]+)*")
_NOT_WORD = re.compile(r"[^\w\- ]|_")


def normalise(text: str) -> str:
    """Lower-case, ё→е, every character but letters, digits, spaces and hyphens to a
    space (``\\w`` is ``str.isalnum`` plus ``_``), single spaces, no edge hyphens."""
    text = _NOT_WORD.sub(" ", text.lower().replace("ё", "е"))
    return " ".join(w.strip("-") for w in text.split() if w.strip("-"))


def words(text: str) -> tuple[str, ...]:
    """The words of ``text`` after :func:`normalise`."""
    return tuple(WORD.findall(normalise(text)))


def analyse(text: str) -> tuple[str, ...]:
    """The lemma terms of a text (stop words dropped), processed exactly like a query's."""
    return content_terms(lemmatise(words(text)))


def is_cyrillic(word: str) -> bool:
    """Whether ``word`` contains a Russian letter (ё included)."""
    return any("а" <= ch <= "я" or ch == "ё" for ch in word.lower())
