"""Benchmark: vector indexes and the whole server at 100k and 1M designs (docs/scaling.md).

Run ``make bench-scale`` or ``.venv/bin/python benchmarks/bench_scale.py [--sizes 100000]``.
Everything is cached under ``build/scale/`` (corpus vectors, built indexes, the
servers' catalogues, caches and databases), so a second run starts measuring at once.

For each size:

* **kNN**, on the corpus's real USE vectors (``scale_corpus.py``) and the 63 shopper
  queries encoded by the same model: for the exact index and each approximate type
  and search parameter, p50/p95 of k = 100 (the engine's candidates per signal),
  recall@10 and @100 against exact, build time, size on disk, load (memory-map) time,
  and the same for a category filter (about 1/9 of the designs) and a price band;
* **memory**: two processes serving the same prebuilt HNSW index at once (mapped),
  RSS and PSS each (``scale_worker.py``), beside two that each copy the vectors into
  an exact in-memory index, as a worker without a prebuilt index does;
* **the server**: one worker's start-up (imports, ``create_app``, ``warm_up`` by step), its
  memory (own and shared), and ``/api/search`` p50 uncached and cached, with the index
  ``INDEX_TYPE=auto`` picks, for each source tree named by ``--trees`` (the same folder
  served by the code before and after a change), ``--workers`` at once
  (``scale_server.py``); the catalogue's mapped artifacts are built first, timed by step;
* **columns**: the product table as ``.npy`` string columns, Arrow IPC and Parquet
  (``scale_columns.py``);
* at 100k, **Milvus Lite** beside exact FAISS (``bench_milvus.run``).

Results go to ``build/scale/report-<size>.json`` and are printed as tables.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

import scale_columns
import scale_corpus
from fixture import ROOT
from scale_server import bench_server, built_index, catalogue_artifacts, result, worker
from webapp.catalog.facets import Facets, Filters
from webapp.index.base import Where
from webapp.index.choice import auto_index, parse_params
from webapp.index.faiss_index import FaissIndex

K = 100
#: approximate index types and the search parameters swept for each
SWEEP = {
    "hnsw": ("efSearch=128", "efSearch=256", "efSearch=512", "efSearch=1024"),
    "ivf-sq8": ("nprobe=16,rerank=2", "nprobe=48,rerank=2", "nprobe=128,rerank=2"),
    "hnsw-sq8": ("efSearch=256,rerank=2", "efSearch=1024,rerank=2"),
}
FILTERS = {
    "category": Filters(category="Животные и природа"),
    "price": Filters(price_min=500, price_max=900),
}


def ms(fn: Any) -> float:
    """Milliseconds one call of ``fn`` takes."""
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def percentiles(samples: list[float]) -> tuple[float, float]:
    """Median and 95th percentile."""
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[round(0.95 * (len(ordered) - 1))]


def recall(found: list[np.ndarray], truth: list[np.ndarray], k: int) -> float:
    """Mean share of the exact top-``k`` that the index's top-``k`` holds."""
    return float(
        np.mean([len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, truth, strict=True)])
    )


def knn_row(index: FaissIndex, queries: np.ndarray, where: Where | None, truth) -> dict:
    """p50/p95 of k-NN with ``index`` and its recall against ``truth`` (exact rows)."""
    for q in queries:  # one untimed pass: a freshly mapped index faults its pages in
        index.search(q, K, where)
    found, times = [], []
    for q in queries:
        times.append(ms(lambda q=q: found.append(index.search(q, K, where)[0])))
    p50, p95 = percentiles(times)
    return {
        "p50_ms": round(p50, 2),
        "p95_ms": round(p95, 2),
        "recall@10": round(recall(found, truth, 10), 4),
        "recall@100": round(recall(found, truth, 100), 4),
    }


def bench_knn(items: int, vectors: np.ndarray, queries: np.ndarray, facets: Facets) -> list:
    """Every index type and parameter, unfiltered and filtered."""
    exact = FaissIndex.exact_over(vectors, use_gpu=False)
    wheres = {"none": None} | {n: Where(facets.mask(f), f) for n, f in FILTERS.items()}
    truth = {n: [exact.search(q, K, w)[0] for q in queries] for n, w in wheres.items()}
    rows = []
    for kind in ("flat", *SWEEP):
        index, info = built_index(items, vectors, kind)
        for params in SWEEP.get(kind, ("",)):
            index.params = {**index.params, **parse_params(params)}
            for name, where in wheres.items():
                row = knn_row(index, queries, where, truth[name])
                rows.append({"kind": info["kind"], "params": params, "filter": name, **row})
                if name == "none":
                    rows[-1] |= {
                        "build_s": round(info["build_s"], 1),
                        "disk_mib": round(sum(info["bytes"].values()) / 2**20),
                        "load_ms": round(info["load_s"] * 1000, 1),
                    }
                print(json.dumps(rows[-1]), flush=True)
        del index
    return rows


def bench_memory(items: int, vectors: np.ndarray, queries: np.ndarray) -> list[dict]:
    """Two processes at once serving the same prebuilt index (mapped), against two that
    each read the vectors and copy them into an exact index (a pickle-loading worker)."""
    folder = scale_corpus.WORKDIR / "indexes" / str(items)
    listing = folder / "queries.npy"
    np.save(listing, queries)
    if not (folder / "vectors.npy").is_file():
        np.save(folder / "vectors.npy", vectors)
    large = auto_index(items) if auto_index(items) != "flat" else "hnsw"
    mapped = built_index(items, vectors, large)[1]["kind"]  # built once; unmapped again here
    results = []
    for kind, where in (("pickle", folder), (mapped, folder / large)):
        pair = [
            worker(
                f"--index-dir={where}", f"--index-type={kind}", f"--queries={listing}", "--hold=5"
            )
            for _ in range(2)
        ]
        for number, process in enumerate(pair):
            results.append({"workers": 2, "worker": number, **result(process)})
            print(json.dumps(results[-1]), flush=True)
    return results


