"""Benchmark: end-to-end ``GET /search`` on 25,000 items, ours against the naive pipeline.

Run ``make bench`` or ``.venv/bin/python benchmarks/bench_search.py [--quick] [--queries N]``.

What it sets up (once; later runs reuse it while it is current):

* the ``base-384`` ruCLIP folder in ``build/models/base-384`` (the published
  ruclip-vit-base-patch32-384 shape with random weights: the compute of the real model);
* ``build/bench/data/catalog.csv``: 25,000 designs made deterministically from
  the demo catalogue's Russian titles, tags and descriptions (the first 1,601
  rows *are* the demo catalogue, so emoji queries still match), images pointing
  at the demo images through ``build/bench/data/images`` → ``data/images``;
* ``build/bench/embeddings/*.pkl``: seeded random unit vectors for every space
  (``text-use``, ``ruclip-image``, ``ruclip-text``, ``ruclip-combined``), written
  with :func:`save_cache` under the real model ids and catalogue fingerprint;
* ``build/bench/bench.sqlite3``: the catalogue store.

Then each configuration (``fp32``/``int8`` query tower × ``TORCH_THREADS`` 1/2)
runs in its own process, the way a server worker would: ``create_app`` +
``warm_up`` (real FAISS, real SQLite, real templates), requests through the
Flask test client (in-process WSGI, no sockets). For every query, interleaved
so they share the machine's noise:

* **ours, uncached**: every query-vector cache (and the lemma caches) cleared first;
* **ours, cached**: the same query again (query vectors come from the LRU);
* **naive**: the source documents' pipeline behind a ``/naive-search`` route
  this script adds: ``RuCLIPProcessor`` with 77-token padding →
  ``CLIP.encode_text`` on all 77 tokens → FAISS ``IndexFlatL2`` over the 25k
  image vectors, no cache → the same DB lookup and ``search.html`` render.

Ratios (naive ÷ ours) are from the same process and the same queries.
"""

from __future__ import annotations

import argparse
import csv
import gc
import hashlib
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_ruclip import QUERIES, ensure_model, summary, timed  # noqa: E402

ITEMS = 25_000
PAGE = 24
WORKDIR = ROOT / "build" / "bench"
CONFIGS = ("fp32:1", "fp32:2", "int8:1", "int8:2")
TARGET_UNCACHED_MS, TARGET_CACHED_MS, TARGET_RATIO = 15.0, 3.0, 8.0
#: gunicorn.conf.py sets these to 1 for every worker (an export overrides them here too):
#: with numpy's OpenBLAS on its default 2 threads, USE's per-call thread limit toggling
#: made each query encode take 120-180 ms instead of 3 ms on the busy 2-core machine
MATH_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
COLUMNS = ("id", "title", "category", "subcategory", "tags", "description", "price", "image")
#: ways a design is varied into more designs (variant 0 is the demo design itself)
STYLES = ("", "акварелью", "в рамке", "с бантиком", "в венке из листьев", "контурный",
          "гладью", "крестиком", "аппликация", "в шляпе", "мини", "крупный", "винтажный",
          "для детской одежды", "с надписью", "в круге", "на полотенце", "в горошек")


# --- artefacts -----------------------------------------------------------------------
def bench_config(workdir: Path, model_dir: Path, *, quantize: bool = False,
                 threads: int = 0) -> dict[str, Any]:
    """The app configuration of the benchmark (everything under ``workdir``)."""
    return {"TESTING": False, "DATA_DIR": str(workdir / "data"), "CATALOG_CSV": "catalog.csv",
            "EMBEDDINGS_DIR": str(workdir / "embeddings"), "TEXT_ENCODER": "use",
            "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
            # text queries never search the image-only space; leave its 25k×1280 index out
            "IMAGE_ENCODER": "",
            "RUCLIP_MODEL_DIR": str(model_dir), "RUCLIP_QUANTIZE": quantize,
            "TORCH_THREADS": threads, "DEVICE": "cpu", "PAGE_SIZE": PAGE,
            # one client asks everything: the per-IP rate limit would answer 429
            "RATELIMIT_ENABLED": False}


