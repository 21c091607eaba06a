"""Benchmark: end-to-end ``GET /search`` on 25,000 items, ours against the naive pipeline.

Run ``make bench`` or ``.venv/bin/python benchmarks/bench_search.py [--quick] [--queries N]``.
This file is the runner; ``fixture.py`` builds the catalogue and caches, ``worker.py``
measures one configuration, ``naive.py`` is the baseline route, ``report.py`` prints.

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
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench_ruclip import ensure_model, timed
from fixture import ITEMS, ROOT, WORKDIR, artefact_sizes, prepare
from report import report_summary, report_worker
from worker import run_worker

CONFIGS = ("fp32:1", "fp32:2", "int8:1", "int8:2")
#: gunicorn.conf.py sets these to 1 for every worker (an export overrides them here too):
#: with numpy's OpenBLAS on its default 2 threads, USE's per-call thread limit toggling
#: made each query encode take 120-180 ms instead of 3 ms on the busy 2-core machine
MATH_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


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
            index = faiss.IndexScalarQuantizer(
                dim, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
            )
        elif kind == "ivf":
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, 256, faiss.METRIC_INNER_PRODUCT)
            index.nprobe = 16
        else:
            index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efSearch = 128
        index.train(vectors)
        index.add(vectors)
        return index

    def measure(
        indexes: Sequence[Any], search: Callable[[np.ndarray], object]
    ) -> tuple[float, float]:
        ms = [timed(lambda q=q: search(q)) for q in queries]
        found = [
            len(t & set(i.search(q[None], 100)[1][0].tolist())) / 100
            for q, sets in zip(queries, truth, strict=True)
            for i, t in zip(indexes, sets, strict=True)
        ]
        return statistics.median(ms), statistics.mean(found)

    exact = [build("flat", m) for m in matrices]
    truth = [[set(i.search(q[None], 100)[1][0].tolist()) for i in exact] for q in queries]
    rows = [
        (
            "Flat (exact: the app's)",
            *measure(exact, lambda q: [i.search(q[None], 100) for i in exact]),
            "",
        )
    ]
    with ThreadPoolExecutor(2) as pool:
        rows.append(
            (
                "Flat, the 4 searches on 2 threads",
                *measure(exact, lambda q: list(pool.map(lambda i: i.search(q[None], 100), exact))),
                "",
            )
        )
    kinds = [("sq8", "SQ8 (8-bit scalar quantiser)"), ("ivf", "IVF256,Flat nprobe=16")]
    for kind, label in kinds + ([("hnsw", "HNSW32 efSearch=128")] if hnsw else []):
        started = time.perf_counter()
        indexes = [build(kind, m) for m in matrices]
        note = f"build {time.perf_counter() - started:.1f}s"
        rows.append(
            (
                label,
                *measure(indexes, lambda q, ix=indexes: [i.search(q[None], 100) for i in ix]),
                note,
            )
        )
    return rows


def run_configs(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Run every configuration in a fresh process and collect its results."""
    results = []
    out = args.workdir / "results"
    out.mkdir(parents=True, exist_ok=True)
    for config in args.configs:
        target = out / f"{config.replace(':', '-t')}.json"
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            config,
            "--result",
            str(target),
            "--queries",
            str(args.queries),
            "--cached-repeats",
            str(args.cached_repeats),
            "--workdir",
            str(args.workdir),
            "--model-dir",
            str(args.model_dir),
        ]
        log = target.with_suffix(".log")  # the app's JSON request log, one line a request
        with log.open("wb") as stderr:
            done = subprocess.run(command, cwd=ROOT, stderr=stderr, check=False)
        if done.returncode:
            tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-30:]
            raise SystemExit(
                f"worker {config} failed ({done.returncode}); {log}:\n" + "\n".join(tail)
            )
        results.append(json.loads(target.read_text(encoding="utf-8")))
        report_worker(results[-1])
    return results


def _commit() -> str:
    """The checked-out commit (``+`` when the tree has changes), for the record."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    return (git("rev-parse", "--short", "HEAD") or "?") + (
        "+" if git("status", "--porcelain", "--", "webapp") else ""
    )


def main() -> None:
    """Parse options; set up the artefacts and run every configuration (or be one worker)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 30 queries, 1 cached repeat, int8:1 and fp32:1 only",
    )
    parser.add_argument("--queries", type=int, default=None, help="distinct queries [120]")
    parser.add_argument(
        "--cached-repeats", type=int, default=None, help="cached requests per query [3]"
    )
    parser.add_argument("--configs", default=None, help=f"tower:threads list [{','.join(CONFIGS)}]")
    parser.add_argument("--items", type=int, default=ITEMS, help=f"catalogue size [{ITEMS}]")
    parser.add_argument("--workdir", type=Path, default=WORKDIR)
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=None,
        help="ruCLIP folder [build/models/base-384, generated if missing]",
    )
    parser.add_argument(
        "--hnsw", action="store_true", help="add HNSW to the kNN what-if table (≈1 min to build)"
    )
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
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU(s), "
        f"Python {platform.python_version()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"load average {os.getloadavg()[0]:.2f}, commit {_commit()}"
    )
    print(
        "every process runs as gunicorn.conf.py runs a worker: "
        + " ".join(f"{var}={os.environ[var]}" for var in MATH_THREAD_VARS)
    )
    prepare(args.workdir, args.model_dir, args.items)
    print(f"\n{'artefact':<32} {'MiB':>9}")
    for name, size in artefact_sizes(args.workdir, args.model_dir).items():
        print(f"{name:<32} {size / 2**20:>9.2f}")
    results = run_configs(args)
    print(
        f"\nkNN what-if: the 4 spaces' top-100 with other FAISS indexes "
        f"({20 if args.quick else 50} random unit queries; not used by the app)"
    )
    print(f"{'index':<36} {'ms (4 spaces)':>13} {'recall@100':>11}")
    for label, ms, recall, note in knn_what_if(args.workdir, 20 if args.quick else 50, args.hnsw):
        print(f"{label:<36} {ms:>13.2f} {recall:>11.3f}  {note}")
    report_summary(results)
    if args.json:
        args.json.write_text(json.dumps(results), encoding="utf-8")
    print(f"\ntotal {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
