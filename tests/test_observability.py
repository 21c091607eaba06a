"""Observability: Prometheus metrics, structured request logs, request ids, and the
OpenAPI document the API serves about itself."""

from __future__ import annotations

import json
import logging
import re
import uuid

from webapp import create_app
from webapp.lifecycle import warm_up
from webapp.observability import JsonFormatter

from .conftest import database_url
from .metrics import metric


def test_metrics_count_requests_and_time_every_stage_of_a_search(client) -> None:
    before = metric(
        client.get("/metrics").text, "http_requests_total", endpoint="api.search", status="200"
    )
    unique = uuid.uuid4().hex[:6]  # a query no cache has seen runs every stage
    client.get(f"/api/search?q=котёнок в шляпе {unique}")
    client.get(f"/search?q=петух {unique}")
    client.get("/api/search?price_min=-1&q=кот")
    client.get("/definitely/not/a/page/12345")
    text = client.get("/metrics").text
    assert metric(text, "http_requests_total", endpoint="api.search", status="200") == before + 1
    assert metric(text, "http_requests_total", endpoint="api.search", status="400") >= 1
    assert metric(text, "http_requests_total", endpoint="unmatched", status="404") >= 1
    assert "12345" not in text  # raw paths never become labels
    for stage in [
        "understand", "encode", "knn", "words", "category", "fuse", "floor", "filter", "lookup",
        "render",
    ]:  # fmt: skip
        assert metric(text, "search_stage_duration_seconds_count", stage=stage) >= 1, stage
    assert metric(text, "http_request_duration_seconds_count", endpoint="pages.search") >= 1


def test_metrics_describe_the_loaded_index_and_model(tmp_path) -> None:
    app = create_app({"TESTING": True, "DATABASE_URL": database_url(tmp_path)})
    engine = warm_up(app)
    text = app.test_client().get("/metrics").text
    described = engine.describe()
    for name, space in described["spaces"].items():
        assert metric(text, "search_index_items", space=name) == described["products"]
        assert metric(text, "search_model_info", space=name, model=space["model"]) == 1
    assert metric(text, "search_catalog_products") == described["products"] == 1601


def test_each_request_is_logged_as_one_structured_record(client, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="webapp.requests"):
        response = client.get("/api/search?q=петух", headers={"X-Request-ID": "abc-123"})
    fields = caplog.records[-1].fields
    assert response.headers["X-Request-ID"] == "abc-123" == fields["request_id"]
    assert fields["endpoint"] == "api.search" and fields["status"] == 200
    assert fields["query"] == "петух" and fields["total"] >= 1
    assert set(fields["stages_ms"]) >= {"understand", "lookup"}
    line = JsonFormatter().format(caplog.records[-1])
    assert json.loads(line)["query"] == "петух" and "петух" in line  # readable UTF-8


def test_a_malformed_request_id_is_replaced(client) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": 'x"; DROP TABLE' + "z" * 100})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


# --- OpenAPI -----------------------------------------------------------------------------------
def test_the_openapi_document_describes_the_api_with_the_parsers_own_limits(
    demo_app, client
) -> None:
    spec = client.get("/api/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert set(spec["paths"]) == {"/api/search", "/api/search/image", "/api/products/{product_id}"}
    params = {p["name"]: p["schema"] for p in spec["paths"]["/api/search"]["get"]["parameters"]}
    assert params["per_page"]["anyOf"][0]["maximum"] == demo_app.config["MAX_PAGE_SIZE"]
    categories = [name for name, _ in demo_app.extensions["search"].categories()]
    assert params["category"]["enum"][1:] == categories
    assert params["sort"]["enum"] == ["", "relevance", "price_asc", "price_desc"]
