"""Staff analytics: searches and clicks are recorded, and staff see what finds nothing."""

from __future__ import annotations

from pathlib import Path

from webapp import create_app
from webapp.analytics import Analytics
from webapp.catalog.store import CatalogStore

from .conftest import database_url


def test_query_stats_count_searches_zero_results_and_clicks(tmp_path: Path) -> None:
    recorder = Analytics(CatalogStore(database_url(tmp_path)).engine, flush_seconds=60)
    recorder.flush()
    for _ in range(3):
        recorder.record_search("петух", 2, 5.0)
    recorder.record_search("ывапролд", 0, 4.0)
    recorder.record_view("1f413", "петух")
    recorder.record_view("1f413", None)
    assert recorder.flush() == 6
    stats = {s.query: s for s in recorder.query_stats()}
    assert stats["петух"].searches == 3 and stats["петух"].clicks == 1
    assert abs(stats["петух"].click_through - 1 / 3) < 1e-9
    assert [s.query for s in recorder.query_stats(zero_only=True)] == ["ывапролд"]


def test_shop_traffic_shows_up_on_the_staff_page(client) -> None:
    client.get("/search", query_string={"q": "ПЕТУХ!!!"})
    client.get("/api/search", query_string={"q": "петух"})
    client.get("/search", query_string={"q": "ъъъжжжщщ"})
    html = client.get("/search", query_string={"q": "петух"}).get_data(as_text=True)
    assert 'href="/product/1f413?q=%D0%BF%D0%B5%D1%82%D1%83%D1%85"' in html
    client.get("/product/1f413", query_string={"q": "петух"})
    page = client.get("/staff/").get_data(as_text=True)
    assert (
        "<title>Аналитика поиска</title>" in page
        and page.count("Рекомендации: показы и переходы") == 1
    )
    zero, popular = page.split("<h2>Ничего не нашли</h2>")[1].split("Популярные запросы")
    assert "ъъъжжжщщ" in zero and "петух" not in zero
    assert "петух" in popular


def test_staff_page_is_hidden_from_other_hosts_without_a_password(client) -> None:
    assert client.get("/staff/", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 404


def test_staff_page_stays_closed_in_production_without_a_password(tmp_path: Path) -> None:
    app = create_app(
        {
            "TESTING": True,
            "APP_ENV": "production",
            "SECRET_KEY": "x" * 40,
            "DATABASE_URL": database_url(tmp_path),
        }
    )
    assert app.test_client().get("/staff/").status_code == 404


def test_staff_password_is_required_when_set(tmp_path: Path) -> None:
    app = create_app(
        {"TESTING": True, "STAFF_PASSWORD": "s3cret", "DATABASE_URL": database_url(tmp_path)}
    )
    client = app.test_client()
    assert client.get("/staff/").status_code == 401
    assert client.get("/staff/", auth=("staff", "wrong")).status_code == 401
    assert client.get("/staff/", auth=("staff", "s3cret")).status_code == 200
