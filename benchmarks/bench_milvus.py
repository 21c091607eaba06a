"""Benchmark: the Milvus back-end on Milvus Lite, against exact FAISS in the same run.

Two corpora with real USE vectors (512-d): the demo catalogue (1,601 designs, its
committed cache) and the scale corpus (``scale_corpus.py``: distinct synthetic
designs, each embedded for real). For each: a first sync into a fresh Milvus Lite
file (create, upsert, flush, load), a second sync that finds nothing to do, and the
median of the shopper queries' search times (k = 100, the engine's candidates per
signal) with no filter, a category and a price range, beside exact FAISS's; overlap
of the two top-k lists is reported too (FLAT is exact, so it should be 1.0).

    python benchmarks/bench_milvus.py --items 100000 [--vectors-dir build/scale/vectors]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import scale_corpus  # noqa: E402
from webapp.catalog.embedding_cache import EmbeddingCache, read_cache  # noqa: E402
from webapp.catalog.facets import Facets, Filters  # noqa: E402
from webapp.catalog.products import Product, read_catalog  # noqa: E402
from webapp.index.base import Where  # noqa: E402
from webapp.index.faiss_index import FaissIndex  # noqa: E402
from webapp.index.milvus_index import MilvusIndex, connect  # noqa: E402

K = 100
FILTERS = {
    "none": Filters(),
    "category": Filters(category="Животные и природа"),
    "price": Filters(price_min=500, price_max=900),
}


def demo() -> tuple[list[Product], EmbeddingCache]:
    """The demo catalogue and its committed USE cache."""
    products = list(read_catalog(ROOT / "data" / "catalog.csv").products)
    return products, read_cache(ROOT / "embeddings" / "text-use.pkl")


def timed(fn) -> float:
    """Milliseconds one call of ``fn`` takes."""
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def run(label: str, products: list[Product], cache: EmbeddingCache, queries: np.ndarray) -> None:
    """Sync, re-sync and search one corpus; print the numbers."""
    with tempfile.TemporaryDirectory() as tmp:
        uri = str(Path(tmp) / "bench.db")
        index = MilvusIndex(connect(uri, timeout=600), cache.space, products, cache, uri=uri)
        first = index.sync()
        check = timed(index.check)
        again = index.sync()
        print(f"\n{label}: {len(products)} items")
        print(f"  first sync:  {first}; check {check:.0f} ms")
        print(f"  second sync: {again}")
        exact = FaissIndex.exact_over(cache.vectors, use_gpu=False)
        facets = Facets(products)
        for name, filters in FILTERS.items():
            where = Where(facets.mask(filters), filters) if filters.active else None
            index.search(queries[0], K, where)  # warm
            ms_milvus = [timed(lambda q=q, w=where: index.search(q, K, w)) for q in queries]
            ms_faiss = [timed(lambda q=q, w=where: exact.search(q, K, w)) for q in queries]
            overlap = np.mean(
                [
                    len(set(index.search(q, K, where)[0]) & set(exact.search(q, K, where)[0])) / K
                    for q in queries
                ]
            )
            print(
                f"  filter {name:8s} ({len(products) if where is None else where.count} rows): "
                f"Milvus p50 {statistics.median(ms_milvus):.1f} ms, exact FAISS p50 "
                f"{statistics.median(ms_faiss):.2f} ms, top-{K} overlap {overlap:.3f}"
            )


def main() -> None:
    """Measure the demo, then the scale corpus."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--vectors-dir", type=Path, default=None)
    args = parser.parse_args()
    if args.vectors_dir:
        scale_corpus.WORKDIR = args.vectors_dir.resolve().parent
    names, queries = scale_corpus.query_vectors()
    print(f"{len(names)} shopper queries, k = {K}")
    run("demo", *demo(), queries)
    if args.items:
        run("scale corpus", *scale_corpus.catalogue(args.items), queries)


if __name__ == "__main__":
    main()
