"""Staff pages: search analytics (popular queries, queries that find nothing, clicks).

Protected by HTTP Basic auth when ``STAFF_PASSWORD`` is set. Without it, only
requests from this machine (e.g. through an SSH tunnel) are let in, and in
production (where a reverse proxy on the same host would look like loopback)
the page stays closed.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from ..analytics import Analytics, get_analytics, reports
from ..catalog.products import Product
from ..concept_rules import default_rules, get_rule_store, request_rules_reload
from ..lifecycle import get_engine
from ..search import covisit
from ..search.query import clean

bp = Blueprint("staff", __name__, url_prefix="/staff")
LOOPBACK = frozenset({"127.0.0.1", "::1"})


@bp.before_request
def require_staff() -> ResponseReturnValue | None:
    """Let staff in; 401 asks for the password, 404 hides the page from the public."""
    password = current_app.config["STAFF_PASSWORD"]
    if not password:
        local = request.remote_addr in LOOPBACK and current_app.config["APP_ENV"] != "production"
        return None if local else abort(404)
    auth = request.authorization
    given = (auth.password or "") if auth else ""
    if hmac.compare_digest(given.encode(), password.encode()):
        return None
    return (
        "Нужен пароль сотрудника.",
        401,
        {"WWW-Authenticate": 'Basic realm="staff", charset="UTF-8"'},
    )


@bp.get("/")
def analytics() -> ResponseReturnValue:
    """Popular queries and queries that found nothing, with click-through."""
    recorder = get_analytics()
    recorder.flush()  # this worker's latest events too
    return render_template(
        "staff.html",
        popular=reports.with_recent(recorder.engine, recorder.query_stats(limit=30)),
        zero=reports.with_recent(recorder.engine, recorder.query_stats(limit=30, zero_only=True)),
        recent_days=reports.RECENT_DAYS,
        recs=recorder.rec_stats(),
        pairs=_named_pairs(recorder),
    )


def _named_pairs(recorder: Analytics) -> list[tuple[Product, Product, float, int]]:
    """The most co-visited pairs with their products and today's decayed weight."""
    half_life = current_app.config["COVISIT_HALF_LIFE_DAYS"]
    pairs = covisit.top_pairs(recorder.engine, 20)
    products = {
        p.id: p for p in get_engine().lookup(sorted({x for a, b, *_ in pairs for x in (a, b)}))
    }
    decay = covisit.decay_now(half_life)
    return [
        (products[a], products[b], round(w * decay, 2), n)
        for a, b, w, n in pairs
        if a in products and b in products
    ]


@bp.get("/synonyms")
def synonyms() -> ResponseReturnValue:
    """The shop's concept rules (editable) and the shipped occasion rules they override."""
    return _rules_page(request.args.get("phrase", ""), request.args.get("words", ""))


def _rules_page(
    phrase: str, words: str, errors: dict[str, str] | None = None
) -> ResponseReturnValue:
    """The rules page with the form holding ``phrase`` and ``words``; ``errors`` (per
    field) are shown beside their fields, and the page then answers 400."""
    app = current_app
    store = get_rule_store(app)
    _, calendar = default_rules(app)
    shown = store.limits.max_chars * (store.limits.max_words + 1)  # bounds what is echoed
    page = render_template(
        "staff_synonyms.html",
        rules=store.all(),
        defaults=calendar,
        phrase=clean(phrase, shown)[0],  # as typed, less control characters
        words=clean(words, shown)[0],
        errors=errors or {},
        limits=store.limits,
    )
    return (page, 400) if errors else page


@bp.post("/synonyms")
def save_synonym() -> ResponseReturnValue:
    """Save (or with ``delete``, remove) one rule, then have every worker apply the rules
    again (the rule table only: nothing else is reloaded). A bad rule is not stored: the
    form comes back with a message beside the field at fault."""
    app = current_app
    phrase, words = request.form.get("phrase", ""), request.form.get("words", "")
    store = get_rule_store(app)
    if request.form.get("delete"):
        removed = store.delete(phrase)
        flash("Правило удалено." if removed else "Такого правила нет.")
    else:
        errors = store.problems(phrase, words)
        if errors:
            return _rules_page(phrase, words, errors)
        rule = store.save(phrase, words)
        flash(f"Сохранено: «{rule.phrase}» → {', '.join(rule.words)}.")
    request_rules_reload(app)
    return redirect(url_for("staff.synonyms")), 303
