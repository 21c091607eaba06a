"""Exploration: a share of recommendation slots goes to designs outside the nearest ones.

A pure exploit list only ever shows more of what the shopper already opened;
a few slots drawn from a wider bucket (ranks ``bucket_start``…``bucket_end`` around
the profile) let the shop learn whether other themes pay. The draw is seeded
per session, so a page reload shows the same picks until the shopper's history
changes.
"""

from __future__ import annotations

import hashlib

import numpy as np


def explore_slots(k: int, share: float) -> int:
    """How many of ``k`` slots explore (``share`` 1/6 gives 1 of 6; never all of them
    when ``k`` > 1, never negative)."""
    if not 0 <= share <= 1:
        raise ValueError(f"RECOMMEND_EXPLORE_SHARE must be in [0, 1], not {share}")
    slots = int(round(k * share))
    return min(slots, k - 1) if k > 1 else slots


def session_seed(session_key: str, history_size: int) -> int:
    """A stable seed for one session at one history length."""
    digest = hashlib.sha256(f"{session_key}:{history_size}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def draw(bucket: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` distinct rows of ``bucket`` drawn with ``seed`` (order as drawn)."""
    if n <= 0 or not len(bucket):
        return bucket[:0]
    rng = np.random.default_rng(seed)
    return rng.choice(bucket, size=min(n, len(bucket)), replace=False)
