"""Colours from the pictures: CIELAB naming on hand-made images, colour words in queries,
and the colour cache that ``flask embed`` keeps beside the vector caches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from flask import Flask
from PIL import Image, ImageDraw

from webapp.catalog import colours
from webapp.catalog.colour_cache import (
    cache_file,
    load_colours,
    read_colours,
    update_colours,
)
from webapp.catalog.colour_words import colour_match, colour_names, query_colours
from webapp.catalog.colours import colour_shares, srgb_to_lab
from webapp.catalog.embedding_cache import CacheError
from webapp.catalog.products import read_catalog
from webapp.language.text import analyse

from .conftest import ROOT
from .helpers import write_catalog


def _square(rgb: tuple[int, int, int], mode: str = "RGBA") -> Image.Image:
    return Image.new(mode, (64, 64), rgb if mode == "RGB" else (*rgb, 255))


def _disc(fill: tuple[int, int, int, int], ground: tuple[int, int, int, int]) -> Image.Image:
    """A disc drawn at 4× and scaled down with LANCZOS: antialiased, as real art is."""
    big = Image.new("RGBA", (256, 256), ground)
    ImageDraw.Draw(big).ellipse((40, 40, 216, 216), fill=fill)
    return big.resize((64, 64), Image.Resampling.LANCZOS)


# --- sRGB → CIELAB ----------------------------------------------------------------------------
def test_srgb_to_lab_matches_reference_values() -> None:
    lab = srgb_to_lab(np.array([[255, 255, 255], [255, 0, 0], [0, 0, 0], [128, 128, 128]]))
    expected = [[100.0, 0.0, 0.0], [53.24, 80.09, 67.20], [0.0, 0.0, 0.0], [53.59, 0.0, 0.0]]
    assert np.allclose(lab, expected, atol=0.02)


# --- naming the pixels of hand-made pictures --------------------------------------------------
@pytest.mark.parametrize(
    ("rgb", "name"),
    [
        ((220, 30, 40), "красный"),
        ((245, 140, 10), "оранжевый"),
        ((255, 210, 60), "желтый"),
        ((60, 170, 60), "зеленый"),
        ((85, 172, 238), "голубой"),
        ((30, 60, 150), "синий"),
        ((140, 90, 200), "фиолетовый"),
        ((245, 170, 190), "розовый"),
        ((140, 80, 40), "коричневый"),
        ((20, 20, 22), "черный"),
        ((250, 250, 250), "белый"),
        ((128, 128, 128), "серый"),
    ],
)
def test_a_solid_square_is_named_its_colour(rgb, name) -> None:
    assert colour_shares(_square(rgb)) == {name: 1.0}
    assert colour_shares(_square(rgb, "RGB")) == {name: 1.0}  # all one colour: not background


def test_a_two_colour_picture_shares_its_pixels() -> None:
    image = Image.new("RGBA", (64, 64), (220, 30, 40, 255))
    image.paste((30, 60, 150, 255), (0, 0, 16, 64))
    assert colour_shares(image) == pytest.approx({"красный": 0.75, "синий": 0.25})


def test_a_transparent_background_and_the_outline_fringe_do_not_count() -> None:
    image = _disc((220, 30, 40, 255), (0, 0, 0, 0))
    alpha = np.asarray(image)[..., 3]
    assert ((alpha > 0) & (alpha < 250)).sum() > 50  # the fringe is there
    assert colour_shares(image) == {"красный": 1.0}  # and it is not «чёрный» nor «розовый»


def test_an_antialiased_seam_between_colours_is_not_a_colour_of_its_own() -> None:
    image = _disc((220, 30, 40, 255), (250, 250, 250, 255))  # opaque: the border is the ground
    assert colour_shares(image) == {"красный": 1.0}  # no pink blend, no white background
    blue_on_yellow = Image.new("RGBA", (80, 80), (0, 0, 0, 0))
    blue_on_yellow.paste(_disc((30, 60, 150, 255), (255, 210, 60, 255)), (8, 8))
    shares = colour_shares(blue_on_yellow)
    assert set(shares) == {"синий", "желтый"}  # no green or grey where they blend
    assert shares["синий"] == pytest.approx(np.pi / 4 * (176 / 256) ** 2, abs=0.03)


def test_a_picture_without_a_motif_has_no_colours() -> None:
    assert colour_shares(Image.new("RGBA", (32, 32), (0, 0, 0, 0))) == {}


# --- colour words in queries ------------------------------------------------------------------
def _words(query: str) -> list[tuple[str, ...]]:
    return [t.colours for t in query_colours(analyse(query))]


def test_colour_words_are_recognised_in_every_form() -> None:
    assert _words("что-то голубое") == [("голубой",)]
    assert _words("голубого цвета") == [("голубой",)]
    assert _words("рыжего кота") == [("оранжевый",)]
    assert _words("зелёное из еды") == [("зеленый",)]
    assert _words("алые паруса") == [("красный",)]
    assert _words("светло-зелёная") == [("зеленый",)]
    assert _words("сине-зелёный") == [("синий", "зеленый")]
    assert _words("золотые рыбки") == [("желтый", "оранжевый")]
    black_and_white = query_colours(analyse("чёрно-белое животное"))
    assert [(t.colours, t.together) for t in black_and_white] == [(("черный", "белый"), True)]
    assert [t.many for t in query_colours(analyse("разноцветные шарики"))] == [True]


def test_words_that_only_look_like_colours_are_not_colours() -> None:
    for query in ("голубь", "белка", "синица", "красота", "черника", "зелень"):
        assert query_colours(analyse(query)) == (), query


def test_a_palette_answers_a_colour_word() -> None:
    (blue,) = query_colours(["голубой"])
    assert colour_match({"голубой": 0.8, "белый": 0.2}, blue) == pytest.approx(0.8)
    assert colour_match({"синий": 1.0}, blue) == pytest.approx(0.5)  # the near hue counts half
    (bw,) = query_colours(["черно-белый"])
    assert colour_match({"черный": 0.5, "белый": 0.5}, bw) == pytest.approx(1.0)
    assert colour_match({"черный": 1.0}, bw) == 0.0
    (many,) = query_colours(["разноцветный"])
    rainbow = dict.fromkeys(("красный", "оранжевый", "желтый", "зеленый", "синий"), 0.2)
    assert colour_match(rainbow, many) == 1.0 and colour_match({"желтый": 1.0}, many) < 0.3
    assert colour_names({"желтый": 0.7, "черный": 0.25, "белый": 0.05}) == ["жёлтый", "чёрный"]


# --- the cache: incremental, checked, and shipped for the demo -------------------------------
def test_the_colour_cache_is_incremental_and_checked(tmp_path: Path, monkeypatch) -> None:
    data, caches = tmp_path / "data", tmp_path / "embeddings"
    rows = [
        {"id": f"c{i}", "title": f"Мотив {i}", "category": "Тест", "price": 100} for i in range(3)
    ]
    write_catalog(data, [dict(r, tags="", description="") for r in rows])
    catalog = read_catalog(data / "catalog.csv")
    cache, measured = update_colours(catalog, data, caches, progress=False)
    assert measured == 3 and read_colours(cache_file(caches)).ids == ["c0", "c1", "c2"]
    assert update_colours(catalog, data, caches, progress=False)[1] == 0
    _square((220, 30, 40)).save(data / "images" / "c1.png")
    cache, measured = update_colours(catalog, data, caches, progress=False)
    assert measured == 1 and cache.of(1) == {"красный": 1.0}
    assert load_colours(caches, catalog.fingerprint).of(1) == {"красный": 1.0}
    with pytest.raises(CacheError, match="flask --app webapp embed"):
        load_colours(caches, "another catalogue")
    monkeypatch.setattr(colours, "GREY_CHROMA", 12.0)  # another method: everything again
    assert update_colours(catalog, data, caches, progress=False)[1] == 3
    cache_file(caches).write_text('{"format": "something else"}', encoding="utf-8")
    with pytest.raises(CacheError, match="not a colour cache"):
        read_colours(cache_file(caches))


def test_flask_embed_keeps_the_colours_up_to_date(mini_app: Flask) -> None:
    again = mini_app.test_cli_runner().invoke(args=["embed"])
    assert "colours: 5 items, 0 measured, 5 reused" in again.output


def test_the_demo_ships_its_colours() -> None:
    catalog = read_catalog(ROOT / "data" / "catalog.csv")
    cache = load_colours(ROOT / "embeddings", catalog.fingerprint)  # fresh, this method's
    top = {pid: next(iter(cache.of(cache.ids.index(pid)))) for pid in ("1f98a", "1f438", "1f418")}
    assert top == {
        "1f98a": "оранжевый",
        "1f438": "зеленый",
        "1f418": "серый",
    }  # fox, frog, elephant
    (bw,) = query_colours(["черно-белый"])
    assert colour_match(cache.of(cache.ids.index("1f43c")), bw) > 0.5  # the panda
