"""Small builders the tests share."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from PIL import Image

from webapp.catalog.embedding_cache import read_cache, save_cache
from webapp.catalog.products import catalog_csv


def write_catalog(data_dir: Path, rows: list[dict[str, object]]) -> Path:
    """Write ``rows`` as catalog.csv plus a small distinct PNG for each; return the CSV path."""
    (data_dir / "images").mkdir(parents=True, exist_ok=True)
    for i, row in enumerate(rows):
        row.setdefault("image", f"images/{row['id']}.png")
        image = data_dir / str(row["image"])
        if not image.exists():
            Image.new("RGB", (64, 64), ((40 * i) % 256, (90 * i) % 256, 200)).save(image)
    path = data_dir / "catalog.csv"
    path.write_text(catalog_csv(rows), encoding="utf-8")
    return path


def write_rolled_cache(source: Path, directory: Path, shift: int) -> Path:
    """Save the cache at ``source`` into ``directory`` with its rows rolled by ``shift``:
    the same manifest, other answers (a stand-in for a re-embedded catalogue)."""
    cache = read_cache(source)
    vectors = np.ascontiguousarray(np.roll(cache.vectors, shift, axis=0))
    return save_cache(dataclasses.replace(cache, vectors=vectors), directory)
