"""Production behaviour: headers and CSP, CSRF, rate limits, secrets, proxies, metrics,
logs, the OpenAPI document, hot reloads, the database under concurrent boots, gunicorn config."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from flask import Flask, render_template_string
from flask_wtf.csrf import generate_csrf

from webapp import create_app
from webapp.catalog.embedding_cache import EmbeddingCache, read_cache, save_cache
from webapp.lifecycle import reload, warm_up, watch_reloads
from webapp.observability import JsonFormatter
from webapp.search.results import SearchRequest
from webapp.security import ConfigurationError

from .conftest import ROOT, database_url
from .serving import free_port, require_tool

CACHES = sorted((ROOT / "embeddings").glob("*.pkl"))


def fetch(client, path: str, **kwargs):  # noqa: ANN001, ANN201 - a test client and its response
    """GET ``path`` and close the response (file responses hold an open file until then)."""
    response = client.get(path, **kwargs)
    response.get_data()
    response.close()
    return response


# --- headers and CSP ---------------------------------------------------------------
@pytest.mark.parametrize("path", ["/", "/search?q=петух", "/api/search?q=петух",
                                  "/static/style.css", "/no-such-page", "/healthz"])
def test_every_answer_carries_security_headers_and_a_strict_csp(client, path) -> None:
    response = fetch(client, path)
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_plain_http_through_the_tunnel_is_neither_redirected_nor_pinned_to_https(client) -> None:
    response = client.get("/", base_url="http://localhost:8888")
    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response.headers


def test_templates_hold_no_inline_script_or_style_the_csp_would_block() -> None:
    for template in (ROOT / "templates").glob("*.html"):
        html = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), template.name
        assert not re.search(r"\sstyle=|<style|\son[a-z]+=|javascript:", html), template.name


def test_static_files_carry_cache_headers(client) -> None:
    assert "max-age=3600" in fetch(client, "/static/style.css").headers["Cache-Control"]
    assert "max-age=86400" in fetch(client, "/media/images/1f413.png").headers["Cache-Control"]


# --- secrets, CSRF, request size ---------------------------------------------------------
@pytest.mark.parametrize("key", [None, "dev-only-not-secret", "short"])
def test_production_refuses_to_start_without_a_real_secret_key(monkeypatch, key) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    if key is None:
        monkeypatch.delenv("SECRET_KEY", raising=False)
    else:
        monkeypatch.setenv("SECRET_KEY", key)
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        create_app()


def test_production_starts_with_a_real_secret_key(monkeypatch) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 64)
    assert create_app().config["SECRET_KEY"] == "x" * 64


@pytest.fixture()
def form_app(tmp_path: Path) -> Flask:
    """A cold app (no engine) with a posting form, as a future upload page would have."""
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'f.sqlite3'}",
                      "MAX_CONTENT_LENGTH": 1000})

    @app.route("/form", methods=["GET", "POST"])
    def form() -> str:
        from flask import request

        if request.method == "POST":
            return f"got {len(request.form['text'])}"
        return render_template_string("{{ csrf_token() }}")

    return app


def test_a_form_post_without_the_csrf_token_is_refused(form_app) -> None:
    client = form_app.test_client()
    assert client.post("/form", data={"text": "привет"}).status_code == 400
    token = client.get("/form").get_data(as_text=True)
    response = client.post("/form", data={"text": "привет", "csrf_token": token})
    assert response.status_code == 200 and response.text == "got 6"


def test_a_request_body_over_max_content_length_is_413(form_app) -> None:
    client = form_app.test_client()
    with form_app.test_request_context():
        token = generate_csrf()
    response = client.post("/form", data={"text": "я" * 5000, "csrf_token": token})
    assert response.status_code == 413
    assert "Слишком большой запрос" in response.text


# --- rate limits ----------------------------------------------------------------------
def _limited_app(tmp_path: Path, **config: object) -> Flask:
    """An app whose search is limited to 3 requests a minute per client."""
    app = create_app({"TESTING": True, "DATABASE_URL": database_url(tmp_path),
                      "RATELIMIT_APPLICATION": "3 per minute", **config})
    warm_up(app)
    return app


def test_too_many_searches_get_429_with_retry_after_and_a_russian_message(tmp_path) -> None:
    client = _limited_app(tmp_path).test_client()
    assert [client.get("/api/search?q=кот").status_code for _ in range(3)] == [200] * 3
    limited = client.get("/api/search?q=кот")
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert "Слишком много запросов" in limited.json["error"]["message"]
    assert "Слишком много запросов" in client.get("/search?q=кот").text
    # another client address has its own budget
    assert client.get("/api/search?q=кот",
                      environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code == 200


def test_images_static_files_and_probes_are_never_rate_limited(tmp_path) -> None:
    client = _limited_app(tmp_path).test_client()
    for path in ["/static/style.css", "/media/images/1f413.png", "/healthz", "/readyz",
                 "/metrics"]:
        assert {fetch(client, path).status_code for _ in range(6)} == {200}, path


def test_redis_storage_shares_the_limit_between_workers(tmp_path) -> None:
    redis_server = require_tool("redis-server")
    port = free_port()
    process = subprocess.Popen([redis_server, "--port", str(port), "--bind", "127.0.0.1",
                                "--save", "", "--appendonly", "no"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import redis

        client = redis.Redis(port=port)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.1)
        storage = {"RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{port}"}
        one = _limited_app(tmp_path, **storage).test_client()
        two = _limited_app(tmp_path, **storage).test_client()
        assert [one.get("/api/search?q=кот").status_code for _ in range(3)] == [200] * 3
        assert two.get("/api/search?q=кот").status_code == 429  # the other "worker" knows
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- proxies and URL prefix ------------------------------------------------------------
def test_behind_a_proxy_links_follow_the_forwarded_prefix_and_client(tmp_path, caplog) -> None:
    app = _limited_app(tmp_path, PROXY_FIX=1, RATELIMIT_ENABLED=False)
    headers = {"X-Forwarded-Prefix": "/shop", "X-Forwarded-For": "203.0.113.9",
               "X-Forwarded-Proto": "https", "X-Forwarded-Host": "shop.example"}
    with caplog.at_level(logging.INFO, logger="webapp.requests"):
        html = app.test_client().get("/search?q=петух", headers=headers).text
    assert 'href="/shop/static/style.css"' in html and 'src="/shop/media/images/' in html
    assert caplog.records[-1].fields["remote_addr"] == "203.0.113.9"


def test_the_site_works_under_a_url_prefix(tmp_path) -> None:
    client = _limited_app(tmp_path, URL_PREFIX="/shop", RATELIMIT_ENABLED=False).test_client()
    page = client.get("/shop/search?q=петух")
    assert page.status_code == 200
    assert 'href="/shop/static/style.css"' in page.text and 'action="/shop/search"' in page.text
    assert fetch(client, "/shop/static/style.css").status_code == 200
    api = client.get("/shop/api/search?q=петух").json
    assert api["results"][0]["image_url"].startswith("/shop/media/")
    assert client.get("/shop/api/openapi.json").json["servers"] == [{"url": "/shop"}]
    assert client.get("/search?q=петух").status_code == 404


# --- file serving ---------------------------------------------------------------------------
@pytest.mark.parametrize("path", [
    "/media/../webapp/config.py", "/media/%2e%2e/webapp/config.py", "/media/..%2fwsgi.py",
    "/media/%2e%2e%2f%2e%2e%2fetc/passwd", "/media/images/../../wsgi.py",
    "/media/..%5c..%5cwsgi.py", "/media/%252e%252e/wsgi.py", "/media/images/%00.png",
    "/media/images/1f413.png%00.txt", "/media/C:/Windows/win.ini", "/media/~/.bashrc",
    "/static/../wsgi.py", "/static/%2e%2e/wsgi.py", "/static/..%2fwsgi.py",
])
def test_path_traversal_in_file_routes_is_404(client, path) -> None:
    response = fetch(client, path, follow_redirects=True)
    assert response.status_code == 404
    assert b"create_app" not in response.data and b"root:" not in response.data


# --- metrics and logs ----------------------------------------------------------------------
def _metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text output (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_and_time_every_stage_of_a_search(client) -> None:
    before = _metric(client.get("/metrics").text, "http_requests_total",
                     endpoint="api.search", status="200")
    unique = uuid.uuid4().hex[:6]  # a query no cache has seen runs every stage
    client.get(f"/api/search?q=котёнок в шляпе {unique}")
    client.get(f"/search?q=петух {unique}")
    client.get("/api/search?price_min=-1&q=кот")
    client.get("/definitely/not/a/page/12345")
    text = client.get("/metrics").text
    assert _metric(text, "http_requests_total", endpoint="api.search", status="200") == before + 1
    assert _metric(text, "http_requests_total", endpoint="api.search", status="400") >= 1
    assert _metric(text, "http_requests_total", endpoint="unmatched", status="404") >= 1
    assert "12345" not in text  # raw paths never become labels
    for stage in ["understand", "encode", "knn", "lexical", "fuse", "filter", "lookup", "render"]:
        assert _metric(text, "search_stage_duration_seconds_count", stage=stage) >= 1, stage
    assert _metric(text, "http_request_duration_seconds_count", endpoint="pages.search") >= 1


def test_metrics_describe_the_loaded_index_and_model(tmp_path) -> None:
    app = create_app({"TESTING": True, "DATABASE_URL": database_url(tmp_path)})
    engine = warm_up(app)
    text = app.test_client().get("/metrics").text
    for space in engine.spaces:
        assert _metric(text, "search_index_items", space=space.name) == len(engine.products)
        assert _metric(text, "search_model_info", space=space.name, model=space.model_id) == 1
    assert _metric(text, "search_catalog_products") == len(engine.products)


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
    response = client.get("/healthz", headers={"X-Request-ID": "x\"; DROP TABLE" + "z" * 100})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


# --- OpenAPI -----------------------------------------------------------------------------------
def test_the_openapi_document_describes_the_api_with_the_parsers_own_limits(demo_app,
                                                                             client) -> None:
    spec = client.get("/api/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert set(spec["paths"]) == {"/api/search", "/api/products/{product_id}"}
    params = {p["name"]: p["schema"] for p in spec["paths"]["/api/search"]["get"]["parameters"]}
    assert params["per_page"]["anyOf"][0]["maximum"] == demo_app.config["MAX_PAGE_SIZE"]
    assert params["category"]["enum"][1:] == list(demo_app.extensions["search"].facets.categories)
    assert params["sort"]["enum"] == ["", "relevance", "price_asc", "price_desc"]


# --- hot reload ----------------------------------------------------------------------------
def _write_variant(src: Path, dst: Path, shift: int) -> None:
    """Copy the demo caches into ``dst``, rows rolled by ``shift`` (same manifest, new answers)."""
    dst.mkdir(parents=True, exist_ok=True)
    for path in CACHES:
        cache = read_cache(path)
        vectors = np.roll(cache.vectors, shift, axis=0) if shift else cache.vectors
        save_cache(EmbeddingCache(cache.space, cache.model, cache.kind, cache.dim, cache.ids,
                                  np.ascontiguousarray(vectors), cache.catalog_fingerprint,
                                  cache.item_digests), dst)


def _ids(engine, query: str) -> tuple[str, ...]:
    return tuple(h.product.id for h in engine.search(SearchRequest(query, per_page=10)).hits)


def test_concurrent_searches_never_see_a_half_loaded_index_during_reloads(tmp_path) -> None:
    caches = tmp_path / "embeddings"
    _write_variant(ROOT / "embeddings", caches, 0)
    app = create_app({"TESTING": True, "DATABASE_URL": database_url(tmp_path),
                      "EMBEDDINGS_DIR": str(caches), "RATELIMIT_ENABLED": False})
    queries = ["котёнок", "цветок", "машина", "праздник"]
    engine_a = warm_up(app)
    _write_variant(ROOT / "embeddings", caches, 7)
    engine_b = reload(app)
    allowed = {q: {_ids(engine_a, q), _ids(engine_b, q)} for q in queries}
    assert all(len(answers) == 2 for answers in allowed.values())  # the variants differ

    seen: list[tuple[str, tuple[str, ...]]] = []
    failures: list[BaseException] = []
    done = threading.Event()

    def shopper() -> None:
        client = app.test_client()
        while not done.is_set():
            for q in queries:
                response = client.get(f"/api/search?q={q}&k=10")
                if response.status_code != 200:
                    failures.append(AssertionError(f"{response.status_code} {response.text}"))
                seen.append((q, tuple(r["id"] for r in response.json["results"])))

    threads = [threading.Thread(target=shopper) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        for shift in (0, 7, 0, 7):  # replace the files on disk, then reload, four times
            _write_variant(ROOT / "embeddings", caches, shift)
            reload(app)
    finally:
        done.set()
        for thread in threads:
            thread.join(timeout=60)
    assert not failures
    assert len(seen) > 20
    assert all(ids in allowed[q] for q, ids in seen)
    assert _ids(app.extensions["search"], queries[0]) == _ids(engine_b, queries[0])


def test_a_failed_reload_keeps_serving_the_previous_engine(tmp_path, caplog) -> None:
    caches = tmp_path / "embeddings"
    _write_variant(ROOT / "embeddings", caches, 0)
    app = create_app({"TESTING": True, "DATABASE_URL": database_url(tmp_path),
                      "EMBEDDINGS_DIR": str(caches), "RELOAD_POLL_SECONDS": 0.2,
                      "RELOAD_STAMP": str(tmp_path / "reload.stamp")})
    engine = warm_up(app)
    for cache in caches.glob("*.pkl"):
        cache.write_bytes(b"\x80\x05 not a pickle at all")
    watch_reloads(app)
    time.sleep(0.3)
    with caplog.at_level(logging.ERROR, logger="webapp.lifecycle"):
        result = app.test_cli_runner().invoke(args=["reload"])
        assert result.exit_code == 0 and "reload requested" in result.output
        deadline = time.monotonic() + 10
        while "reload failed" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
    assert "reload failed" in caplog.text and "corrupt" in caplog.text
    assert app.extensions["search"] is engine
    assert app.test_client().get("/api/search?q=петух").status_code == 200
    assert _metric(app.test_client().get("/metrics").text, "search_engine_reloads_total",
                   outcome="failed") >= 1


# --- the database under concurrent worker boots ------------------------------------------------
def _sync_in_process(url: str, barrier: multiprocessing.synchronize.Barrier,
                     results: multiprocessing.Queue) -> None:
    from webapp.catalog.products import read_catalog
    from webapp.catalog.store import CatalogStore

    catalog = read_catalog(ROOT / "data" / "catalog.csv")
    barrier.wait(timeout=60)
    try:
        store = CatalogStore(url)
        store.sync(catalog)
        results.put(("ok", store.count()))
    except Exception as exc:  # reported to the test, which fails on it
        results.put(("error", repr(exc)[:300]))


def test_workers_booting_together_import_the_catalogue_once_without_errors(tmp_path) -> None:
    url = database_url(tmp_path)  # a fresh PostgreSQL schema in CI, SQLite otherwise
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(3), ctx.Queue()
    procs = [ctx.Process(target=_sync_in_process, args=(url, barrier, results))
             for _ in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    outcomes = [results.get(timeout=5) for _ in procs]
    assert outcomes == [("ok", 1601)] * 3


def test_the_store_round_trips_cyrillic_and_emoji(tmp_path) -> None:
    from webapp.catalog.products import read_catalog
    from webapp.catalog.store import CatalogStore

    store = CatalogStore(database_url(tmp_path))
    catalog = read_catalog(ROOT / "data" / "catalog.csv")
    assert store.sync(catalog) is True and store.sync(catalog) is False
    rooster = store.get("1f413")
    assert rooster is not None and rooster.title.lower() == "петух"
    assert [p.id for p in store.get_many(["1f98b", "nope", "1f413"])] == ["1f98b", "1f413"]
    # PostgreSQL refuses NUL in text: such ids are simply not found (the fuzzer sends them)
    assert store.get("1f413\x00") is None and store.get_many(["\x00", "1f413"])[0].id == "1f413"


# --- gunicorn configuration ------------------------------------------------------------------
def _gunicorn_settings(**env: str) -> dict[str, object]:
    """The settings gunicorn.conf.py yields under ``env`` (read in a clean subprocess)."""
    code = ("import json, runpy; c = runpy.run_path('gunicorn.conf.py'); "
            "print(json.dumps({k: v for k, v in c.items() if isinstance(v, (int, str, bool))}))")
    clean = {k: v for k, v in os.environ.items()
             if k not in {"PROMETHEUS_MULTIPROC_DIR", "HOST", "PORT", "WEB_CONCURRENCY"}}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**clean, **env},
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def test_gunicorn_binds_loopback_5000_and_never_preloads_the_models() -> None:
    settings = _gunicorn_settings()
    assert settings["bind"] == "127.0.0.1:5000"
    assert settings["preload_app"] is False
    assert settings["worker_class"] == "gthread" and settings["accesslog"] == "-"
    assert settings["workers"] == (os.cpu_count() or 2) and settings["timeout"] >= 30


def test_gunicorn_settings_follow_the_environment() -> None:
    settings = _gunicorn_settings(HOST="0.0.0.0", PORT="8080", WEB_CONCURRENCY="3",
                                  GUNICORN_THREADS="2", PROMETHEUS_MULTIPROC_DIR="/tmp/x")
    assert (settings["bind"], settings["workers"], settings["threads"]) == ("0.0.0.0:8080", 3, 2)
