"""Search by picture: uploads through the API and the page, «найти похожие», paging.

Everything runs on the real EfficientNet-Lite0 tower and the committed demo image
cache; the pictures are the demo's own artwork, transformed, or made up on the spot.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from flask import Flask, request
from flask.testing import FlaskClient
from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from webapp import create_app
from webapp.lifecycle import warm_up
from webapp.search.signals.picture import PictureQuery
from webapp.web.params import ParamError
from webapp.web.uploads import picture_token, token_picture

from .conftest import ROOT, database_url

ROOSTER = "1f413"
BIRDS = "Птицы"


def png(image: Image.Image) -> bytes:
    """``image`` as PNG bytes."""
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def rooster_photo() -> bytes:
    """The demo rooster turned 15°, on a coloured sheet, JPEG-compressed: a shopper's snap."""
    art = Image.open(ROOT / "data" / "images" / f"{ROOSTER}.png").convert("RGBA")
    art = art.rotate(15, expand=True, fillcolor=(0, 0, 0, 0))
    sheet = Image.new("RGBA", (art.width + 80, art.height + 80), (250, 232, 200, 255))
    sheet.alpha_composite(art, (40, 40))
    buffer = io.BytesIO()
    sheet.convert("RGB").save(buffer, "JPEG", quality=40)
    return buffer.getvalue()


def multipart(data: bytes, name: str = "picture.jpg", **fields: str) -> tuple[bytes, str]:
    """A multipart body with ``data`` as the ``image`` field, and its content type.

    Encoded in memory: Werkzeug's test client would spool a large body to a temporary
    file and leave it open when the app answers before reading it (a 413).
    """
    boundary, body = encode_multipart(
        {"image": FileStorage(io.BytesIO(data), filename=name), **fields}
    )
    return body, f"multipart/form-data; boundary={boundary}"


def upload(
    client: FlaskClient,
    data: bytes,
    *,
    path: str = "/api/search/image",
    name: str = "picture.jpg",
    **fields: str,
):
    """POST ``data`` as the multipart ``image`` field, with extra form ``fields``."""
    body, content_type = multipart(data, name, **fields)
    return client.post(path, data=body, content_type=content_type)


def csrf_token(client: FlaskClient) -> str:
    """The CSRF token the home page's upload form carries for this client's session."""
    page = client.get("/").text
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


# --- the API ----------------------------------------------------------------------------
def test_a_photo_of_the_rooster_finds_the_rooster_through_the_api(client) -> None:
    response = upload(client, rooster_photo())
    assert response.status_code == 200, response.text
    body = response.json
    assert set(body) == {"query", "truncated", "total", "page", "results", "maybe", "took_ms"}
    assert body["query"] == "" and body["page"] == 1 and 1 <= body["total"] <= 96
    ids = [hit["id"] for hit in body["results"]]
    assert ROOSTER in ids[:5]
    first = body["results"][0]
    assert set(first) == {
        "id",
        "title",
        "category",
        "price",
        "currency",
        "image_url",
        "score",
        "why",
    }
    assert "image-efficientnet-lite0" in first["why"]["signals"]
    scores = [hit["score"] for hit in body["results"]]
    assert scores == sorted(scores, reverse=True)


def test_the_demo_artwork_itself_comes_first_and_its_neighbours_are_birds(client) -> None:
    art = (ROOT / "data" / "images" / f"{ROOSTER}.png").read_bytes()
    body = upload(client, art, name="rooster.png").json
    results = body["results"]
    assert results[0]["id"] == ROOSTER
    assert results[0]["why"]["signals"]["image-efficientnet-lite0"]["score"] > 0.99
    near = [h["category"] for h in (results + body["maybe"])[:8]]
    assert near.count("Животные и природа") >= 4


def test_filters_sort_and_paging_are_those_of_text_search(client, demo_app: Flask) -> None:
    photo = rooster_photo()
    animals = "Животные и природа"
    page1 = upload(client, photo, category=animals, per_page="1").json
    engine = demo_app.extensions["search"]
    # filters are exact: only the category's designs, however many the picture finds there
    assert 1 < page1["total"] + len(page1["maybe"]) <= dict(engine.categories())[animals]
    shown = page1["results"] + page1["maybe"]
    assert all(hit["category"] == animals for hit in shown)
    assert all(h["category"] == "Еда и напитки" for h in upload(
        client, photo, category="Еда и напитки").json["results"])  # fmt: skip
    page2 = upload(client, photo, category=animals, per_page="1", page="2").json
    assert not {h["id"] for h in page1["results"]} & {h["id"] for h in page2["results"]}
    heart = (ROOT / "data" / "images" / "2764.png").read_bytes()  # many hearts look alike
    cheap = upload(client, heart, sort="price_asc", price_max="2500").json["results"]
    prices = [hit["price"] for hit in cheap]
    assert len(prices) > 1 and prices == sorted(prices) and max(prices) <= 2500
    bad = upload(client, photo, price_min="9", price_max="1")
    assert bad.status_code == 400 and bad.json["error"]["field"] == "price_max"


