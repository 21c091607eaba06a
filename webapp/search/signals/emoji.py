"""The emoji signal: an emoji typed into the query is exactly that design."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from . import Signal, SignalKind


def emoji_signal(ids: Sequence[str], row_of: Mapping[str, int]) -> list[Signal]:
    """The designs of the emoji ``ids`` the query contains (calibrated 1: certain)."""
    rows = np.array([row_of[i] for i in ids if i in row_of], np.int64)
    ones = np.ones(len(rows), np.float32)
    return [Signal.of(SignalKind.EMOJI, rows, ones)] if len(rows) else []
