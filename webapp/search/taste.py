"""A shopper's taste, kept without login: what the session remembers and the profile vector.

The signed session cookie holds only ids and short query strings, each list
bounded (:data:`LIMITS`), so the cookie stays far below the browser's 4 kB.
The profile is built from the designs' vectors at request time: the mean of
the opened designs, or an exponential moving average in which recent ones
weigh more; queries that led to a click add a weaker pull towards their words.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..encoders.base import l2_normalise

#: how many entries each session list keeps (most recent last)
LIMITS = {"seen": 20, "clicked_queries": 5, "recent": 8}
QUERY_CHARS = 60  # a remembered query is cut to this many characters
PROFILES = ("mean", "ema")


def remember(items: Sequence[str], item: str, key: str = "seen") -> list[str]:
    """``items`` with ``item`` moved to the end (no repeats), bounded by ``LIMITS[key]``."""
    if key != "seen":
        item = " ".join(item.split())[:QUERY_CHARS]
    if not item:
        return list(items)
    return [*(i for i in items if i != item), item][-LIMITS[key] :]


def profile(vectors: np.ndarray, mode: str = "ema", alpha: float = 0.3) -> np.ndarray:
    """Unit-norm taste of ``vectors`` (oldest first): their ``mean``, or an ``ema`` in which
    each newer design gets weight ``alpha`` and the profile so far ``1 - alpha``.

    The EMA starts from zero and is divided by the weight it has gathered (``1 - (1 -
    alpha) ** n``, Adam's bias correction), so the newest design weighs most from the first
    click: after three designs 0.46, 0.32, 0.22 (starting from the first design instead gave
    the oldest 0.49 and the newest 0.30)."""
    if mode not in PROFILES:
        raise ValueError(f"RECOMMEND_PROFILE must be one of {PROFILES}, not {mode!r}")
    if not 0 < alpha <= 1:
        raise ValueError(f"RECOMMEND_EMA_ALPHA must be in (0, 1], not {alpha}")
    if mode == "mean":
        return l2_normalise(vectors.mean(axis=0))
    taste = np.zeros(vectors.shape[1], np.float64)
    for vector in vectors:
        taste = (1 - alpha) * taste + alpha * np.asarray(vector, np.float64)
    return l2_normalise(taste / (1 - (1 - alpha) ** len(vectors)))


def with_queries(taste: np.ndarray, queries: np.ndarray, weight: float) -> np.ndarray:
    """``taste`` pulled towards the mean of clicked-query vectors by ``weight`` (< 1: weaker
    than the designs themselves); unchanged when there are no query vectors."""
    if not len(queries) or weight <= 0:
        return taste
    return l2_normalise(taste + weight * l2_normalise(queries.mean(axis=0)))


def closest_seen(candidates: np.ndarray, seen: np.ndarray) -> list[int]:
    """For each candidate vector, the index of the opened design it is closest to."""
    if not len(seen):
        return [0] * len(candidates)
    return (candidates @ seen.T).argmax(axis=1).tolist()
