"""Which FAISS index to serve at the bench's size, measured on the encoders' own vectors.

For every space a text query searches, the bench's real query vectors (each space's
own query encoder, on the query as the app understands it) search the space's 25k
cached item vectors through :class:`webapp.index.faiss_index.FaissIndex`, so an
approximate index's candidates are re-scored exactly, as the app does. Each index
type is timed per query on one FAISS thread (median, p95) and its recall@100 is
measured against the exact top 100. A second table asks whether the two ruCLIP
spaces, searched with the same query vector, are cheaper searched as one.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

K = 100
#: cosines closer than this are ties (float32 sums in a different order differ by ~1e-7)
TIE = 1e-5
T = TypeVar("T")


@dataclass
class Measured:
    """One index type over every searched space."""

    label: str
    kind: str
    params: dict[str, int]
    ms: dict[str, float]  # space → median ms a query
    recall: dict[str, float]  # space → mean recall@100 vs exact
    total_ms: float  # median ms a query, all spaces one after the other
    total_p95: float
    build_s: float


def candidates(items: int) -> list[tuple[str, str, dict[str, int]]]:
    """(label, FAISS factory string, search parameters) of every index type measured."""
    from webapp.index.choice import _ivf_lists

    lists = _ivf_lists(items)
    rows = [
        ("Flat (exact)", "Flat", {}),
        ("SQ8", "SQ8", {}),
        ("SQ8, top 200 re-scored", "SQ8", {"rerank": 2}),
        ("fp16", "SQfp16", {}),
    ]
    # the app widens the beam to the candidates it asks for: efSearch 64 searches with 100
    rows += [
        (f"HNSW32 efSearch={ef}", "HNSW32,Flat", {"efSearch": ef}) for ef in (64, 128, 256, 512)
    ]
    rows += [
        (f"HNSW32+SQ8 efSearch={ef} ×2", "HNSW32,SQ8", {"efSearch": ef, "rerank": 2})
        for ef in (256, 512)
    ]
    rows += [
        (f"IVF{lists} nprobe={p}", f"IVF{lists},Flat", {"nprobe": p}) for p in (16, 64, 128, 192)
    ]
    return rows


def recall(scores: np.ndarray, kth: float) -> float:
    """Recall@K of a result whose exact cosines are ``scores``, given the exact K-th best
    cosine ``kth``. A row tied with the K-th counts: the bench's 25,000 rows share 1,601
    pictures, so an image space has groups of equal vectors that a top K cuts anywhere."""
    return min(K, int(np.sum(scores >= kth - TIE))) / K


def clocked(fn: Callable[[], T]) -> tuple[float, T]:
    """Wall-clock ms of one call, and what it returned."""
    start = time.perf_counter()
    value = fn()
    return (time.perf_counter() - start) * 1e3, value


def query_vectors(engine: Any, queries: Sequence[str]) -> dict[str, np.ndarray]:
    """Space → (queries × dim) vectors, as the app makes them for each searched space."""
    spaces = [
        engine.space(name)
        for name, described in engine.describe()["spaces"].items()
        if described["text_queries"] and engine.space(name).searchable
    ]
    texts = [engine.understand(q).text or q for q in queries]
    by_model: dict[str, np.ndarray] = {}
    out = {}
    for space in spaces:
        model = space.encoder.model_id
        if model not in by_model:
            by_model[model] = np.stack([space.encoder.encode_query(t) for t in texts])
        out[space.name] = by_model[model]
    return out


def sweep(
    vectors: dict[str, np.ndarray], queries: dict[str, np.ndarray], *, build_threads: int = 2
) -> list[Measured]:
    """Every candidate index type over every space: ms and recall@100 against exact."""
    import faiss

    from webapp.index.faiss_index import FaissIndex

    items = len(next(iter(vectors.values())))
    truth = {}
    for name, v in vectors.items():
        exact = FaissIndex.exact_over(v, use_gpu=False)
        truth[name] = [float(exact.search(q, K)[1][-1]) for q in queries[name]]
    built: dict[str, tuple[dict[str, Any], float]] = {}
    results = []
    for label, kind, params in candidates(items):
        if kind not in built:
            faiss.omp_set_num_threads(build_threads)
            started = time.perf_counter()
            built[kind] = (
                {name: FaissIndex.build(v, kind) for name, v in vectors.items()},
                time.perf_counter() - started,
            )
            faiss.omp_set_num_threads(1)  # as a server worker searches
        bases, build_s = built[kind]
        indexes = {
            name: FaissIndex(b.exact, b.ann, kind=kind, params=params, use_gpu=False)
            for name, b in bases.items()
        }
        results.append(_measure(label, kind, params, indexes, queries, truth, build_s))
    return results


def _measure(
    label: str,
    kind: str,
    params: dict[str, int],
    indexes: dict[str, Any],
    queries: dict[str, np.ndarray],
    truth: dict[str, list[float]],
    build_s: float,
) -> Measured:
    """Time and score one index type: per space, and all spaces for each query in turn."""
    count = len(next(iter(queries.values())))
    per: dict[str, list[float]] = {name: [] for name in indexes}
    total, found = [], {name: [] for name in indexes}
    for i in range(count):
        spent = 0.0
        for name, index in indexes.items():
            ms, (_, scores) = clocked(lambda index=index, q=queries[name][i]: index.search(q, K))
            per[name].append(ms)
            spent += ms
            found[name].append(recall(scores, truth[name][i]))
        total.append(spent)
    return Measured(
        label,
        kind,
        params,
        {name: statistics.median(v) for name, v in per.items()},
        {name: statistics.fmean(v) for name, v in found.items()},
        statistics.median(total),
        float(np.percentile(total, 95)),
        build_s,
    )


def one_batch(
    vectors: dict[str, np.ndarray], queries: dict[str, np.ndarray], pair: Sequence[str]
) -> list[tuple[str, float, dict[str, float]]]:
    """The two spaces of ``pair`` (same query vector) searched apart, or as one stacked
    exact index asked for more and split: (label, median ms, space → recall@100)."""
    import faiss

    from webapp.index.faiss_index import FaissIndex

    first, second = pair
    q = queries[first]
    if not np.array_equal(q, queries[second]):
        raise ValueError(f"{first} and {second} are not searched with the same query vector")
    apart = [FaissIndex.exact_over(vectors[name], use_gpu=False) for name in pair]
    items = len(vectors[first])
    stacked = faiss.IndexFlatIP(q.shape[1])
    stacked.add(np.ascontiguousarray(np.vstack([vectors[first], vectors[second]])))
    kth = [[float(ix.search(v, K)[1][-1]) for ix in apart] for v in q]

    def split(v: np.ndarray, wide: int) -> list[np.ndarray]:
        """One stacked search for ``wide`` rows: the scores of each space's best ``K``."""
        scores, rows = stacked.search(v[None], wide)
        scores, rows = scores[0][rows[0] >= 0], rows[0][rows[0] >= 0]
        return [scores[rows < items][:K], scores[rows >= items][:K]]

    ways: dict[str, Callable[[np.ndarray], list[np.ndarray]]] = {
        "two FlatIP searches, k=100 each (the app's)": lambda v: [
            ix.search(v, K)[1] for ix in apart
        ],
    }
    for wide in (2 * K, 4 * K):
        label = f"one stacked FlatIP ({2 * items} rows), k={wide}, split"
        ways[label] = lambda v, wide=wide: split(v, wide)
    out = []
    for label, way in ways.items():
        ms, found = [], [[], []]
        for v, tops in zip(q, kth, strict=True):
            spent, result = clocked(lambda v=v, way=way: way(v))
            ms.append(spent)
            for j in range(2):
                found[j].append(recall(result[j], tops[j]))
        means = {name: statistics.fmean(r) for name, r in zip(pair, found, strict=True)}
        out.append((label, statistics.median(ms), means))
    return out
