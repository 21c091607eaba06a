"""Recommendations without login: «вам может понравиться» from designs a shopper opened.

The session keeps the ids of recently opened designs; their vectors are blended
into an exponential moving average (recent designs weigh more) and the nearest
unseen designs to that profile are suggested.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..encoders.base import l2_normalise
from .engine import Hit, SearchEngine

HISTORY = 20  # designs remembered per session
DECAY = 0.7  # weight of the older profile at each newer view


def remember(history: Sequence[str], product_id: str) -> list[str]:
    """The session history after viewing ``product_id`` (most recent last, no repeats)."""
    return [*(i for i in history if i != product_id), product_id][-HISTORY:]


def profile(vectors: np.ndarray, decay: float = DECAY) -> np.ndarray:
    """Unit-norm exponential moving average of ``vectors`` (oldest first)."""
    mean = vectors[0]
    for vector in vectors[1:]:
        mean = decay * mean + (1 - decay) * vector
    return l2_normalise(mean)


def recommend(engine: SearchEngine, history: Sequence[str], k: int) -> list[Hit]:
    """Up to ``k`` designs closest to the shopper's profile, excluding those already seen."""
    rows = [engine.row_of[i] for i in history if i in engine.row_of]
    if not rows:
        return []
    space = engine.spaces[-1].name
    index = engine.indexes[space]
    found, scores = index.search(profile(index.vectors[rows]), k + len(rows))
    seen = set(rows)
    keep = [(r, s) for r, s in zip(found.tolist(), scores.tolist(), strict=True)
            if r not in seen][:k]
    products = engine.store.get_many([engine.products[r].id for r, _ in keep])
    return [Hit(p, round(s, 4), {"signals": {space: {"score": round(s, 4)}}})
            for p, (_, s) in zip(products, keep, strict=True)]
