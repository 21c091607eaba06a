"""Wiktionary's definitions: sense markup cleaned on real database rows, a colloquial word
mapped to its base, and a description finding the design whose definition it paraphrases."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from webapp import create_app
from webapp.catalog.conceptnet import conceptnet_words, read_links
from webapp.catalog.definitions import (
    Definitions,
    DefinitionsError,
    ReverseDictionary,
    design_words,
)
from webapp.catalog.definitions_build import read_senses
from webapp.catalog.products import read_catalog
from webapp.catalog.thesaurus import wordnet_path
from webapp.catalog.wikitext import clean_definition, lead
from webapp.language.text import analyse

from .conftest import ROOT
from .helpers import write_catalog

ARTIFACT = ROOT / "data" / "rules" / "definitions.json"


@pytest.fixture(scope="module")
def senses() -> dict[str, list[str]]:
    """Every sense of the installed wiki-ru-wordnet database, by lemma."""
    return read_senses(wordnet_path())


def _field(senses: dict[str, list[str]], lemma: str, containing: str) -> str:
    """The database field of ``lemma``'s sense whose markup contains ``containing``."""
    return next(f for f in senses[lemma] if containing in f)


@pytest.fixture(scope="module")
def definitions() -> Definitions:
    return Definitions.read(ARTIFACT)


# --- markup → text, marks and base word, on real rows -----------------------------------------
def test_a_sense_keeps_its_words_and_its_domain_mark_but_not_examples(senses) -> None:
    deer = clean_definition(_field(senses, "олень", "ветвистыми"))
    assert deer.text == "парнокопытное из семейства оленевых с ветвистыми рогами"
    assert deer.marks == ("зоол.",) and deer.base is None  # the Latin name and quote are gone
    scissors = clean_definition(_field(senses, "ножницы", "режущий"))
    assert (
        scissors.text
        == "режущий инструмент из двух раздвигающихся лезвий с кольцеобразными ручками"
    )


def test_an_equivalent_is_the_base_and_a_figurative_label_is_a_mark(senses) -> None:
    torch = clean_definition(_field(senses, "фонарь", "карманный фонарь"))
    assert torch.text.startswith("карманный фонарь — портативный осветительный прибор")
    assert torch.base == "карманный фонарь"
    assert clean_definition(_field(senses, "мобила", "мобильный")) == (
        "мобильный телефон",
        ("разг.",),
        "мобильный телефон",
    )
    bruise = clean_definition(_field(senses, "фонарь", "синяк"))
    assert bruise.marks == ("разг.",) and "{{" not in bruise.text


def test_a_diminutive_mark_keeps_its_base_and_a_slang_gloss_is_one(senses) -> None:
    assert clean_definition(_field(senses, "зайка", "умласк")) == ("заяц", ("умласк.",), "заяц")
    car = clean_definition(_field(senses, "тачка", "жарг"))
    assert car.text == "автомобиль, в т. ч. такси" and car.base == "автомобиль"
    assert {"жарг.", "перен."} <= set(car.marks)
    lizard = clean_definition(_field(senses, "ящерка", "умласк"))
    assert lizard.base == "ящерица"  # «{{умласк.}} к [[ящерица]]»: the word after «к»
    fool = clean_definition(_field(senses, "олень", "простоватый"))
    assert fool.base is None  # «простоватый, прямолинейный… человек» names no base word


def test_nested_templates_and_forms_are_unfolded(senses) -> None:
    egg = clean_definition(_field(senses, "яйцо", "пищевой"))
    assert "неисч." in egg.marks and egg.text.startswith("яйцо птицы (обычно куриное)")
    argon = clean_definition(_field(senses, "аргон", "хим-элем"))
    assert argon == ("инертный газ", ("хим.",), "инертный газ")
    form = clean_definition(_field(senses, "самиздатовский", "значение"))
    assert form == ("самиздат", ("разг.", "соотн."), "самиздат")
    beer = clean_definition(_field(senses, "пивасик", "ласк"))
    assert beer.base == "пивас" and "пиво или какой-либо другой" in beer.text


def test_every_sense_in_the_database_cleans_to_plain_text(senses) -> None:
    cleaned = [clean_definition(f) for fields in senses.values() for f in fields]
    assert len(cleaned) == 115_435
    leftovers = [c.text for c in cleaned if any(m in c.text for m in ("{{", "}}", "[[", "|"))]
    assert leftovers == []
    assert sum(bool(c.text) for c in cleaned) > 0.98 * len(cleaned)


def test_a_definition_leads_with_its_genus() -> None:
    assert lead("дворовая собака (обычно беспородная)") == "дворовая собака"
    assert lead("к ящерица") == "ящерица"


# --- the query side: a word the catalogue lacks stands for catalogue words ------------------
def test_a_colloquial_word_maps_to_its_base(definitions: Definitions) -> None:
    assert definitions.query_side("мобила")[:2] == ("мобильный", "телефон")
    assert definitions.query_side("тачка")[0] == "автомобиль"  # the slang sense's base first
    assert definitions.query_side("зайка")[0] == "заяц"
    assert "пиво" in definitions.query_side("пивасик")  # one hop: пивасик → пивас → пиво
    assert definitions.query_side("барбос") == ("собака",)  # «дворовая собака»: its genus
    assert definitions.query_side("барбос", genus=False) == ()  # no base word: genus only
    assert "жарг." in definitions.senses("тачка")[-1].marks


