"""End-to-end search with the real offline encoder on the committed demo catalogue."""

from __future__ import annotations

from webapp.catalog.facets import Filters
from webapp.lifecycle import get_engine
from webapp.search.results import SearchRequest


def ids_for(app, query: str, **kwargs) -> list[str]:
    with app.app_context():
        result = get_engine().search(SearchRequest(query, **kwargs))
    return [h.product.id for h in result.hits]


def test_rooster_is_in_the_top_three_for_petukh(demo_app) -> None:
    assert "1f413" in ids_for(demo_app, "петух")[:3]


def test_butterfly_is_first_for_babochka(demo_app) -> None:
    assert ids_for(demo_app, "бабочка")[0] == "1f98b"


def test_gallery_order_equals_api_order(client, rendered) -> None:
    api = client.get("/api/search", query_string={"q": "котик", "per_page": 12}).json
    page = client.get("/search", query_string={"q": "котик", "per_page": 12})
    assert page.status_code == 200
    template, context = rendered[0]
    assert template.name == "search.html"
    gallery = [hit.product.id for hit in context["result"].hits]
    assert gallery == [r["id"] for r in api["results"]]
    assert len(gallery) >= 5


def test_emoji_query_finds_its_motif(demo_app) -> None:
    assert ids_for(demo_app, "🐓")[0] == "1f413"


def test_category_filter_and_paging_keep_totals_right(demo_app) -> None:
    with demo_app.app_context():
        engine = get_engine()
        everything = engine.search(SearchRequest("животное", per_page=1000))
        birds = engine.search(
            SearchRequest("животное", Filters(category="Животные и природа"), per_page=5, page=2)
        )
    expected = [h.product.id for h in everything.hits if h.product.category == "Животные и природа"]
    assert birds.total == len(expected)
    assert [h.product.id for h in birds.hits] == expected[5:10]
