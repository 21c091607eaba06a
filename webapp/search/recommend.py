"""Recommendations without login: «вам может понравиться» from designs a shopper opened.

The session keeps the ids of recently opened designs; their vectors are blended
into an exponential moving average (recent designs weigh more) and the nearest
unseen designs to that profile are suggested.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..encoders.base import l2_normalise
from .engine import SearchEngine
from .results import Hit

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
    vectors = engine.item_vectors(history)
    if not len(vectors):
        return []
    return engine.neighbours(profile(vectors), k, exclude=history)
