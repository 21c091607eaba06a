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
* **the server**: one worker's start-up (``create_app`` + ``warm_up``, by step), its
  memory, and ``/api/search`` p50 uncached and cached, with the index
  ``INDEX_TYPE=auto`` picks;
* at 100k, **Milvus Lite** beside exact FAISS (``bench_milvus.run``).

Results go to ``build/scale/report-<size>.json`` and are printed as tables.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

import scale_corpus
from fixture import ROOT, write_catalog
from scale_worker import app_config
from webapp.catalog.facets import Facets, Filters
from webapp.index.base import Where
from webapp.index.choice import auto_index, choose_index, parse_params
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


def built_index(items: int, vectors: np.ndarray, kind: str) -> tuple[FaissIndex, dict]:
    """The index ``kind`` over the first ``items`` vectors: built once, then memory-mapped."""
    choice = choose_index(kind, items, vectors.shape[1])
    folder = scale_corpus.WORKDIR / "indexes" / str(items) / kind
    exact, ann, facts = folder / "flat.faiss", folder / "ann.faiss", folder / "facts.json"
    if not facts.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        faiss.omp_set_num_threads(os.cpu_count() or 1)  # an offline step may use every core
        started = time.perf_counter()
        index = FaissIndex.build(vectors, choice.kind, choice.params)
        build_s = time.perf_counter() - started
        faiss.omp_set_num_threads(1)  # searches are measured as a worker runs them
        index.save(exact, ann)
        sizes = {p.name: p.stat().st_size for p in (exact, ann) if p.is_file()}
        facts.write_text(json.dumps({"kind": choice.kind, "build_s": build_s, "bytes": sizes}))
        del index
    info = json.loads(facts.read_text())
    started = time.perf_counter()
    index = FaissIndex.load(exact, ann if ann.is_file() else None, choice.kind, choice.params)
    info["load_s"] = time.perf_counter() - started
    return index, info


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


def server_dir(items: int) -> Path:
    """Catalogue, cache, database and prebuilt index of a server over ``items`` designs."""
    from webapp import create_app
    from webapp.catalog.embedding_cache import (
        CacheError,
        EmbeddingCache,
        cache_path,
        load_cache,
        save_cache,
    )
    from webapp.catalog.products import read_catalog
    from webapp.encoders.sentence import load_sentence_encoder
    from webapp.index.prebuilt import read_manifest, save_index, staleness

    workdir = scale_corpus.WORKDIR / f"server-{items}"
    write_catalog(workdir, items)
    catalog = read_catalog(workdir / "data" / "catalog.csv")
    model = load_sentence_encoder("use", 1).model_id
    embeddings = workdir / "embeddings"
    try:
        cache = load_cache(
            cache_path(embeddings, "text-use"), model=model, catalog_fingerprint=catalog.fingerprint
        )
    except CacheError:
        _, corpus = scale_corpus.catalogue(items)
        cache = EmbeddingCache(
            "text-use", model, "text", 512, catalog.ids(), corpus.vectors, catalog.fingerprint,
            corpus.item_digests,
        )  # fmt: skip
        save_cache(cache, embeddings)
    os.environ.setdefault("INSTANCE_PATH", str(workdir / "instance"))
    create_app(app_config(workdir, "auto")).extensions["store"].sync(catalog)
    choice = choose_index("auto", items, 512)
    manifest = read_manifest(embeddings, "text-use")
    stale = staleness(manifest, embeddings, "text-use", model, catalog.fingerprint)
    if not choice.exact and (stale or manifest is None or manifest["params"] != choice.params):
        index, info = built_index(items, cache.vectors, auto_index(items))
        save_index(embeddings, cache, index, info["build_s"])
    return workdir


def _worker(*args: str) -> subprocess.Popen:
    """Start ``scale_worker.py`` with ``args``; its JSON line comes on stdout."""
    command = [sys.executable, str(ROOT / "benchmarks" / "scale_worker.py"), *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


def _result(worker: subprocess.Popen) -> dict[str, Any]:
    """The JSON line a worker printed last."""
    out, _ = worker.communicate()
    if worker.returncode:
        raise SystemExit(f"a scale worker failed ({worker.returncode})")
    return json.loads(out.strip().splitlines()[-1])


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
            _worker(
                f"--index-dir={where}", f"--index-type={kind}", f"--queries={listing}", "--hold=5"
            )
            for _ in range(2)
        ]
        for number, worker in enumerate(pair):
            results.append({"workers": 2, "worker": number, **_result(worker)})
            print(json.dumps(results[-1]), flush=True)
    return results


def _read_through(path: Path) -> None:
    """Read ``path`` once, so its pages are in the page cache (not in this process)."""
    with open(path, "rb") as source:
        while source.read(1 << 24):
            pass


def bench_server(items: int, queries: list[str]) -> dict[str, Any]:
    """One server worker over ``items`` designs: start-up, memory, ``/api/search``."""
    workdir = server_dir(items)
    for path in (workdir / "embeddings").glob("*.faiss"):  # a server that has run a while
        _read_through(path)  # finds its index in the page cache; so does the benchmark
    listing = scale_corpus.WORKDIR / "queries.json"
    listing.write_text(json.dumps(queries, ensure_ascii=False), encoding="utf-8")
    result = _result(_worker(f"--workdir={workdir}", f"--queries={listing}"))
    print(json.dumps(result), flush=True)
    return result


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
        print(f"server: {json.dumps(report['server'])}")


def main() -> None:
    """Measure each size; write and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in scale_corpus.SIZES))
    parser.add_argument("--skip", default="", help="Parts to skip: knn,memory,server,milvus.")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    faiss.omp_set_num_threads(1)  # as gunicorn.conf.py sets it for every worker
    names, query_matrix = scale_corpus.query_vectors()
    print(f"{len(names)} shopper queries; load average {os.getloadavg()[0]:.2f}", flush=True)
    for items in (int(s) for s in args.sizes.split(",")):
        products, cache = scale_corpus.catalogue(items)
        report: dict[str, Any] = {"items": items, "queries": len(names)}
        print(f"\n== {items} designs ==", flush=True)
        if "knn" not in skip:
            report["knn"] = bench_knn(items, cache.vectors, query_matrix, Facets(products))
        if "memory" not in skip:
            report["memory"] = bench_memory(items, cache.vectors, query_matrix)
        if "server" not in skip:
            report["server"] = bench_server(items, names)
        if "milvus" not in skip and items <= 100_000:
            from bench_milvus import run

            run("Milvus Lite", products, cache, query_matrix)
        out = scale_corpus.WORKDIR / f"report-{items}.json"
        out.write_text(json.dumps(report, indent=1), encoding="utf-8")
        print_tables(report)
        print(f"report: {out}")


if __name__ == "__main__":
    main()
