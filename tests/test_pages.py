"""HTML pages: home, gallery, product card, errors, escaping and gentle messages."""

from __future__ import annotations

import pytest


def test_home_shows_search_box_categories_and_showcase(client) -> None:
    html = client.get("/").get_data(as_text=True)
    assert 'name="q"' in html
    assert "Животные и природа" in html
    assert 'href="/product/1f413"' in html


def test_search_page_shows_cards_with_prices(client) -> None:
    html = client.get("/search", query_string={"q": "петух"}).get_data(as_text=True)
    assert "Петух" in html and "₽" in html
    assert 'src="/media/images/1f413.png"' in html


@pytest.mark.parametrize("query", ["", "   ", "\t"])
def test_empty_query_shows_the_showcase(client, query: str) -> None:
    response = client.get("/search", query_string={"q": query})
    assert response.status_code == 200
    assert "Витрина" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "args",
    [
        {"page": "abc"},
        {"page": "0"},
        {"price_min": "-1"},
        {"price_min": "500", "price_max": "100"},
        {"sort": "random"},
        {"per_page": "100000"},
        {"category": "Нет такой"},
    ],
)
def test_bad_parameters_get_a_gentle_message_not_a_500(client, args: dict[str, str]) -> None:
    response = client.get("/search", query_string={"q": "кот", **args})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'role="alert"' in html and 'name="q"' in html


def test_product_card_has_image_fields_and_similar_designs(client) -> None:
    html = client.get("/product/1f413").get_data(as_text=True)
    assert "Петух" in html and "700" in html and "₽" in html
    assert "Похожие дизайны" in html
    assert html.count('class="card"') >= 6


def test_unknown_product_gets_a_friendly_404(client) -> None:
    response = client.get("/product/nope")
    assert response.status_code == 404
    assert "На главную" in response.get_data(as_text=True)


def test_unknown_page_gets_a_friendly_404(client) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Страница не найдена" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "path", ["/media/../webapp/__init__.py", "/media/%2e%2e/wsgi.py", "/media/images/../../wsgi.py"]
)
def test_path_traversal_in_media_is_404(client, path: str) -> None:
    assert client.get(path).status_code == 404


def test_cyrillic_and_emoji_queries_render(client) -> None:
    for query in ["Милый котёнок в шляпе", "🦋", "🐓 петух", "ёлка"]:
        assert client.get("/search", query_string={"q": query}).status_code == 200


def test_over_long_query_is_truncated_not_rejected(client) -> None:
    response = client.get("/search", query_string={"q": "петух " * 400})
    assert response.status_code == 200


def test_script_in_a_title_is_rendered_escaped(mini_app) -> None:
    client = mini_app.test_client()
    search = client.get("/search", query_string={"q": "ёлка"}).get_data(as_text=True)
    card = client.get("/product/a4").get_data(as_text=True)
    for html in (search, card):
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_category_without_a_query_browses_that_category(client, rendered) -> None:
    response = client.get("/search", query_string={"category": "Еда и напитки", "per_page": 5})
    assert response.status_code == 200
    result = rendered[-1][1]["result"]
    assert result.total == 128 and len(result.hits) == 5
    assert {hit.product.category for hit in result.hits} == {"Еда и напитки"}