def test_catalogue_words_and_unknown_words_are_not_replaced(definitions: Definitions) -> None:
    assert definitions.query_side("олень") == ()
    assert definitions.query_side("ывапролд") == ()


def test_the_build_lets_the_catalogue_choose_senses(tmp_path: Path, senses) -> None:
    """``flask build-definitions`` on a small real database (rows copied from the real one)."""
    lemmas = ["олень", "тачка", "зайка", "пивасик", "пивас", "аргон", "мобила", "барбос"]
    database = tmp_path / "wikiwordnet.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE synsets(synset_id INTEGER, lemma TEXT, definition TEXT)")
        connection.executemany(
            "INSERT INTO synsets VALUES (?, ?, ?)",
            [(i, lemma, f) for i, lemma in enumerate(lemmas) for f in senses[lemma]],
        )
    rows = [
        {"id": "d", "title": "Олень", "category": "Животные", "tags": "рога", "price": 100},
        {"id": "c", "title": "Автомобиль", "category": "Транспорт", "tags": "", "price": 100},
        {"id": "h", "title": "Заяц", "category": "Животные", "tags": "", "price": 100},
        {"id": "b", "title": "Пиво", "category": "Напитки", "tags": "кружка", "price": 100},
        {"id": "s", "title": "Собака", "category": "Животные", "tags": "", "price": 100},
    ]
    write_catalog(tmp_path / "data", [dict(r, description="") for r in rows])
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data")})
    out = tmp_path / "definitions.json"
    result = app.test_cli_runner().invoke(
        args=[
            "build-definitions",
            "--database",
            str(database),
            "--out",
            str(out),
            "--no-conceptnet",
        ]
    )
    assert result.exit_code == 0, result.output
    built = Definitions.read(out)
    deer = [s.text for s in built.senses("олень")]
    assert deer[0].endswith("с ветвистыми рогами")
    assert not any("простоватый" in t for t in deer)  # the figurative sense is no design's
    assert [s.base for s in built.senses("тачка")] == [("автомобиль",)]  # no cart in the shop
    assert built.query_side("зайка") == ("заяц",)
    assert built.query_side("пивасик")[0] == "пиво"
    assert built.query_side("барбос") == ("собака",)
    assert built.senses("аргон") == [] and built.senses("мобила") == []  # lead nowhere here


def test_conceptnet_decodes_what_wiktionary_does_not() -> None:
    links = {(a, b, r) for a, b, r in read_links() if a in ("пташка", "кофеёк", "легковушка")}
    assert ("пташка", "птица", "Synonym") in links  # real edges of the installed package
    assert ("легковушка", "автомобиль", "IsA") in links
    vocabulary = {"птица", "кофе", "автомобиль", "легковой", "заяц"}
    words = conceptnet_words(iter(sorted(links)), analyse, vocabulary, known={"зайка"})
    assert words["пташка"] == [["птица", "conceptnet Synonym", "птица", ""]]
    assert ["автомобиль", "conceptnet IsA", "", "автомобиль"] in words["легковушка"]  # a class
    assert words["кофеек"][0][2] == "кофе"  # a form: its base
    built = Definitions({}, words)
    assert built.query_side("легковушка")[:2] == ("легковой", "автомобиль")  # synonym first
    assert built.query_side("легковушка", genus=False) == ("легковой", "автомобиль")


def test_the_artifact_is_small_credited_and_refused_when_foreign(tmp_path: Path) -> None:
    assert ARTIFACT.stat().st_size < 4_500_000
    head = json.loads(ARTIFACT.read_text("utf-8"))
    assert "CC BY-SA 4.0" in head["licence"] and "Викисловарь" in head["licence"]
    assert "Wiktionary" in head["source"] and "ConceptNet 5.7" in head["source"]
    foreign = tmp_path / "foreign.json"
    foreign.write_text('{"entries": {}}', encoding="utf-8")
    with pytest.raises(DefinitionsError, match="flask --app webapp build-definitions"):
        Definitions.read(foreign)
    with pytest.raises(DefinitionsError, match="build-definitions"):
        Definitions.read(tmp_path / "missing.json")


# --- the design side: a reverse dictionary ----------------------------------------------------
@pytest.fixture(scope="module")
def reverse(definitions: Definitions) -> tuple[ReverseDictionary, list[str]]:
    products = read_catalog(ROOT / "data" / "catalog.csv").products
    words = [design_words(analyse(p.title), [analyse(t) for t in p.tags], 2) for p in products]
    return ReverseDictionary(definitions, words, k1=1.2, b=0.75), [p.id for p in products]


def _best(reverse: tuple[ReverseDictionary, list[str]], query: str) -> tuple[str, object]:
    index, ids = reverse
    terms = analyse(query)
    row = int(index.scores(terms).argmax())
    return ids[row], index.explain(row, terms)


def test_a_description_finds_the_design_its_definition_explains(reverse) -> None:
    found, why = _best(reverse, "животное с ветвистыми рогами")
    assert found == "1f98c"  # the deer: «парнокопытное … с ветвистыми рогами»
    assert why.word == "олень" and "ветвистыми рогами" in why.text
    assert set(why.matched) == {"ветвистый", "рог"}
    assert _best(reverse, "инструмент из двух лезвий")[0] == "2702"  # scissors
    assert _best(reverse, "луковичное растение с большими цветками")[0] == "1f337"  # tulip


def test_a_query_without_defined_words_scores_nothing(reverse) -> None:
    index, _ = reverse
    assert not index.scores(analyse("ывапролд")).any()
    assert index.explain(0, ()) is None