def synthetic_rows(items: int) -> Iterator[dict[str, str]]:
    """``items`` catalogue rows made of the demo catalogue's words, deterministically."""
    from webapp.catalog.products import read_catalog

    demo = read_catalog(ROOT / "data" / "catalog.csv").products
    for i in range(items):
        base, variant = demo[i % len(demo)], i // len(demo)
        style = STYLES[variant % len(STYLES)]
        donor = demo[(i * 7919 + 13) % len(demo)]
        pid = base.id if variant == 0 else f"{base.id}-v{variant}"
        title = f"{base.title} {style}".strip()
        tags = list(dict.fromkeys([*base.tags, *(donor.tags[:2] if variant else ()),
                                   *([style] if style else [])]))
        section = " / ".join(s.lower() for s in (base.category, base.subcategory) if s)
        words = ", ".join(tags[:-1]) + (f" и {tags[-1]}" if len(tags) > 1 else "".join(tags))
        price = 100 + 10 * (int(hashlib.sha1(pid.encode()).hexdigest()[:8], 16) % 290)
        yield {"id": pid, "title": title, "category": base.category,
               "subcategory": base.subcategory, "tags": "; ".join(tags),
               "description": (f"Дизайн машинной вышивки «{title.lower()}» из раздела «{section}». "
                               f"Цветной мотив в стиле эмодзи. Ключевые слова: {words}."),
               "price": str(price), "image": base.image}


