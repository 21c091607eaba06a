"""What a shopper types before it is searched: control and invisible characters dropped,
an over-long query cut at a word boundary, and the page and the API echoing that one query."""

from __future__ import annotations

import re

import pytest

from webapp.search.query import RAW_FACTOR, clean

LIMIT = 200
#: 1,150 characters, as in the issue: words of several lengths, so cuts fall mid-word (no
#: «петух»: analytics tests of the shared demo app expect it never to be a failed search)
LONG = " ".join(["котёнок", "в", "шляпе", "акварелью", "с", "цветами"] * 40)[:1150]


# --- clean(): the one function both the web layer and the engine use ---------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("пет\x00ух", "петух"),  # NUL dropped, not a space: an injected byte joins nothing
        ("кот\x1b[31m", "кот[31m"),  # an escape sequence loses its ESC
        ("кот\x7f\x85пёс", "кот пёс"),  # DEL dropped, NEL is a line break
        ("кот\x9bпёс\x1cёж", "котпёсёж"),  # C1 and the C0 separators are controls
        ("кот\tи\r\nпёс", "кот и пёс"),  # tabs and line breaks are spaces
        ("\u00a0кот\u2003пёс\u3000", "кот пёс"),  # so is any space separator
        ("ко\u200bт", "кот"),  # zero-width space
        ("ко\u00adт\ufeff", "кот"),  # soft hyphen, BOM
        ("\u202eтоп\u202c \u2066кот\u2069 \u200fёж\u200e", "топ кот ёж"),  # bidi controls
        ("кот\u200dпёс", "котпёс"),  # a joiner between letters joins nothing
        ("👨🏿\u200d🍳", "👨🏿\u200d🍳"),  # but it is kept inside an emoji sequence
        ("\ue000кот", "кот"),  # private use
        ("е\u0308лка", "ёлка"),  # NFC
    ],
)
def test_control_and_invisible_characters_are_dropped(raw: str, expected: str) -> None:
    assert clean(raw, LIMIT) == (expected, False)


def test_a_long_query_is_cut_at_the_last_word_boundary_within_the_limit() -> None:
    text, truncated = clean(LONG, LIMIT)
    assert truncated and len(text) <= LIMIT
    assert LONG.startswith(text) and LONG[len(text)] == " "  # whole words only
    assert len(text) > LIMIT - len("акварелью") - 2  # and no more dropped than the cut word


def test_a_single_word_longer_than_the_limit_is_cut_inside_it() -> None:
    assert clean("ж" * 500, LIMIT) == ("ж" * LIMIT, True)
    assert clean("кот " + "ж" * 500, LIMIT) == ("кот", True)


def test_a_query_at_the_limit_is_kept_whole() -> None:
    query = ("петух " * 40)[:LIMIT].strip()
    assert clean(query, LIMIT) == (query, False)


def test_cleaning_is_idempotent() -> None:
    for raw in [LONG, "пет\x00ух \u202eкот", "👨🏿\u200d🍳\u200d\u200d🍳", " \x00 ", "ж" * 500]:
        once, _ = clean(raw, LIMIT)
        assert clean(once, LIMIT) == (once, False), raw


def test_the_work_is_bounded_whatever_a_client_sends() -> None:
    text, truncated = clean("\x00" * (RAW_FACTOR * LIMIT) + "кот", LIMIT)
    assert (text, truncated) == ("", True)  # read up to RAW_FACTOR × the limit, no further


# --- the page -----------------------------------------------------------------------------------
def _box(html: str) -> str:
    """The value of the header's search box."""
    found = re.search(r'<input type="search" name="q" value="([^"]*)"', html)
    assert found, "the page has a search box"
    return found.group(1)


def test_the_page_echoes_the_cut_query_and_says_it_was_shortened(client, rendered) -> None:
    expected, _ = clean(LONG, LIMIT)
    response = client.get("/search", query_string={"q": LONG})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    req = rendered[-1][1]["req"]
    assert req.query == expected and req.truncated
    assert _box(html) == expected
    assert "искали" in html and "только по его началу" in html
    assert f'maxlength="{LIMIT}"' in html
    assert LONG[: len(expected) + 2] not in html  # nothing past the cut, anywhere
    title = re.search(r"<title>(.*?)</title>", html, re.S)
    assert title and title.group(1).startswith(expected)
    links = rendered[-1][1]["link_args"]
    assert links["q"] == expected  # the filter form and the pager carry the cut query


