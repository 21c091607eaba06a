"""The search contract, run against every vector back-end: FAISS in process and Milvus
(Milvus Lite in a file, the same client code a Milvus server or cluster gets).

Each back-end serves the demo catalogue and its committed embeddings; its answers must
be the exact FAISS answers of the session's demo app, filters and totals included.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from webapp import create_app
from webapp.catalog.facets import NO_FILTERS, Filters
from webapp.index.base import IndexUnavailable
from webapp.lifecycle import warm_up
from webapp.search.results import SearchRequest

from .conftest import database_url

BACKENDS = ("faiss", "milvus")
QUERIES = ("петух", "милый котёнок", "новогодний узор", "танк", "цветы для полотенца")


def _config(tmp: Path, backend: str) -> dict[str, object]:
    """The demo app's settings with ``backend`` (Milvus Lite in ``tmp``)."""
    return {
        "TESTING": True,
        "DATABASE_URL": database_url(tmp),
        "RATELIMIT_ENABLED": False,
        "VECTOR_BACKEND": backend,
        "VECTOR_BACKEND_URI": str(tmp / "milvus.db"),
    }


@pytest.fixture(scope="module", params=BACKENDS)
def backend_app(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Flask]:
    """The demo app on one back-end, its index built by the ``index`` command."""
    tmp = tmp_path_factory.mktemp(request.param)
    app = create_app(_config(tmp, request.param))
    if request.param == "milvus":
        result = app.test_cli_runner().invoke(args=["index"])
        assert result.exit_code == 0, result.output
        assert "1601 upserted" in result.output
    warm_up(app)
    yield app


def _ids(app: Flask, query: str, filters: Filters = NO_FILTERS) -> tuple[int, list[str]]:
    """Total and ranked ids of a search (all pages)."""
    result = app.extensions["search"].search(SearchRequest(query, filters=filters, per_page=500))
    return result.total, [h.product.id for h in result.hits]


def test_search_answers_like_exact_faiss(backend_app: Flask, demo_app: Flask) -> None:
    for query in QUERIES:
        assert _ids(backend_app, query) == _ids(demo_app, query), query


@pytest.mark.parametrize(
    "filters",
    [
        Filters(category="Животные и природа"),
        Filters(price_min=500, price_max=900),
        Filters(category="Еда и напитки", price_max=1200),
    ],
    ids=str,
)
def test_filters_and_totals_are_exact(backend_app: Flask, demo_app: Flask, filters) -> None:
    for query in QUERIES:
        assert _ids(backend_app, query, filters) == _ids(demo_app, query, filters), query


def test_neighbours_and_filtered_nearest(backend_app: Flask, demo_app: Flask) -> None:
    mine, exact = backend_app.extensions["search"], demo_app.extensions["search"]
    for product in ("1f413", "1f408", "1f384"):
        assert [h.product.id for h in mine.neighbours(product, 8)] == [
            h.product.id for h in exact.neighbours(product, 8)
        ]
        vector = exact.item_vectors([product])[0]
        flt = Filters(category="Животные и природа", price_min=300)
        got = mine.nearest(vector, 12, space=mine.similar_space, filters=flt, exclude=[product])
        want = exact.nearest(vector, 12, space=exact.similar_space, filters=flt, exclude=[product])
        assert got[0].tolist() == want[0].tolist()


def test_ready_reports_each_index(backend_app: Flask) -> None:
    response = backend_app.test_client().get("/readyz")
    assert response.status_code == 200, response.json
    spaces = backend_app.extensions["search"].describe()["spaces"]
    expected = "milvus" if backend_app.config["VECTOR_BACKEND"] == "milvus" else "Flat"
    assert {s["index"] for s in spaces.values()} == {expected}


# -- a Milvus that is down or out of step --------------------------------------------------
def test_an_unreachable_milvus_is_a_503_never_a_500(tmp_path: Path) -> None:
    app = create_app({**_config(tmp_path, "milvus"), "VECTOR_BACKEND_URI": "http://127.0.0.1:1"})
    app.config["MILVUS_TIMEOUT"] = 1.0
    client = app.test_client()
    assert client.get("/readyz").status_code == 503
    page = client.get("/search", query_string={"q": "кот"})
    assert page.status_code == 503
    assert "Поиск временно недоступен" in page.get_data(as_text=True)
    assert client.get("/api/search", query_string={"q": "кот"}).status_code == 503


def test_a_lost_collection_makes_readyz_and_search_503(tmp_path: Path) -> None:
    app = create_app(_config(tmp_path, "milvus"))
    assert app.test_cli_runner().invoke(args=["index"]).exit_code == 0
    engine = warm_up(app)
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    milvus = engine._indexes["text-use"]  # the back-end itself: drop what it serves
    milvus.client.drop_collection(milvus.collection)
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "missing" in ready.json["error"]
    engine.clear_caches()
    assert client.get("/api/search", query_string={"q": "петух"}).status_code == 503
    with pytest.raises(IndexUnavailable):
        engine.search(SearchRequest("петух"))


# -- the setting's old name ---------------------------------------------------------------
@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A copy of the process environment as ``os.environ`` for one test (the renaming
    moves variables, which ``monkeypatch.setenv`` alone would not put back)."""
    copy = {k: v for k, v in os.environ.items() if k not in ("MILVUS_URI", "VECTOR_BACKEND_URI")}
    monkeypatch.setattr(os, "environ", copy)
    return copy


def test_the_old_setting_name_still_works_and_never_reaches_pymilvus(
    tmp_path: Path, environ: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    # pymilvus reads MILVUS_URI itself when imported and refuses a file path
    environ["MILVUS_URI"] = str(tmp_path / "milvus.db")
    with caplog.at_level("WARNING", logger="webapp.config"):
        app = create_app({"TESTING": True, "DATABASE_URL": database_url(tmp_path)})
    assert app.config["VECTOR_BACKEND_URI"] == str(tmp_path / "milvus.db")
    assert "MILVUS_URI" not in environ and "MILVUS_URI" not in app.config
    assert environ["VECTOR_BACKEND_URI"] == str(tmp_path / "milvus.db")
    assert "MILVUS_URI is deprecated: use VECTOR_BACKEND_URI" in caplog.text


def test_the_new_name_wins_over_the_old_one(tmp_path: Path, environ: dict[str, str]) -> None:
    environ.update(MILVUS_URI="old.db", VECTOR_BACKEND_URI="new.db")
    app = create_app({"TESTING": True, "DATABASE_URL": database_url(tmp_path)})
    assert app.config["VECTOR_BACKEND_URI"] == "new.db"
    assert "MILVUS_URI" not in environ


def test_the_old_name_in_instance_config_still_works(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    (tmp_path / "config.py").write_text(f"MILVUS_URI = {str(tmp_path / 'm.db')!r}\n")
    environ["INSTANCE_PATH"] = str(tmp_path)
    app = create_app({"TESTING": True, "DATABASE_URL": database_url(tmp_path)})
    assert app.config["VECTOR_BACKEND_URI"] == str(tmp_path / "m.db")
    assert "MILVUS_URI" not in app.config
