"""The contract every lexical back-end keeps: BM25 candidates for a query's lemma terms.

Rows are catalogue rows and scores are BM25 scores of the lemma documents
``flask --app webapp index`` built (``webapp/catalog/lexicon.py``). A search may be
narrowed by a :class:`~.base.Where`, honoured exactly like a vector search's.

The search core calibrates a BM25 candidate as the share of the query's term groups its
document covers × its score / the best score of any design in the whole catalogue; so
a search answers, besides the rows and scores, that best score (``best``: unfiltered,
whatever ``where`` says) and, for each row, which of the caller's ``words`` its
document holds (``contains``), from which coverage and the words a result matched
follow without the documents themselves. Scores of different back-ends may differ in
scale (Milvus multiplies Lucene's BM25 by k1 + 1): only ``score / best`` is compared.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .base import Where


@dataclass(frozen=True, eq=False)
class LexicalHits:
    """One lexical search's answer, best first (ties in row order)."""

    rows: np.ndarray
    #: the BM25 score of each row (float32)
    scores: np.ndarray
    #: the best score of any row of the whole catalogue for the query (0: nothing matches)
    best: float
    #: the words whose presence was asked for, and (len(rows), len(words)) booleans
    words: tuple[str, ...]
    contains: np.ndarray

    def coverage(self, groups: Sequence[Sequence[str]]) -> np.ndarray:
        """Per row, the share of ``groups`` (each: the words that count as one query
        term; all among :attr:`words`) whose document holds some word of the group."""
        column = {w: j for j, w in enumerate(self.words)}
        covered = np.zeros(len(self.rows), np.float64)
        for group in groups:
            columns = [column[w] for w in group]
            covered += self.contains[:, columns].any(axis=1)
        return covered / len(groups) if groups else covered

    def matched(self, index: int, words: Sequence[str]) -> list[str]:
        """The ``words`` (among :attr:`words`) the document of hit ``index`` holds."""
        column = {w: j for j, w in enumerate(self.words)}
        return [w for w in words if self.contains[index, column[w]]]

    @classmethod
    def empty(cls, words: Sequence[str]) -> LexicalHits:
        """No hit."""
        shape = (0, len(words))
        return cls(
            np.empty(0, np.int64), np.empty(0, np.float32), 0.0, tuple(words), np.zeros(shape, bool)
        )


class LexicalBackend(Protocol):
    """BM25 over the catalogue's lemma documents."""

    def __len__(self) -> int:
        """Number of documents (catalogue rows)."""
        ...

    def search(
        self,
        terms: Sequence[str],
        k: int,
        where: Where | None = None,
        *,
        words: Sequence[str] | None = None,
    ) -> LexicalHits:
        """The at most ``k`` rows ``where`` keeps (all when None) with the highest BM25
        score > 0 for ``terms`` (a repeated term counts again; unknown ones add nothing),
        best first; with the presence in each of ``words`` (default: ``terms``)."""
        ...

    def describe(self) -> dict[str, Any]:
        """What the back-end is, for ``/readyz`` and the benchmark."""
        ...

    def check(self) -> None:
        """Raise :class:`~.base.IndexUnavailable` when it cannot serve now."""
        ...
