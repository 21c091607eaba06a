"""What the shop knows beyond its designs' own words, for the search to read.

Two artifacts, each built offline and refused when stale: Wiktionary's definitions
(``definitions.py``: a decoder of words the catalogue does not use, and a reverse
dictionary over the words it does) and each design's colours (``colour_cache.py``,
measured from the pictures by ``flask embed``). Either may be absent; the search then
simply has no such signal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .colour_cache import ColourCache
from .colours import NAMES
from .definitions import Definitions


@dataclass(frozen=True)
class Knowledge:
    """The definitions and the colours (None: not configured or not built)."""

    definitions: Definitions | None = None
    colours: ColourCache | None = None

    def colour_shares(self, ids: list[str]) -> np.ndarray | None:
        """Per catalogue row (in the order of ``ids``), each colour's share of the motif
        (columns :data:`~.colours.NAMES`); None without a colour cache."""
        if self.colours is None:
            return None
        row_of = {pid: r for r, pid in enumerate(self.colours.ids)}
        shares = np.zeros((len(ids), len(NAMES)), np.float32)
        known = [(i, row_of[pid]) for i, pid in enumerate(ids) if pid in row_of]
        if known:
            mine, theirs = zip(*known, strict=True)
            shares[list(mine)] = self.colours.shares[list(theirs)]
        return shares


NO_KNOWLEDGE = Knowledge()
