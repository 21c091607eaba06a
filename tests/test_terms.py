"""Understanding a query's words against the catalogue's (``search/terms.py``), on a tiny
hand-built catalogue: which words count for each term, what rules add, coverage."""

from __future__ import annotations

import numpy as np

from .stage_fixtures import lexical, reader, understanding

READER = reader()
PARSE = understanding().parse


def test_a_known_word_counts_as_itself_and_a_plural_as_its_lemma() -> None:
    assert READER.read(PARSE("петухи")).groups == (("петух",),)


def test_a_diminutive_counts_as_its_base_noun() -> None:
    assert READER.read(PARSE("бабочки")).groups == (("бабочка",),)
    assert READER.read(PARSE("мышка")).groups == (("мышь",),)


def test_a_typo_is_corrected_into_a_shoppers_word_only() -> None:
    assert READER.read(PARSE("бабчка")).groups == (("бабочка",),)
    # a real dictionary word is never respelt into another word
    assert READER.read(PARSE("водопад")).groups == (("водопад",),)


def test_rules_add_catalogue_words_below_the_query_term_they_explain() -> None:
    terms = READER.read(PARSE("на 23 февраля"))
    assert terms.added_words == ["медаль"]  # «каска» is not in this catalogue
    assert terms.expanded[-1][-1] == "медаль"


def test_coverage_is_the_share_of_word_groups_a_design_contains() -> None:
    groups = READER.read(PARSE("котёнок в шляпе")).groups
    rows = np.array([1, 2, 3])
    np.testing.assert_allclose(READER.coverage(rows, groups), [0.0, 1.0, 0.0])
    cat = READER.read(PARSE("кот в шляпе")).groups
    np.testing.assert_allclose(READER.coverage(rows, cat), [0.5, 1.0, 0.0])


def test_a_query_of_unknown_russian_words_is_unexplained() -> None:
    assert READER.unexplained(READER.read(PARSE("ипотечный калькулятор")), 0.5)
    assert not READER.unexplained(READER.read(PARSE("петух калькулятор")), 0.5)
    assert not READER.unexplained(READER.read(PARSE("qwerty")), 0.5)  # no Russian words


def test_postings_list_the_rows_containing_a_word() -> None:
    index = lexical()
    assert index.rows_with(["кот"]).tolist() == [1, 2]
    assert index.rows_with(["кот", "бабочка"]).tolist() == [1, 2, 3]
    assert index.rows_with(["нет-такого"]).tolist() == []
