"""The vector index stage: nearest neighbours by cosine similarity with FAISS.

Vectors are unit-norm, so inner product is cosine and ``IndexFlatIP`` is exact.
A GPU copy is used when faiss was built with GPU support and a device exists.
"""

from __future__ import annotations

import logging

import faiss
import numpy as np

log = logging.getLogger(__name__)


class VectorIndex:
    """Exact inner-product search over one space's item vectors (rows = catalogue rows)."""

    def __init__(self, vectors: np.ndarray, *, use_gpu: bool = True) -> None:
        """Index ``vectors`` (n × dim, float32, unit-norm rows)."""
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.dim = int(self.vectors.shape[1])
        cpu = faiss.IndexFlatIP(self.dim)
        cpu.add(self.vectors)
        self.index = _to_gpu(cpu) if use_gpu else cpu

    def __len__(self) -> int:
        """Number of indexed items."""
        return int(self.index.ntotal)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and cosine scores of the ``k`` nearest items, best first."""
        k = min(k, len(self))
        if k <= 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        scores, rows = self.index.search(query.reshape(1, -1).astype(np.float32, copy=False), k)
        keep = rows[0] >= 0
        return rows[0][keep], scores[0][keep]

    def scores(self, query: np.ndarray) -> np.ndarray:
        """Cosine of ``query`` with every item (for small catalogues and re-scoring)."""
        return self.vectors @ query.astype(np.float32, copy=False)

    def similar(self, row: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` items nearest to item ``row``, excluding the item itself."""
        rows, scores = self.search(self.vectors[row], k + 1)
        keep = rows != row
        return rows[keep][:k], scores[keep][:k]


def _to_gpu(index: faiss.Index) -> faiss.Index:
    """Move ``index`` to GPU 0 when this faiss build and machine allow it."""
    if not hasattr(faiss, "StandardGpuResources") or faiss.get_num_gpus() < 1:
        return index
    log.info("FAISS: using GPU index")
    return faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, index)
