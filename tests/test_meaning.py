"""Meaning beyond the words: concept rules (thesaurus, occasions, staff), the typo guard
and the honest «ничего не найдено»."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from webapp.catalog.rules import Concepts, RuleError, make_rule, read_rules_tsv
from webapp.catalog.thesaurus import build_entries
from webapp.lifecycle import warm_up, watch_reloads
from webapp.search.results import SearchRequest
from webapp.search.settings import RankingSettings
from webapp.search.signals import SignalKind
from webapp.search.spelling import edits

from .conftest import ROOT


def _search(app: Flask, query: str, per_page: int = 10):
    return warm_up(app).search(SearchRequest(query, per_page=per_page))


def _csrf(client: FlaskClient, path: str = "/staff/synonyms") -> str:
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the staff form carries a CSRF token"
    return found.group(1)


# --- rules: parsing and validation ------------------------------------------------------------
def test_a_rules_file_is_read_as_lemma_phrases(tmp_path: Path) -> None:
    path = tmp_path / "rules.tsv"
    path.write_text("# comment\n23 февраля\tсолдат, медаль\nГрызуны\tмышь, хомяк\n", "utf-8")
    rules = read_rules_tsv(path)
    assert [r.key for r in rules] == [("23", "февраль"), ("грызун",)]
    assert rules[1].words == ("мышь", "хомяк")
    found = Concepts(rules).match(("праздник", "23", "февраль"))
    assert [(e.phrase, e.words) for e in found] == [("23 февраля", ("солдат", "медаль"))]


@pytest.mark.parametrize(
    ("phrase", "words", "message"),
    [
        ("", "кот", "Фраза пуста"),
        ("и на", "кот", "Фраза пуста"),
        ("кот", "", "хотя бы одно слово"),
        ("кот", " , ,", "хотя бы одно слово"),
        ("коты", "кот", "ничего не добавляет"),
        ("кот", "и, на", "буквы"),
        ("а б в г д е ж з кот пёс лис волк заяц", "кот", "длиннее"),
    ],
)
def test_bad_rules_are_rejected_with_a_message(phrase: str, words: str, message: str) -> None:
    with pytest.raises(RuleError, match=message):
        make_rule(phrase, words)


def test_a_bad_line_in_a_rules_file_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "rules.tsv"
    path.write_text("пасха\tяйцо\nсломанная строка без табуляции\n", "utf-8")
    with pytest.raises(RuleError, match="строка 2"):
        read_rules_tsv(path)


def test_the_shipped_occasions_calendar_parses_and_speaks_the_catalogues_words(demo_app) -> None:
    rules = read_rules_tsv(ROOT / "data" / "rules" / "occasions.tsv")
    phrases = {r.phrase for r in rules}
    assert {"23 февраля", "8 марта", "день победы", "пасха", "свадьба", "выпускной"} <= phrases
    vocabulary = warm_up(demo_app).ranker.lexical.vocabulary
    concepts = Concepts(rules)
    words = [t for r in rules for t in concepts.terms(r)]
    assert sum(t in vocabulary for t in words) / len(words) > 0.9


# --- the thesaurus: built offline, senses chosen by the catalogue -----------------------------
def test_thesaurus_keeps_only_senses_and_words_the_catalogue_has() -> None:
    words = {1: ["грызун"], 2: ["мышь"], 3: ["хомяк"], 4: ["компьютерная мышь"], 5: ["пломбир"],
             6: ["мороженое"], 7: ["лук"], 8: ["оружие"], 9: ["овощ"]}  # fmt: skip
    links = [(2, 1), (3, 1), (5, 6), (7, 8), (7, 9)]
    vocabulary = {"мышь", "хомяк", "мороженое", "овощ"}
    entries = build_entries(words, links, vocabulary)
    assert entries["грызун"] == ["мышь", "хомяк"]  # a class word reaches its members
    assert entries["пломбир"] == ["мороженое"]  # an unknown word reaches its class
    assert "компьютерный мышь" not in entries  # no sense the catalogue knows: dropped
    assert "оружие" not in entries.get("лук", [])  # the bow sense is not in the catalogue


def test_the_thesaurus_artifact_is_small_and_credited() -> None:
    path = ROOT / "data" / "rules" / "thesaurus.json"
    assert path.stat().st_size < 3_000_000
    assert "CC BY-SA" in path.read_text("utf-8")[:2000] or "CC BY-SA" in path.read_text("utf-8")


# --- expansions in ranking: found, explained, and weighted below the shopper's words ----------
def test_a_class_word_finds_its_members_and_says_why(demo_app) -> None:
    result = _search(demo_app, "грызуны")
    titles = [h.product.title for h in result.hits[:5]]
    assert any(t in titles for t in ("Мышь", "Крыса", "Морда хомяка"))
    assert "мышь" in result.hits[0].why["meaning"] or "крыса" in result.hits[0].why["meaning"]


def test_an_occasion_reaches_its_motifs(demo_app) -> None:
    assert _search(demo_app, "масленица").hits[0].product.title == "Блины"
    titles = [h.product.title for h in _search(demo_app, "выпускной").hits[:3]]
    assert "Шапочка выпускника" in titles


def test_added_words_count_below_the_shoppers_own_words(demo_app) -> None:
    weights = RankingSettings().fusion.weights
    assert weights[SignalKind.MEANING] < weights[SignalKind.LEXICAL]
    result = _search(demo_app, "кот", per_page=24)  # the thesaurus adds «котёнок», «котик»
    hits = result.hits
    own = [i for i, h in enumerate(hits) if "кот" in h.why.get("terms", [])]
    added_only = [i for i, h in enumerate(hits) if h.why.get("meaning") and i not in own]
    assert own and own[0] == 0
    assert not added_only or min(added_only) > own[0]


# --- the typo guard and stem-sharing words ----------------------------------------------------
def test_a_real_word_is_never_respelt_into_another(demo_app) -> None:
    lexical = warm_up(demo_app).ranker.lexical
    assert lexical.correct("водопад") is None  # a word of its own, not a typo of «вода»
    assert lexical.correct("бабчка") == "бабочка"  # a real typo is still repaired
    assert lexical.correct("жираффф") == "жираф"
    assert edits("бабчка", "бабочка") == 1 and edits("ab", "ba") == 1


def test_a_compound_word_does_not_put_its_part_first(demo_app) -> None:
    top = _search(demo_app, "водопад").hits
    assert not top or top[0].product.title != "Вода"


# --- the honest «ничего не найдено» -----------------------------------------------------------
@pytest.mark.parametrize("query", ["qwpeoriuty", "настройка сервера nginx", "бумбарякса"])
def test_nonsense_finds_nothing(demo_app, query: str) -> None:
    assert _search(demo_app, query).total == 0


# --- /staff/synonyms: staff-only, CSRF, validation, hot reload --------------------------------
def test_the_rules_page_is_staff_only(client: FlaskClient) -> None:
    outside = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/staff/synonyms", environ_base=outside).status_code == 404
    token = _csrf(client)  # even with a valid token, a POST from outside is refused
    data = {"csrf_token": token, "phrase": "ёжики", "words": "ёж"}
    assert client.post("/staff/synonyms", data=data, environ_base=outside).status_code == 404
    assert "ёжики" not in client.get("/staff/synonyms").get_data(as_text=True)


def test_saving_a_rule_needs_a_csrf_token(client: FlaskClient) -> None:
    answer = client.post("/staff/synonyms", data={"phrase": "ёжики", "words": "ёж"})
    assert answer.status_code == 400


def test_a_bad_rule_is_rejected_with_a_message_and_not_stored(client: FlaskClient) -> None:
    token = _csrf(client)
    answer = client.post(
        "/staff/synonyms",
        data={"csrf_token": token, "phrase": "и на", "words": "кот"},
        follow_redirects=True,
    )
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "Правило не сохранено" in page and "Фраза пуста" in page


def test_zero_result_queries_link_to_a_prefilled_rule(client: FlaskClient, demo_app) -> None:
    client.get("/search?q=бумбарякса")
    from webapp.analytics import get_analytics

    with demo_app.app_context():
        get_analytics().flush()
    page = client.get("/staff/").get_data(as_text=True)
    assert "добавить правило" in page and "/staff/synonyms?phrase=" in page


def test_a_saved_rule_reaches_search_on_every_worker_after_a_hot_reload(mini_app: Flask) -> None:
    mini_app.config["RELOAD_POLL_SECONDS"] = 0.2
    before = warm_up(mini_app)
    assert before.search(SearchRequest("бумбарякса")).total == 0
    watch_reloads(mini_app)
    client = mini_app.test_client()
    token = _csrf(client)
    answer = client.post(
        "/staff/synonyms", data={"csrf_token": token, "phrase": "Бумбарякса", "words": "петух"}
    )
    assert answer.status_code == 303
    deadline = time.monotonic() + 90
    while mini_app.extensions["search"] is before and time.monotonic() < deadline:
        time.sleep(0.2)
    result = mini_app.extensions["search"].search(SearchRequest("бумбарякса"))
    assert [h.product.id for h in result.hits][:1] == ["a1"]
    assert result.hits[0].why["meaning"] == ["петух"]
    assert "бумбарякса" in client.get("/staff/synonyms").get_data(as_text=True).lower()


# --- the category tree as a signal ------------------------------------------------------------
def test_a_word_naming_a_subcategory_reaches_its_whole_subtree(demo_app) -> None:
    engine = warm_up(demo_app)
    insects = {p.id for p in engine.products if p.subcategory == "Насекомые"}
    signal = engine.ranker.tree.signal([("насекомое",)])[0]
    reached = {engine.products[r].id for r in signal.rows.tolist()}
    assert reached == insects and float(signal.calibrated.max()) == 1.0
    result = _search(demo_app, "насекомые", per_page=100)
    found = {h.product.id for h in result.hits}
    assert insects <= found  # every insect design, even those whose words never say so
    assert all("category" in h.why["signals"] for h in result.hits if h.product.id in insects)


def test_a_compound_is_not_given_its_head_as_a_class() -> None:
    words = {1: ["видеокарта"], 2: ["карта"], 3: ["пломбир"], 4: ["мороженое"]}
    entries = build_entries(words, [(1, 2), (3, 4)], {"карта", "мороженое"})
    assert "видеокарта" not in entries and entries["пломбир"] == ["мороженое"]
