"""Typo correction's candidate search: fast, and exactly what difflib would have chosen."""

from __future__ import annotations

import random
from difflib import get_close_matches

import pytest

from webapp.catalog.products import read_catalog
from webapp.catalog.spelling import SpellingPool
from webapp.search.lexical import LexicalIndex
from webapp.search.settings import WordSettings

from .conftest import ROOT


@pytest.fixture(scope="module")
def vocabulary() -> list[str]:
    """The demo catalogue's indexed terms."""
    return sorted(
        LexicalIndex(
            read_catalog(ROOT / "data" / "catalog.csv").products, WordSettings()
        ).vocabulary
    )


def difflib_closest(term: str, vocabulary: list[str], cutoff: float) -> str | None:
    """The definition: get_close_matches over every word within two letters of the length."""
    if len(term) < 4 or not term.isalpha():
        return None
    pool = [w for w in vocabulary if abs(len(w) - len(term)) <= 2]
    found = get_close_matches(term, pool, n=1, cutoff=cutoff)
    return found[0] if found else None


def typos(vocabulary: list[str], count: int, seed: int) -> list[str]:
    """Vocabulary words with one to three random edits, and random letter strings."""
    rng = random.Random(seed)
    letters = "абвгдеёжзийклмнопрстуфхцчшщъыьэюяabcdez"
    out = []
    for _ in range(count):
        word = list(rng.choice(vocabulary))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(word) + 1)
            kind = rng.choice(("insert", "delete", "replace", "swap"))
            if kind == "insert" or len(word) < 2:
                word.insert(at, rng.choice(letters))
            elif kind == "delete":
                del word[min(at, len(word) - 1)]
            elif kind == "replace":
                word[min(at, len(word) - 1)] = rng.choice(letters)
            elif at < len(word) - 1:
                word[at], word[at + 1] = word[at + 1], word[at]
        out.append("".join(word))
    out += ["".join(rng.choice(letters) for _ in range(rng.randint(3, 12))) for _ in range(count)]
    return out


@pytest.mark.parametrize("cutoff", [0.7, 0.8])
def test_closest_equals_get_close_matches_over_the_whole_pool(
    vocabulary: list[str], cutoff: float
) -> None:
    """1,200 typos and random strings: the pre-filter never changes difflib's answer."""
    pool = SpellingPool.build(vocabulary)
    terms = typos(vocabulary, 600, seed=int(cutoff * 10))
    answers = [pool.closest(t, cutoff) for t in terms]
    assert answers == [difflib_closest(t, vocabulary, cutoff) for t in terms]
    assert sum(a is not None for a in answers) > 300  # most typos are repaired at all


def test_short_foreign_and_repeated_letter_terms() -> None:
    """Short words are left alone; letters the vocabulary lacks and long runs are safe."""
    pool = SpellingPool.build(["бабочка", "котёнок", "жираф"])
    assert pool.closest("кот", 0.7) is None and pool.closest("ko1t", 0.7) is None
    assert pool.closest("бабчка", 0.8) == "бабочка"
    assert pool.closest("ж" * 300, 0.7) is None
    assert SpellingPool.build([]).closest("бабочка", 0.7) is None
