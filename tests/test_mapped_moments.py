"""A space's moments, computed once by ``index``: exactly what the search core computes
in each worker, and refused when the cache they came from was rewritten."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from webapp.catalog.embedding_cache import read_cache
from webapp.index.moments import load_moments, moments, write_moments
from webapp.search.signals.vectors import SpaceStats

ROOT = Path(__file__).resolve().parent.parent


def test_moments_are_the_search_cores_bit_for_bit() -> None:
    vectors = read_cache(ROOT / "embeddings" / "text-use.pkl").vectors
    for matrix in (vectors, np.tile(vectors, (25, 1))):  # all rows, and a strided sample
        stats, (mean, covariance) = SpaceStats.of(matrix, 32_768), moments(matrix)
        assert np.array_equal(stats.mean, mean) and np.array_equal(stats.covariance, covariance)


def test_written_moments_are_read_back_until_the_cache_changes(tmp_path) -> None:
    cache = tmp_path / "text-use.pkl"
    shutil.copy(ROOT / "embeddings" / "text-use.pkl", cache)
    vectors = read_cache(cache).vectors
    assert load_moments(tmp_path, "text-use") is None
    write_moments(tmp_path, "text-use", vectors)
    mean, covariance = load_moments(tmp_path, "text-use")
    assert np.array_equal(mean, moments(vectors)[0]) and covariance.shape == (512, 512)
    os.utime(cache, ns=(cache.stat().st_atime_ns, cache.stat().st_mtime_ns + 10**9))
    assert load_moments(tmp_path, "text-use") is None
