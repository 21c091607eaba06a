"""A shopper in a real browser: headless Debian Chromium driven by Playwright."""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, expect, sync_playwright
from werkzeug.serving import make_server

from .conftest import ROOT

pytestmark = [
    pytest.mark.browser,
    # Werkzeug's development server, which serves the browser here, leaves a picture's file
    # to the garbage collector when Chromium drops the connection mid-picture (a page moving
    # on): a ResourceWarning about the test server, not the app (gunicorn serves production)
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def live_url(demo_app) -> Iterator[str]:
    """The demo app served on a free loopback port for the browser."""
    server = make_server("127.0.0.1", 0, demo_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium (installed by `make test`), never a downloaded browser."""
    executable = shutil.which("chromium")
    assert executable, "Chromium is missing: run `make browser` (apt-get install chromium)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_FLAGS
        )
        yield browser
        browser.close()


def test_shopper_searches_opens_a_card_and_sees_the_price(browser: Browser, live_url: str) -> None:
    page = browser.new_page()
    page.goto(live_url + "/")
    page.get_by_role("searchbox").fill("петух")
    page.get_by_role("button", name="Найти", exact=True).click()
    gallery = page.locator(".gallery .card")
    expect(gallery.first).to_be_visible()
    assert gallery.count() >= 2
    expect(gallery.first.locator(".card-title")).to_have_text("Петух")
    gallery.first.locator("a").first.click()
    expect(page).to_have_url(re.compile(re.escape(live_url) + r"/product/1f413\?q="))
    expect(page.locator(".price.big")).to_contain_text("₽")
    expect(page.get_by_role("heading", name="Петух")).to_be_visible()
    assert page.evaluate("document.querySelector('.product-image').naturalWidth") >= 256


def test_nothing_found_offers_categories(browser: Browser, live_url: str) -> None:
    page = browser.new_page()
    page.goto(live_url + "/search?q=%D1%8B%D0%B2%D0%B0%D0%BF%D1%80%D0%BE%D0%BB%D0%B4")
    expect(page.get_by_role("heading", name="Ничего не найдено", exact=False)).to_be_visible()
    expect(page.locator(".nothing a").first).to_be_visible()


def test_shopper_uploads_a_picture_and_gets_look_alikes(
    browser: Browser, live_url: str, tmp_path: Path
) -> None:
    photo = tmp_path / "мой петух.png"
    art = Image.open(ROOT / "data" / "images" / "1f413.png").convert("RGBA")
    sheet = Image.new("RGBA", (400, 300), (255, 240, 220, 255))
    sheet.alpha_composite(art.rotate(12, expand=True), (60, 10))
    sheet.convert("RGB").save(photo)
    page = browser.new_page()
    page.goto(live_url + "/")
    page.set_input_files("input[name=image]", str(photo))
    page.get_by_role("button", name="Найти похожие").click()
    expect(page.locator(".picture-query img")).to_be_visible()
    gallery = page.locator(".gallery .card")
    expect(gallery.first).to_be_visible()
    titles = gallery.locator(".card-title").all_inner_texts()[:5]
    assert "Петух" in titles, titles
    # re-sorting is a plain GET carrying the picture's vector: nothing was stored
    page.get_by_label("Порядок").select_option("price_asc")
    page.get_by_role("button", name="Применить").click()
    expect(page).to_have_url(re.compile(r"/search\?.*pv=.*sort=price_asc"))
    expect(page.locator(".gallery .card").first).to_be_visible()
    assert "Петух" in page.locator(".gallery .card-title").all_inner_texts()


CAT_LIKE = re.compile(r"кот|кош|тигр|леопард|лев|рыс", re.IGNORECASE)


def test_three_cats_opened_bring_cat_like_recommendations(browser: Browser, live_url: str) -> None:
    page = browser.new_context().new_page()  # a fresh cookie jar: a new shopper
    for cat in ["1f431", "1f408", "1f63a"]:  # cat face, cat, smiling cat
        page.goto(f"{live_url}/product/{cat}")
        expect(page.locator(".price.big")).to_be_visible()
    page.goto(live_url + "/")
    liked = page.locator("section", has=page.get_by_role("heading", name="Вам может понравиться"))
    expect(liked.locator(".card").first).to_be_visible()
    exploit = liked.locator('.card[data-source="rec"] .card-title').all_inner_texts()
    assert len(exploit) == 5 and sum(bool(CAT_LIKE.search(t)) for t in exploit) >= 3, exploit
    card = liked.locator('.card[data-source="rec"]').first
    card.locator("summary").click()
    expect(card.locator(".why li").first).to_contain_text("похоже на «")
    assert liked.locator('.card[data-source="explore"]').count() == 1


@pytest.mark.parametrize("width", [1280, 375])
def test_staff_tables_keep_headers_over_their_values(
    browser: Browser, live_url: str, demo_app, width: int
) -> None:
    shopper = demo_app.test_client()
    for query in ["петух", "кот", "ъъъжжжщщ"]:
        shopper.get("/search", query_string={"q": query})
    shopper.get("/product/1f413", query_string={"q": "петух"})
    shopper.get("/product/1f986", query_string={"from": "rec"})
    shopper.get("/")
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(live_url + "/staff/")
    tables = page.locator("table.stats")
    assert tables.count() == 4  # nothing found, popular, recommendations, co-visited pairs
    misaligned = page.evaluate(
        """() => [...document.querySelectorAll('table.stats')].flatMap((table, t) =>
          [...table.querySelectorAll('thead th')].flatMap((th, i) => {
            const td = table.querySelector(`tbody tr td:nth-child(${i + 1})`);
            const a = th.getBoundingClientRect(), b = td.getBoundingClientRect();
            const same = getComputedStyle(th).textAlign === getComputedStyle(td).textAlign;
            return same && Math.abs(a.left - b.left) < 1 && Math.abs(a.width - b.width) < 1
              ? [] : [`table ${t} column ${i + 1}`];
          }))"""
    )
    assert misaligned == []
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0  # wide tables scroll inside their own box, not the page
