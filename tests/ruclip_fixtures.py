"""Builders for the ruCLIP tests: generated tiny models and a tiny catalogue on disk.

Nothing here is a stub: the models are real ``ruclip.CLIP`` folders written by
:func:`webapp.ruclip_models.generate_model`, the catalogue a real CSV with
real PNG files read by :func:`webapp.catalog.read_catalog`.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from webapp.encoders.ruclip_models import BUILTIN_CORPUS, generate_model

from .helpers import write_catalog

#: (id, title, tags, description, colour) of the fixture designs.
DESIGNS = (
    ("1f413", "Петух", "птица; ферма", "Яркий петух для кухонного полотенца.", (200, 60, 30)),
    ("1f431", "Котёнок", "кошка; милый", "Милый котёнок в шляпе, акварель.", (240, 160, 60)),
    ("1f384", "Ёлка", "новый год; праздник", "Новогодняя ёлка со звездой.", (30, 140, 60)),
    ("1f430", "Кролик", "пасха; весна", "Пасхальный кролик с корзинкой.", (180, 180, 200)),
    ("2693", "Якорь", "море; мальчик", "Морской якорь для детской одежды.", (30, 60, 160)),
)


def make_model(folder: Path, *, seed: int = 0) -> Path:
    """A ``tiny`` ruCLIP folder trained on the built-in corpus only (no dependence on data/)."""
    return generate_model(folder, "tiny", corpus=BUILTIN_CORPUS.splitlines(), seed=seed)


def draw_motif(
    path: Path,
    colour: tuple[int, int, int],
    *,
    size: tuple[int, int] = (64, 64),
    mode: str = "RGBA",
) -> Path:
    """A small emoji-like PNG: a coloured disc on a transparent (or white) background."""
    background = (0, 0, 0, 0) if mode == "RGBA" else (255, 255, 255)
    image = Image.new(mode, size, background)
    w, h = size
    ImageDraw.Draw(image).ellipse((w // 8, h // 8, w - w // 8, h - h // 6), fill=colour)
    image.save(path)
    return path


def make_catalog(data_dir: Path) -> list[dict[str, str]]:
    """Create the fixture catalogue (CSV plus one RGBA PNG per design); return its rows."""
    (data_dir / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for pid, title, tags, description, colour in DESIGNS:
        draw_motif(data_dir / "images" / f"{pid}.png", colour)
        rows.append(
            {
                "id": pid,
                "title": title,
                "category": "Тест",
                "tags": tags,
                "description": description,
                "price": "500",
                "image": f"images/{pid}.png",
            }
        )
    write_catalog(data_dir, rows)
    return rows
