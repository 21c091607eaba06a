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
    session,
)
from flask.typing import ResponseReturnValue

from ..analytics import get_analytics
from ..lifecycle import get_engine
from ..search import recommend
from ..search.results import SearchRequest
from . import searching
from .params import ParamError

bp = Blueprint("pages", __name__)
SHOWCASE = ("1f413", "1f98b", "1f431", "1f384", "1f338", "1f680", "1f98a", "1f422",
            "1f984", "1f339", "1f383", "1f382")


@bp.get("/")
def index() -> ResponseReturnValue:
    """Search box, categories and a showcase of designs."""
    return render_template("index.html", **_home_context())


@bp.get("/search")
def search() -> ResponseReturnValue:
    """The ranked gallery; an empty query shows the showcase or browses by filter."""
    engine = get_engine()
    try:
        req = searching.parse(request.args, require_query=False)
    except ParamError as exc:
        fallback = SearchRequest(_query_arg())
        return render_template("search.html", req=fallback, result=None, error=exc.message,
                               categories=engine.categories()), 400
    if not req.query.strip() and not req.filters.active:
        return render_template("index.html", **_home_context())
    result = searching.run(req)
    popular = ([s.query for s in get_analytics().query_stats(limit=8)
                if s.zero_results < s.searches] if result.total == 0 else [])
    return render_template("search.html", req=req, result=result, error=None,
                           categories=engine.categories(), popular=popular[:5])


@bp.get("/product/<product_id>")
def product(product_id: str) -> ResponseReturnValue:
    """A design's card: large image, all fields and similar designs."""
    engine = get_engine()
    found = engine.product(product_id.lower())
    if found is None:
        abort(404, description="Такого дизайна нет в каталоге.")
    came_from = _query_arg()
    if came_from.strip():
        get_analytics().record_view(found.id, engine.understand(came_from).text)
    session["seen"] = recommend.remember(session.get("seen", []), found.id)
    similar = engine.neighbours(found.id, current_app.config["SIMILAR_COUNT"])
    return render_template("product.html", product=found, similar=similar)


@bp.get("/media/<path:filename>")
def media(filename: str) -> ResponseReturnValue:
    """Serve a catalogue image from the data folder (path traversal gives 404)."""
    return send_from_directory(Path(current_app.config["DATA_DIR"]), filename, max_age=86400)


def _query_arg() -> str:
    """The ``q`` parameter cut to ``MAX_QUERY_LENGTH`` (for echoing and analytics)."""
    return request.args.get("q", "")[: current_app.config["MAX_QUERY_LENGTH"]]


def _home_context() -> dict[str, object]:
    """What the home page shows: categories and the showcase."""
    engine = get_engine()
    liked = recommend.recommend(engine, session.get("seen", []), k=6)
    return {"categories": engine.categories(), "showcase": engine.lookup(SHOWCASE),
            "liked": liked, "req": None}


@bp.app_template_filter("rub")
def rub(price: int) -> str:
    """Format whole roubles as «1 490 ₽» with a thin no-break space between thousands."""
    return f"{price:,}".replace(",", "\u202f") + "\u00a0₽"