def write_catalog(workdir: Path, items: int) -> Path:
    """Write the synthetic CSV (only when its content changed) and link the demo images."""
    data = workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    images = data / "images"
    if not images.exists():
        images.symlink_to(ROOT / "data" / "images", target_is_directory=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(synthetic_rows(items))
    path = data / "catalog.csv"
    if not path.is_file() or path.read_text(encoding="utf-8") != buffer.getvalue():
        path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def write_caches(app: Any, seed: int = 0) -> list[str]:
    """Seeded random unit vectors for every configured space, as real caches; return rebuilt."""
    from webapp.catalog.embed import combine, item_digest
    from webapp.catalog.embedding_cache import (
        CacheError,
        EmbeddingCache,
        cache_path,
        load_cache,
        save_cache,
    )
    from webapp.catalog.products import read_catalog
    from webapp.encoders.base import l2_normalise
    from webapp.encoders.spaces import configured_spaces

    cfg = app.config
    data, out = Path(cfg["DATA_DIR"]), Path(cfg["EMBEDDINGS_DIR"])
    catalog = read_catalog(data / cfg["CATALOG_CSV"])
    spaces = configured_spaces(cfg)  # the real encoders, for their model ids
    built: dict[str, EmbeddingCache] = {}
    rebuilt = []
    for number, space in enumerate(sorted(spaces, key=lambda s: s.kind == "combined")):
        path = cache_path(out, space.name)
        try:
            built[space.name] = load_cache(path, model=space.model_id,
                                           catalog_fingerprint=catalog.fingerprint)
            continue
        except CacheError:
            rebuilt.append(space.name)
        if space.kind == "combined":
            cache = combine(space, [built[name] for name in space.parts])
        else:
            rng = np.random.default_rng(seed + number)
            vectors = l2_normalise(rng.standard_normal((len(catalog.products), space.dim),
                                                       dtype=np.float32))
            cache = EmbeddingCache(space.name, space.model_id, space.kind, space.dim,
                                   catalog.ids(), vectors, catalog.fingerprint,
                                   [item_digest(space, p, data) for p in catalog.products])
        save_cache(cache, out)
        built[space.name] = cache
    return rebuilt


def prepare(workdir: Path, model_dir: Path, items: int) -> None:
    """Catalogue, database and caches in ``workdir``, rebuilt only where stale."""
    from webapp import create_app
    from webapp.catalog.products import read_catalog

    started = time.perf_counter()
    write_catalog(workdir, items)
    os.environ.setdefault("INSTANCE_PATH", str(workdir / "instance"))
    app = create_app(bench_config(workdir, model_dir))
    catalog = read_catalog(workdir / "data" / "catalog.csv")
    if catalog.problems:
        raise SystemExit(f"synthetic catalogue has bad rows: {catalog.report()[:500]}")
    app.extensions["store"].sync(catalog)
    rebuilt = write_caches(app)
    print(f"artefacts ready in {time.perf_counter() - started:.1f}s "
          f"({len(catalog.products)} items; caches rebuilt: {', '.join(rebuilt) or 'none'})")


def artefact_sizes(workdir: Path, model_dir: Path) -> dict[str, int]:
    """Bytes of every artefact the benchmarked server reads."""
    from webapp.encoders.ruclip_models import folder_sizes

    sizes = {f"model {name}": size for name, size in folder_sizes(model_dir).items()}
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


def knn_what_if(workdir: Path, count: int, hnsw: bool) -> list[tuple[str, float, float, str]]:
    """kNN over the four 25k caches with other FAISS index types (not what the app uses).

    Returns (index, median ms for all four spaces, recall@100 vs exact, note). Item
    vectors are random, the worst case for IVF/HNSW (no clusters), so their recall
    here is a floor, not an estimate: measure it on real embeddings before adopting one.
    """
    from concurrent.futures import ThreadPoolExecutor

    import faiss

    from webapp.catalog.embedding_cache import read_cache

    faiss.omp_set_num_threads(1)  # as in a worker (this process imported torch before main)
    matrices = [read_cache(p).vectors for p in sorted((workdir / "embeddings").glob("*.pkl"))]
    dim = matrices[0].shape[1]
    rng = np.random.default_rng(7)
    queries = rng.standard_normal((count, dim), dtype=np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)

    def build(kind: str, vectors: np.ndarray) -> Any:
        if kind == "flat":
            index = faiss.IndexFlatIP(dim)
        elif kind == "sq8":
            index = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_8bit,
                                               faiss.METRIC_INNER_PRODUCT)
        elif kind == "ivf":
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, 256,
                                       faiss.METRIC_INNER_PRODUCT)
            index.nprobe = 16
        else:
            index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efSearch = 128
        index.train(vectors)
        index.add(vectors)
        return index

    def measure(indexes: Sequence[Any], search: Callable[[np.ndarray], object]) -> tuple[float,
                                                                                        float]:
        ms = [timed(lambda q=q: search(q)) for q in queries]
        found = [len(t & set(i.search(q[None], 100)[1][0].tolist())) / 100
                 for q, sets in zip(queries, truth, strict=True)
                 for i, t in zip(indexes, sets, strict=True)]
        return statistics.median(ms), statistics.mean(found)

    exact = [build("flat", m) for m in matrices]
    truth = [[set(i.search(q[None], 100)[1][0].tolist()) for i in exact] for q in queries]
    rows = [("Flat (exact: the app's)",
             *measure(exact, lambda q: [i.search(q[None], 100) for i in exact]), "")]
    with ThreadPoolExecutor(2) as pool:
        rows.append(("Flat, the 4 searches on 2 threads", *measure(
            exact, lambda q: list(pool.map(lambda i: i.search(q[None], 100), exact))), ""))
    kinds = [("sq8", "SQ8 (8-bit scalar quantiser)"), ("ivf", "IVF256,Flat nprobe=16")]
    for kind, label in kinds + ([("hnsw", "HNSW32 efSearch=128")] if hnsw else []):
        started = time.perf_counter()
        indexes = [build(kind, m) for m in matrices]
        note = f"build {time.perf_counter() - started:.1f}s"
        rows.append((label, *measure(indexes, lambda q, ix=indexes: [i.search(q[None], 100)
                                                                     for i in ix]), note))
    return rows


# --- the worker: one configuration in one process --------------------------------------
@dataclass
class Sample:
    """One request: wall-clock ms and the per-stage ms the app recorded."""

    total: float
    stages: dict[str, float]
    hits: int