def print_tables(report: dict[str, Any]) -> None:
    """The report as Markdown tables, each index against exact search in the same run."""
    knn = report.get("knn", [])
    exact = {r["filter"]: r["p50_ms"] for r in knn if r["kind"] == "Flat"}
    if knn:
        print("\n| index | params | filter | p50 ms | p95 ms | × exact | recall@10 | recall@100 |")
        print("|---|---|---|---|---|---|---|---|")
        for r in knn:
            speedup = exact[r["filter"]] / max(r["p50_ms"], 1e-3)
            print(
                f"| {r['kind']} | {r['params'] or '—'} | {r['filter']} | {r['p50_ms']} | "
                f"{r['p95_ms']} | {speedup:.1f} | {r['recall@10']} | {r['recall@100']} |"
            )
        print("\n| index | build s | disk MiB | map/load ms |\n|---|---|---|---|")
        built = {r["kind"]: r for r in knn if "build_s" in r}  # one row per index
        for r in built.values():
            print(f"| {r['kind']} | {r['build_s']} | {r['disk_mib']} | {r['load_ms']} |")
    for r in report.get("memory", []):
        m = r["memory_after"]
        print(
            f"memory: {r['index']} worker {r['worker']} of {r['workers']}: RSS "
            f"{m['rss_mib']} MiB, PSS {m['pss_mib']}, anonymous {m['anon_mib']}"
        )
    if "server" in report:
        print_server(report["server"])


def print_server(server: dict[str, Any]) -> None:
    """Start-up by step, memory and ``/api/search`` of each tree's workers, side by side."""
    trees = [label for label in server if label != "artifacts"]
    print(f"\nartifacts: {json.dumps(server['artifacts'])}")
    print("\n| | " + " | ".join(f"{t} (worker {i})" for t in trees for i in range(len(server[t]))))
    print("|---" * (1 + sum(len(server[t]) for t in trees)) + "|")
    runs = [run for t in trees for run in server[t]]
    steps = list(dict.fromkeys(s for run in runs for s in run["startup_steps_s"]))
    rows = [("ready, s", lambda r: r["startup_s"])]
    rows += [(f"  {s}", lambda r, s=s: r["startup_steps_s"].get(s, "—")) for s in steps]
    for when in ("memory_at_start", "memory_after"):
        for kind in ("anon_mib", "uss_mib", "pss_mib", "rss_mib", "file_mib"):
            rows.append((f"{when} {kind}", lambda r, w=when, k=kind: r[w][k]))
    for name in ("api_uncached_ms", "api_cached_ms"):
        rows.append((f"{name} p50 / p95", lambda r, n=name: f"{r[n]['p50']} / {r[n]['p95']}"))
    for label, value in rows:
        print(f"| {label} | " + " | ".join(str(value(run)) for run in runs) + " |")


def main() -> None:
    """Measure each size; write and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in scale_corpus.SIZES))
    parser.add_argument(
        "--skip", default="", help="Parts to skip: knn,memory,server,milvus,columns."
    )
    parser.add_argument(
        "--only-artifacts", action="store_true", help="Only build the catalogue artifacts."
    )
    parser.add_argument(
        "--trees", default=f"this={ROOT}", help="Source trees to serve with: label=path,…"
    )
    parser.add_argument("--workers", type=int, default=1, help="Server workers run at once.")
    parser.add_argument(
        "--proxy-vectors",
        action="store_true",
        help="Serve stand-in vectors (real chunks, the rest real ones plus noise) from "
        "build/scale-proxy/, for start-up and memory before the corpus is encoded.",
    )
    args = parser.parse_args()
    trees = {k: Path(v) for k, v in (t.split("=", 1) for t in args.trees.split(","))}
    if args.proxy_vectors:
        real = scale_corpus.WORKDIR / "vectors"
        scale_corpus.WORKDIR = ROOT / "build" / "scale-proxy"
        for items in (int(s) for s in args.sizes.split(",")):
            used = scale_corpus.write_proxy_chunks(items, real)
            print(f"proxy vectors for {items}: {used} real chunks of 50,000, the rest noised")
    skip = set(filter(None, args.skip.split(",")))
    faiss.omp_set_num_threads(1)  # as gunicorn.conf.py sets it for every worker
    names, query_matrix = scale_corpus.query_vectors()
    print(f"{len(names)} shopper queries; load average {os.getloadavg()[0]:.2f}", flush=True)
    for items in (int(s) for s in args.sizes.split(",")):
        if args.only_artifacts:  # the offline step alone: no vectors needed
            catalogue_artifacts(items)
            continue
        products, cache = scale_corpus.catalogue(items)
        report: dict[str, Any] = {"items": items, "queries": len(names)}
        print(f"\n== {items} designs ==", flush=True)
        if "knn" not in skip:
            report["knn"] = bench_knn(items, cache.vectors, query_matrix, Facets(products))
        if "memory" not in skip:
            report["memory"] = bench_memory(items, cache.vectors, query_matrix)
        if "server" not in skip:
            report["server"] = bench_server(items, names, trees, args.workers)
        if "columns" not in skip:
            report["columns"] = scale_columns.run(items)
        if "milvus" not in skip and items <= 100_000:
            from bench_milvus import run

            run("Milvus Lite", products, cache, query_matrix)
        out = scale_corpus.WORKDIR / f"report-{items}.json"
        out.write_text(json.dumps(report, indent=1), encoding="utf-8")
        print_tables(report)
        print(f"report: {out}")


if __name__ == "__main__":
    main()
