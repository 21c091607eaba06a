"""Security in production: headers and CSP, CSRF, request size, rate limits, secrets,
proxies and URL prefixes, path traversal in the file routes."""

from __future__ import annotations

import logging
import re
import subprocess
import time
from pathlib import Path

import pytest
from flask import Flask, render_template_string
from flask_wtf.csrf import generate_csrf

from webapp import create_app
from webapp.lifecycle import warm_up
from webapp.security import ConfigurationError

from .conftest import ROOT, database_url
from .serving import free_port, require_tool


def fetch(client, path: str, **kwargs):  # noqa: ANN001, ANN201 - a test client and its response
    """GET ``path`` and close the response (file responses hold an open file until then)."""
    response = client.get(path, **kwargs)
    response.get_data()
    response.close()
    return response


# --- headers and CSP ---------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/search?q=петух",
        "/api/search?q=петух",
        "/static/style.css",
        "/no-such-page",
        "/healthz",
    ],
)
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
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'f.sqlite3'}",
            "MAX_CONTENT_LENGTH": 1000,
        }
    )

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
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url(tmp_path),
            "RATELIMIT_APPLICATION": "3 per minute",
            **config,
        }
    )
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
    assert (
        client.get("/api/search?q=кот", environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code == 200
    )


def test_images_static_files_and_probes_are_never_rate_limited(tmp_path) -> None:
    client = _limited_app(tmp_path).test_client()
    for path in ["/static/style.css", "/media/images/1f413.png", "/healthz", "/readyz", "/metrics"]:
        assert {fetch(client, path).status_code for _ in range(6)} == {200}, path


def test_redis_storage_shares_the_limit_between_workers(tmp_path) -> None:
    redis_server = require_tool("redis-server")
    port = free_port()
    process = subprocess.Popen(
        [
            redis_server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
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
    headers = {
        "X-Forwarded-Prefix": "/shop",
        "X-Forwarded-For": "203.0.113.9",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "shop.example",
    }
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
@pytest.mark.parametrize(
    "path",
    [
        "/media/../webapp/config.py",
        "/media/%2e%2e/webapp/config.py",
        "/media/..%2fwsgi.py",
        "/media/%2e%2e%2f%2e%2e%2fetc/passwd",
        "/media/images/../../wsgi.py",
        "/media/..%5c..%5cwsgi.py",
        "/media/%252e%252e/wsgi.py",
        "/media/images/%00.png",
        "/media/images/1f413.png%00.txt",
        "/media/C:/Windows/win.ini",
        "/media/~/.bashrc",
        "/static/../wsgi.py",
        "/static/%2e%2e/wsgi.py",
        "/static/..%2fwsgi.py",
    ],
)
def test_path_traversal_in_file_routes_is_404(client, path) -> None:
    response = fetch(client, path, follow_redirects=True)
    assert response.status_code == 404
    assert b"create_app" not in response.data and b"root:" not in response.data
