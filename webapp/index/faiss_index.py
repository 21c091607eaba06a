"""The FAISS back-end: exact inner product, or an approximate index re-scored exactly.

Every index holds the float vectors in an ``IndexFlatIP`` (``exact``): it answers
small catalogues outright, re-scores an approximate index's candidates so cosines
are exact, and scans the rows a narrow filter leaves. A large catalogue adds an
approximate index (``ann``: HNSW or IVF, with float or quantised codes) built by
``flask --app webapp index``. Both are read with ``IO_FLAG_MMAP_IFC``: their
codes stay in the page cache, shared by every worker, instead of a copy per process.

Filters are exact with either: a filter that leaves few rows is answered by an
exact scan of just those rows; a broad one searches the approximate index with a
selector, and falls back to the exact scan if that finds fewer than asked for.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from .base import Where

log = logging.getLogger(__name__)

#: a filter leaving at most this many rows, or this share of the catalogue, is answered by
#: an exact scan of those rows (at 1M designs a category of 11 % scans in 15 ms, while
#: HNSW inside it needs 27 ms for recall@10 0.92: a graph walk wastes most of its steps
#: outside a narrow filter)
EXACT_SCAN_ROWS = 20_000
EXACT_SCAN_SHARE = 0.15
#: search parameters the approximate index types understand
SEARCH_PARAMETERS = ("efSearch", "nprobe", "rerank")


class FaissIndex:
    """One space's vectors, searchable exactly or through an approximate index."""

    def __init__(
        self,
        exact: faiss.IndexFlat,
        ann: faiss.Index | None = None,
        *,
        kind: str = "Flat",
        params: Mapping[str, int] | None = None,
        use_gpu: bool = True,
        exact_scan_rows: int = EXACT_SCAN_ROWS,
    ) -> None:
        """Serve ``exact`` (the float vectors) and, when given, the approximate ``ann``
        built as FAISS factory string ``kind``, searched with ``params``; a filter keeping
        at most ``exact_scan_rows`` rows (or ``exact_scan_share`` of them) is scanned."""
        self.exact = exact
        self.ann = ann
        self.kind = kind if ann is not None else "Flat"
        self.params = {k: int(v) for k, v in (params or {}).items() if k in SEARCH_PARAMETERS}
        self.dim = int(exact.d)
        self.exact_scan_rows = exact_scan_rows
        self.exact_scan_share = EXACT_SCAN_SHARE
        #: zero-copy view of the float vectors (read only: they may be memory-mapped)
        self.vectors = faiss.rev_swig_ptr(exact.get_xb(), exact.ntotal * exact.d).reshape(
            exact.ntotal, exact.d
        )
        #: a GPU copy of the exact index for unfiltered search, when there is a GPU
        self._gpu = _to_gpu(exact) if use_gpu and ann is None else None

    @classmethod
    def exact_over(cls, vectors: np.ndarray, *, use_gpu: bool = True) -> FaissIndex:
        """An exact in-memory index over ``vectors`` (n × dim, unit-norm rows)."""
        return cls(_flat(vectors), use_gpu=use_gpu)

    @classmethod
    def build(
        cls, vectors: np.ndarray, kind: str, params: Mapping[str, int] | None = None
    ) -> FaissIndex:
        """Train and fill an index of FAISS factory type ``kind`` over ``vectors`` (an HNSW
        over float vectors serves as its own exact index: the vectors are kept once)."""
        if kind == "Flat":
            return cls(_flat(vectors), kind=kind)
        ann = faiss.index_factory(int(vectors.shape[1]), kind, faiss.METRIC_INNER_PRODUCT)
        if not ann.is_trained:
            ann.train(_training_sample(vectors))
        ann.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return cls(_float_storage(ann) or _flat(vectors), ann, kind=kind, params=params)

    @property
    def parts(self) -> dict[str, faiss.Index]:
        """What is saved: ``exact`` unless the approximate index holds the float vectors
        itself, and ``ann`` when there is one."""
        shared = self.ann is not None and _float_storage(self.ann) is not None
        return {
            name: index
            for name, index in (("exact", None if shared else self.exact), ("ann", self.ann))
            if index is not None
        }

    def save(self, exact_path: Path, ann_path: Path) -> None:
        """Write the parts (removing an exact file the approximate index makes redundant)."""
        paths = {"exact": exact_path, "ann": ann_path}
        for path in paths.values():
            path.unlink(missing_ok=True)
        for name, index in self.parts.items():
            faiss.write_index(index, str(paths[name]))

    @classmethod
    def load(
        cls, exact_path: Path, ann_path: Path | None, kind: str, params: Mapping[str, int]
    ) -> FaissIndex:
        """Memory-map a saved index (no copy per process: the page cache is shared)."""
        ann = faiss.read_index(str(ann_path), faiss.IO_FLAG_MMAP_IFC) if ann_path else None
        if exact_path.is_file():
            exact = faiss.read_index(str(exact_path), faiss.IO_FLAG_MMAP_IFC)
        elif ann is not None and (storage := _float_storage(ann)) is not None:
            exact = storage
        else:
            raise FileNotFoundError(f"{exact_path} is missing")
        return cls(exact, ann, kind=kind, params=params, use_gpu=False)

    def __len__(self) -> int:
        """Number of indexed items."""
        return int(self.exact.ntotal)

    def describe(self) -> dict[str, Any]:
        """Index type, search parameters and size."""
        return {"index": self.kind, "params": dict(self.params), "items": len(self)}

    def check(self) -> None:
        """An in-process index is always ready once loaded."""

    # -- searching ------------------------------------------------------------------------
    def search(
        self, query: np.ndarray, k: int, where: Where | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows and exact cosines of the ``k`` items nearest to ``query`` among those
        ``where`` keeps (all when None), best first."""
        allowed = len(self) if where is None else where.count
        k = min(k, allowed)
        if k <= 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        if where is None and self._gpu is not None:
            return _found(*self._gpu.search(query, k))
        if self.ann is None or (where is not None and self._scans(where)):
            return self._exact(query, k, where)
        rows, scores = self._approximate(query, k, where)
        if len(rows) < k:  # the graph ran dry inside a selective filter: scan instead
            return self._exact(query, k, where)
        return rows, scores

    def _scans(self, where: Where) -> bool:
        """Whether the rows ``where`` keeps are few enough to scan exactly."""
        return where.count <= max(self.exact_scan_rows, self.exact_scan_share * len(self))

    def _exact(
        self, query: np.ndarray, k: int, where: Where | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact top ``k``: the flat index, skipping rows ``where`` leaves out."""
        params = None if where is None else faiss.SearchParameters(sel=_selector(where))
        return _found(*self.exact.search(query, k, params=params))

    def _approximate(
        self, query: np.ndarray, k: int, where: Where | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The approximate index's best ``k × rerank`` candidates, re-scored exactly."""
        wanted = k * self.params.get("rerank", 1)
        params = _ann_parameters(self.ann, self.params, wanted, where)
        rows, _ = _found(*self.ann.search(query, wanted, params=params))
        scores = self.vectors[rows] @ query[0]
        best = np.argsort(-scores, kind="stable")[:k]
        return rows[best], scores[best]


def _flat(vectors: np.ndarray) -> faiss.IndexFlatIP:
    """An exact inner-product index holding a copy of ``vectors``."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    index = faiss.IndexFlatIP(int(vectors.shape[1]))
    index.add(vectors)
    return index


def _training_sample(vectors: np.ndarray) -> np.ndarray:
    """Up to 100,000 evenly spaced rows to train quantisers and coarse centroids on."""
    step = max(1, len(vectors) // 100_000)
    return np.ascontiguousarray(vectors[::step], dtype=np.float32)


def _float_storage(ann: faiss.Index) -> faiss.IndexFlat | None:
    """The float vectors inside an HNSW index (None for quantised or other indexes);
    the HNSW index owns them, so it must outlive the returned view."""
    if not isinstance(ann, faiss.IndexHNSW):
        return None
    storage = faiss.downcast_index(ann.storage)
    return storage if isinstance(storage, faiss.IndexFlat) else None


def _selector(where: Where) -> faiss.IDSelector:
    """A FAISS selector keeping exactly the rows ``where`` keeps (kept alive on it)."""
    bits = np.packbits(where.mask, bitorder="little")
    selector = faiss.IDSelectorBitmap(len(where.mask), faiss.swig_ptr(bits))
    selector.bits_owner = bits  # FAISS reads the numpy buffer: keep it alive with the selector
    return selector


def _ann_parameters(
    ann: faiss.Index, params: Mapping[str, int], wanted: int, where: Where | None
) -> faiss.SearchParameters:
    """Per-call search parameters for ``ann``: the beam or probes, widened for a filter
    by the share of rows it keeps (so about as many kept rows are visited)."""
    widen = 1.0 if where is None else len(where.mask) / max(where.count, 1)
    selector = None if where is None else _selector(where)
    if isinstance(ann, faiss.IndexHNSW):
        ef = int(max(params.get("efSearch", 64), wanted) * min(widen, 16))
        result = faiss.SearchParametersHNSW(efSearch=ef)
    else:
        probes = int(params.get("nprobe", 16) * min(widen, 16))
        result = faiss.SearchParametersIVF(nprobe=probes)
    if selector is not None:
        result.sel = selector
        result.selector_owner = selector
    return result


def _found(scores: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One query's result rows and scores, without FAISS's -1 padding."""
    keep = rows[0] >= 0
    return rows[0][keep].astype(np.int64, copy=False), scores[0][keep]


def _to_gpu(index: faiss.Index) -> faiss.Index | None:
    """A copy of ``index`` on GPU 0 when this faiss build and machine allow it, else None."""
    if not hasattr(faiss, "StandardGpuResources") or faiss.get_num_gpus() < 1:
        return None
    try:
        gpu = faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, index)
    except RuntimeError as exc:  # no GPU memory for it: stay on the CPU
        log.warning("FAISS: the exact index stays on the CPU (%s)", exc)
        return None
    log.info("FAISS: using a GPU copy of the exact index")
    return gpu