class RenderClock:
    """Per-request stage timings: the search core's own plus the template render."""

    def __init__(self, app: Any) -> None:
        """Listen to ``app``'s template signals."""
        from flask import before_render_template, template_rendered

        self.started = 0.0
        self.stages: dict[str, float] = {}
        self.hits = 0
        before_render_template.connect(self._before, app)
        template_rendered.connect(self._after, app)

    def _before(self, sender: Any, template: Any, context: dict[str, Any], **extra: Any) -> None:
        self.started = time.perf_counter()

    def _after(self, sender: Any, template: Any, context: dict[str, Any], **extra: Any) -> None:
        render = (time.perf_counter() - self.started) * 1e3
        result = context.get("result")
        self.stages = {**(result.timings if result else {}), "render": render}
        self.hits = len(result.hits) if result else 0

    def get(self, client: Any, path: str, query: str) -> Sample:
        """GET ``path?q=query`` and return its timings."""
        self.stages, self.hits = {}, 0
        start = time.perf_counter()
        response = client.get(path, query_string={"q": query})
        total = (time.perf_counter() - start) * 1e3
        if response.status_code != 200:
            raise SystemExit(f"{path}?q={query} answered {response.status_code}")
        return Sample(total, dict(self.stages), self.hits)


def naive_blueprint(engine: Any, clip: Any) -> Any:
    """``/naive-search``: the source documents' pipeline over the same store and template."""
    import faiss
    import torch
    from flask import Blueprint, render_template, request

    from webapp.search.engine import Hit, SearchRequest, SearchResult
    from webapp.search.timing import Timer

    image_vectors = engine.indexes["ruclip-image"].vectors
    index = faiss.IndexFlatL2(image_vectors.shape[1])
    index.add(image_vectors)
    bp = Blueprint("naive", __name__)

    @bp.get("/naive-search")
    def naive_search() -> str:
        req = SearchRequest(request.args.get("q", ""), per_page=PAGE)
        timer = Timer()
        with timer.stage("tokenise"):
            ids = clip.processor(text=[req.query])["input_ids"]  # padded to 77
        with timer.stage("encode"), torch.inference_mode():
            vector = clip.model.encode_text(ids.to(clip.device)).float().cpu().numpy()
            vector /= np.linalg.norm(vector, axis=1, keepdims=True)
        with timer.stage("knn"):
            distances, rows = index.search(vector, PAGE)
        with timer.stage("lookup"):
            products = engine.store.get_many([engine.products[r].id for r in rows[0].tolist()])
        hits = [Hit(p, round(float(d), 4), {"signals": {"ruclip-image": {"score": float(d)}}})
                for p, d in zip(products, distances[0].tolist(), strict=True)]
        result = SearchResult(req, None, len(hits), hits, timer.stages)
        return render_template("search.html", req=req, result=result, error=None,
                               categories=engine.store.categories())

    return bp


def clear_query_caches(engine: Any) -> None:
    """Forget every cached query vector and lemma, so the next query is served cold."""
    from webapp.search import query

    engine.ranker.clear_caches()  # query vectors and ranked lists
    for space in engine.spaces:
        lru = getattr(space.encoder, "_cache", None)  # RuCLIPEncoder's own QueryCache
        if lru is not None:
            space.encoder._cache = type(lru)(lru.size)
    for name in ("_lemma", "_is_noun_lemma", "_is_russian_word", "diminutive_bases"):
        cached = getattr(query, name, None)  # per-word lru_caches (not the analyser itself)
        if cached is not None:
            cached.cache_clear()


