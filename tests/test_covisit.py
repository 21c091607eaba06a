"""«С этим дизайном смотрят»: co-visits counted at flush, decayed, blended with content."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from webapp.analytics import Analytics
from webapp.catalog.store import CatalogStore
from webapp.lifecycle import get_engine
from webapp.search import covisit
from webapp.search.recommend import also_viewed

from .conftest import database_url

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def views(session: str, *pids: str, start: datetime = T0, step_s: float = 60) -> list[dict]:
    """View rows of one session, ``step_s`` apart."""
    return [
        {"session_key": session, "product_id": p, "at": start + timedelta(seconds=i * step_s)}
        for i, p in enumerate(pids)
    ]


def test_views_of_one_session_within_the_window_are_co_visits() -> None:
    rows = views("s1", "a", "b", "c") + views("s2", "a", "b") + views("s3", "x")
    rows += views("s4", "a", "z", step_s=3600)  # an hour apart: outside a 30-minute window
    w = covisit.pair_weights([], rows, window_s=1800, half_life_days=14)
    unit = covisit.growth(T0 + timedelta(seconds=60), 14)  # the pair forms at the 2nd view
    assert round(w[("a", "b")] / unit, 6) == 2.0 and w[("a", "b")] == w[("b", "a")]
    assert ("a", "z") not in w and not any("x" in pair for pair in w)
    # incremental: a new view pairs with the same session's stored views
    later = covisit.pair_weights(
        [("s1", "a", T0)],
        views("s1", "d", start=T0 + timedelta(minutes=5)),
        window_s=1800,
        half_life_days=14,
    )
    assert set(later) == {("d", "a"), ("a", "d")}


def test_older_co_visits_weigh_less_by_the_half_life() -> None:
    old = covisit.pair_weights([], views("s", "a", "b"), window_s=1800, half_life_days=7)
    new = covisit.pair_weights(
        [], views("s", "a", "c", start=T0 + timedelta(days=14)), window_s=1800, half_life_days=7
    )
    assert abs(new[("a", "c")] / old[("a", "b")] - 4.0) < 1e-6  # two half-lives newer
    decay = covisit.decay_now(7, now=T0 + timedelta(days=14, seconds=60))  # at the pair
    assert abs(new[("a", "c")] * decay - 1.0) < 1e-9


def test_flush_updates_counts_incrementally(tmp_path: Path) -> None:
    recorder = Analytics(CatalogStore(database_url(tmp_path)).engine, flush_seconds=60)
    for pid in ["1f431", "1f408", "1f981"]:
        recorder.record_view(pid, None, session_key="k1")
    recorder.flush()
    recorder.record_view("1f431", None, session_key="k2")
    recorder.record_view("1f408", None, session_key="k2")
    recorder.record_view("1f408", None, session_key=None)  # no key: no co-visit
    recorder.flush()
    pairs = {(a, b): n for a, b, _, n in covisit.top_pairs(recorder.engine)}
    assert pairs[("1f408", "1f431")] == 2 and pairs[("1f408", "1f981")] == 1
    assert covisit.related(recorder.engine, "1f431", 5)[0][0] == "1f408"
    assert covisit.pair_count(recorder.engine) == 6


def test_a_design_without_co_visits_gets_pure_content_neighbours(demo_app, tmp_path) -> None:
    db = CatalogStore(database_url(tmp_path)).engine
    Analytics(db, flush_seconds=60)
    with demo_app.app_context():
        engine = get_engine()
        content = [h.product.id for h in engine.neighbours("1f431", 6)]
        assert [h.product.id for h in also_viewed(engine, db, "1f431", 6)] == content


def test_co_visits_lift_a_design_content_would_not_show(demo_app, tmp_path) -> None:
    recorder = Analytics(CatalogStore(database_url(tmp_path)).engine, flush_seconds=60)
    for n in range(6):  # cat, then rocket: shoppers open them together
        recorder.record_view("1f431", None, session_key=f"k{n}")
        recorder.record_view("1f680", None, session_key=f"k{n}")
    recorder.flush()
    with demo_app.app_context():
        hits = also_viewed(get_engine(), recorder.engine, "1f431", 6)
    assert hits[0].product.id == "1f680" and hits[0].why["signals"]["covisit"]["score"] == 1.0
    assert all(h.why["source"] == "also" for h in hits)


def test_the_product_card_and_staff_page_show_co_visits(demo_app) -> None:
    for _ in range(4):
        shopper = demo_app.test_client()
        shopper.get("/product/1f422")  # turtle
        shopper.get("/product/1f384", query_string={"from": "rec"})  # christmas tree
    demo_app.extensions["analytics"].flush()
    card = demo_app.test_client().get("/product/1f422").get_data(as_text=True)
    assert "С этим дизайном смотрят" in card and "from=also" in card
    also = card.split("С этим дизайном смотрят")[1].split("</section>")[0]
    assert "/product/1f384" in also
    staff = demo_app.test_client().get("/staff/").get_data(as_text=True)
    pairs = staff.split('id="covisit-pairs"')[1].split("</table>")[0]
    assert "/product/1f422" in pairs and "/product/1f384" in pairs
    recs = staff.split('id="rec-stats"')[1].split("</table>")[0]
    assert "<td>rec</td>" in recs


def test_a_product_card_never_shows_a_design_twice(demo_app) -> None:
    """«С этим дизайном смотрят» and «Похожие по описанию» used to repeat the same four
    designs: each row now leaves out what the rows above it show."""
    for _ in range(3):
        shopper = demo_app.test_client()
        for pid in ("1f431", "1f408", "1f63a", "1f638"):  # a cat and its look-alikes
            shopper.get(f"/product/{pid}")
    demo_app.extensions["analytics"].flush()
    card = demo_app.test_client().get("/product/1f431").get_data(as_text=True)
    assert "С этим дизайном смотрят" in card
    shown = re.findall(r'<li class="card"[^>]*>\s*<a href="/product/([^"?]+)', card)
    assert len(shown) >= 12 and len(shown) == len(set(shown)), shown
    assert "1f431" not in shown