def test_the_api_takes_no_csrf_token(client) -> None:
    assert upload(client, rooster_photo()).status_code == 200  # a plain multipart POST


def test_a_picture_is_analysed_once_per_digest(demo_app: Flask) -> None:
    engine = demo_app.extensions["search"]
    opened: list[int] = []

    def image() -> Image.Image:
        opened.append(1)
        return Image.open(ROOT / "data" / "images" / f"{ROOSTER}.png")

    first = engine.picture_query("digest-of-the-bytes", image)
    again = engine.picture_query("digest-of-the-bytes", image)
    assert again is first and opened == [1]


def test_a_photo_of_a_cat_finds_cats_through_its_classes_in_words(client) -> None:
    """A real photo (scikit-image's Chelsea, CC0) does not look like flat art; its ImageNet
    classes, put into words, bring the cat designs up."""
    photo = (ROOT / "data" / "eval" / "photos" / "cat_chelsea.jpg").read_bytes()
    results = upload(client, photo).json["results"]
    cats = {
        "1f431",
        "1f408",
        "1f408-200d-2b1b",
        "1f63a",
        "1f638",
        "1f639",
        "1f63b",
        "1f63c",
        "1f63d",
        "1f640",
        "1f63f",
        "1f63e",
    }
    assert cats & {hit["id"] for hit in results[:5]}
    assert "photo-words" in results[0]["why"]["signals"]
    assert any("cat" in term for term in results[0]["why"]["labels"])


def test_flat_art_is_searched_by_its_look_alone(demo_app: Flask) -> None:
    engine = demo_app.extensions["search"]
    art = Image.open(ROOT / "data" / "images" / f"{ROOSTER}.png")
    query = engine.picture_query("rooster-art", lambda: art)
    assert query.photo == 0.0 and query.words_strength == 0.0
    photo = Image.open(ROOT / "data" / "eval" / "photos" / "cat_chelsea.jpg")
    assert engine.picture_query("chelsea", lambda: photo).photo == 1.0


# --- bad uploads -------------------------------------------------------------------------
def _bomb() -> bytes:
    """A tiny PNG that claims 12,000 × 12,000 pixels (144 million): a decompression bomb."""
    return png(Image.new("1", (12_000, 12_000)))


