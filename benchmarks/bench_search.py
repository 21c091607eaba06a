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
* ``build/bench/embeddings/*.pkl``: the encoders' own vectors for every space
  (``text-use``, ``ruclip-image``, ``ruclip-text``, ``ruclip-combined``), made by the
  app's embedding pipeline (``bench_vectors.py``; each distinct picture encoded once),
  and beside them the index files the app's ``index`` command prebuilds for the index
  ``INDEX_TYPE=auto`` picks;
* ``build/bench/bench.sqlite3``: the catalogue store.

and beside the model, ``build/models/base-384-onnx``: the query tower exported to ONNX
(int8 and fp32), as ``flask --app webapp export-text-model --precision all`` writes it.

Then each configuration (the query tower: ``ort-int8`` / ``ort-fp32`` in ONNX Runtime,
``int8`` / ``fp32`` in torch; × threads) runs in its own process, the way a server
worker would: ``create_app`` + ``warm_up`` (real FAISS, real SQLite, real templates),
requests through the Flask test client (in-process WSGI, no sockets). For every
query, interleaved so they share the machine's noise:

* **ours, uncached**: every query-vector cache (and the lemma caches) cleared first;
* **ours, cached**: the same query again (query vectors come from the LRU);
* **naive**: the source documents' pipeline behind a ``/naive-search`` route
  this script adds: ``RuCLIPProcessor`` with 77-token padding →
  ``CLIP.encode_text`` on all 77 tokens → FAISS ``IndexFlatL2`` over the 25k
  image vectors, no cache → the same DB lookup and ``search.html`` render.

Ratios (naive ÷ ours) are from the same process and the same queries. Each worker then
compares its top 10 with the exact path's (the fp32 torch tower over exact flat indexes:
what approximation, if any, changed). Last, every
FAISS index type is measured on the same caches with the queries' real vectors
(``knn_choice.py``): ms and recall@100 against exact, per space and together.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench_ruclip import ensure_model
from fixture import ITEMS, ROOT, WORKDIR, artefact_sizes, bench_config, bench_queries, prepare
from knn_choice import one_batch, query_vectors, sweep
from report import report_knn, report_summary, report_worker
from worker import run_worker

#: query tower (torch fp32/int8, ONNX Runtime ort-fp32/ort-int8) : torch/ORT threads
CONFIGS = ("ort-int8:1", "int8:1", "ort-fp32:1", "fp32:1")
#: gunicorn.conf.py sets these to 1 for every worker (an export overrides them here too):
#: with numpy's OpenBLAS on its default 2 threads, USE's per-call thread limit toggling
#: made each query encode take 120-180 ms instead of 3 ms on the busy 2-core machine
MATH_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def knn_by_index(args: argparse.Namespace) -> None:
    """Measure every index type on the caches with the real query vectors, and print it
    beside what the app itself serves (see :mod:`knn_choice`)."""
    from webapp import create_app
    from webapp.catalog.embedding_cache import cache_path, read_cache
    from webapp.lifecycle import warm_up

    app = create_app(bench_config(args.workdir, args.model_dir, quantize=True, threads=1))
    engine = warm_up(app)
    queries = query_vectors(engine, bench_queries(args.queries))
    served = {name: engine.describe()["spaces"][name] for name in queries}
    directory = args.workdir / "embeddings"
    vectors = {name: read_cache(cache_path(directory, name)).vectors for name in queries}
    del engine, app
    rows = sweep(vectors, queries)
    pair = [name for name in queries if name.startswith("ruclip-")]
    joint = one_batch(vectors, queries, pair) if len(pair) == 2 else []
    report_knn(rows, joint, served)


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
        help="smoke run: 30 queries, 1 cached repeat, ort-int8:1 and int8:1 only",
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
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, default=None, help="also write all results here")
    args = parser.parse_args()
    args.workdir = args.workdir.resolve()
    args.queries = args.queries or (30 if args.quick else 120)
    args.cached_repeats = args.cached_repeats or (1 if args.quick else 3)
    configs = args.configs or ("ort-int8:1,int8:1" if args.quick else ",".join(CONFIGS))
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
    knn_by_index(args)
    report_summary(results)
    if args.json:
        args.json.write_text(json.dumps(results), encoding="utf-8")
    print(f"\ntotal {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
