"""Every error page and refusal speaks Russian: an HTML page for the site, JSON with a
Russian message for ``/api/*``, whatever raised it (our code, Werkzeug, Flask-WTF,
Flask-Limiter) and never a library's English text or a traceback."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from flask import Flask, render_template_string, request
from flask.testing import FlaskClient
from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from webapp import create_app
from webapp.web.errors import CSRF_MESSAGE, MESSAGES

#: Werkzeug's, Flask-WTF's and Flask-Limiter's own wording, which must never show
ENGLISH = re.compile(
    r"requested URL|not allowed for|exceeds the capacity|browser \(or proxy\)|"
    r"CSRF token|per 1 minute|Internal Server Error</h1>|Traceback|server encountered",
    re.IGNORECASE,
)


@pytest.fixture()
def cold_app(tmp_path: Path) -> Flask:
    """An app without an engine, with routes that fail in each way a library can."""
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'r.sqlite3'}",
            "MAX_CONTENT_LENGTH": 1000,
            "RATELIMIT_ENABLED": False,  # the 429 has its own app below
            "RULES_STAMP": str(tmp_path / "rules.stamp"),
        }
    )

    for prefix in ("", "/api"):

        @app.route(f"{prefix}/form", methods=["GET", "POST"], endpoint=f"{prefix}form")
        def form() -> str:
            if request.method == "POST":
                return f"got {len(request.form['text'])}"  # no "text": Werkzeug's 400
            return render_template_string("{{ csrf_token() }}")

        @app.get(f"{prefix}/boom", endpoint=f"{prefix}boom")
        def boom() -> str:
            raise RuntimeError("/secret/path/in/a/traceback")

    return app


def _token(client: FlaskClient) -> str:
    return client.get("/form").get_data(as_text=True)


def _page(response, code: int) -> str:  # noqa: ANN001 - a test response
    """The HTML error page of ``response``, checked for its status and language."""
    assert response.status_code == code
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert '<html lang="ru">' in html and not ENGLISH.search(html), html[-600:]
    return html


def _json(response, code: int) -> str:  # noqa: ANN001 - a test response
    """The Russian message of a JSON error ``response``."""
    assert response.status_code == code and response.is_json
    error = response.json["error"]
    assert error["code"] == code and not ENGLISH.search(error["message"])
    assert re.search("[а-яё]", error["message"], re.IGNORECASE), error["message"]
    return error["message"]


# --- 404 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/no/such/page", "/%00", "/search/x/y", "/product/", "/..%2f"])
def test_an_odd_path_gets_a_russian_404_page(cold_app: Flask, path: str) -> None:
    html = _page(cold_app.test_client().get(path), 404)
    assert "Страница не найдена" in html and MESSAGES[404] in html


def test_an_odd_api_path_gets_a_russian_json_404(cold_app: Flask) -> None:
    assert _json(cold_app.test_client().get("/api/no/such/thing"), 404) == MESSAGES[404]


def test_our_own_404_wording_is_kept(client: FlaskClient) -> None:
    assert "Такого дизайна нет" in _page(client.get("/product/zzz"), 404)
    assert "Нет дизайна с id «zzz»" in _json(client.get("/api/products/zzz"), 404)


def test_a_path_outside_the_url_prefix_gets_a_russian_404(tmp_path: Path) -> None:
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite3'}",
            "URL_PREFIX": "/shop",
        }
    )
    client = app.test_client()
    page = client.get("/search?q=кот")
    assert page.status_code == 404 and "Страница не найдена" in page.text
    assert "/shop/" in page.text and not ENGLISH.search(page.text)
    api = client.get("/api/search?q=кот")
    assert api.status_code == 404 and "/shop/" in api.json["error"]["message"]


# --- 405 ----------------------------------------------------------------------------------------
def test_a_wrong_method_gets_a_russian_405_that_keeps_allow(cold_app: Flask) -> None:
    client = cold_app.test_client()
    page = client.put("/form")
    assert "(PUT)" in _page(page, 405) and "POST" in page.headers["Allow"]
    api = client.delete("/api/form")
    assert "DELETE" in _json(api, 405) and "GET" in api.headers["Allow"]


# --- 400 ----------------------------------------------------------------------------------------
def test_a_library_400_is_in_russian(cold_app: Flask) -> None:
    client = cold_app.test_client()
    token = _token(client)
    assert MESSAGES[400] in _page(client.post("/form", data={"csrf_token": token}), 400)
    api = client.post("/api/form", data={"csrf_token": token})
    assert _json(api, 400) == MESSAGES[400]


def test_a_bad_parameter_400_keeps_its_own_message(client: FlaskClient) -> None:
    assert "Цена «от»" in _page(client.get("/search?q=кот&price_min=x"), 400)
    assert "Цена «от»" in _json(client.get("/api/search?q=кот&price_min=x"), 400)


# --- CSRF ---------------------------------------------------------------------------------------
def test_the_csrf_refusal_is_in_russian(cold_app: Flask) -> None:
    client = cold_app.test_client()
    assert CSRF_MESSAGE in _page(client.post("/form", data={"text": "привет"}), 400)
    forged = client.post("/form", data={"text": "привет", "csrf_token": "forged"})
    assert CSRF_MESSAGE in _page(forged, 400)
    assert _json(client.post("/api/form", data={"text": "привет"}), 400) == CSRF_MESSAGE


def test_the_staff_form_and_the_picture_form_refuse_in_russian(client: FlaskClient) -> None:
    rule = client.post("/staff/synonyms", data={"phrase": "ёжики", "words": "ёж"})
    assert CSRF_MESSAGE in _page(rule, 400)
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "PNG")
    picture = client.post(
        "/search/picture", data={"image": (io.BytesIO(buffer.getvalue()), "a.png")}
    )
    assert CSRF_MESSAGE in _page(picture, 400)


# --- 413 ----------------------------------------------------------------------------------------
def test_a_body_over_the_limit_gets_a_russian_413(cold_app: Flask) -> None:
    client = cold_app.test_client()
    token = _token(client)
    big = {"text": "я" * 5000, "csrf_token": token}
    assert MESSAGES[413] in _page(client.post("/form", data=big), 413)
    assert _json(client.post("/api/form", data=big), 413) == MESSAGES[413]


def test_an_upload_over_the_limit_gets_a_russian_413(client: FlaskClient, demo_app) -> None:
    size = demo_app.config["MAX_UPLOAD_BYTES"] + 1
    picture = FileStorage(io.BytesIO(b"\x89PNG" + b"0" * size), filename="big.png")
    boundary, body = encode_multipart({"image": picture})  # bytes: no temporary file
    answer = client.post(
        "/api/search/image", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert _json(answer, 413) == MESSAGES[413]


# --- 429 ----------------------------------------------------------------------------------------
def test_the_rate_limit_refuses_in_russian(tmp_path: Path) -> None:
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'l.sqlite3'}",
            "RATELIMIT_APPLICATION": "1 per minute",
        }
    )
    client = app.test_client()
    page_client = {"REMOTE_ADDR": "10.0.0.1"}
    api_client = {"REMOTE_ADDR": "10.0.0.2"}
    client.get("/staff/synonyms", environ_base=page_client)
    assert MESSAGES[429] in _page(client.get("/staff/synonyms", environ_base=page_client), 429)
    client.get("/api/openapi.json", environ_base=api_client)
    limited = client.get("/api/openapi.json", environ_base=api_client)
    assert _json(limited, 429) == MESSAGES[429]
    assert int(limited.headers["Retry-After"]) > 0


# --- 500 ----------------------------------------------------------------------------------------
def test_a_bug_gets_a_russian_500_without_a_traceback(cold_app: Flask) -> None:
    client = cold_app.test_client()
    html = _page(client.get("/boom"), 500)
    assert MESSAGES[500] in html and "/secret/path" not in html
    api = client.get("/api/boom")
    assert _json(api, 500) == MESSAGES[500] and "/secret/path" not in api.text
