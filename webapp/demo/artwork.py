"""Demo catalogue artwork: Twemoji SVGs found for each product and rendered to PNG files.

:mod:`webapp.demo.catalog` decides which emoji become products; this module finds each
one's SVG (Twemoji spells some hexcodes differently), renders it with cairosvg, writes the
PNG atomically, skips images that are newer than the tarball and of the right size, and
prunes images of products that are gone.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..files import write_atomic

VARIATION_SELECTOR = "fe0f"


def artwork_candidates(product_id: str) -> Iterator[str]:
    """Yield Twemoji file stems to try: exact, without fe0f, and without leading zeros."""
    parts = product_id.lower().split("-")
    no_fe0f = [p for p in parts if p != VARIATION_SELECTOR]
    for variant in (parts, no_fe0f):
        yield "-".join(variant)
        yield "-".join(p.lstrip("0") or "0" for p in variant)


def resolve_artwork(product_id: str, svgs: dict[str, bytes]) -> str | None:
    """Return the Twemoji file stem holding the artwork for ``product_id``, or None."""
    for candidate in artwork_candidates(product_id):
        if candidate in svgs:
            return candidate
    return None


def render_png(svg: bytes, size: int) -> bytes:
    """Render an SVG to a square PNG of ``size`` px, re-saved by Pillow with optimize=True."""
    import cairosvg
    from PIL import Image

    raw = cairosvg.svg2png(bytestring=svg, output_width=size, output_height=size)
    with Image.open(io.BytesIO(raw)) as image:
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def is_fresh(target: Path, source: Path) -> bool:
    """True when ``target`` exists and is newer than ``source``."""
    return target.is_file() and target.stat().st_mtime > source.stat().st_mtime


def progress_iter(items: list[Any], enabled: bool, desc: str) -> Iterable[Any]:
    """Wrap ``items`` in a tqdm progress bar when enabled."""
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="img")


def render_images(
    rows: list[dict[str, Any]],
    sources: dict[str, str],
    svgs: dict[str, bytes],
    *,
    data_dir: Path,
    tarball: Path,
    image_size: int,
    progress: bool,
) -> tuple[int, int]:
    """Render every row's artwork to ``data_dir/<image>``, skipping fresh files.

    Returns ``(rendered, reused)``: how many images were written and how many kept.
    """
    rendered = reused = 0
    for row in progress_iter(rows, progress, "rendering"):
        target = data_dir / row["image"]
        if is_fresh(target, tarball) and _png_size(target) == (image_size, image_size):
            reused += 1
            continue
        write_atomic(target, render_png(svgs[sources[row["id"]]], image_size))
        rendered += 1
    return rendered, reused


def _png_size(path: Path) -> tuple[int, int] | None:
    """Return the pixel size of an image file, or None when unreadable."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.size
    except OSError:
        return None


def prune_images(images_dir: Path, keep: set[str]) -> int:
    """Delete ``*.png`` files whose stem is not a current product id; return how many."""
    removed = 0
    for path in images_dir.glob("*.png"):
        if path.stem not in keep:
            path.unlink()
            removed += 1
    return removed
