"""The cached page path: search pages and the JSON API show products from the engine's
in-process table and links from a per-engine path table, never an SQL round trip or a
``url_for`` per card, and what the shopper gets is byte for byte what the catalogue
database and ``url_for`` give; a hot reload refreshes both tables."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from flask import Flask, render_template, url_for
from flask.testing import FlaskClient

from webapp.lifecycle import reload, warm_up
from webapp.search.results import SearchResult
from webapp.web import links
from webapp.web.api import hit_json
from webapp.web.searching import parse

from .conftest import MINI_ROWS
from .helpers import write_catalog

QUERIES = ["петух", "котёнок", "новогодний узор", "🚀", "ghbdtn", "цветы"]
CSRF = re.compile(r'name="csrf_token" value="[^"]*"')


def _from_database(app: Flask, result: SearchResult) -> SearchResult:
    """``result`` with every hit's product read from the catalogue database instead."""
    products = app.extensions["store"].get_many([h.product.id for h in result.hits])
    assert len(products) == len(result.hits)
    hits = [dataclasses.replace(h, product=p) for h, p in zip(result.hits, products, strict=True)]
    return dataclasses.replace(result, hits=hits)


def _page_from_database(app: Flask, client: FlaskClient, path: str, context: dict) -> str:
    """The search page rendered again for ``path`` in the same session, from the database."""
    cookie = client.get_cookie("session")
    headers = {"Cookie": f"session={cookie.value}"} if cookie else {}
    with app.test_request_context(path, headers=headers):
        view_args = {k: context[k] for k in ("req", "error", "categories", "popular", "link_args")}
        return render_template(
            "search.html", result=_from_database(app, context["result"]), **view_args
        )


def test_search_pages_are_byte_identical_to_pages_built_from_the_database(
    demo_app, rendered
) -> None:
    with_cards = 0
    for query in QUERIES:
        client = demo_app.test_client()
        client.get("/search?q=кошка")  # a session with a recent search, shown on the page
        rendered.clear()
        path = f"/search?q={query}"
        served = client.get(path).get_data(as_text=True)
        context = next(c for t, c in rendered if t.name == "search.html")
        with_cards += bool(context["result"].hits)
        again = _page_from_database(demo_app, client, path, context)
        assert CSRF.sub("", served) == CSRF.sub("", again), query
    assert with_cards >= 5


def test_api_answers_are_byte_identical_to_answers_built_from_the_database(
    demo_app, client
) -> None:
    engine = warm_up(demo_app)
    for query in QUERIES:
        answer = client.get(f"/api/search?q={query}&per_page=30")
        assert answer.status_code == 200
        with demo_app.test_request_context(f"/api/search?q={query}"):
            req = parse({"q": query, "per_page": "30"}, require_query=True)
            result = _from_database(demo_app, engine.search(req))
            page = links.page_links()
            expected = demo_app.json.dumps([hit_json(h, page) for h in result.hits])
        assert demo_app.json.dumps(answer.json["results"]) == expected, query


def test_links_are_what_url_for_gives_for_every_product_query_and_source(demo_app) -> None:
    engine = warm_up(demo_app)
    cases = [(None, None), ("кот в шляпе", None), ("a&b=c/d?e#f %", "rec"), ("", "also")]
    with demo_app.test_request_context("/"):
        page = links.page_links()
        for product in engine.products:
            assert page.media(product) == url_for("pages.media", filename=product.image)
            for query, source in cases:
                extra = {"from": source} if source else {}
                expected = url_for("pages.product", product_id=product.id, q=query or None, **extra)
                assert page.page(product, query, source) == expected


def test_links_follow_the_mount_point_of_a_prefixed_site(demo_app) -> None:
    product = warm_up(demo_app).products[0]
    with demo_app.test_request_context("/", base_url="http://localhost/shop/"):
        assert links.media_url(product) == url_for("pages.media", filename=product.image)
        assert links.media_url(product).startswith("/shop/media/")
        assert links.product_url(product, "кот") == url_for(
            "pages.product", product_id=product.id, q="кот"
        )


def test_site_links_are_what_url_for_gives_at_the_root_and_under_a_prefix(demo_app) -> None:
    """The layout's fixed links and search links (odd queries included), memoised or not."""
    cases = [
        ("static", {"filename": "style.css"}),
        ("pages.index", {}),
        ("pages.search", {}),
        ("pages.search", {"q": "кот в шляпе"}),
        ("pages.search", {"q": "a&b=c/d?e#f % +"}),
        ("pages.search", {"category": "Животные и природа"}),
        ("shopper.clear_recent", {}),
    ]
    for base in ("http://localhost/", "http://localhost/shop/"):
        with demo_app.test_request_context("/", base_url=base):
            for _ in range(2):  # built, then from the memo
                for endpoint, args in cases:
                    assert links.site_url(endpoint, **args) == url_for(endpoint, **args)


def test_a_hot_reload_refreshes_the_product_table_the_pages_and_the_api_show(mini_app) -> None:
    warm_up(mini_app)
    client = mini_app.test_client()
    page = client.get("/search?q=петух").get_data(as_text=True)
    assert "Петух на заборе" in page and "/media/images/a1.png" in page
    old_links = mini_app.extensions["links"]

    rows = [dict(r) for r in MINI_ROWS]
    rows[0].update(title="Петух на плетне", image="images/a1-new.png")
    write_catalog(Path(mini_app.config["DATA_DIR"]), rows)
    assert mini_app.test_cli_runner().invoke(args=["embed"]).exit_code == 0
    reload(mini_app)

    page = client.get("/search?q=петух").get_data(as_text=True)
    assert "Петух на плетне" in page and "Петух на заборе" not in page
    assert "/media/images/a1-new.png" in page and "/media/images/a1.png" not in page
    assert mini_app.extensions["links"] is not old_links
    hit = client.get("/api/search?q=петух").json["results"][0]
    assert (hit["title"], hit["image_url"]) == ("Петух на плетне", "/media/images/a1-new.png")
    stored = mini_app.extensions["store"].get("a1")
    assert (stored.title, stored.image) == ("Петух на плетне", "images/a1-new.png")
