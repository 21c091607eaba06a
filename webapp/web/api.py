"""The JSON API: ``/api/search`` and ``/api/products/<id>``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, request
from flask.typing import ResponseReturnValue

from ..catalog.products import Product
from ..lifecycle import get_engine
from ..search.results import Hit, SearchResult
from ..security import csrf, limit_uploads
from . import links, searching
from .params import shown

bp = Blueprint("api", __name__, url_prefix="/api")
csrf.exempt(bp)  # the API reads no session cookie, so a forged cross-site POST gains nothing
# Russian stays readable in responses and logs instead of \uXXXX escapes.
bp.record_once(lambda state: setattr(state.app.json, "ensure_ascii", False))
CURRENCY = "RUB"


def product_json(product: Product) -> dict[str, Any]:
    """The public fields of a product."""
    return {
        "id": product.id,
        "title": product.title,
        "category": product.category,
        "subcategory": product.subcategory,
        "tags": list(product.tags),
        "description": product.description,
        "price": product.price,
        "currency": CURRENCY,
        "image_url": image_url(product),
    }


def hit_json(hit: Hit, page: links.PageLinks) -> dict[str, Any]:
    """One search result as the API contract describes it (``page``: this request's links)."""
    p = hit.product
    return {
        "id": p.id,
        "title": p.title,
        "category": p.category,
        "price": p.price,
        "currency": CURRENCY,
        "image_url": page.media(p),
        "score": hit.score,
        "why": hit.why,
    }


def hits_json(hits: list[Hit]) -> list[dict[str, Any]]:
    """A page of search results as the API contract describes them."""
    page = links.page_links()
    return [hit_json(hit, page) for hit in hits]


def image_url(product: Product) -> str:
    """Site-relative URL of a product image (works behind a tunnel or a prefix)."""
    return links.media_url(product)


@bp.get("/search")
def search() -> ResponseReturnValue:
    """Ranked results for ``q`` with filters and paging, best first."""
    req = searching.parse(request.args, require_query=True)
    return answer_json(req.query, req.page, searching.run(req), truncated=req.truncated)


@bp.post("/search/image")
def search_image() -> ResponseReturnValue:
    """Designs that look like the uploaded ``image`` (multipart), with the same filters,
    sort and paging as ``/api/search`` (as query or form parameters) and the same answer."""
    req = searching.parse(request.values, require_query=False)
    picture = searching.picture_from_upload()
    return answer_json("", req.page, searching.run_picture(picture, req))


def answer_json(
    query: str, page: int, result: SearchResult, *, truncated: bool = False
) -> ResponseReturnValue:
    """A search's answer as the API contract describes it: ``query`` is the query as it was
    searched (cleaned, and cut to ``MAX_QUERY_LENGTH`` when ``truncated``); ``results`` are
    the confident designs of the page; ``maybe`` (on the last page) the ones that may fit."""
    return jsonify(
        query=query,
        truncated=truncated,
        total=result.total,
        page=page,
        results=hits_json(result.hits),
        maybe=hits_json(result.maybe),
        took_ms=result.took_ms,
    )


@bp.get("/products/<product_id>")
def product(product_id: str) -> ResponseReturnValue:
    """All fields of one product, or 404."""
    found = get_engine().product(product_id.lower())
    if found is None:
        abort(404, description=f"Нет дизайна с id «{shown(product_id, 64)}».")
    return jsonify(product_json(found))


bp.record_once(limit_uploads)  # after the routes: the upload views get their own limit