def micro_stages(engine: Any, queries: Sequence[str]) -> dict[str, list[float]]:
    """Per-space encode and kNN, and both tokenisers, on cold caches, outside a request."""
    clip = next(s.encoder for s in engine.spaces if s.name.startswith("ruclip"))
    out: dict[str, list[float]] = {}

    def add(name: str, fn: Callable[[], object]) -> None:
        out.setdefault(name, []).append(timed(fn))

    for q in queries:
        clear_query_caches(engine)
        text = engine.understanding.parse(q).text or q
        add("tokenise: ruclip processor (77 ids)", lambda q=q: clip.processor(text=[q]))
        add("tokenise: ours (real ids)", lambda text=text: clip.tokenize(text))
        vectors = {}
        text_spaces = [s for s in engine.spaces if s.encoder is not None]
        for space in text_spaces:
            if space.encoder.model_id in vectors:
                continue  # one encoder behind several spaces: encoded once per query
            encoder = space.encoder
            tower = "int8" if getattr(encoder, "quantized", False) else "fp32"
            label = (f"encode: ruclip query tower ({tower})" if encoder is clip
                     else f"encode: {space.name}")
            start = time.perf_counter()
            vectors[encoder.model_id] = encoder.encode_query(text)
            out.setdefault(label, []).append((time.perf_counter() - start) * 1e3)
        for space in text_spaces:
            vector = vectors[space.encoder.model_id]
            add(f"kNN: {space.name} (FlatIP, k=100)",
                lambda name=space.name, v=vector: engine.indexes[name].search(v, 100))
    return out


def run_worker(args: argparse.Namespace) -> dict[str, Any]:
    """Measure one configuration (``fp32:1`` …) in this process; return the samples."""
    import torch

    from webapp import create_app
    from webapp.lifecycle import warm_up

    tower, threads = args.worker.split(":")
    started = time.perf_counter()
    os.environ.setdefault("INSTANCE_PATH", str(args.workdir / "instance"))
    app = create_app(bench_config(args.workdir, args.model_dir, quantize=tower == "int8",
                                  threads=int(threads)))
    engine = warm_up(app)
    startup = time.perf_counter() - started
    clip = next(s.encoder for s in engine.spaces if s.name == "ruclip-image")
    app.register_blueprint(naive_blueprint(engine, clip))
    client, clock = app.test_client(), RenderClock(app)
    queries = bench_queries(args.queries)
    for q in ("котик", "ёлка", "rjn", "🐓"):  # warm-up: allocator, thread pools, kernels
        clock.get(client, "/search", q)
        clock.get(client, "/naive-search", q)
    samples: dict[str, list[Sample]] = {
        "uncached": [], "cached": [], "naive": [],
        "api cached": [],  # GET /api/search, same query again: JSON, no template
        "healthz": [],  # GET /healthz: the per-request floor of Flask and its middleware
    }
    gc.collect()
    for q in queries:  # interleaved, so all three paths share the machine's noise
        clear_query_caches(engine)
        samples["uncached"].append(clock.get(client, "/search", q))
        for _ in range(args.cached_repeats):
            samples["cached"].append(clock.get(client, "/search", q))
        samples["naive"].append(clock.get(client, "/naive-search", q))
        samples["api cached"].append(clock.get(client, "/api/search", q))
        samples["healthz"].append(clock.get(client, "/healthz", q))
    return {
        "config": args.worker, "tower": tower, "threads": int(threads),
        "torch_threads": torch.get_num_threads(), "quantized": bool(clip.quantized),
        "startup_s": round(startup, 1), "queries": len(queries),
        "load_average": os.getloadavg()[0],
        "e2e": {k: [s.total for s in v] for k, v in samples.items()},
        "stages": {k: _stage_lists(v) for k, v in samples.items()},
        "answered": sum(s.hits > 0 for s in samples["uncached"]) / len(queries),
        "micro": micro_stages(engine, queries),
    }


def _stage_lists(samples: Sequence[Sample]) -> dict[str, list[float]]:
    """Stage name → its ms in every sample (0 where a request skipped the stage)."""
    names = list(dict.fromkeys(name for s in samples for name in s.stages))
    return {name: [s.stages.get(name, 0.0) for s in samples] for name in names}


# --- reporting -------------------------------------------------------------------------
def fmt(values: Sequence[float]) -> str:
    """``median / p95`` of ``values`` in ms."""
    median, p95 = summary(list(values))
    return f"{median:8.2f} / {p95:8.2f}"


