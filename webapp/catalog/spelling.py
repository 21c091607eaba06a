"""The spelling pool: the closest vocabulary word to a typo, over arrays a worker can map.

The search core's typo lookup (``search/lexical.py``), built once by
``flask --app webapp index`` instead of in every worker: the sorted words, their
lengths and a word × letter count matrix. :func:`difflib.get_close_matches` scores
every candidate in Python; its first test, ``quick_ratio`` (shared letters, as a
multiset, over both lengths), is computed here for the whole vocabulary at once from
the count matrix, and only the words that pass it go to ``get_close_matches``, which
then returns exactly what it would have returned over the whole pool.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from difflib import get_close_matches
from pathlib import Path

import numpy as np

from .columns import StringColumn, load_array, save_array


class SpellingPool:
    """A sorted vocabulary, and the closest-spelling lookup over it."""

    def __init__(
        self, words: Sequence[str], letters: str, lengths: np.ndarray, counts: np.ndarray
    ) -> None:
        """Use ``words`` (sorted), the ``letters`` they are made of (sorted), each word's
        length and its count of each letter (rows aligned with ``words``)."""
        self.words = words
        self.letters = letters
        self._column = {c: i for i, c in enumerate(letters)}
        self.lengths = lengths
        self.counts = counts

    @classmethod
    def build(cls, vocabulary: Iterable[str]) -> SpellingPool:
        """Index ``vocabulary`` by length and by letter counts, in memory."""
        words = sorted(set(vocabulary))
        letters = "".join(sorted({c for w in words for c in w}))
        column = {c: i for i, c in enumerate(letters)}
        counts = np.zeros((len(words), max(1, len(letters))), np.uint16)
        for row, word in enumerate(words):
            for c in word:
                counts[row, column[c]] += 1
        lengths = np.array([len(w) for w in words], np.int32)
        return cls(StringColumn.of(words), letters, lengths, counts)

    def save(self, folder: Path) -> list[Path]:
        """Write the pool's arrays into ``folder`` (the words are the lexicon's vocabulary,
        saved with it); return the files written."""
        paths = [folder / "spelling.lengths.npy", folder / "spelling.counts.npy"]
        save_array(paths[0], self.lengths)
        save_array(paths[1], self.counts)
        return paths

    @classmethod
    def load(cls, folder: Path, words: Sequence[str], letters: str) -> SpellingPool:
        """The pool saved in ``folder`` over ``words``, its arrays memory-mapped."""
        return cls(
            words,
            letters,
            load_array(folder / "spelling.lengths.npy"),
            load_array(folder / "spelling.counts.npy"),
        )

    def closest(
        self, term: str, cutoff: float, *, min_length: int = 4, length_window: int = 2
    ) -> str | None:
        """The word within ``length_window`` letters of ``term``'s length that
        ``get_close_matches`` picks at ``cutoff``; terms shorter than ``min_length`` or not
        alphabetic are never corrected (``RankingSettings.words``)."""
        if len(term) < min_length or not term.isalpha():
            return None
        near = np.flatnonzero(np.abs(self.lengths - len(term)) <= length_window)
        shared = np.minimum(self.counts[near], self._letter_counts(term)).sum(axis=1)
        passing = 2.0 * shared / (self.lengths[near] + len(term)) >= cutoff
        pool = [self.words[int(i)] for i in near[passing]]
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
