"""The mapped lexicon answers exactly what the search core's in-process one answers.

Built once by ``flask --app webapp index`` and mapped by every worker, it must give
bit-identical BM25 scores, the same vocabulary, shoppers' words, spelling
corrections, category tree and emoji lookup as ``LexicalIndex`` / ``CategoryTree``
built from the products, so the search core can switch to it without a ranking change.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from webapp.catalog import artifacts
from webapp.catalog.products import read_catalog
from webapp.language.emoji import emoji_table
from webapp.search.lexical import LexicalIndex, text_analysis
from webapp.search.settings import WordSettings
from webapp.search.signals.category import CategoryTree

#: how the catalogue's words are analysed for its artifacts (the shipped settings)
TEXT = text_analysis(WordSettings())

ROOT = Path(__file__).resolve().parent.parent
TYPOS = ("бабчка", "котенак", "ёлочко", "корвль", "машинко", "цвиты", "зайчег", "самалет", "кт")


@pytest.fixture(scope="module")
def demo():
    """The committed demo catalogue."""
    return read_catalog(ROOT / "data" / "catalog.csv")


@pytest.fixture(scope="module")
def reference(demo) -> LexicalIndex:
    """The search core's own lexical index of the demo."""
    return LexicalIndex(demo.products, WordSettings())


@pytest.fixture(scope="module", params=["memory", "mapped"])
def built(request, demo, tmp_path_factory) -> artifacts.CatalogArtifacts:
    """The demo's artifacts, in memory and written then mapped."""
    made = artifacts.build(demo, TEXT)
    if request.param == "memory":
        return made
    folder = tmp_path_factory.mktemp("artifacts")
    csv = folder / "catalog.csv"
    csv.write_bytes((ROOT / "data" / "catalog.csv").read_bytes())
    artifacts.write(folder, csv, made)
    return artifacts.load(folder, artifacts.read_manifest(folder))


def queries(reference: LexicalIndex, count: int = 300) -> list[list[str]]:
    """Random queries of catalogue words, some repeating a word, each with an unknown one."""
    words, pick = sorted(reference.vocabulary), random.Random(7)
    made = []
    for _ in range(count):
        query = pick.sample(words, pick.randint(1, 4)) + ["несуществующееслово"]
        made.append(query + query[:1] if pick.random() < 0.3 else query)
    return made


def test_bm25_scores_are_bit_identical(built, reference) -> None:
    for query in queries(reference):
        want, got = reference.scores(query), built.lexicon.scores(query)
        assert got.dtype == want.dtype and np.array_equal(got, want), query
    assert not built.lexicon.scores(["несуществующееслово"]).any()


def test_vocabulary_and_shoppers_words_are_the_same(built, reference) -> None:
    lexicon = built.lexicon
    assert set(lexicon.vocabulary) == set(reference.vocabulary)
    assert len(lexicon.shopper_words) == len(reference.shopper_words)
    assert all(w in lexicon.shopper_words for w in reference.shopper_words)
    description_only = next(w for w in reference.vocabulary if w not in reference.shopper_words)
    assert description_only in lexicon.vocabulary and description_only not in lexicon.shopper_words


def test_postings_say_which_documents_hold_a_word(built, reference) -> None:
    every = np.arange(reference.size)
    for term in random.Random(3).sample(sorted(reference.vocabulary), 150):
        want = np.array([term in terms for terms in reference.doc_terms])
        assert np.array_equal(built.lexicon.contains(every, [term])[:, 0], want), term
    rows = np.array([0, 17, 400, 1600])
    groups = [("кот", "котик"), ("шляпа",), ("несуществующееслово",)]
    want = [sum(not reference.doc_terms[r].isdisjoint(g) for g in groups) / 3 for r in rows]
    assert built.lexicon.coverage(rows, groups).tolist() == want
    for row in rows.tolist():
        words = ["кот", "шляпа", *sorted(reference.doc_terms[row])[:3]]
        assert built.lexicon.matched(row, words) == reference.matched(row, words)


def test_spelling_corrections_are_the_same(built, reference) -> None:
    for typo in TYPOS:
        for cutoff in (0.7, 0.8):
            assert built.lexicon.spelling.closest(typo, cutoff) == reference.spelling.closest(
                typo, cutoff
            ), typo


def test_category_tree_and_emoji_lookup_are_the_same(built, demo) -> None:
    tree = CategoryTree(demo.products)
    assert len(built.sections.nodes) == len(tree.nodes)
    for (terms, rows), (want_terms, want_rows) in zip(
        built.sections.nodes, tree.nodes, strict=True
    ):
        assert terms == want_terms and np.array_equal(rows, want_rows)
    assert built.emoji == emoji_table((p.id, p.title) for p in demo.products)