def report_worker(result: dict[str, Any]) -> None:
    """Print one configuration's per-stage and end-to-end tables."""
    print(f"\n=== {result['config']}: {result['tower']} query tower, TORCH_THREADS="
          f"{result['threads']} (torch uses {result['torch_threads']}), start-up "
          f"{result['startup_s']}s, {result['queries']} queries, "
          f"{result['answered']:.0%} answered with results, load avg {result['load_average']:.2f}")
    stages = result["stages"]
    print(f"{'stage (in-request), ms: median / p95':<40} {'ours uncached':>19} "
          f"{'ours cached':>19} {'naive':>19}")
    names = list(dict.fromkeys([*stages["uncached"], *stages["naive"]]))
    for name in names:
        cells = [fmt(stages[k][name]) if name in stages[k] else f"{'—':>19}"
                 for k in ("uncached", "cached", "naive")]
        print(f"{name:<40} {cells[0]:>19} {cells[1]:>19} {cells[2]:>19}")
    e2e = result["e2e"]
    print(f"{'GET /search end to end':<40} {fmt(e2e['uncached']):>19} {fmt(e2e['cached']):>19} "
          f"{fmt(e2e['naive']):>19}")
    print(f"{'GET /api/search (JSON), end to end':<40} {'':>19} {fmt(e2e['api cached']):>19}")
    print(f"{'GET /healthz (framework floor)':<40} {fmt(e2e['healthz']):>19}")
    print(f"{'stage (cold, outside a request), ms':<40} {'median / p95':>19}")
    for name, values in result["micro"].items():
        print(f"{name:<40} {fmt(values):>19}")


def ratios(result: dict[str, Any]) -> dict[str, float]:
    """p50/p95 of ours and naive, and naive ÷ ours, uncached and cached."""
    e2e = result["e2e"]
    out = {}
    for key in ("uncached", "cached", "naive"):
        out[f"{key}_p50"], out[f"{key}_p95"] = summary(e2e[key])
    for key in ("uncached", "cached"):
        for pct in ("p50", "p95"):
            out[f"ratio_{key}_{pct}"] = out[f"naive_{pct}"] / out[f"{key}_{pct}"]
    return out


def report_summary(results: Sequence[dict[str, Any]]) -> None:
    """The comparison table across configurations, with the targets checked."""
    print("\nsummary: GET /search through the Flask test client, ms (p50 / p95); "
          "× = naive ÷ ours, same run")
    print(f"{'config':<8} {'uncached':>15} {'cached':>13} {'naive':>13} {'× uncached':>13} "
          f"{'× cached':>13}  targets (uncached, cached, ×)")
    for result in results:
        r = ratios(result)
        met = [r["uncached_p50"] <= TARGET_UNCACHED_MS, r["cached_p50"] <= TARGET_CACHED_MS,
               r["ratio_uncached_p50"] >= TARGET_RATIO]
        cells = [f"{r['uncached_p50']:.1f} / {r['uncached_p95']:.0f}",
                 f"{r['cached_p50']:.1f} / {r['cached_p95']:.1f}",
                 f"{r['naive_p50']:.0f} / {r['naive_p95']:.0f}",
                 f"{r['ratio_uncached_p50']:.1f} / {r['ratio_uncached_p95']:.1f}",
                 f"{r['ratio_cached_p50']:.0f} / {r['ratio_cached_p95']:.0f}"]
        print(f"{result['config']:<8} {cells[0]:>15} {cells[1]:>13} {cells[2]:>13} "
              f"{cells[3]:>13} {cells[4]:>13}  " + " ".join("ok" if ok else "MISS" for ok in met))
    print(f"targets: uncached p50 ≤ {TARGET_UNCACHED_MS:g} ms · cached p50 ≤ "
          f"{TARGET_CACHED_MS:g} ms · naive ÷ ours (uncached p50) ≥ {TARGET_RATIO:g}×")


