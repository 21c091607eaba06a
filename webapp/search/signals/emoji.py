"""The emoji signal: an emoji typed into the query is exactly that design."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import Signal, SignalKind


def emoji_signal(rows: Sequence[int]) -> list[Signal]:
    """The designs (catalogue ``rows``) of the emoji the query contains (calibrated 1:
    certain)."""
    rows = np.array(rows, np.int64)
    ones = np.ones(len(rows), np.float32)
    return [Signal.of(SignalKind.EMOJI, rows, ones)] if len(rows) else []
