"""Query understanding, one step at a time, on Russian examples."""

from __future__ import annotations

import random

import pytest

from webapp.language.emoji import emoji_table, replace_emoji
from webapp.language.morphology import diminutive_bases, lemmatise
from webapp.language.text import normalise
from webapp.search.query import QueryUnderstanding, clean, fix_layout
from webapp.search.settings import WordSettings

#: the shipped layout-repair majority (RankingSettings.words.layout_share)
SHARE = WordSettings().layout_share
TABLE = emoji_table(
    [
        ("1f413", "Петух"),
        ("1f98b", "Бабочка"),
        ("1f44d", "Палец вверх"),
        ("1f468-200d-1f373", "Повар"),
        ("2764-fe0f", "Красное сердце"),
    ]
)


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("ПЕТУХ!!!", "петух"),
        ("  кот   в  шляпе ", "кот в шляпе"),
        ("Ёлочка", "елочка"),
        ("что-то, для «малыша»?", "что-то для малыша"),
        ("—кот—", "кот"),
    ],
)
def test_normalise_folds_case_yo_punctuation_and_spaces(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_normalise_keeps_exactly_letters_digits_spaces_and_hyphens() -> None:
    """The fast (regex) normalise agrees with its per-character definition on every kind
    of character: letters and digits of any script, marks, symbols, emoji, underscores."""
    rng = random.Random(7)
    alphabet = [chr(c) for c in range(0x20, 0x3000)] + list("😀👍🏽_‿①½ǅ\u0301\u200d")
    for _ in range(3000):
        raw = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        lowered = raw.lower().replace("ё", "е")
        kept = "".join(ch if ch.isalnum() or ch in " -" else " " for ch in lowered)
        expected = " ".join(w.strip("-") for w in kept.split() if w.strip("-"))
        assert normalise(raw) == expected, raw


def test_clean_drops_control_characters_and_truncates() -> None:
    assert clean("пет\x00ух\x1b кот", 200) == ("петух кот", False)
    text, truncated = clean("петух " * 100, 20)
    assert truncated and len(text) <= 20 and text == text.strip()


@pytest.mark.parametrize(
    "query,ids,names",
    [
        ("🐓", ["1f413"], ["петух"]),
        ("🦋 бабочка", ["1f98b"], ["бабочка"]),
        ("👍🏽", ["1f44d"], ["палец вверх"]),  # skin tone stripped
        ("👨🏿‍🍳", ["1f468-200d-1f373"], ["повар"]),  # ZWJ sequence with a tone
        ("❤", ["2764-fe0f"], ["красное сердце"]),  # without the variation selector
    ],
)
def test_emoji_become_their_russian_names(query: str, ids: list[str], names: list[str]) -> None:
    _, found_names, found_ids = replace_emoji(query, TABLE)
    assert found_ids == ids and found_names == names


def test_digits_and_letters_are_never_taken_for_emoji() -> None:
    table = emoji_table([("0031-fe0f-20e3", "Клавиша 1"), ("0031", "один")])
    rest, names, _ = replace_emoji("ёлка 2024 1", table)
    assert names == [] and "2024 1" in rest


@pytest.mark.parametrize(
    "typed,meant",
    [
        ("rjn", "кот"),
        ("gtne[", "петух"),
        (",f,jxrf", "бабочка"),
        ("vbksq rjn", "милый кот"),
    ],
)
def test_wrong_keyboard_layout_is_repaired(typed: str, meant: str) -> None:
    assert fix_layout(typed, SHARE) == (meant, True)


@pytest.mark.parametrize("text", ["dinosaur", "cute bunny", "qwzx", "кот", "rooster 🐓"])
def test_real_english_nonsense_and_russian_are_left_alone(text: str) -> None:
    assert fix_layout(text, SHARE) == (text, False)


def test_lemmatisation_unifies_russian_forms() -> None:
    assert lemmatise(["котики", "петуха", "бабочками", "елочки", "dinosaur"]) == (
        "котик",
        "петух",
        "бабочка",
        "елочка",
        "dinosaur",
    )


def test_parse_runs_every_step_and_keeps_content_terms() -> None:
    parsed = QueryUnderstanding(TABLE, 50, None, SHARE).parse("Что-нибудь с 🐓 для МАЛЫША!!!")
    assert parsed.emoji_ids == ("1f413",)
    assert "петух" in parsed.text and "малыша" in parsed.text
    assert parsed.terms == ("малыш", "петух")
    assert not parsed.layout_fixed and not parsed.truncated


def test_parse_of_punctuation_only_is_empty() -> None:
    assert QueryUnderstanding(TABLE, 200, None, SHARE).parse("?!… —").empty


@pytest.mark.parametrize(
    "lemma,bases",
    [
        ("совушка", ("сова",)),
        ("грибочек", ("гриб",)),
        ("котик", ("кот",)),
        ("лошадка", ("лошадь",)),
        ("сердечко", ("сердце",)),
        ("собака", ()),
    ],
)
def test_diminutives_lead_back_to_their_base_nouns(lemma: str, bases: tuple[str, ...]) -> None:
    assert diminutive_bases(lemma)[: len(bases)] == bases
