"""A space's catalogue-wide moments (mean, covariance), computed once by ``index``.

The search core turns a query's cosines into z-scores against the whole catalogue in
closed form from the mean and covariance of the item vectors (``search/fusion.py``
``SpaceStats``). Computed in every worker, that read 32,768 rows spread over the
whole matrix and multiplied them out: 1-2 s of a million-design worker's start and
every page of the vectors touched. ``flask --app webapp index`` computes them here
with the same sample and arithmetic and writes ``<space>.moments.npz`` beside the
cache; a worker reads 1 MB (``load_moments``), for FAISS and Milvus back-ends alike
(a Milvus worker then needs no vectors at all for calibration).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from ..catalog.embedding_cache import cache_path
from ..files import write_atomic
from .prebuilt import cache_identity

#: rows sampled for the moments: every row up to it, evenly spaced rows beyond
SAMPLE = 32_768


def moments(vectors: np.ndarray, sample: int = SAMPLE) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (float32) of every row of ``vectors`` up to ``sample`` rows, and
    of ``sample`` evenly spaced rows beyond (``SpaceStats.of``'s arithmetic, exactly)."""
    vectors = np.asarray(vectors[:: max(1, -(-len(vectors) // sample))], np.float32)
    mean = vectors.mean(axis=0)
    centred = vectors - mean
    return mean.astype(np.float32), (centred.T @ centred / len(vectors)).astype(np.float32)


def moments_path(directory: Path, space: str) -> Path:
    """Where ``space``'s moments live."""
    return directory / f"{space}.moments.npz"


def write_moments(directory: Path, space: str, vectors: np.ndarray) -> Path:
    """Compute the moments of ``space``'s cache ``vectors`` and write them (with the
    identity of the cache file they came from) atomically; return the file."""
    mean, covariance = moments(vectors)
    identity = cache_identity(cache_path(directory, space))
    buffer = io.BytesIO()
    np.savez(
        buffer, mean=mean, covariance=covariance, cache=np.array(repr(sorted(identity.items())))
    )
    path = moments_path(directory, space)
    write_atomic(path, buffer.getvalue())
    return path


def load_moments(directory: Path, space: str) -> tuple[np.ndarray, np.ndarray] | None:
    """``space``'s mean and covariance, or None when missing or computed from another
    version of its cache (then compute them: :func:`moments`)."""
    path, cache = moments_path(directory, space), cache_path(directory, space)
    try:
        with np.load(path, allow_pickle=False) as saved:
            current: Any = repr(sorted(cache_identity(cache).items()))
            if str(saved["cache"]) != current:
                return None
            return saved["mean"], saved["covariance"]
    except (OSError, KeyError, ValueError):
        return None
