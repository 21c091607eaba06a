"""One server process of the scale benchmark, measured: start-up, memory, ``/api/search``.

Run by ``bench_scale.py`` in a fresh process per measurement, the way a gunicorn
worker starts: ``create_app`` + ``warm_up`` over ``--workdir`` (catalogue, caches,
prebuilt index), then every query through the Flask test client, uncached (all
caches cleared first) and cached (the same query again). Prints one JSON line.

Memory comes from ``/proc/self/smaps_rollup``: RSS counts every resident page,
PSS divides shared pages among the processes mapping them (a memory-mapped index
read by two workers counts half in each), and anonymous memory is what the process
adds on its own (heap: Python objects and copied arrays; mapped files are page cache).
USS (private pages) is anonymous memory plus file pages no other process maps; "file"
is the resident part of mapped files (page cache, shared with every process mapping it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def app_config(workdir: Path, index_type: str) -> dict[str, Any]:
    """The settings of a scale-benchmark server: the text space only, over ``workdir``."""
    return {
        "TESTING": False,
        "DATA_DIR": str(workdir / "data"),
        "CATALOG_CSV": "catalog.csv",
        "EMBEDDINGS_DIR": str(workdir / "embeddings"),
        "DATABASE_URL": f"sqlite:///{workdir / 'scale.sqlite3'}",
        "TEXT_ENCODER": "use",
        "IMAGE_ENCODER": "",
        "XMODAL_HEADS": "",
        "RUCLIP_MODEL_DIR": "",
        "INDEX_TYPE": index_type,
        "RATELIMIT_ENABLED": False,
        "RELOAD_POLL_SECONDS": 0,
        "LOG_LEVEL": "WARNING",  # not a request line per query on stderr
    }


def memory() -> dict[str, float]:
    """This process's RSS, PSS and anonymous (own heap) memory in MiB."""
    fields: dict[str, float] = {}
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines()[1:]:
        name, _, value = line.partition(":")
        fields[name] = int(value.split()[0]) / 1024
    return {
        "rss_mib": round(fields["Rss"]),
        "pss_mib": round(fields["Pss"]),
        "anon_mib": round(fields["Anonymous"]),
        "uss_mib": round(fields["Private_Clean"] + fields["Private_Dirty"]),
        "file_mib": round(fields["Rss"] - fields["Anonymous"]),
    }


def measure(workdir: Path, index_type: str, queries: list[str], hold: float) -> dict[str, Any]:
    """Start a server over ``workdir`` and time ``queries`` through ``/api/search`` (then
    wait ``hold`` seconds, so that a sibling started at the same time shares the pages)."""
    os.environ.setdefault("INSTANCE_PATH", str(workdir / "instance"))
    before_imports = memory()
    started = time.perf_counter()
    from webapp import create_app
    from webapp.lifecycle import warm_up

    imported = time.perf_counter()
    after_imports = memory()
    app = create_app(app_config(workdir, index_type))
    created = time.perf_counter()
    after_app = memory()
    engine = warm_up(app)
    startup = time.perf_counter() - started
    at_start = memory()
    client = app.test_client()
    uncached, cached = [], []
    for query in queries:
        engine.clear_caches()
        uncached.append(_get(client, query))
        cached.append(_get(client, query))
    time.sleep(hold)
    steps = {"imports": imported - started, "create_app": created - imported}
    steps |= {k: v / 1000 for k, v in engine.load_ms.items()}
    steps["first query"] = startup - sum(steps.values())  # warm_up primes the models
    return {
        "index": engine.describe()["spaces"]["text-use"]["index"],
        "startup_s": round(startup, 2),
        "startup_steps_s": {k: round(v, 3) for k, v in steps.items()},
        "memory_before_imports": before_imports,
        "memory_after_imports": after_imports,
        "memory_after_create_app": after_app,
        "memory_at_start": at_start,
        "memory_after": memory(),
        "api_uncached_ms": _summary(uncached),
        "api_cached_ms": _summary(cached),
    }


def measure_index(folder: Path, kind: str, queries: np.ndarray, hold: float) -> dict[str, Any]:
    """Memory of a process that only serves one space's index from ``folder``: mapped
    (``flat.faiss`` and ``ann.faiss``, as prebuilt) or, for ``kind`` ``pickle``, the
    float vectors read into the process and copied into an exact index, as a worker
    without a prebuilt index does."""
    from webapp.index.faiss_index import FaissIndex

    started = time.perf_counter()
    if kind == "pickle":
        index = FaissIndex.exact_over(np.load(folder / "vectors.npy"), use_gpu=False)
    else:
        ann = folder / "ann.faiss"
        index = FaissIndex.load(folder / "flat.faiss", ann if ann.is_file() else None, kind, {})
    load = time.perf_counter() - started
    for query in queries:
        index.search(query, 100)
    time.sleep(hold)  # a sibling started at the same time maps the same pages meanwhile
    return {"index": kind, "load_s": round(load, 3), "memory_after": memory()}


def _get(client: Any, query: str) -> float:
    """Milliseconds of one ``GET /api/search`` (which must answer 200)."""
    start = time.perf_counter()
    response = client.get("/api/search", query_string={"q": query})
    took = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        raise SystemExit(f"/api/search?q={query} answered {response.status_code}")
    return took


def _summary(samples: list[float]) -> dict[str, float]:
    """Median and 95th percentile, in ms."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50": round(statistics.median(ordered), 2), "p95": round(p95, 2)}


def main() -> None:
    """Measure one worker; print its JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="A server's folder: measure it whole.")
    parser.add_argument("--index-type", default="auto")
    parser.add_argument("--queries", type=Path, required=True, help="JSON list, or .npy.")
    parser.add_argument("--index-dir", type=Path, help="Measure only this built index.")
    parser.add_argument("--hold", type=float, default=0.0, help="Seconds to wait, then measure.")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.index_dir:
        result = measure_index(args.index_dir, args.index_type, np.load(args.queries), args.hold)
    else:
        queries = json.loads(args.queries.read_text(encoding="utf-8"))
        result = measure(args.workdir, args.index_type, queries, args.hold)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
