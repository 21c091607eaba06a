"""The catalogue's lexicon: BM25 over each design's lemma document, as an inverted index.

Built once by ``flask --app webapp index`` from the same weighted lemma documents the
search core's ``LexicalIndex`` indexes (``document_terms``: title ×3, tags ×2, the
rest once) and with the same BM25 (bm25s, k1 1.2, b 0.5, Lucene's formula), then
stored term by term: for term ``t`` (its position in the sorted vocabulary), the rows
whose document contains it, ascending, and the BM25 weight ``t`` contributes to each
(``rows[indptr[t]:indptr[t + 1]]``, ``weights[…]``). That one structure answers every
question the search core asks of the documents:

* a query's BM25 scores: the weights of its terms added up, in query order, in float32
  (bm25s's own sum, so the scores are bit-identical to ``bm25s.BM25.get_scores``);
* whether a row contains a term (coverage of the query, the words a result matched):
  a binary search in the term's rows, instead of a frozenset of terms per design;
* the vocabulary and the words shoppers use (titles and tags) as sorted strings.

Every array is ``.npy``; a worker maps them (nothing is parsed or built per worker).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import bm25s
import numpy as np

from .columns import SortedStrings, StringColumn, load_array, save_array
from .spelling import SpellingPool

#: the BM25 parameters of the lexical signal (docs/ranking.md)
BM25_K1, BM25_B = 1.2, 0.5
#: the document of a design whose text has no lemma at all (BM25 needs one term)
EMPTY_DOCUMENT = ("∅",)


class WordSet:
    """Membership in a subset of the vocabulary, as a mapped flag per vocabulary word."""

    def __init__(self, vocabulary: SortedStrings, flags: np.ndarray) -> None:
        """The words of ``vocabulary`` whose flag is set."""
        self.vocabulary = vocabulary
        self.flags = flags

    def __contains__(self, word: object) -> bool:
        """Whether ``word`` is in the set."""
        if not isinstance(word, str):
            return False
        position = self.vocabulary.index(word)
        return position >= 0 and bool(self.flags[position])

    def __len__(self) -> int:
        """Number of words in the set."""
        return int(np.count_nonzero(self.flags))


class TermIndex:
    """BM25 over bags of lemma terms as an inverted index: a sorted vocabulary, and per term
    its rows (ascending) and the weight it adds to each. The lexicon is one; the reverse
    dictionary over the designs' definitions (``definitions.py``) another."""

    def __init__(
        self,
        size: int,
        vocabulary: StringColumn,
        indptr: np.ndarray,
        rows: np.ndarray,
        weights: np.ndarray,
    ) -> None:
        """Assemble an index over ``size`` rows from its arrays (see the module text)."""
        self.size = size
        #: every term of every document, as a sorted set
        self.vocabulary = SortedStrings(vocabulary)
        self.indptr, self.rows, self.weights = indptr, rows, weights

    # -- building and saving ---------------------------------------------------------------
    @classmethod
    def build(cls, documents: Sequence[Sequence[str]], *, k1: float, b: float) -> TermIndex:
        """The index of ``documents`` (row i's terms, repeated by weight) in memory."""
        return cls(*postings(documents, k1=k1, b=b))

    def save_arrays(self, folder: Path, prefix: str) -> list[Path]:
        """Write the vocabulary and the postings as ``<prefix>.*.npy``; return the files."""
        written = self.vocabulary.column.save(folder, f"{prefix}.vocabulary")
        for name in ("indptr", "rows", "weights"):
            save_array(folder / f"{prefix}.{name}.npy", getattr(self, name))
            written.append(folder / f"{prefix}.{name}.npy")
        return written

    @staticmethod
    def load_arrays(folder: Path, prefix: str) -> tuple[StringColumn, np.ndarray, ...]:
        """The vocabulary and postings saved under ``prefix``, memory-mapped."""
        vocabulary = StringColumn.load(folder, f"{prefix}.vocabulary")
        arrays = [load_array(folder / f"{prefix}.{n}.npy") for n in ("indptr", "rows", "weights")]
        return (vocabulary, *arrays)

    # -- reading ---------------------------------------------------------------------------
    def postings(self, term: str) -> np.ndarray:
        """The rows whose document contains ``term``, ascending (empty when none)."""
        position = self.vocabulary.index(term)
        if position < 0:
            return np.empty(0, np.int32)
        return self.rows[self.indptr[position] : self.indptr[position + 1]]

    def rows_with(self, words: Sequence[str]) -> np.ndarray:
        """The rows whose document contains any of ``words``, ascending."""
        found = [p for p in map(self.postings, dict.fromkeys(words)) if len(p)]
        if not found:
            return np.empty(0, np.int64)
        if len(found) == 1:
            return found[0].astype(np.int64)
        return np.unique(np.concatenate(found)).astype(np.int64)

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        """BM25 score of each row for ``terms`` (unknown terms add nothing; repeated
        ones count again, as in bm25s); float32, zeros when no term is known."""
        scores = np.zeros(self.size, np.float32)
        for term in terms:
            position = self.vocabulary.index(term)
            if position >= 0:
                part = slice(int(self.indptr[position]), int(self.indptr[position + 1]))
                scores[self.rows[part]] += self.weights[part]  # a term's rows are distinct
        return scores

    def contains(self, rows: np.ndarray, terms: Sequence[str]) -> np.ndarray:
        """A (len(rows), len(terms)) boolean matrix: whether each row's document holds
        each term."""
        rows = np.asarray(rows, np.int64)
        found = np.zeros((len(rows), len(terms)), bool)
        for j, term in enumerate(terms):
            posting = self.postings(term)
            if len(posting) and len(rows):
                at = np.minimum(np.searchsorted(posting, rows), len(posting) - 1)
                found[:, j] = posting[at] == rows
        return found

    def coverage(self, rows: np.ndarray, groups: Sequence[Sequence[str]]) -> np.ndarray:
        """Per row, the share of query term ``groups`` whose document holds some word of
        the group (float64, as the search core computes it; zeros for no groups)."""
        covered = np.zeros(len(rows), np.float64)
        for group in groups:
            covered += self.contains(rows, list(group)).any(axis=1)
        return covered / len(groups) if groups else covered

    def matched(self, row: int, terms: Sequence[str]) -> list[str]:
        """The ``terms`` that occur in row ``row``'s document, in their order."""
        found = self.contains(np.array([row]), terms)[0]
        return [t for t, hit in zip(terms, found.tolist(), strict=True) if hit]


