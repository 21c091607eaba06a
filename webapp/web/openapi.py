"""The OpenAPI 3 description of ``/api/*``, served at ``/api/openapi.json``.

It is built from the same limits the parameter parser enforces (page sizes,
price range, sort orders, the loaded catalogue's categories), so the contract
and the code cannot drift apart; ``tests/test_fuzz.py`` holds the app to it
with schemathesis.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from ..catalog.products import MAX_PRICE
from ..lifecycle import is_ready
from ..search.filters import SORTS

bp = Blueprint("openapi", __name__, url_prefix="/api")


#: An empty (or blank) value counts as absent: the HTML filter form submits empty fields.
#: Python's str.strip() also removes \x1c-\x1f, which JSON Schema's \s does not match.
BLANK = {"type": "string", "pattern": r"^[\s\x1c-\x1f]*$"}


def _int(name: str, low: int, high: int, text: str) -> dict[str, Any]:
    """An optional whole-number query parameter within [low, high]; blank = absent."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": f"{text}; blank = absent",
        "schema": {"anyOf": [{"type": "integer", "minimum": low, "maximum": high}, BLANK]},
    }


def _error(text: str) -> dict[str, Any]:
    return {
        "description": text,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _ok(ref: str, text: str) -> dict[str, Any]:
    return {
        "description": text,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


def _object(required: list[str], **properties: Any) -> dict[str, Any]:
    """An object schema; extra properties are allowed so fields can be added compatibly."""
    return {"type": "object", "required": required, "properties": properties}


FAILURES = {
    "429": _error("Too many requests from this address; see Retry-After."),
    "503": _error("The search engine is not loaded (yet), or its artifacts are broken."),
}

STRING, INTEGER, NUMBER = {"type": "string"}, {"type": "integer"}, {"type": "number"}
SCHEMAS = {
    "Error": _object(
        ["error"],
        error=_object(
            ["code", "name", "message"],
            code=INTEGER,
            name=STRING,
            message=STRING,
            field={"type": "string", "description": "the parameter at fault (400 only)"},
        ),
    ),
    "Hit": _object(
        ["id", "title", "category", "price", "currency", "image_url", "score", "why"],
        id=STRING,
        title=STRING,
        category=STRING,
        price={"type": "integer", "minimum": 0},
        currency={"type": "string", "enum": ["RUB"]},
        image_url={"type": "string", "description": "site-relative URL"},
        score=NUMBER,
        why={"type": "object", "description": "matched signals and terms"},
    ),
    "SearchResponse": _object(
        ["query", "truncated", "total", "page", "results", "maybe", "took_ms"],
        query={
            "type": "string",
            "description": "the query as it was searched: control and invisible characters "
            "dropped, spaces collapsed, cut at a word boundary when too long",
        },
        truncated={
            "type": "boolean",
            "description": "true when the query was longer than the limit and `query` is "
            "the part that was searched",
        },
        total={"type": "integer", "minimum": 0, "description": "confident results"},
        page={"type": "integer", "minimum": 1},
        results={"type": "array", "items": {"$ref": "#/components/schemas/Hit"}},
        maybe={
            "type": "array",
            "items": {"$ref": "#/components/schemas/Hit"},
            "description": "designs that may fit, shown apart after the last confident one",
        },
        took_ms={"type": "number", "minimum": 0},
    ),
    "Product": _object(
        [
            "id",
            "title",
            "category",
            "subcategory",
            "tags",
            "description",
            "price",
            "currency",
            "image_url",
        ],
        id=STRING,
        title=STRING,
        category=STRING,
        subcategory=STRING,
        tags={"type": "array", "items": STRING},
        description=STRING,
        price={"type": "integer", "minimum": 0},
        currency={"type": "string", "enum": ["RUB"]},
        image_url=STRING,
    ),
}


def build_spec(
    config: Mapping[str, Any], categories: list[str] | None, server: str = "/"
) -> dict[str, Any]:
    """The OpenAPI document for this configuration and catalogue."""
    category: dict[str, Any] = {"type": "string"}
    if categories:
        category["enum"] = ["", *categories]
    page_size = (1, config["MAX_PAGE_SIZE"])
    search = {
        "summary": "Ranked designs for a free-text query, best first",
        "operationId": "search",
        "parameters": [
            {
                "name": "q",
                "in": "query",
                "required": True,
                "description": "what the shopper wants, in any words or emoji; control "
                "and invisible characters are dropped, and a query longer than "
                f"{config['MAX_QUERY_LENGTH']} characters is cut at a word boundary "
                "(the answer says `truncated`); nothing left to search is a 400",
                "schema": {"type": "string", "minLength": 1, "pattern": r"\S"},
            },
            {
                "name": "category",
                "in": "query",
                "required": False,
                "schema": category,
                "description": "only this category (empty = all)",
            },
            _int("price_min", 0, MAX_PRICE, "lowest price, roubles"),
            _int("price_max", 0, MAX_PRICE, "highest price, roubles (≥ price_min)"),
            {
                "name": "sort",
                "in": "query",
                "required": False,
                "description": "empty = relevance",
                "schema": {"type": "string", "enum": ["", *SORTS]},
            },
            _int("page", 1, config["MAX_PAGE"], "1-based page number"),
            _int("per_page", *page_size, f"results per page (default {config['PAGE_SIZE']})"),
            _int("k", *page_size, "alias of per_page"),
        ],
        "responses": {
            "200": _ok("SearchResponse", "a page of results (possibly empty)"),
            "400": _error("a parameter is malformed; `field` names it"),
            **FAILURES,
        },
    }
    filters = [p for p in search["parameters"] if p["name"] != "q"]
    upload = {
        "type": "object",
        "required": ["image"],
        "properties": {
            "image": {
                "type": "string",
                "format": "binary",
                "description": (
                    "JPEG, PNG, WebP, GIF (first frame), BMP or TIFF; at most "
                    f"{config['MAX_UPLOAD_BYTES']} bytes and "
                    f"{config['MAX_UPLOAD_PIXELS']} pixels; never stored"
                ),
            }
        },
    }
    by_image = {
        "summary": "Designs that look like an uploaded picture, most alike first",
        "description": "A plain multipart POST (no session, no CSRF token). It finds "
        "look-alikes (shape, colour, outline), not meanings. The same "
        "filters, sort and paging as /api/search, as query parameters.",
        "operationId": "searchByImage",
        "parameters": filters,
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": upload}}},
        "responses": {
            "200": _ok("SearchResponse", "a page of look-alikes; `query` is empty"),
            "400": _error(
                "not a readable picture of an accepted format, too many "
                "pixels, or a malformed parameter; `field` names it"
            ),
            "413": _error("the upload is larger than the limit"),
            **FAILURES,
        },
    }
    product = {
        "summary": "All public fields of one design",
        "operationId": "getProduct",
        "parameters": [
            {
                "name": "product_id",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "minLength": 1},
            }
        ],
        "responses": {
            "200": _ok("Product", "the design"),
            "404": _error("no design with this id"),
            **FAILURES,
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Стежок: semantic search of embroidery designs",
            "version": "1.0.0",
            "description": "Search the catalogue by meaning (Russian, emoji, wrong "
            "keyboard layout) and read product cards.",
        },
        "servers": [{"url": server}],
        "paths": {
            "/api/search": {"get": search},
            "/api/search/image": {"post": by_image},
            "/api/products/{product_id}": {"get": product},
        },
        "components": {"schemas": SCHEMAS},
    }


@bp.get("/openapi.json")
def spec() -> ResponseReturnValue:
    """The OpenAPI document (categories are listed once the engine is loaded)."""
    app = current_app
    categories = (
        [name for name, _ in app.extensions["search"].categories()] if is_ready(app) else None
    )
    return jsonify(build_spec(app.config, categories, request.script_root or "/"))
