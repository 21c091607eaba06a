"""What the signed session cookie remembers for a shopper, and the «очистить» control.

Only ids, short queries and a random anonymous key (for co-visitation) are kept,
each list bounded (``search/taste.py``); nothing is stored server-side against
the shopper. The key is random, never derived from an address or an account.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, request, session
from flask.typing import ResponseReturnValue

from ..analytics import get_analytics
from ..lifecycle import get_engine
from ..search import recommend, taste
from ..search.results import Hit

bp = Blueprint("shopper", __name__)
SOURCES = ("rec", "explore", "also")


def session_key() -> str:
    """This session's anonymous random key, made on first use."""
    if "sk" not in session:
        session["sk"] = secrets.token_urlsafe(12)
    return str(session["sk"])


def note_search(query: str) -> None:
    """Remember a query the shopper searched (for «недавние запросы»)."""
    if current_app.config["RECENT_SEARCHES"] and query.strip():
        session["recent"] = taste.remember(session.get("recent", []), query, "recent")


def note_view(product_id: str, query: str, source: str | None) -> None:
    """Record a card opened: the session's history, its click source, the query behind it."""
    session["seen"] = taste.remember(session.get("seen", []), product_id)
    if query.strip():
        session["clicked_queries"] = taste.remember(
            session.get("clicked_queries", []), query, "clicked_queries"
        )
    get_analytics().record_view(
        product_id,
        query or None,
        session_key=session_key(),
        source=source if source in SOURCES else None,
    )


def liked(k: int | None = None) -> list[Hit]:
    """«Вам может понравиться» for this session (shown counts go to analytics)."""
    hits = recommend.recommend(
        get_engine(),
        session.get("seen", []),
        k or current_app.config["RECOMMEND_COUNT"],
        queries=session.get("clicked_queries", []),
        session_key=session.get("sk", ""),
    )
    if hits:
        shown = [h.why["source"] for h in hits]
        get_analytics().record_shown({s: shown.count(s) for s in SOURCES})
    return hits


def recent() -> list[str]:
    """The session's recent queries, newest first."""
    return list(reversed(session.get("recent", [])))


@bp.post("/recent/clear")
def clear_recent() -> ResponseReturnValue:
    """Forget this session's recent and clicked queries («очистить»); CSRF-protected."""
    session.pop("recent", None)
    session.pop("clicked_queries", None)
    session["cleared"] = True  # the page it returns to must not record its search again
    back = request.form.get("next", "")
    parts = urlsplit(back)
    safe = back.startswith("/") and not back.startswith("//") and not parts.netloc
    return redirect(request.script_root + (back if safe else "/"), code=303)


def back_from_clearing() -> bool:
    """Whether this request is the page «очистить» redirected back to (asked once: the
    shopper's next search is recorded as usual)."""
    return bool(session.pop("cleared", False))


@bp.app_context_processor
def recent_searches() -> dict[str, object]:
    """``recent_searches`` for the templates (the search box's «недавние запросы»)."""
    return {"recent_searches": recent}
