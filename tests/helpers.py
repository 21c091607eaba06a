"""Small builders the tests share."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

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