def _truncated() -> bytes:
    """The rooster's PNG cut in half."""
    data = (ROOT / "data" / "images" / f"{ROOSTER}.png").read_bytes()
    return data[: len(data) // 2]


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect/></svg>'
BAD_UPLOADS = {
    "empty": (b"", "выберите картинку"),
    "text": ("петух на заборе".encode(), "это не картинка"),
    "svg": (SVG, "это не картинка"),
    "pdf": (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "это не картинка"),
    "truncated": (_truncated(), "повреждена"),
    "bomb": (_bomb(), "слишком большая"),
}


@pytest.mark.parametrize("case", BAD_UPLOADS)
def test_bad_uploads_get_a_400_with_a_russian_message(client, case: str) -> None:
    data, message = BAD_UPLOADS[case]
    response = upload(client, data, name=f"{case}.png")
    assert response.status_code == 400, (case, response.text[:200])
    assert response.json["error"]["field"] == "image"
    assert message in response.json["error"]["message"].lower()


def test_a_missing_image_field_is_a_400(client) -> None:
    response = client.post(
        "/api/search/image", data={"category": ""}, content_type="multipart/form-data"
    )
    assert response.status_code == 400 and response.json["error"]["field"] == "image"


def test_an_upload_over_the_size_limit_is_a_413(demo_app: Flask, client) -> None:
    too_big = b"\xff\xd8\xff" + b"\0" * demo_app.config["MAX_UPLOAD_BYTES"]
    response = upload(client, too_big)
    assert response.status_code == 413
    assert "Слишком большой" in response.json["error"]["message"]


def test_an_animated_gif_is_searched_by_its_first_frame(client) -> None:
    art = Image.open(ROOT / "data" / "images" / f"{ROOSTER}.png").convert("RGBA")
    first = Image.new("RGB", art.size, "white")
    first.paste(art, mask=art)
    frames = [first.convert("P"), Image.new("P", art.size, 7)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100)
    ids = [h["id"] for h in upload(client, buffer.getvalue(), name="r.gif").json["results"]]
    assert ROOSTER in ids[:3]


def test_uploads_stay_in_memory(tmp_path: Path) -> None:
    """Werkzeug spools uploads over 500 KB to a temporary file; ours never leave memory."""
    app = create_app(
        {"TESTING": True, "DATABASE_URL": database_url(tmp_path), "WTF_CSRF_ENABLED": False}
    )
    seen: list[type] = []

    @app.post("/probe")
    def probe() -> str:
        seen.append(type(request.files["image"].stream))
        return "ok"

    body, content_type = multipart(b"\xff" * (700 * 1024))  # over Werkzeug's 500 KB spool
    response = app.test_client().post("/probe", data=body, content_type=content_type)
    assert response.status_code == 200 and seen == [io.BytesIO]


def test_uploads_have_a_lower_rate_limit_than_text_search(tmp_path: Path) -> None:
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url(tmp_path),
            "RATELIMIT_UPLOAD": "2 per minute",
        }
    )
    warm_up(app)
    client = app.test_client()
    statuses = [upload(client, rooster_photo()).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert client.get("/api/search?q=кот").status_code == 200  # text search is not spent


# --- the pages ---------------------------------------------------------------------------
def test_the_upload_form_finds_look_alikes_and_shows_the_picture(client) -> None:
    token = csrf_token(client)
    page = upload(client, rooster_photo(), path="/search/picture", csrf_token=token, per_page="1")
    assert page.status_code == 200
    html = page.text
    assert 'src="data:image/jpeg;base64,' in html  # the shopper's picture, shown small
    assert f'href="/product/{ROOSTER}"' in html
    assert "не смысл" in html  # it says what it finds: look-alikes, not meanings
    link = re.search(r'rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert "pv=" in link
    assert client.get(link).status_code == 200  # page 2 is a plain GET: nothing was stored


def test_the_upload_form_needs_its_csrf_token(client) -> None:
    response = upload(client, rooster_photo(), path="/search/picture")
    assert response.status_code == 400


def test_a_bad_upload_on_the_page_gets_a_russian_notice(client) -> None:
    response = upload(
        client, b"not a picture", path="/search/picture", csrf_token=csrf_token(client)
    )
    assert response.status_code == 400 and "Это не картинка" in response.text


def test_find_similar_runs_from_the_designs_own_vector(client, rendered) -> None:
    assert client.get(f"/search?like={ROOSTER}&per_page=12").status_code == 200
    context = rendered[-1][1]
    shown = context["result"].shown  # how many depends on the design: its look-alikes
    ids = [hit.product.id for hit in shown]
    assert ROOSTER not in ids and 2 <= len(ids) <= 24
    assert [hit.product.subcategory for hit in shown].count(BIRDS) >= 2
    assert client.get("/search?like=nope").status_code == 400
    assert client.get("/search?pv=broken!").status_code == 400


def test_the_product_card_shows_look_alikes_and_read_alikes_apart(client) -> None:
    html = client.get(f"/product/{ROOSTER}").text
    assert 'data-space="image-efficientnet-lite0"' in html
    assert 'data-space="text-use"' in html
    assert "по картинке" in html and "по описанию" in html
    assert f"/search?like={ROOSTER}" in html


def test_a_picture_token_round_trips_within_int8_precision() -> None:
    vector = np.random.default_rng(0).standard_normal(1280).astype(np.float32)
    vector /= np.linalg.norm(vector)
    query = PictureQuery(vector, ((281, 0.62), (285, 0.2)), photo=0.8)
    back = token_picture(picture_token(query), 1280, 5)
    assert float(back.vector @ vector) > 0.999
    assert [i for i, _ in back.classes] == [281, 285]
    assert abs(back.classes[0][1] - 0.62) < 1e-4 and abs(back.photo - 0.8) < 0.01
    for broken in (picture_token(query)[:-8], "AAAA", picture_token(PictureQuery(vector))[5:]):
        with pytest.raises(ParamError):
            token_picture(broken, 1280, 5)
    with pytest.raises(ParamError):
        token_picture(picture_token(query), 512, 5)


def test_without_an_image_space_picture_search_is_unavailable_not_a_500(tmp_path: Path) -> None:
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url(tmp_path),
            "IMAGE_ENCODER": "",
            "XMODAL_HEADS": "",
            "WTF_CSRF_ENABLED": False,
        }
    )
    warm_up(app)
    client = app.test_client()
    assert "Найти похожие" not in client.get("/").text  # no upload control
    assert client.get(f"/search?like={ROOSTER}").status_code == 503
    assert client.get("/search?pv=AAAA").status_code == 503
    assert upload(client, rooster_photo()).status_code == 503
    html = client.get(f"/product/{ROOSTER}").text
    assert 'data-space="text-use"' in html and "по картинке" not in html