def test_a_short_query_says_nothing_about_shortening(client) -> None:
    html = client.get("/search", query_string={"q": "петух"}).get_data(as_text=True)
    assert "только по его началу" not in html


def test_nothing_found_heading_shows_the_cut_query(client) -> None:
    query = "бумбарякса " * 30
    expected, truncated = clean(query, LIMIT)
    html = client.get("/search", query_string={"q": query}).get_data(as_text=True)
    assert truncated and f"по запросу «{expected}»" in html


@pytest.mark.parametrize("raw", ["пет\x00ух", "\x00петух", "петух\u202e", "пе\u200bтух\x07"])
def test_control_characters_never_reach_the_page(client, rendered, raw: str) -> None:
    response = client.get("/search", query_string={"q": raw})
    body = response.get_data()
    assert response.status_code == 200
    for char in ("\x00", "\u202e", "\u200b", "\x07"):
        assert char.encode() not in body
    assert rendered[-1][1]["req"].query == "петух"
    assert _box(body.decode()) == "петух"
    hits = [h.product.id for h in rendered[-1][1]["result"].hits[:3]]
    assert hits and hits[0] == "1f413"  # the rooster, as for «петух» itself


def test_a_query_of_control_characters_only_shows_the_home_page(client, rendered) -> None:
    response = client.get("/search", query_string={"q": "\x00\u200b\x1b"})
    assert response.status_code == 200
    assert rendered[-1][0].name == "index.html"


def test_a_bad_parameter_is_quoted_without_its_control_characters(client) -> None:
    response = client.get("/search", query_string={"q": "кот", "category": "Ко\x00шки"})
    assert response.status_code == 400
    assert b"\x00" not in response.get_data() and "Кошки" in response.text
    api = client.get("/api/search", query_string={"q": "кот", "price_min": "1\x00"})
    assert api.status_code == 400 and "\x00" not in api.json["error"]["message"]


# --- the API ------------------------------------------------------------------------------------
def test_the_api_echoes_the_query_it_searched_and_says_it_was_cut(client) -> None:
    expected, _ = clean(LONG, LIMIT)
    body = client.get("/api/search", query_string={"q": LONG}).json
    assert body["query"] == expected and body["truncated"] is True
    assert len(body["query"]) <= LIMIT
    short = client.get("/api/search", query_string={"q": "петух"}).json
    assert short["query"] == "петух" and short["truncated"] is False


def test_the_api_searches_without_control_characters(client) -> None:
    plain = client.get("/api/search", query_string={"q": "петух"}).json
    dirty = client.get("/api/search", query_string={"q": "пе\x00тух\u202e\u200b"})
    assert b"\\u0000" not in dirty.get_data() and b"\x00" not in dirty.get_data()
    body = dirty.json
    assert body["query"] == "петух" and body["truncated"] is False
    assert [r["id"] for r in body["results"]] == [r["id"] for r in plain["results"]]


def test_a_query_of_control_characters_only_is_an_empty_query_on_the_api(client) -> None:
    response = client.get("/api/search", query_string={"q": "\x00\u200b\u202e"})
    assert response.status_code == 400
    assert response.json["error"]["field"] == "q"
    assert "Пустой запрос" in response.json["error"]["message"]


def test_the_openapi_document_describes_truncated(client) -> None:
    spec = client.get("/api/openapi.json").json
    answer = spec["components"]["schemas"]["SearchResponse"]
    assert "truncated" in answer["required"]
    assert answer["properties"]["truncated"]["type"] == "boolean"
    q = next(p for p in spec["paths"]["/api/search"]["get"]["parameters"] if p["name"] == "q")
    assert str(LIMIT) in q["description"] and "word boundary" in q["description"]
