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

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

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
    def build(cls, documents: Iterable[Sequence[str]], *, k1: float, b: float) -> TermIndex:
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
    documents: Iterable[Sequence[str]], *, k1: float, b: float
) -> tuple[int, StringColumn, np.ndarray, np.ndarray, np.ndarray]:
    """BM25 (Lucene's formula, exactly as ``bm25s`` computes it) of ``documents`` term by
    term: the number of rows, the sorted vocabulary, and each term's rows (ascending) and
    weights, cut by ``indptr``. An empty document gets :data:`EMPTY_DOCUMENT` (BM25 needs
    one term).

    ``bm25s.BM25.index`` counts each document's terms in Python (≈ 1 ms a document with a
    few hundred terms: half an hour for a million designs' definitions); here the counts
    come from one sort per block of documents and the weights from array arithmetic in
    the same order and precision as bm25s's (float64 per document, each term's IDF in
    float32, the weight stored in float32), so they are bit-identical
    (``tests/test_mapped_lexicon.py`` compares them with bm25s's own).
    """
    ids: dict[str, int] = {}
    lengths: list[int] = []
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (row, term id, count)
    block: list[Sequence[str]] = []
    for document in documents:
        block.append(document or EMPTY_DOCUMENT)
        if len(block) == _BLOCK_DOCUMENTS:
            parts.append(_count_terms(block, len(lengths), ids, lengths))
            block = []
    if block or not lengths:
        parts.append(_count_terms(block, len(lengths), ids, lengths))
    size = len(lengths)
    rows = np.concatenate([p[0] for p in parts])
    terms = np.concatenate([p[1] for p in parts])
    counts = np.concatenate([p[2] for p in parts])
    del parts
    words = sorted(ids)
    position = np.empty(len(words), np.int64)  # a term's id → its place in sorted order
    position[[ids[w] for w in words]] = np.arange(len(words))
    terms = position[terms]
    length = np.array(lengths, np.int64)
    average = length.mean()  # bm25s: np.array([len(doc) …]).mean()
    frequencies = np.bincount(terms, minlength=len(words))
    idf = np.array(  # bm25s: math.log per term in double, stored in a float32 array
        [math.log(1 + (size - df + 0.5) / (df + 0.5)) for df in frequencies.tolist()],
        np.float64,
    ).astype(np.float32)
    tf = counts.astype(np.float32)
    denominator = k1 * ((1 - b) + b * length / average)  # per document, float64
    tfc = tf / (denominator[rows] + tf)
    weights = (idf[terms].astype(np.float64) * tfc).astype(np.float32)
    order = np.argsort(terms, kind="stable")  # by term; rows stay ascending within one
    bounds = np.zeros(len(words) + 1, np.int64)
    np.cumsum(frequencies, out=bounds[1:])
    return size, StringColumn.of(words), bounds, rows[order], weights[order]


#: documents counted at a time by :func:`postings` (its sort's memory is per block)
_BLOCK_DOCUMENTS = 65_536


def _count_terms(
    block: Sequence[Sequence[str]], first: int, ids: dict[str, int], lengths: list[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each (row, term) pair of ``block`` (rows from ``first``) with the term's count in
    that row, sorted by row then term id; new terms get ids in ``ids``, each document's
    length is appended to ``lengths``."""
    sizes = [len(d) for d in block]
    lengths += sizes
    total = sum(sizes)
    flat = np.fromiter((ids.setdefault(t, len(ids)) for d in block for t in d), np.int64, total)
    row = np.repeat(np.arange(first, first + len(block), dtype=np.int64), sizes)
    span = max(1, len(ids))
    keys, counts = np.unique(row * span + flat, return_counts=True)
    return (keys // span).astype(np.int32), keys % span, counts


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
