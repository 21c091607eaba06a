"""Each signal on its own (``search/signals/``), on a tiny hand-built catalogue or made-up
vectors: what it proposes, in which order, and how it is calibrated."""

from __future__ import annotations

import numpy as np

from webapp.catalog.table import ProductTable
from webapp.encoders.space import Space
from webapp.search.signals import SignalKind
from webapp.search.signals.category import CategoryTree
from webapp.search.signals.emoji import emoji_signal
from webapp.search.signals.vectors import Spaces
from webapp.search.signals.words import bm25, top_rows
from webapp.search.timing import Timer

from .stage_fixtures import PRODUCTS, lexical, reader, understanding

INDEX = lexical()
READER = reader(INDEX)


def words(query: str, k: int = 10, mask: np.ndarray | None = None):
    terms = READER.read(understanding().parse(query))
    return bm25(SignalKind.LEXICAL, INDEX, READER, terms.own_words, terms.groups, k, mask)


def test_bm25_calibrates_by_share_of_the_best_score_times_coverage() -> None:
    (signal,) = words("кот в шляпе")
    assert signal.kind is SignalKind.LEXICAL and signal.rows.tolist()[0] == 2
    assert signal.calibrated[0] == 1.0  # the best match covers both words
    kitten, cat = signal.calibrated[0], signal.calibrated[1]
    assert signal.rows[1] == 1 and cat < 0.5 * kitten  # «Кошка» covers one word of two


def test_bm25_respects_the_mask_and_finds_nothing_for_unknown_words() -> None:
    mask = np.zeros(len(PRODUCTS), bool)
    mask[1] = True
    (signal,) = words("кот", mask=mask)
    assert signal.rows.tolist() == [1]
    assert words("ипотека") == []


def test_top_rows_is_a_stable_descending_sort_in_linear_time() -> None:
    scores = np.array([1.0, 3.0, 3.0, 0.5, 2.0, 3.0])
    assert top_rows(scores, 4).tolist() == [1, 2, 5, 4]
    assert top_rows(scores, 10).tolist() == [1, 2, 5, 4, 0, 3]


def test_a_category_word_reaches_its_designs_with_the_share_it_covers() -> None:
    tree = CategoryTree.of(PRODUCTS)
    (signal,) = tree.signal([("насекомое",)])
    assert signal.kind is SignalKind.CATEGORY and signal.rows.tolist() == [3]
    (half,) = tree.signal([("грызун",), ("шляпа",)])
    assert half.rows.tolist() == [7] and half.calibrated.tolist() == [0.5]
    # a weak match keeps only designs other signals found
    (beside,) = tree.signal([("кошачий",), ("а",), ("б",)], alone=0.5, beside=np.array([2]))
    assert beside.rows.tolist() == [2]


def test_an_emoji_is_its_design_and_unknown_ones_are_ignored() -> None:
    table = ProductTable.build(PRODUCTS)
    (signal,) = emoji_signal(table.rows_of([PRODUCTS[3].id, "zz"]))
    assert signal.rows.tolist() == [3] and signal.calibrated.tolist() == [1.0]
    assert emoji_signal(table.rows_of(["zz"])) == []


class ExactIndex:
    """The smallest vector back-end: exact inner products over a matrix."""

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors, self.dim = vectors, vectors.shape[1]

    def search(self, query, k, where=None):
        scores = self.vectors @ query
        if where is not None:
            scores = np.where(where.mask, scores, -np.inf)
        rows = np.argsort(-scores, kind="stable")[:k]
        return rows[np.isfinite(scores[rows])], scores[rows][np.isfinite(scores[rows])]


def test_a_vector_signal_is_the_knn_calibrated_to_catalogue_z_scores() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(200, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    spaces = Spaces([Space("text-x", "text", None)], {"text-x": ExactIndex(vectors)}, 32_768)
    signal = spaces.signal(SignalKind.TEXT, "text-x", vectors[5], 10)
    assert signal.rows[0] == 5 and signal.name == "text-x"
    cosines = vectors @ vectors[5]
    expected = (cosines[signal.rows] - cosines.mean()) / cosines.std()
    np.testing.assert_allclose(signal.calibrated, expected, atol=1e-3)
    again = spaces.rescore(SignalKind.LOOK, "text-x", vectors[5], np.array([7, 5, 9]))
    assert again.rows[0] == 5 and again.kind is SignalKind.LOOK
    assert spaces.query_signals("петух", 5, Timer()) == []  # no text encoder: no query
