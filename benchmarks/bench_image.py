"""Benchmark: what the offline image tower sees, how robust it is, and how fast it runs.

Run ``PYTHONPATH=. .venv/bin/python benchmarks/bench_image.py [--sample N] [--grid PNG]``
(about 3 min on 2 busy cores; ``--sample 0`` perturbs every design). Everything is
measured in one run, with its baselines:

* **neighbours**: for each demo design, the share of its 5 nearest designs (itself
  excluded) in its own subcategory and category, for the EfficientNet-Lite0 vectors
  (the committed cache), a colour-histogram baseline computed here, the offline text
  space (``text-use``, what "similar designs" uses today) and chance;
* **robustness**: each sampled design's picture rotated ±15°, scaled down, put on a
  coloured field and JPEG-compressed at quality 40; the share whose top 5 holds the
  original, querying the whole picture, its :func:`crop_to_content`, and the best of
  three crops (max similarity, 3× the encoding cost);
* **speed**: encode p50 per image (preprocess + model) in ONNX Runtime and torch at
  batch 1 and 32, and end-to-end embedding throughput from files.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.image_grid import neighbour_grid  # noqa: E402
from webapp.catalog.embedding_cache import read_cache  # noqa: E402
from webapp.catalog.products import Product, read_catalog  # noqa: E402
from webapp.encoders import transforms  # noqa: E402
from webapp.encoders.efficientnet_lite import ONNX_FILE, EfficientNetLiteEncoder  # noqa: E402

DATA = ROOT / "data"
K = 5
FIELDS = [(120, 170, 230), (230, 200, 120), (150, 210, 150), (220, 150, 170)]
GRID_QUERIES = ["1f413", "1f98b", "1f697", "1f355", "2602"]


def colour_histograms(paths: list[Path], bins: int = 8) -> np.ndarray:
    """Unit-norm joint RGB histograms (bins³) of each picture's non-white pixels, sqrt-scaled."""
    rows = []
    for path in paths:
        pixels = np.asarray(transforms.load_rgb(path).resize((64, 64)), np.int32).reshape(-1, 3)
        pixels = pixels[(pixels < 245).any(axis=1)]
        codes = (pixels // (256 // bins)) @ np.array([bins * bins, bins, 1])
        hist = np.sqrt(np.bincount(codes, minlength=bins**3).astype(np.float32))
        rows.append(hist / max(float(np.linalg.norm(hist)), 1e-9))
    return np.stack(rows)


def neighbour_shares(vectors: np.ndarray, products: list[Product]) -> dict[str, float]:
    """Mean share of each item's top-K neighbours in its subcategory and category."""
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    top = np.argpartition(-sims, K, axis=1)[:, :K]
    out = {}
    for field in ("subcategory", "category"):
        labels = np.array([getattr(p, field) for p in products])
        out[field] = float(np.mean(labels[top] == labels[:, None]))
    return out


def chance(products: list[Product]) -> dict[str, float]:
    """Expected share for K random neighbours: P(another item has the same label)."""
    n, out = len(products), {}
    for field in ("subcategory", "category"):
        _, counts = np.unique([getattr(p, field) for p in products], return_counts=True)
        out[field] = float((counts * (counts - 1)).sum() / (n * (n - 1)))
    return out


def perturb(path: Path, n: int) -> Image.Image:
    """Rotated ±15°, scaled to 45–70 %, on a coloured field, JPEG q40 (seeded by ``n``)."""
    motif = transforms.decode(path).convert("RGBA")
    motif = motif.rotate(15 if n % 2 else -15, expand=True, resample=Image.Resampling.BICUBIC)
    side = int(motif.width * (0.45 + 0.25 * ((n * 7) % 11) / 10))
    motif = motif.resize((side, side), Image.Resampling.LANCZOS)
    canvas = Image.new("RGBA", (360, 300), (*FIELDS[n % len(FIELDS)], 255))
    canvas.alpha_composite(motif, ((360 - side) // 2 + 10 * (n % 3), (300 - side) // 2))
    buffer = io.BytesIO()
    canvas.convert("RGB").save(buffer, "JPEG", quality=40)
    return transforms.decode(buffer.getvalue())


def robustness(
    tower: EfficientNetLiteEncoder,
    cache_vectors: np.ndarray,
    ids: list[str],
    rows: list[int],
    paths: list[Path],
) -> dict[str, float]:
    """Share of perturbed pictures whose top K holds the original, per query strategy."""
    found = {"whole picture": 0, "crop_to_content": 0, "best of 3 crops": 0}
    for n, row in enumerate(rows):
        picture = perturb(paths[row], n)
        crops = [
            picture,
            transforms.crop_to_content(picture),
            transforms.crop_to_content(picture, margin=0.15),
        ]
        sims = tower.encode_pil(crops) @ cache_vectors.T
        for name, scores in (
            ("whole picture", sims[0]),
            ("crop_to_content", sims[1]),
            ("best of 3 crops", sims.max(axis=0)),
        ):
            found[name] += row in np.argpartition(-scores, K)[:K]
    return {name: hits / len(rows) for name, hits in found.items()}


def speed(towers: dict[str, EfficientNetLiteEncoder], paths: list[Path]) -> dict[str, float]:
    """p50 ms per image at batch 1 and 32 (interleaved), and files→vectors images/s."""
    images = [transforms.decode(p) for p in paths[:32]]
    for tower in towers.values():
        tower.encode_pil(images[:2])  # load the session outside the clock
    times: dict[str, list[float]] = {}
    for rep in range(12):
        for name, tower in towers.items():
            start = time.perf_counter()
            tower.encode_pil(images[rep % 32 : rep % 32 + 1])
            times.setdefault(f"{name} batch 1 ms/image", []).append(
                (time.perf_counter() - start) * 1e3
            )
            if rep % 3 == 0:
                start = time.perf_counter()
                tower.encode_pil(images)
                times.setdefault(f"{name} batch 32 ms/image", []).append(
                    (time.perf_counter() - start) * 1e3 / 32
                )
    out = {label: statistics.median(values) for label, values in times.items()}
    for name, tower in towers.items():
        start = time.perf_counter()
        tower.encode_images(paths[:128], batch_size=64)
        out[f"{name} embed images/s"] = 128 / (time.perf_counter() - start)
    return out


def print_speed(
    towers: dict[str, EfficientNetLiteEncoder], paths: list[Path], threads: int | None
) -> None:
    """Print the speed section as a markdown table."""
    print(
        f"\n## Speed (medians, {threads or 'default'} thread(s), same run)\n\n"
        "| measure | value |\n|---|---|"
    )
    for label, value in speed(towers, paths).items():
        print(f"| {label} | {value:.1f} |")


def main() -> None:
    """Run every measurement and print a markdown report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sample", type=int, default=300, help="designs perturbed for robustness (0 = all)"
    )
    parser.add_argument("--grid", type=Path, default=None, help="write a neighbour grid PNG")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="intra-op threads of both runtimes (0 = library default)",
    )
    parser.add_argument("--speed-only", action="store_true", help="only the speed section")
    args = parser.parse_args()
    onnx, threads = ROOT / "models" / ONNX_FILE, args.threads or None
    towers = {
        "onnxruntime": EfficientNetLiteEncoder(
            onnx_path=onnx, runtime="onnxruntime", threads=threads
        ),
        "torch": EfficientNetLiteEncoder(runtime="torch", threads=threads),
    }
    if args.speed_only:
        return print_speed(
            towers, [DATA / p.image for p in read_catalog(DATA / "catalog.csv").products], threads
        )

    products = read_catalog(DATA / "catalog.csv").products
    paths = [DATA / p.image for p in products]
    image = read_cache(ROOT / "embeddings" / "image-efficientnet-lite0.pkl")
    text = read_cache(ROOT / "embeddings" / "text-use.pkl")
    assert image.ids == text.ids == [p.id for p in products], "caches out of date: embed"
    start = time.perf_counter()
    hist = colour_histograms(paths)
    hist_ms = (time.perf_counter() - start) * 1e3 / len(paths)

    print(f"## Neighbours: share of the top {K} in the same label ({len(products)} designs)\n")
    print("| vectors | subcategory | category |\n|---|---|---|")
    for name, vectors in (
        ("EfficientNet-Lite0 (image)", image.vectors),
        (f"colour histogram ({hist_ms:.1f} ms/image)", hist),
        ("text-use (titles, tags)", text.vectors),
    ):
        shares = neighbour_shares(vectors, products)
        print(f"| {name} | {shares['subcategory']:.3f} | {shares['category']:.3f} |")
    base = chance(products)
    print(f"| chance | {base['subcategory']:.3f} | {base['category']:.3f} |\n")

    rng = np.random.default_rng(0)
    rows = (
        sorted(rng.choice(len(products), args.sample, replace=False).tolist())
        if 0 < args.sample < len(products)
        else list(range(len(products)))
    )
    start = time.perf_counter()
    found = robustness(towers["onnxruntime"], image.vectors, image.ids, rows, paths)
    print(
        f"## Robustness: perturbed design finds its original in the top {K} "
        f"({len(rows)} designs, {time.perf_counter() - start:.0f} s)\n"
    )
    print("| query | share |\n|---|---|")
    for name, share in found.items():
        print(f"| {name} | {share:.3f} |")

    print_speed(towers, paths, threads)

    if args.grid:
        queries = [(p, None) for p in GRID_QUERIES] + [
            ("1f413", perturb(DATA / "images" / "1f413.png", 1))
        ]
        neighbour_grid(queries, image, products, towers["onnxruntime"], DATA).save(args.grid)
        print(f"\ngrid: {args.grid}")


if __name__ == "__main__":
    main()
