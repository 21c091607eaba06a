"""A picture of what the image space finds: one row per query, its top neighbours after it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from webapp.catalog.embedding_cache import EmbeddingCache
from webapp.catalog.products import Product
from webapp.encoders import transforms
from webapp.encoders.efficientnet_lite import EfficientNetLiteEncoder

TILE, LABEL, GAP, COLUMNS = 112, 30, 8, 6
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")  # Debian's fonts-dejavu-core


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """DejaVu Sans (Cyrillic) when installed, Pillow's default otherwise."""
    return ImageFont.truetype(str(FONT), size) if FONT.is_file() else ImageFont.load_default(size)


def _tile(picture: Image.Image, caption: str, *, query: bool) -> Image.Image:
    """A picture fitted in a white square with a caption; query tiles get a frame."""
    tile = Image.new("RGB", (TILE, TILE + LABEL), "white")
    square = transforms.pad_to_square(transforms.to_rgb(picture))
    tile.paste(square.resize((TILE - 8, TILE - 8), Image.Resampling.LANCZOS), (4, 4))
    draw = ImageDraw.Draw(tile)
    if query:
        draw.rectangle((0, 0, TILE - 1, TILE - 1), outline=(200, 60, 40), width=3)
    text = caption if len(caption) <= 16 else caption[:15] + "…"
    draw.text((TILE // 2, TILE + 4), text, fill=(40, 40, 40), font=_font(11), anchor="mt")
    return tile


def neighbour_grid(
    queries: Sequence[tuple[str, Image.Image | None]],
    cache: EmbeddingCache,
    products: Sequence[Product],
    tower: EfficientNetLiteEncoder,
    data_dir: Path,
) -> Image.Image:
    """Rows of (query, top neighbours). A query is a catalogue id, or an id with a
    picture of it (e.g. a perturbed photo), which is then encoded and searched."""
    by_id = {p.id: p for p in products}
    width = COLUMNS * TILE + (COLUMNS + 1) * GAP
    grid = Image.new("RGB", (width, len(queries) * (TILE + LABEL + GAP) + GAP), (236, 236, 236))
    for line, (pid, picture) in enumerate(queries):
        if picture is None:
            vector = cache.vectors[cache.ids.index(pid)]
            shown, caption = transforms.decode(data_dir / by_id[pid].image), by_id[pid].title
        else:
            vector = tower.encode_pil([transforms.crop_to_content(picture)])[0]
            shown, caption = picture, "фото: " + by_id[pid].title
        order = [cache.ids[i] for i in np.argsort(-(cache.vectors @ vector))]
        near = [i for i in order if i != pid or picture is not None][: COLUMNS - 1]
        tiles = [_tile(shown, caption, query=True)] + [
            _tile(transforms.decode(data_dir / by_id[i].image), by_id[i].title, query=False)
            for i in near
        ]
        for column, tile in enumerate(tiles):
            grid.paste(tile, (GAP + column * (TILE + GAP), GAP + line * (TILE + LABEL + GAP)))
    return grid
