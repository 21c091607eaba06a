"""«Вам может понравиться»: a taste profile from opened designs, exploration, no login."""

from __future__ import annotations

import re

import numpy as np
import pytest

from webapp.lifecycle import get_engine
from webapp.search import explore, taste
from webapp.search.recommend import recommend

BIRDS = ["1f413", "1f986", "1f989"]  # rooster, duck, owl


def test_history_keeps_recent_unique_views_within_its_bound() -> None:
    history: list[str] = []
    for pid in ["a", "b", "a", "c"]:
        history = taste.remember(history, pid)
    assert history == ["b", "a", "c"]
    for i in range(50):
        history = taste.remember(history, str(i))
    assert len(history) == taste.LIMITS["seen"] and history[-1] == "49"
    queries = taste.remember([], "  очень   " + "длинный " * 40, "recent")
    assert len(queries[0]) == taste.QUERY_CHARS and "  " not in queries[0]


def test_mean_profile_weighs_views_equally_and_ema_leans_to_the_newest() -> None:
    old, new = np.eye(2, dtype=np.float32)
    views = np.stack([old, old, new])
    mean = taste.profile(views, "mean")
    assert np.isclose(np.linalg.norm(mean), 1.0)
    assert np.allclose(mean, np.array([2, 1]) / np.sqrt(5))
    ema = taste.profile(views, "ema", alpha=0.3)  # from zero: old 0.21 + 0.147, new 0.3
    assert np.allclose(ema, np.array([0.357, 0.3]) / np.hypot(0.357, 0.3))
    assert taste.profile(views, "ema", alpha=0.9) @ new > 0.9
    with pytest.raises(ValueError, match="RECOMMEND_PROFILE"):
        taste.profile(views, "median")
    with pytest.raises(ValueError, match="RECOMMEND_EMA_ALPHA"):
        taste.profile(views, "ema", alpha=0)


def test_the_newest_design_weighs_most_from_the_first_click() -> None:
    """Petuh, then a cat, then a fir tree: the profile leans to the fir tree, not the rooster
    (an EMA started from the first design gave the oldest 0.49 and the newest 0.30)."""
    rooster, cat, tree = np.eye(3, dtype=np.float32)
    weights = taste.profile(np.stack([rooster, cat, tree]), "ema", alpha=0.3)
    assert weights[2] > weights[1] > weights[0]
    two = taste.profile(np.stack([rooster, cat]), "ema", alpha=0.3)
    assert two[1] > two[0]


def test_a_clicked_query_pulls_the_profile_weaker_than_a_design() -> None:
    design, query = np.eye(2, dtype=np.float32)
    pulled = taste.with_queries(design, query[None, :], weight=0.3)
    assert pulled @ query > 0 and pulled @ design > pulled @ query
    assert np.array_equal(taste.with_queries(design, np.zeros((0, 2)), 0.3), design)


def test_explore_share_is_one_in_six_and_never_every_slot() -> None:
    assert explore.explore_slots(6, 1 / 6) == 1
    assert explore.explore_slots(12, 1 / 6) == 2
    assert explore.explore_slots(6, 0) == 0
    assert explore.explore_slots(3, 1.0) == 2
    with pytest.raises(ValueError, match="EXPLORE_SHARE"):
        explore.explore_slots(6, 1.5)


def test_exploration_is_seeded_per_session(demo_app) -> None:
    with demo_app.app_context():
        engine = get_engine()

        def picks(key: str) -> list[str]:
            hits = recommend(engine, BIRDS, 6, session_key=key)
            return [h.product.id for h in hits if h.why["source"] == "explore"]

        assert picks("session-a") == picks("session-a") and len(picks("session-a")) == 1
        assert len({picks(f"s{i}")[0] for i in range(8)}) > 3  # other sessions, other picks


def test_recommendations_exclude_opened_designs_and_say_which_they_resemble(demo_app) -> None:
    with demo_app.app_context():
        engine = get_engine()
        plain = engine.with_ranking(engine.settings.replace(**{"recommend.explore_share": 0}))
        hits = recommend(plain, BIRDS, 6)
        exploit = recommend(engine, BIRDS, 12)
    assert len(hits) == 6 and not set(BIRDS) & {h.product.id for h in hits}
    assert all(h.why["source"] == "rec" and h.why["like"]["id"] in BIRDS for h in hits)
    explored = [h for h in exploit if h.why["source"] == "explore"]
    near = {h.product.id for h in hits}
    assert len(explored) == 2 and not near & {h.product.id for h in explored}


def test_opening_birds_suggests_more_birds_on_the_home_page(client, rendered) -> None:
    assert "Вам может понравиться" not in client.get("/").get_data(as_text=True)
    for bird in BIRDS:
        client.get(f"/product/{bird}")
    html = client.get("/").get_data(as_text=True)
    liked = rendered[-1][1]["liked"]
    ids = [hit.product.id for hit in liked]
    assert len(ids) == 6 and not set(BIRDS) & set(ids)
    exploit = [hit for hit in liked if hit.why["source"] == "rec"]
    assert [hit.product.subcategory for hit in exploit].count("Птицы") >= 3
    assert "похоже на «" in html and "from=explore" in html and "from=rec" in html


def test_the_session_cookie_stays_small_after_a_long_visit(client) -> None:
    engine_ids = [f"1f{n:03x}" for n in range(0x400, 0x4FF)]
    for pid in engine_ids[:60]:
        client.get(f"/product/{pid}", query_string={"q": "котик в шляпе " * 10})
    for n in range(30):
        client.get("/search", query_string={"q": f"запрос номер {n} " + "ё" * 150})
    cookie = client.get_cookie("session")
    assert cookie is not None and len(cookie.value) < 3000


def test_recent_searches_show_and_clear_only_with_the_csrf_token(client) -> None:
    client.get("/search", query_string={"q": "петух"})
    client.get("/search", query_string={"q": "пасхальный кролик"})
    home = client.get("/").get_data(as_text=True)
    recent = home.split('aria-label="Недавние запросы"')[1].split("</nav>")[0]
    assert recent.index("пасхальный кролик") < recent.index("петух")
    assert client.post("/recent/clear", data={"next": "/"}).status_code == 400
    token = re.search(r'name="csrf_token" value="([^"]+)"', recent).group(1)
    cleared = client.post("/recent/clear", data={"csrf_token": token, "next": "//evil.example/"})
    assert cleared.status_code == 303 and cleared.headers["Location"] == "/"
    assert "Недавние запросы" not in client.get("/").get_data(as_text=True)


def test_evaluate_recs_compares_methods_on_simulated_sessions(runner) -> None:
    result = runner.invoke(args=["evaluate-recs", "--test", "40", "--train", "80"])
    assert result.exit_code == 0, result.output
    assert "simulated" in result.output
    for method in ["mean · text", "EMA · text", "co-visits only", "hybrid · text"]:
        assert f"| {method} |" in result.output
