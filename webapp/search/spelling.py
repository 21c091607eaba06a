"""Spelling distance for typo correction: the closest vocabulary word, found fast.

:func:`difflib.get_close_matches` scores every candidate in Python; over a catalogue's
vocabulary (thousands of words of similar length) that took ~30 ms a typo. Its first
test, ``quick_ratio`` (shared letters, as a multiset, over both lengths), is computed
here for the whole vocabulary at once from a word × letter count matrix, and only
the words that pass it go to ``get_close_matches``, which then returns exactly what it
would have returned over the whole pool (a word failing ``quick_ratio`` can never be
its answer).
"""

from __future__ import annotations

from collections.abc import Iterable
from difflib import get_close_matches

import numpy as np


class SpellingPool:
    """A vocabulary, and the closest-spelling lookup over it."""

    def __init__(self, vocabulary: Iterable[str], min_length: int, length_window: int) -> None:
        """Index ``vocabulary`` by length and by letter counts; words shorter than
        ``min_length`` are never corrected, and a correction's length is within
        ``length_window`` letters of the typed word's (``RankingSettings.words``)."""
        self.min_length, self.length_window = min_length, length_window
        self.words = sorted(set(vocabulary))
        letters = sorted({c for w in self.words for c in w})
        self._column = {c: i for i, c in enumerate(letters)}
        self.lengths = np.array([len(w) for w in self.words], np.int32)
        self.counts = np.zeros((len(self.words), max(1, len(letters))), np.uint16)
        for row, word in enumerate(self.words):
            for c in word:
                self.counts[row, self._column[c]] += 1

    def closest(self, term: str, cutoff: float) -> str | None:
        """The word near ``term``'s length that ``get_close_matches`` picks at ``cutoff``;
        short or non-alphabetic terms are never corrected."""
        if len(term) < self.min_length or not term.isalpha():
            return None
        near = np.abs(self.lengths - len(term)) <= self.length_window
        shared = np.minimum(self.counts[near], self._letter_counts(term)).sum(axis=1)
        passing = 2.0 * shared / (self.lengths[near] + len(term)) >= cutoff
        pool = [self.words[i] for i in np.flatnonzero(near)[passing]]
        matches = get_close_matches(term, pool, n=1, cutoff=cutoff)
        return matches[0] if matches else None

    def _letter_counts(self, term: str) -> np.ndarray:
        """``term``'s count of each vocabulary letter (letters outside it share nothing)."""
        counts = np.zeros(self.counts.shape[1], np.uint16)
        for c in term:
            column = self._column.get(c)
            if column is not None:
                counts[column] += 1
        return counts


def edits(a: str, b: str) -> int:
    """Levenshtein distance with adjacent transpositions (optimal string alignment)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            cost = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, previous2[j - 2] + 1)
            current.append(cost)
        previous2, previous = previous, current
    return previous[-1]
