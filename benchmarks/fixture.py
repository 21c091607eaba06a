"""The benchmark's fixture: a 25,000-design synthetic catalogue, its store and caches.

The first 1,601 rows *are* the demo catalogue (emoji queries still match); the rest
vary its designs with styles and a donor's tags, deterministically. The caches hold
the encoders' own vectors (:mod:`bench_vectors`), so index types are compared on
vectors with real structure.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench_ruclip import QUERIES
from bench_vectors import write_caches, write_indexes
from webapp.catalog.products import catalog_csv

ROOT = Path(__file__).resolve().parent.parent
ITEMS = 25_000
PAGE = 24
WORKDIR = ROOT / "build" / "bench"
#: ways a design is varied into more designs (variant 0 is the demo design itself)
STYLES = (
    "",
    "акварелью",
    "в рамке",
    "с бантиком",
    "в венке из листьев",
    "контурный",
    "гладью",
    "крестиком",
    "аппликация",
    "в шляпе",
    "мини",
    "крупный",
    "винтажный",
    "для детской одежды",
    "с надписью",
    "в круге",
    "на полотенце",
    "в горошек",
)
#: a second way to vary a design, once every style is used (the scale benchmark's
#: million designs; the 25,000 of ``make bench`` never reach it)
COLOURS = (
    "",
    "красными нитками",
    "синими нитками",
    "зелёными нитками",
    "золотой нитью",
    "серебряной нитью",
    "в пастельных тонах",
    "в ярких тонах",
    "чёрно-белый",
    "в розовых тонах",
    "в голубых тонах",
    "в жёлтых тонах",
    "в коричневых тонах",
    "в фиолетовых тонах",
    "в оранжевых тонах",
    "в бирюзовых тонах",
    "в бордовых тонах",
    "в бежевых тонах",
    "на белом фоне",
    "на чёрном фоне",
    "на джинсе",
    "на льне",
    "на фетре",
    "на шёлке",
    "на хлопке",
    "для подушки",
    "для сумки",
    "для футболки",
    "для кепки",
    "для пледа",
    "для скатерти",
    "для салфетки",
    "для фартука",
    "для рюкзака",
    "для шеврона",
    "для нашивки",
)


def onnx_dir(model_dir: Path) -> Path:
    """Where the bench keeps the ONNX exports of ``model_dir``'s query tower."""
    return model_dir.with_name(f"{model_dir.name}-onnx")


def bench_config(
    workdir: Path,
    model_dir: Path,
    *,
    quantize: bool = False,
    threads: int = 0,
    runtime: str = "torch",
) -> dict[str, Any]:
    """The app configuration of the benchmark (everything under ``workdir``); ``runtime``
    runs queries through torch or ONNX Runtime (``RUCLIP_RUNTIME``)."""
    return {
        "TESTING": False,
        "DATA_DIR": str(workdir / "data"),
        "CATALOG_CSV": "catalog.csv",
        "EMBEDDINGS_DIR": str(workdir / "embeddings"),
        "TEXT_ENCODER": "use",
        "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
        # text queries never search the image-only space; leave its 25k×1280 index out
        "IMAGE_ENCODER": "",
        "RUCLIP_MODEL_DIR": str(model_dir),
        "RUCLIP_QUANTIZE": quantize,
        "RUCLIP_RUNTIME": runtime,
        "RUCLIP_ONNX_DIR": str(onnx_dir(model_dir)),
        "TORCH_THREADS": threads,
        "DEVICE": "cpu",
        "PAGE_SIZE": PAGE,
        # one client asks everything: the per-IP rate limit would answer 429
        "RATELIMIT_ENABLED": False,
    }


def synthetic_rows(items: int) -> Iterator[dict[str, str]]:
    """``items`` catalogue rows made of the demo catalogue's words, deterministically."""
    from webapp.catalog.products import read_catalog

    demo = read_catalog(ROOT / "data" / "catalog.csv").products
    for i in range(items):
        base, variant = demo[i % len(demo)], i // len(demo)
        style = STYLES[variant % len(STYLES)]
        round_ = variant // len(STYLES)
        colour = COLOURS[round_ % len(COLOURS)]
        donor = demo[(i * 7919 + 13 + round_ * 104729) % len(demo)]
        pid = base.id if variant == 0 else f"{base.id}-v{variant}"
        title = " ".join(w for w in (base.title, style, colour) if w)
        extra = [w for w in (style, colour) if w]
        tags = list(dict.fromkeys([*base.tags, *(donor.tags[:2] if variant else ()), *extra]))
        section = " / ".join(s.lower() for s in (base.category, base.subcategory) if s)
        words = ", ".join(tags[:-1]) + (f" и {tags[-1]}" if len(tags) > 1 else "".join(tags))
        price = 100 + 10 * (int(hashlib.sha1(pid.encode()).hexdigest()[:8], 16) % 290)
        yield {
            "id": pid,
            "title": title,
            "category": base.category,
            "subcategory": base.subcategory,
            "tags": "; ".join(tags),
            "description": (
                f"Дизайн машинной вышивки «{title.lower()}» из раздела «{section}». "
                f"Цветной мотив в стиле эмодзи. Ключевые слова: {words}."
            ),
            "price": str(price),
            "image": base.image,
        }


