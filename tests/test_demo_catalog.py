"""Checks of the committed demo catalogue (data/catalog.csv, data/images): no npm, no network."""

from __future__ import annotations

import csv
import random
import re
from pathlib import Path

import pytest
from PIL import Image

from webapp.catalog.products import COLUMNS
from webapp.demo.artwork import artwork_candidates
from webapp.demo.text import fix_homoglyphs, synthetic_price

DATA = Path(__file__).resolve().parent.parent / "data"
SKIN_TONES = ("1f3fb", "1f3fc", "1f3fd", "1f3fe", "1f3ff")


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    """The committed catalogue rows."""
    with open(DATA / "catalog.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def by_id(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    """Rows keyed by product id."""
    return {row["id"]: row for row in rows}


def test_header_is_exactly_the_contract() -> None:
    """The CSV header lists exactly the contracted columns, in order."""
    with open(DATA / "catalog.csv", encoding="utf-8", newline="") as f:
        header = next(csv.reader(f))
    assert header == list(COLUMNS)
    assert header == [
        "id",
        "title",
        "category",
        "subcategory",
        "tags",
        "description",
        "price",
        "image",
    ]


def test_enough_rows_with_unique_lowercase_ids(rows: list[dict[str, str]]) -> None:
    """At least 1,500 products, ids unique and lower-case hexcodes."""
    assert len(rows) >= 1500
    ids = [row["id"] for row in rows]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9a-f]{2,6}(-[0-9a-f]{2,6})*", i) for i in ids)


def test_rooster_and_butterfly(by_id: dict[str, dict[str, str]]) -> None:
    """Known products carry sensible Russian text."""
    rooster = by_id["1f413"]
    assert "етух" in rooster["title"]
    assert rooster["category"] == "Животные и природа"
    assert "птица" in rooster["tags"].split("; ")
    assert "петух" in rooster["description"]
    butterfly = by_id["1f98b"]
    assert butterfly["title"] == "Бабочка"
    assert butterfly["subcategory"] == "Насекомые"


def test_no_flags_components_or_skin_tones(rows: list[dict[str, str]]) -> None:
    """Flags, components and skin-tone variants are not products."""
    categories = {row["category"] for row in rows}
    assert not any("флаг" in c.lower() for c in categories)
    assert "Компонент" not in categories
    for row in rows:
        assert not any(tone in row["id"] for tone in SKIN_TONES), row["id"]
        assert not row["id"].startswith("1f1e"), row["id"]  # regional indicators / flags


def test_text_fields_are_filled_and_russian(rows: list[dict[str, str]]) -> None:
    """Every row has a title, category, subcategory, tags and a Cyrillic description."""
    for row in rows:
        for column in ("title", "category", "subcategory", "tags", "description"):
            assert row[column].strip(), (row["id"], column)
        assert row["title"][0] == row["title"][0].upper()
        assert row["category"][0].isupper() and row["subcategory"][0].isupper()
        assert re.search("[а-яё]", row["description"], re.IGNORECASE)
        tags = row["tags"].split("; ")
        assert tags == [t.lower() for t in tags] and len(set(tags)) == len(tags)


def test_no_mixed_script_words_in_names(rows: list[dict[str, str]]) -> None:
    """Category names carry no Latin look-alikes inside Cyrillic words (CLDR's «mлекопитающих»)."""
    for row in rows:
        for word in re.findall(r"\w+", row["category"] + " " + row["subcategory"]):
            assert not (re.search("[a-z]", word, re.I) and re.search("[а-я]", word, re.I)), word


def test_prices_are_synthetic_and_deterministic(rows: list[dict[str, str]]) -> None:
    """Each CSV price equals synthetic_price(id): an integer 190..1490 in steps of 10."""
    for row in rows:
        price = int(row["price"])
        assert price == synthetic_price(row["id"]), row["id"]
        assert 190 <= price <= 1490 and price % 10 == 0


def test_every_image_file_exists(rows: list[dict[str, str]]) -> None:
    """Each row's image path is relative to data/ and the file is there."""
    for row in rows:
        assert row["image"] == f"images/{row['id']}.png"
        assert (DATA / row["image"]).is_file(), row["image"]


def test_sample_of_images_are_large_pngs(rows: list[dict[str, str]]) -> None:
    """A sample of ~50 images plus the rooster open as PNGs of at least 256x256."""
    sample = random.Random(0).sample(rows, 50)
    paths = {DATA / row["image"] for row in sample} | {DATA / "images" / "1f413.png"}
    for path in paths:
        with Image.open(path) as image:
            assert image.format == "PNG", path
            assert image.size[0] >= 256 and image.size[1] >= 256, path
            image.verify()


def test_licences_are_shipped() -> None:
    """The upstream licence texts and the attribution README are committed."""
    for name in (
        "emojibase-data-LICENSE",
        "twemoji-svg-LICENSE",
        "twemoji-graphics-CC-BY-4.0",
        "unicode-LICENSE-V3",
    ):
        assert (DATA / "LICENSES" / name).is_file(), name
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    assert "CC-BY 4.0" in readme and "synthetic" in readme.lower()


def test_artwork_resolver_tries_twemoji_spellings() -> None:
    """The resolver tries the exact id, then without fe0f, with and without leading zeros."""
    assert list(artwork_candidates("1f413"))[0] == "1f413"
    assert "1f441-200d-1f5e8" in artwork_candidates("1f441-fe0f-200d-1f5e8-fe0f")
    assert "23-20e3" in artwork_candidates("0023-fe0f-20e3")
    assert "a9" in artwork_candidates("00a9")


def test_homoglyph_fix() -> None:
    """Latin look-alikes in Cyrillic words are replaced; pure Latin words are kept."""
    assert fix_homoglyphs("mлекопитающих") == "млекопитающих"
    assert fix_homoglyphs("значок SOS") == "значок SOS"


def test_missing_npm_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without npm and without cached tarballs the builder names what to install."""
    import webapp.demo.catalog as demo

    monkeypatch.setattr(demo.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="npm"):
        demo.build_demo_catalog(tmp_path / "data", cache_dir=tmp_path / "cache", progress=False)
