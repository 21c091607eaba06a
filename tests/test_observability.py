"""Observability: Prometheus metrics, structured request logs, request ids, and the
OpenAPI document the API serves about itself."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Iterator

import pytest

from webapp import create_app
from webapp.lifecycle import warm_up
from webapp.observability import JsonFormatter, configure_logging

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


# --- request ids on every line -----------------------------------------------------------------
def test_a_request_refused_for_csrf_is_logged_with_its_id_and_a_true_duration(
    client, caplog
) -> None:
    with caplog.at_level(logging.INFO, logger="webapp.requests"):
        given = client.post(
            "/staff/synonyms", data={"phrase": "ёж"}, headers={"X-Request-ID": "r-1"}
        )
        made = client.post("/staff/synonyms", data={"phrase": "ёж"})
    assert given.status_code == made.status_code == 400
    lines = [r.fields for r in caplog.records if r.name == "webapp.requests"][-2:]
    assert [line["request_id"] for line in lines] == ["r-1", made.headers["X-Request-ID"]]
    assert re.fullmatch(r"[0-9a-f]{32}", lines[1]["request_id"])
    assert all(line["status"] == 400 and line["duration_ms"] > 0 for line in lines)


def test_the_request_stamp_runs_before_every_hook_that_may_refuse(demo_app) -> None:
    # CSRF, the rate limiter and the upload limit all refuse in before-request hooks; run
    # before the stamp, they left the line without an id and with a negative duration
    first = demo_app.before_request_funcs[None][0]
    assert (first.__module__, first.__name__) == ("webapp.observability", "_start")


def test_a_request_refused_by_the_rate_limiter_is_logged_with_its_id(tmp_path, caplog) -> None:
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url(tmp_path),
            "RATELIMIT_APPLICATION": "1 per minute",
        }
    )
    client = app.test_client()
    client.get("/api/openapi.json")
    with caplog.at_level(logging.INFO, logger="webapp.requests"):
        refused = client.get("/api/openapi.json", headers={"X-Request-ID": "limited-1"})
    assert refused.status_code == 429
    fields = caplog.records[-1].fields
    assert fields["request_id"] == "limited-1" and fields["duration_ms"] > 0


@pytest.fixture()
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], list[dict]]]:
    """The app's logs as a server writes them (``LOG_FORMAT=json`` on stderr), parsed; the
    ``webapp`` logger is put back as it was afterwards."""
    logger = logging.getLogger("webapp")
    handlers, level = list(logger.handlers), logger.level
    configure_logging("json", "INFO")
    capsys.readouterr()

    def read() -> list[dict]:
        return [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]

    yield read
    logger.handlers[:] = handlers
    logger.setLevel(level)


def test_every_json_log_line_of_a_request_carries_its_id(tmp_path, json_logs) -> None:
    app = create_app({"TESTING": True, "DATABASE_URL": database_url(tmp_path)})

    @app.get("/api/boom")
    def boom() -> str:
        logging.getLogger("webapp.search").warning("about to fail")
        raise RuntimeError("a bug")

    client = app.test_client()
    failed = client.get("/api/boom", headers={"X-Request-ID": "boom-1"})
    refused = client.post("/staff/synonyms", data={"phrase": "ёж"})
    assert failed.status_code == 500 and refused.status_code == 400
    lines = json_logs()
    by_id = {line["request_id"]: [] for line in lines}
    for line in lines:
        by_id[line["request_id"]].append(line)
    assert {"boom-1", refused.headers["X-Request-ID"]} == set(by_id)  # no line without an id
    boom_lines = {line["message"]: line for line in by_id["boom-1"]}
    assert set(boom_lines) == {"about to fail", "unhandled error on /api/boom", "request"}
    assert "a bug" in boom_lines["unhandled error on /api/boom"]["exception"]
    assert boom_lines["request"]["status"] == 500 and boom_lines["request"]["duration_ms"] > 0
    (csrf_line,) = by_id[refused.headers["X-Request-ID"]]
    assert csrf_line["status"] == 400 and csrf_line["duration_ms"] > 0


def test_a_line_logged_outside_a_request_has_no_request_id(json_logs) -> None:
    logging.getLogger("webapp.lifecycle").warning("between requests")
    (line,) = json_logs()
    assert line["message"] == "between requests" and "request_id" not in line
