"""The JSON API contract and its 4xx answers."""

from __future__ import annotations

import pytest

RESULT_KEYS = {"id", "title", "category", "price", "currency", "image_url", "score", "why"}


def test_search_follows_the_contract(client) -> None:
    response = client.get("/api/search", query_string={"q": "бабочка"})
    assert response.status_code == 200
    body = response.json
    assert set(body) == {"query", "truncated", "total", "page", "results", "maybe", "took_ms"}
    assert body["query"] == "бабочка" and body["page"] == 1 and body["total"] >= 1
    first = body["results"][0]
    assert set(first) == RESULT_KEYS
    assert first["id"] == "1f98b" and first["currency"] == "RUB"
    assert first["image_url"] == "/media/images/1f98b.png"
    scores = [r["score"] for r in body["results"]]
    assert scores == sorted(scores, reverse=True)
    assert "signals" in first["why"]


@pytest.mark.parametrize(
    "args,field",
    [
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({}, "q"),
        ({"q": "кот", "page": "x"}, "page"),
        ({"q": "кот", "page": "-3"}, "page"),
        ({"q": "кот", "k": "0"}, "k"),
        ({"q": "кот", "k": "1e9"}, "k"),
        ({"q": "кот", "price_min": "дёшево"}, "price_min"),
        ({"q": "кот", "price_max": "99999999999999"}, "price_max"),
        ({"q": "кот", "sort": "best"}, "sort"),
    ],
)
def test_bad_parameters_get_400_with_a_message(client, args, field) -> None:
    response = client.get("/api/search", query_string=args)
    assert response.status_code == 400
    error = response.json["error"]
    assert error["field"] == field and error["message"]


def test_k_limits_the_page_size(client) -> None:
    body = client.get("/api/search", query_string={"q": "кот", "k": 3}).json
    assert len(body["results"]) == 3


def test_product_endpoint(client) -> None:
    body = client.get("/api/products/1f413").json
    assert body["id"] == "1f413" and body["title"] == "Петух" and body["price"] > 0


def test_unknown_product_is_a_json_404(client) -> None:
    response = client.get("/api/products/zzz")
    assert response.status_code == 404
    assert response.json["error"]["code"] == 404


def test_nul_and_control_characters_are_harmless(client) -> None:
    response = client.get("/api/search", query_string={"q": "пет\x00ух\x1b"})
    assert response.status_code == 200