def run_configs(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Run every configuration in a fresh process and collect its results."""
    results = []
    out = args.workdir / "results"
    out.mkdir(parents=True, exist_ok=True)
    for config in args.configs:
        target = out / f"{config.replace(':', '-t')}.json"
        command = [sys.executable, str(Path(__file__).resolve()), "--worker", config,
                   "--result", str(target), "--queries", str(args.queries),
                   "--cached-repeats", str(args.cached_repeats),
                   "--workdir", str(args.workdir), "--model-dir", str(args.model_dir)]
        log = target.with_suffix(".log")  # the app's JSON request log, one line a request
        with log.open("wb") as stderr:
            done = subprocess.run(command, cwd=ROOT, stderr=stderr, check=False)
        if done.returncode:
            tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-30:]
            raise SystemExit(f"worker {config} failed ({done.returncode}); {log}:\n"
                             + "\n".join(tail))
        results.append(json.loads(target.read_text(encoding="utf-8")))
        report_worker(results[-1])
    return results


def _commit() -> str:
    """The checked-out commit (``+`` when the tree has changes), for the record."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=False).stdout.strip()
    return (git("rev-parse", "--short", "HEAD") or "?") + ("+" if git("status", "--porcelain",
                                                                      "--", "webapp") else "")


def main() -> None:
    """Parse options; set up the artefacts and run every configuration (or be one worker)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 30 queries, 1 cached repeat, int8:1 and fp32:1 only")
    parser.add_argument("--queries", type=int, default=None, help="distinct queries [120]")
    parser.add_argument("--cached-repeats", type=int, default=None,
                        help="cached requests per query [3]")
    parser.add_argument("--configs", default=None,
                        help=f"tower:threads list [{','.join(CONFIGS)}]")
    parser.add_argument("--items", type=int, default=ITEMS, help=f"catalogue size [{ITEMS}]")
    parser.add_argument("--workdir", type=Path, default=WORKDIR)
    parser.add_argument("--model-dir", type=Path, default=None,
                        help="ruCLIP folder [build/models/base-384, generated if missing]")
    parser.add_argument("--hnsw", action="store_true",
                        help="add HNSW to the kNN what-if table (≈1 min to build)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, default=None, help="also write all results here")
    args = parser.parse_args()
    args.workdir = args.workdir.resolve()
    args.queries = args.queries or (30 if args.quick else 120)
    args.cached_repeats = args.cached_repeats or (1 if args.quick else 3)
    configs = args.configs or ("int8:1,fp32:1" if args.quick else ",".join(CONFIGS))
    args.configs = [c.strip() for c in configs.split(",") if c.strip()]
    for var in MATH_THREAD_VARS:  # inherited by the workers, read as their libraries load
        os.environ.setdefault(var, "1")
    if args.worker:
        args.result.write_text(json.dumps(run_worker(args)), encoding="utf-8")
        return
    started = time.perf_counter()
    args.model_dir = ensure_model(args.model_dir).resolve()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU(s), "
          f"Python {platform.python_version()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
          f"load average {os.getloadavg()[0]:.2f}, commit {_commit()}")
    print("every process runs as gunicorn.conf.py runs a worker: "
          + " ".join(f"{var}={os.environ[var]}" for var in MATH_THREAD_VARS))
    prepare(args.workdir, args.model_dir, args.items)
    print(f"\n{'artefact':<32} {'MiB':>9}")
    for name, size in artefact_sizes(args.workdir, args.model_dir).items():
        print(f"{name:<32} {size / 2**20:>9.2f}")
    results = run_configs(args)
    print(f"\nkNN what-if: the 4 spaces' top-100 with other FAISS indexes "
          f"({20 if args.quick else 50} random unit queries; not used by the app)")
    print(f"{'index':<36} {'ms (4 spaces)':>13} {'recall@100':>11}")
    for label, ms, recall, note in knn_what_if(args.workdir, 20 if args.quick else 50,
                                               args.hnsw):
        print(f"{label:<36} {ms:>13.2f} {recall:>11.3f}  {note}")
    report_summary(results)
    if args.json:
        args.json.write_text(json.dumps(results), encoding="utf-8")
    print(f"\ntotal {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
