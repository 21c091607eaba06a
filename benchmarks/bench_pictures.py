"""Search by picture, measured end to end on the demo: real photos, transformed designs, speed.

* **Photos** (``data/eval/photo_queries.jsonl``, 38 openly licensed real photographs):
  the share whose top 5 holds a design of the photographed object, by look alone and
  with the photo's ImageNet classes put into words (``webapp/search/signals/picture.py``), for
  scene photos and for cut-outs on white apart.
* **Designs' own pictures**, rotated ±15°, on a coloured sheet, JPEG q40: the share that
  finds the original in its top 5 (the words must not hurt flat art).
* **Speed**: ``POST /search/picture`` (decode, preprocess, encode, kNN, fuse, render) p50
  against ``GET /search?q=…`` uncached p50, interleaved in the same run, each picture
  made unique by one pixel so that no cache answers.

Run: ``.venv/bin/python benchmarks/bench_pictures.py [--rounds 3] [--sample 200]``.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from webapp import create_app
from webapp.analytics import get_analytics
from webapp.encoders import transforms
from webapp.lifecycle import warm_up
from webapp.search.results import SearchRequest
from webapp.search.signals.picture import PictureQuery

ROOT = Path(__file__).resolve().parent.parent
QUERIES = [
    "петух",
    "котёнок",
    "ёлка",
    "пасхальный кролик",
    "якорь",
    "цветы",
    "машинка",
    "сердце",
    "луна",
    "собака",
    "гитара",
    "торт",
    "бабочка",
    "самолёт",
    "грибы",
]


def top_ids(engine: Any, query: PictureQuery, k: int = 5) -> list[str]:
    """The ids of the ``k`` best designs for ``query``."""
    result = engine.search_by_picture(query, SearchRequest("", per_page=k))
    return [hit.product.id for hit in result.hits]


def photos(engine: Any) -> dict[str, list[int]]:
    """Per group (scene / cut-out) and mode (look / look+words): hit@5 per photo."""
    out: dict[str, list[int]] = {}
    lines = (ROOT / "data" / "eval" / "photo_queries.jsonl").read_text().splitlines()
    for line in lines:
        item = json.loads(line)
        image = transforms.decode(ROOT / "data" / "eval" / item["photo"])
        query = engine.picture_query(item["photo"], lambda image=image: image)
        group = "cut-out" if "cut out" in item.get("note", "") else "scene"
        for mode, q in (("look", PictureQuery(query.vector)), ("look+words", query)):
            hit = int(bool(set(item["relevant"]) & set(top_ids(engine, q))))
            out.setdefault(f"{group} {mode}", []).append(hit)
            out.setdefault(f"all {mode}", []).append(hit)
    return out


def sheet(path: Path, n: int) -> Image.Image:
    """A design's picture rotated ±15° on a coloured sheet, through JPEG q40."""
    art = Image.open(path).convert("RGBA").rotate(15 if n % 2 else -15, expand=True)
    colour = [(250, 230, 200), (200, 225, 250), (230, 250, 210)][n % 3]
    canvas = Image.new("RGBA", (art.width + 60, art.height + 60), (*colour, 255))
    canvas.alpha_composite(art, (30, 30))
    buffer = io.BytesIO()
    canvas.convert("RGB").save(buffer, "JPEG", quality=40)
    return transforms.decode(buffer.getvalue())


def designs(engine: Any, sample: int) -> float:
    """Share of transformed designs that find their original in the top 5."""
    ids = [p.id for p in engine.products]
    rng = np.random.default_rng(0)
    chosen = rng.choice(len(ids), min(sample, len(ids)), replace=False)
    hits = 0
    for n, row in enumerate(chosen):
        image = sheet(ROOT / "data" / "images" / f"{ids[row]}.png", n)
        hits += ids[row] in top_ids(engine, engine.picture_query(f"sheet-{n}", lambda i=image: i))
    return hits / len(chosen)


def speed(app: Any, rounds: int) -> dict[str, list[float]]:
    """Milliseconds per request, picture upload page vs uncached text search page."""
    client, engine = app.test_client(), app.extensions["search"]
    base = Image.open(ROOT / "data" / "eval" / "photos" / "cat_chelsea.jpg").convert("RGB")
    samples: dict[str, list[float]] = {"picture": [], "text": []}
    for r in range(rounds):
        for i, q in enumerate(QUERIES):
            base.putpixel((0, 0), (r, i, 7))  # a new picture: no cache answers
            data = io.BytesIO()
            base.save(data, "JPEG", quality=90)
            start = time.perf_counter()
            response = client.post(
                "/search/picture",
                data={"image": (io.BytesIO(data.getvalue()), "cat.jpg")},
                content_type="multipart/form-data",
            )
            samples["picture"].append((time.perf_counter() - start) * 1e3)
            assert response.status_code == 200, response.status_code
            engine.clear_caches()
            start = time.perf_counter()
            assert client.get("/search", query_string={"q": q}).status_code == 200
            samples["text"].append((time.perf_counter() - start) * 1e3)
    return samples


def main() -> None:
    """Run every section and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="speed rounds over 15 queries")
    parser.add_argument("--sample", type=int, default=200, help="transformed designs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "TESTING": True,
                "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
                "RATELIMIT_ENABLED": False,
                "WTF_CSRF_ENABLED": False,
            }
        )
        engine = warm_up(app)
        print("photos: a design of the object in the top 5")
        for name, hits in photos(engine).items():
            print(f"  {name:<22} {sum(hits):>3}/{len(hits):<3} {sum(hits) / len(hits):.2f}")
        print(f"transformed designs: original in the top 5 {designs(engine, args.sample):.3f}")
        samples = speed(app, args.rounds)
        p50 = {name: statistics.median(values) for name, values in samples.items()}
        print(
            f"speed (p50 of {len(samples['text'])}): picture upload page {p50['picture']:.1f} "
            f"ms, uncached text search page {p50['text']:.1f} ms, "
            f"ratio {p50['picture'] / p50['text']:.2f}"
        )
        with app.app_context():
            get_analytics().flush()  # before the temporary database goes away


if __name__ == "__main__":
    main()