def write_catalog(workdir: Path, items: int) -> Path:
    """Write the synthetic CSV (only when its content changed) and link the demo images."""
    data = workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    images = data / "images"
    if not images.exists():
        images.symlink_to(ROOT / "data" / "images", target_is_directory=True)
    text = catalog_csv(synthetic_rows(items))
    path = data / "catalog.csv"
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path


def prepare(workdir: Path, model_dir: Path, items: int) -> None:
    """Catalogue, database and caches in ``workdir``, rebuilt only where stale."""
    from webapp import create_app
    from webapp.catalog.products import read_catalog
    from webapp.encoders.spaces import configured_spaces

    started = time.perf_counter()
    write_catalog(workdir, items)
    os.environ.setdefault("INSTANCE_PATH", str(workdir / "instance"))
    # the one-time offline embedding may use both cores (a server worker uses one)
    app = create_app(bench_config(workdir, model_dir, threads=2))
    catalog = read_catalog(workdir / "data" / "catalog.csv")
    if catalog.problems:
        raise SystemExit(f"synthetic catalogue has bad rows: {catalog.report()[:500]}")
    app.extensions["store"].sync(catalog)
    spaces = configured_spaces(app.config)
    rebuilt = write_caches(app, spaces)
    indexes = write_indexes(app, spaces)
    rebuilt += write_onnx(spaces, onnx_dir(model_dir))
    print(
        f"artefacts ready in {time.perf_counter() - started:.1f}s "
        f"({len(catalog.products)} items; caches rebuilt: {', '.join(rebuilt) or 'none'}; "
        f"indexes rebuilt: {len(indexes) or 'none'})"
    )
    for line in indexes:
        print(f"  index: {line}")


def write_onnx(spaces: list[Any], folder: Path) -> list[str]:
    """Export the ruCLIP query tower to ONNX (int8 and fp32) unless ``folder`` already holds
    exports of this model, as `flask --app webapp export-text-model --precision all` does;
    return the exports written."""
    from webapp.encoders.base import EncoderError
    from webapp.encoders.ruclip_onnx import PRECISIONS, OrtTextTower, export_text_tower, onnx_file

    clip = next(s.encoder for s in spaces if s.name.startswith("ruclip"))
    written = []
    for precision in PRECISIONS:
        path = onnx_file(folder, precision)
        try:
            OrtTextTower(path, model_id=clip.model_id, precision=precision, threads=1)
        except EncoderError:
            export_text_tower(clip.model, clip.model_id, path, precision=precision)
            written.append(path.name)
    return written


def artefact_sizes(workdir: Path, model_dir: Path) -> dict[str, int]:
    """Bytes of every artefact the benchmarked server reads."""
    from webapp.encoders.ruclip_models import folder_sizes

    sizes = {f"model {name}": size for name, size in folder_sizes(model_dir).items()}
    for path in sorted(onnx_dir(model_dir).glob("*.onnx")):
        sizes[f"ONNX {path.name}"] = path.stat().st_size
    for path in sorted((workdir / "embeddings").glob("*.pkl")):
        sizes[f"cache {path.name}"] = path.stat().st_size
    sizes["catalogue CSV"] = (workdir / "data" / "catalog.csv").stat().st_size
    sizes["SQLite DB"] = (workdir / "bench.sqlite3").stat().st_size
    return sizes


def bench_queries(count: int) -> list[str]:
    """``count`` distinct Russian queries: the encoder benchmark's, then the dev set's."""
    from webapp.evaluation.queries import load_queries

    pool = [q.strip() for q in QUERIES.split(";") if q.strip()]
    pool += [q.query for q in load_queries(ROOT / "data" / "eval" / "dev_queries.jsonl")]
    pool = list(dict.fromkeys(pool))
    extra = (f"{a} {b}" for a in pool for b in pool if a != b)  # still distinct, if asked for more
    while len(pool) < count:
        pool.append(next(extra))
    return pool[:count]