def postings(
    documents: Sequence[Sequence[str]], *, k1: float, b: float
) -> tuple[int, StringColumn, np.ndarray, np.ndarray, np.ndarray]:
    """BM25 (bm25s, Lucene's formula) of ``documents`` term by term: the number of rows,
    the sorted vocabulary, and each term's rows (ascending) and weights, cut by ``indptr``.
    An empty document gets :data:`EMPTY_DOCUMENT` (BM25 needs one term)."""
    corpus = [list(d) or list(EMPTY_DOCUMENT) for d in documents]
    bm25 = bm25s.BM25(k1=k1, b=b)
    bm25.index(corpus, show_progress=False)
    words = sorted({t for d in corpus for t in d})
    column = np.array([bm25.vocab_dict[w] for w in words], np.int64)
    data, indices, indptr = (bm25.scores[n] for n in ("data", "indices", "indptr"))
    starts, ends = indptr[column], indptr[column + 1]
    lengths = (ends - starts).astype(np.int64)
    take = np.concatenate([np.arange(s, e) for s, e in zip(starts, ends, strict=True)])
    rows = np.asarray(indices[take], np.int32)
    weights = np.asarray(data[take], np.float32)
    bounds = np.zeros(len(words) + 1, np.int64)
    np.cumsum(lengths, out=bounds[1:])
    for t in range(len(words)):  # each term's rows ascending (the searches need it)
        part = slice(bounds[t], bounds[t + 1])
        order = np.argsort(rows[part], kind="stable")
        rows[part], weights[part] = rows[part][order], weights[part][order]
    return len(corpus), StringColumn.of(words), bounds, rows, weights


class Lexicon(TermIndex):
    """BM25 scores, term postings, vocabulary, shoppers' words and the spelling pool."""

    def __init__(
        self,
        size: int,
        vocabulary: StringColumn,
        indptr: np.ndarray,
        rows: np.ndarray,
        weights: np.ndarray,
        shopper: np.ndarray,
        spelling: SpellingPool,
    ) -> None:
        """Assemble a lexicon over ``size`` rows from its arrays (see the module text)."""
        super().__init__(size, vocabulary, indptr, rows, weights)
        #: words of titles and tags: what shoppers call designs (typos are corrected
        #: only into these)
        self.shopper_words = WordSet(self.vocabulary, shopper)
        self.spelling = spelling

    # -- building and saving ---------------------------------------------------------------
    @classmethod
    def build(  # type: ignore[override]
        cls,
        documents: Sequence[Sequence[str]],
        shopper_words: Iterable[str],
        *,
        k1: float = BM25_K1,
        b: float = BM25_B,
    ) -> Lexicon:
        """The lexicon of ``documents`` (row i's lemma terms, repeated by weight) in memory."""
        size, vocabulary, bounds, rows, weights = postings(documents, k1=k1, b=b)
        words = list(vocabulary)
        shopper = set(shopper_words)
        flags = np.array([w in shopper for w in words], bool)
        pool = SpellingPool.build(words)  # its words are the vocabulary, sorted
        return cls(size, pool.words, bounds, rows, weights, flags, pool)

    def save(self, folder: Path) -> list[Path]:
        """Write the lexicon's arrays into ``folder``; return the files written."""
        written = self.save_arrays(folder, "lexicon")
        save_array(folder / "lexicon.shopper.npy", self.shopper_words.flags)
        written.append(folder / "lexicon.shopper.npy")
        return written + self.spelling.save(folder)

    @classmethod
    def load(cls, folder: Path, size: int, letters: str) -> Lexicon:
        """The lexicon saved in ``folder`` over ``size`` rows (``letters``: the spelling
        pool's alphabet, from the manifest), every array memory-mapped."""
        vocabulary, indptr, rows, weights = cls.load_arrays(folder, "lexicon")
        shopper = load_array(folder / "lexicon.shopper.npy")
        pool = SpellingPool.load(folder, vocabulary, letters)
        return cls(size, vocabulary, indptr, rows, weights, shopper, pool)
