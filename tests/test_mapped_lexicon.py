"""The mapped lexicon answers exactly what BM25 over the products' documents answers.

Built once by ``flask --app webapp index`` and mapped by every worker, it must give
bit-identical BM25 scores to ``bm25s`` over the same lemma documents, the same
vocabulary, shoppers' words, spelling corrections (``difflib`` over the whole
vocabulary), category tree and emoji lookup as a plain computation over the products
(what the search core built in every worker before it read the artifacts).
"""

from __future__ import annotations

import random
from collections import defaultdict
from difflib import get_close_matches
from pathlib import Path

import bm25s
import numpy as np
import pytest

from webapp.catalog import artifacts, lexicon
from webapp.catalog.lemmas import design_lemmas
from webapp.catalog.products import read_catalog
from webapp.language.emoji import emoji_table
from webapp.language.text import analyse
from webapp.search.lexical import document_terms, text_analysis
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


class Reference:
    """BM25 (bm25s) over the demo's lemma documents, each document's term set, the
    vocabulary and the words of titles and tags, computed directly from the products."""

    def __init__(self, products) -> None:
        settings = WordSettings()
        lemmas = [design_lemmas(p) for p in products]
        corpus = [document_terms(d, settings) or ["∅"] for d in lemmas]
        self.size = len(corpus)
        self.doc_terms = [frozenset(terms) for terms in corpus]
        self.vocabulary = frozenset().union(*self.doc_terms)
        self.shopper_words = frozenset(t for d in lemmas for t in d.shopper_words)
        self.bm25 = bm25s.BM25(k1=settings.bm25_k1, b=settings.bm25_b)
        self.bm25.index(corpus, show_progress=False)
        self.words = sorted(self.vocabulary)

    def scores(self, terms: list[str]) -> np.ndarray:
        known = [t for t in terms if t in self.vocabulary]
        if not known:
            return np.zeros(self.size, np.float32)
        return np.asarray(self.bm25.get_scores(known), np.float32)

    def matched(self, row: int, terms: list[str]) -> list[str]:
        return [t for t in terms if t in self.doc_terms[row]]

    def closest(self, term: str, cutoff: float) -> str | None:
        """get_close_matches over every word within two letters of the length."""
        if len(term) < 4 or not term.isalpha():
            return None
        pool = [w for w in self.words if abs(len(w) - len(term)) <= 2]
        found = get_close_matches(term, pool, n=1, cutoff=cutoff)
        return found[0] if found else None


def category_nodes(products) -> list[tuple[frozenset[str], np.ndarray]]:
    """The category tree's nodes computed the plain way: every category and
    category/subcategory key in order of first appearance, its name's lemmas, its rows."""
    members: dict[tuple[str, str], list[int]] = defaultdict(list)
    for row, product in enumerate(products):
        members[("category", product.category)].append(row)
        members[("subcategory", f"{product.category}/{product.subcategory}")].append(row)
    return [
        (frozenset(analyse(name.split("/")[-1])), np.array(rows, np.int64))
        for (_, name), rows in members.items()
        if name.split("/")[-1].strip()
    ]


@pytest.fixture(scope="module")
def reference(demo) -> Reference:
    """BM25 and the term sets of the demo, computed directly."""
    return Reference(demo.products)


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


def queries(reference: Reference, count: int = 300) -> list[list[str]]:
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
            assert built.lexicon.spelling.closest(typo, cutoff) == reference.closest(
                typo, cutoff
            ), typo


def test_category_tree_and_emoji_lookup_are_the_same(built, demo) -> None:
    nodes = category_nodes(demo.products)
    assert len(built.sections.nodes) == len(nodes) == len(CategoryTree.of(demo.products).nodes)
    for (terms, rows), (want_terms, want_rows) in zip(built.sections.nodes, nodes, strict=True):
        assert terms == want_terms and np.array_equal(rows, want_rows)
    assert built.emoji == emoji_table((p.id, p.title) for p in demo.products)


@pytest.mark.parametrize("k1, b", [(1.2, 0.5), (1.2, 0.75), (0.9, 0.3)])
def test_postings_hold_bm25s_own_weights_bit_for_bit(demo, monkeypatch, k1, b) -> None:
    """The build counts terms in blocks of documents and computes the weights with array
    arithmetic: every (term, row) weight is bm25s's own, float32 for float32."""
    monkeypatch.setattr(lexicon, "_BLOCK_DOCUMENTS", 500)  # several blocks of the demo
    settings = WordSettings()
    documents = [document_terms(design_lemmas(p), settings) for p in demo.products]
    documents[7] = []  # an empty document gets the placeholder term
    size, vocabulary, indptr, rows, weights = lexicon.postings(documents, k1=k1, b=b)
    reference = bm25s.BM25(k1=k1, b=b)
    corpus = [d or list(lexicon.EMPTY_DOCUMENT) for d in documents]
    reference.index(corpus, show_progress=False)
    data, indices, bounds = (reference.scores[n] for n in ("data", "indices", "indptr"))
    assert size == len(documents) and list(vocabulary) == sorted({t for d in corpus for t in d})
    for position, term in enumerate(vocabulary):
        column = reference.vocab_dict[term]
        want_rows, want = (
            indices[bounds[column] : bounds[column + 1]],
            data[bounds[column] : bounds[column + 1]],
        )
        order = np.argsort(want_rows, kind="stable")
        part = slice(indptr[position], indptr[position + 1])
        assert np.array_equal(rows[part], want_rows[order]), term
        assert weights.dtype == np.float32 and np.array_equal(weights[part], want[order]), term
