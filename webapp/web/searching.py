"""The one path from validated parameters to an answered, recorded search.

``/search`` (HTML) and ``/api/search`` (JSON) both come through here, so they
rank, record analytics and annotate the request log identically; so do the
searches by picture (an upload, a design's «найти похожие», or a paging link).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flask import current_app, g, request

from ..analytics import get_analytics
from ..catalog.products import Product
from ..encoders.base import EncoderError
from ..lifecycle import get_engine
from ..observability import annotate_request
from ..search.results import SearchRequest, SearchResult
from ..search.signals.picture import PictureQuery
from . import uploads
from .params import ParamError, parse_search


def parse(args: Mapping[str, str], *, require_query: bool) -> SearchRequest:
    """Validate request parameters against the loaded catalogue (ParamError when bad)."""
    categories = [name for name, _ in get_engine().categories()]
    return parse_search(args, current_app.config, categories, require_query=require_query)


def run(req: SearchRequest, *, record: bool = True) -> SearchResult:
    """Answer ``req`` (a query search, or browsing by filter when the query is blank),
    record the search for staff analytics (unless ``record`` is off: the same page shown
    again) and add its stage timings to the request log."""
    engine = get_engine()
    if req.query.strip():
        result = engine.search(req)
        if record and result.parsed and not result.parsed.empty:
            get_analytics().record_search(
                result.parsed.text, result.total, result.took_ms, request_id=g.get("request_id")
            )
    else:
        result = engine.browse(req)
    annotate_request(result.timings, query=req.query, total=result.total)
    return result


@dataclass(frozen=True)
class PictureRequest:
    """A search by picture: the query and what the results page shows about it."""

    query: PictureQuery
    token: str  # the query as a URL token, carried by paging and filter links
    like: Product | None = None  # «найти похожие» from this design
    thumbnail: str | None = None  # the shopper's own upload, as a data: URL
    exclude: tuple[str, ...] = ()


def picture_from_args(args: Mapping[str, str]) -> PictureRequest | None:
    """The picture search that ``like=<id>`` or ``pv=<token>`` asks for, if any."""
    engine = get_engine()
    if not (args.get("like") or args.get("pv")):
        return None
    if not engine.picture_space:
        raise EncoderError("search by picture needs an image space (IMAGE_ENCODER is empty)")
    if args.get("like"):
        product = engine.product(args["like"].strip().lower()[:64])
        if product is None:
            raise ParamError("like", "Такого дизайна нет в каталоге.")
        query = PictureQuery(engine.item_vectors([product.id], engine.picture_space)[0])
        return PictureRequest(
            query, uploads.picture_token(query), like=product, exclude=(product.id,)
        )
    dim = engine.space(engine.picture_space).dim
    top = engine.settings.picture.top_classes
    return PictureRequest(uploads.token_picture(args["pv"], dim, top), args["pv"])


def picture_from_upload() -> PictureRequest:
    """The picture search for the uploaded ``image`` field (validated, never stored)."""
    upload = uploads.read_upload(
        request.files.get("image"), max_pixels=int(current_app.config["MAX_UPLOAD_PIXELS"])
    )
    query = get_engine().picture_query(upload.digest, lambda: upload.image)
    return PictureRequest(query, uploads.picture_token(query), thumbnail=upload.thumbnail)


def run_picture(picture: PictureRequest, req: SearchRequest) -> SearchResult:
    """Answer a search by picture with ``req``'s filters, sort and page; log its stages."""
    result = get_engine().search_by_picture(picture.query, req, exclude=picture.exclude)
    annotate_request(result.timings, query="", picture=True, total=result.total)
    return result
