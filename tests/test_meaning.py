"""Meaning beyond the words: concept rules (thesaurus, occasions, staff), the typo guard
and the honest «ничего не найдено»."""

from __future__ import annotations

import html as html_text
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from webapp import create_app
from webapp.catalog.rules import Concepts, RuleError, make_rule, read_rules_tsv
from webapp.catalog.thesaurus import build_entries
from webapp.lifecycle import warm_up
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


def _field_error(html: str, field: str) -> str:
    """The message shown beside ``field`` of the rule form ("" when none)."""
    found = re.search(rf'<span class="field-error" id="{field}-error">([^<]*)</span>', html)
    return html_text.unescape(found.group(1)) if found else ""


def _rule_phrases(app: Flask) -> list[str]:
    from webapp.concept_rules import get_rule_store

    with app.app_context():
        return [rule.phrase for rule in get_rule_store(app).all()]


SIXTEEN = ["ёж", "кот", "пёс", "лис", "волк", "заяц", "гусь", "утка"] * 2


@pytest.mark.parametrize(
    ("phrase", "words", "field", "message"),
    [
        ("и на", "кот", "phrase", "Фраза пуста"),
        ("ёжик", "ж" * 5000, "words", "длиннее 60 символов (5000)"),
        ("ёжик " + "ж" * 60, "ёж", "phrase", "длиннее 60 символов"),
        ("ёжик", "<b>ёж</b>", "words", "символ «<» нельзя"),
        ("<script>ёжик", "ёж", "phrase", "символ «<» нельзя"),
        ("ёжик", "ёж; кот", "words", "символ «;» нельзя"),
        ("ёжик", "ёж\x00", "words", "символ U+0000 нельзя"),
        ("ё\u202eжик", "ёж", "phrase", "символ U+202E нельзя"),
        ("ёжик", ", ".join(SIXTEEN), "words", "Не больше 15 слов в одном правиле (сейчас 16)"),
        ("ёжик", "ёжик", "words", "ничего не добавляет"),
    ],
)  # fmt: skip
def test_a_bad_rule_is_refused_beside_its_field_and_not_stored(
    client: FlaskClient, demo_app: Flask, phrase: str, words: str, field: str, message: str
) -> None:
    before = _rule_phrases(demo_app)
    answer = client.post(
        "/staff/synonyms", data={"csrf_token": _csrf(client), "phrase": phrase, "words": words}
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "Правило не сохранено" in html and message in _field_error(html, field), html[:3000]
    assert f'name="{field}"' in html and 'aria-invalid="true"' in html
    assert "\x00" not in html and "\u202e" not in html and "<b>ёж" not in html
    assert _rule_phrases(demo_app) == before


def test_both_fields_are_told_what_is_wrong_at_once(client: FlaskClient) -> None:
    data = {"csrf_token": _csrf(client), "phrase": "<i>кот</i>", "words": "ж" * 61}
    html = client.post("/staff/synonyms", data=data).get_data(as_text=True)
    assert "нельзя" in _field_error(html, "phrase")
    assert "длиннее 60 символов" in _field_error(html, "words")


def test_a_rule_at_the_limits_is_saved(client: FlaskClient, demo_app: Flask) -> None:
    words = ", ".join(f"слово-{'ж' * 48}{n:02d}" for n in range(15))  # 15 words of 57 chars
    phrase = "д’артаньян и ёж-путешественник 2024"
    answer = client.post(
        "/staff/synonyms", data={"csrf_token": _csrf(client), "phrase": phrase, "words": words}
    )
    assert answer.status_code == 303, re.findall(r'field-error"[^>]*>([^<]*)', answer.text)
    assert phrase in _rule_phrases(demo_app)
    client.post(
        "/staff/synonyms", data={"csrf_token": _csrf(client), "phrase": phrase, "delete": "1"}
    )
    assert phrase not in _rule_phrases(demo_app)


def test_the_limits_are_settings(mini_app: Flask) -> None:
    mini_app.config.update(RULE_MAX_CHARS=8, RULE_MAX_WORDS=2)
    client = mini_app.test_client()
    token = _csrf(client)
    html = client.post(
        "/staff/synonyms", data={"csrf_token": token, "phrase": "ёжик", "words": "ежевичный"}
    ).get_data(as_text=True)
    assert "длиннее 8 символов" in _field_error(html, "words")
    html = client.post(
        "/staff/synonyms", data={"csrf_token": token, "phrase": "ёжик", "words": "ёж, кот, пёс"}
    ).get_data(as_text=True)
    assert "Не больше 2 слов" in _field_error(html, "words")
    assert 'maxlength="8"' in html and "до\n  8 символов" in html


def test_zero_result_queries_link_to_a_prefilled_rule(client: FlaskClient, demo_app) -> None:
    client.get("/search?q=бумбарякса")
    from webapp.analytics import get_analytics

    with demo_app.app_context():
        get_analytics().flush()
    page = client.get("/staff/").get_data(as_text=True)
    assert "добавить правило" in page and "/staff/synonyms?phrase=" in page


def test_a_saved_rule_reaches_every_worker_without_rebuilding_its_engine(
    mini_app: Flask, tmp_path: Path
) -> None:
    stamps = {
        "RULES_STAMP": str(tmp_path / "rules.stamp"),
        "RULES_POLL_SECONDS": 0.0,  # look at the stamp before every request
        "RELOAD_STAMP": str(tmp_path / "reload.stamp"),
    }
    mini_app.config.update(stamps)
    keys = ("DATA_DIR", "EMBEDDINGS_DIR", "DATABASE_URL", "TESTING")
    other = create_app({**{k: mini_app.config[k] for k in keys}, **stamps})  # a second worker
    engines = [warm_up(mini_app), warm_up(other)]
    assert all(e.search(SearchRequest("бумбарякса")).total == 0 for e in engines)
    client = mini_app.test_client()
    answer = client.post(
        "/staff/synonyms",
        data={"csrf_token": _csrf(client), "phrase": "Бумбарякса", "words": "петух"},
    )
    assert answer.status_code == 303
    # the worker that saved it searches with it at once, the other from its next request
    found = engines[0].search(SearchRequest("бумбарякса"))
    assert [h.product.id for h in found.hits][:1] == ["a1"]
    assert found.hits[0].why["meaning"] == ["петух"]
    assert engines[1].search(SearchRequest("бумбарякса")).total == 0
    body = other.test_client().get("/api/search", query_string={"q": "бумбарякса"}).json
    assert [r["id"] for r in body["results"]][:1] == ["a1"]
    assert body["results"][0]["why"]["meaning"] == ["петух"]
    # nothing else was reloaded: the same engines, and the full-reload stamp untouched
    assert [mini_app.extensions["search"], other.extensions["search"]] == engines
    assert not Path(stamps["RELOAD_STAMP"]).exists()
    assert "бумбарякса" in client.get("/staff/synonyms").get_data(as_text=True).lower()
    # and a deleted rule leaves both the same way
    client.post(
        "/staff/synonyms",
        data={"csrf_token": _csrf(client), "phrase": "Бумбарякса", "delete": "1"},
    )
    other.test_client().get("/healthz")
    assert all(e.search(SearchRequest("бумбарякса")).total == 0 for e in engines)


def test_a_hot_reload_of_the_engine_keeps_the_staff_rules(mini_app: Flask, tmp_path: Path) -> None:
    mini_app.config["RULES_STAMP"] = str(tmp_path / "rules.stamp")
    warm_up(mini_app)
    client = mini_app.test_client()
    client.post(
        "/staff/synonyms",
        data={"csrf_token": _csrf(client), "phrase": "Бумбарякса", "words": "петух"},
    )
    from webapp.lifecycle import reload

    engine = reload(mini_app)
    assert [h.product.id for h in engine.search(SearchRequest("бумбарякса")).hits][:1] == ["a1"]


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
