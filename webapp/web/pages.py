"""The HTML pages: home, search results, product card, and the image files."""

from __future__ import annotations

from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    render_template,
    request,
    send_from_directory,
)
from flask.typing import ResponseReturnValue

from ..analytics import get_analytics
from ..catalog.products import Product
from ..encoders.class_names import in_russian
from ..lifecycle import get_engine
from ..search import recommend
from ..search.engine import SearchEngine
from ..search.explanation import Explanation
from ..search.results import SearchRequest
from ..search.signals import SignalKind
from ..security import limit_uploads
from . import searching, shopper, wording
from .params import ParamError, clean_query

bp = Blueprint("pages", __name__)
#: the filter parameters a picture search carries from its upload form into its links
FILTER_ARGS = ("category", "price_min", "price_max", "sort", "per_page")
SHOWCASE = (
    "1f413",
    "1f98b",
    "1f431",
    "1f384",
    "1f338",
    "1f680",
    "1f98a",
    "1f422",
    "1f984",
    "1f339",
    "1f383",
    "1f382",
)


@bp.get("/")
def index() -> ResponseReturnValue:
    """Search box, categories and a showcase of designs."""
    return render_template("index.html", **_home_context())


@bp.get("/search")
def search() -> ResponseReturnValue:
    """The ranked gallery; an empty query shows the showcase or browses by filter.

    ``like=<id>`` or ``pv=<token>`` make it a search by picture (paging, filters).
    """
    engine = get_engine()
    try:
        req = searching.parse(request.args, require_query=False)
        picture = searching.picture_from_args(request.args)
    except ParamError as exc:
        query, truncated = _query_arg()
        return render_template(
            "search.html",
            req=SearchRequest(query, truncated=truncated),
            result=None,
            error=exc.message,
            categories=engine.categories(),
        ), 400
    if picture is not None:
        return _picture_page(picture, req, _link_args(req))
    if not req.query.strip() and not req.filters.active:
        return render_template("index.html", **_home_context())
    quiet = shopper.back_from_clearing()  # the page «очистить» returns to: no new record
    result = searching.run(req, record=not quiet)
    if not quiet:
        shopper.note_search(req.query)
    popular = get_analytics().popular(5) if result.total == 0 else []  # «часто ищут»
    return render_template(
        "search.html",
        req=req,
        result=result,
        error=None,
        categories=engine.categories(),
        popular=popular,
        link_args=_link_args(req),
    )


@bp.post("/search/picture")
def search_picture() -> ResponseReturnValue:
    """Search by an uploaded picture (multipart ``image``; filters may come along)."""
    req = searching.parse(request.form, require_query=False)
    picture = searching.picture_from_upload()
    args = {k: v for k, v in request.form.items() if k in FILTER_ARGS and v}
    return _picture_page(picture, req, {**args, "pv": picture.token})


def _picture_page(
    picture: searching.PictureRequest, req: SearchRequest, link_args: dict[str, str]
) -> ResponseReturnValue:
    """The gallery of look-alikes for ``picture``, paged and filtered like text results."""
    result = searching.run_picture(picture, req)
    return render_template(
        "search.html",
        req=req,
        result=result,
        error=None,
        picture=picture,
        categories=get_engine().categories(),
        link_args=link_args,
    )


@bp.get("/product/<product_id>")
def product(product_id: str) -> ResponseReturnValue:
    """A design's card: large image, all fields, and designs that look or read alike."""
    engine = get_engine()
    found = engine.product(product_id.lower())
    if found is None:
        abort(404, description="Такого дизайна нет в каталоге.")
    came_from, _ = _query_arg()
    understood = engine.understand(came_from).text if came_from.strip() else ""
    shopper.note_view(found.id, understood, request.args.get("from"))
    count = current_app.config["SIMILAR_COUNT"]
    rows = []
    also = recommend.also_viewed(engine, get_analytics().engine, found.id, count)
    shown = [found.id]  # a card never repeats a design another row of the page shows
    if any(h.explanation and h.explanation.has(SignalKind.COVISIT) for h in also):
        rows.append(("С этим дизайном смотрят", "also", also))
        shown += [h.product.id for h in also]
    for label, space in _similar_rows(engine):
        hits = engine.neighbours(found.id, count, space=space, exclude=shown)
        rows.append((label, space, hits))
        shown += [h.product.id for h in hits]
    return render_template(
        "product.html", product=found, similar_rows=rows, picture_space=engine.picture_space
    )


def _similar_rows(engine: SearchEngine) -> list[tuple[str, str]]:
    """The «похожие» rows of a card: by description, then by picture (when they differ).

    Words first: on the demo they keep a design's theme far better (docs/images.md).
    """
    rows = [("По описанию", engine.text_space), ("По картинке", engine.picture_space)]
    return [
        (label, space)
        for i, (label, space) in enumerate(rows)
        if space and space not in [s for _, s in rows[:i]]
    ]


@bp.get("/media/<path:filename>")
def media(filename: str) -> ResponseReturnValue:
    """Serve a catalogue image from the data folder (path traversal gives 404)."""
    return send_from_directory(Path(current_app.config["DATA_DIR"]), filename, max_age=86400)


def _query_arg() -> tuple[str, bool]:
    """The ``q`` parameter as searched (cleaned, cut to ``MAX_QUERY_LENGTH``) and whether
    it was cut."""
    return clean_query(request.args.get("q", ""), current_app.config)


def _link_args(req: SearchRequest) -> dict[str, str]:
    """This page's parameters for its paging and filter links, with the query as it was
    searched (cleaned and cut), never as it was sent."""
    args = request.args.to_dict()
    args.pop("q", None)
    return {"q": req.query, **args} if req.query else args


def _home_context() -> dict[str, object]:
    """What the home page shows: categories and the showcase."""
    engine = get_engine()
    liked = shopper.liked()
    return {
        "categories": engine.categories(),
        "showcase": engine.lookup(SHOWCASE),
        "liked": liked,
        "req": None,
    }


@bp.app_context_processor
def picture_search() -> dict[str, bool]:
    """Whether the loaded engine can search by picture (the upload form shows only then)."""
    engine = current_app.extensions.get("search")
    return {"picture_search": bool(engine is not None and engine.picture_space)}


@bp.app_template_global("why_lines")
def why_lines(explanation: Explanation | None, product: Product) -> list[str]:
    """A result's «почему» in plain Russian (``web/wording.py``)."""
    strong = get_engine().settings.floor.keep_z.get(SignalKind.TEXT, float("inf"))
    return wording.reasons(explanation, product, in_russian, strong)


@bp.app_template_filter("plural")
def plural(count: int, one: str, few: str, many: str) -> str:
    """The Russian form of a noun after ``count``: 1 страница, 3 страницы, 5 страниц."""
    if count % 10 == 1 and count % 100 != 11:
        return one
    if 2 <= count % 10 <= 4 and not 12 <= count % 100 <= 14:
        return few
    return many


@bp.app_template_filter("rub")
def rub(price: int) -> str:
    """Format whole roubles as «1 490 ₽» with a thin no-break space between thousands."""
    return f"{price:,}".replace(",", "\u202f") + "\u00a0₽"


bp.record_once(limit_uploads)  # after the routes: the upload views get their own limit
