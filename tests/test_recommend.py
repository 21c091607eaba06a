"""«Вам может понравиться»: suggestions from the designs a shopper opened, no login."""

from __future__ import annotations

import numpy as np

from webapp.search.recommend import HISTORY, profile, remember


def test_history_keeps_recent_unique_views() -> None:
    history: list[str] = []
    for pid in ["a", "b", "a", "c"]:
        history = remember(history, pid)
    assert history == ["b", "a", "c"]
    for i in range(50):
        history = remember(history, str(i))
    assert len(history) == HISTORY and history[-1] == "49"


def test_profile_leans_towards_the_most_recent_view() -> None:
    old, new = np.eye(2, dtype=np.float32)
    blended = profile(np.stack([old, new]), decay=0.7)
    assert np.isclose(np.linalg.norm(blended), 1.0)
    assert blended @ old > blended @ new  # decay 0.7 keeps more of the older profile
    assert profile(np.stack([old, new]), decay=0.2) @ new > 0.9


def test_opening_birds_suggests_more_birds_on_the_home_page(client, rendered) -> None:
    assert "Вам может понравиться" not in client.get("/").get_data(as_text=True)
    for bird in ["1f413", "1f986", "1f989"]:  # rooster, duck, owl
        client.get(f"/product/{bird}")
    client.get("/")
    liked = rendered[-1][1]["liked"]
    ids = [hit.product.id for hit in liked]
    assert len(ids) == 6 and not {"1f413", "1f986", "1f989"} & set(ids)
    subcategories = [hit.product.subcategory for hit in liked]
    assert subcategories.count("Птицы") >= 3
