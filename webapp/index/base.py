"""The contract every vector back-end keeps.

Rows are catalogue rows (row i = the catalogue's i-th product) and scores are
cosines (vectors are unit-norm). A search may be narrowed by a :class:`Where`:
the shopper's filters, the exact rows they leave, and rows to leave out. A
back-end must honour it exactly: when at least ``k`` rows pass, ``k`` come back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ..catalog.facets import NO_FILTERS, Filters


class IndexUnavailable(RuntimeError):
    """The vector index cannot serve: unreachable, missing, or out of step."""


@dataclass(frozen=True, eq=False)
class Where:
    """Which rows a search may return: those ``mask`` keeps, which are exactly the rows
    passing ``filters`` less ``exclude`` (back-ends use whichever form suits them)."""

    mask: np.ndarray
    filters: Filters = NO_FILTERS
    exclude: tuple[int, ...] = ()
    count: int = field(init=False)

    def __post_init__(self) -> None:
        """Count the rows the mask keeps (once)."""
        object.__setattr__(self, "count", int(np.count_nonzero(self.mask)))

    @property
    def rows(self) -> np.ndarray:
        """The kept rows, ascending."""
        return np.flatnonzero(self.mask)


class VectorBackend(Protocol):
    """Nearest-neighbour search over one space's item vectors."""

    #: vector width
    dim: int
    #: the item matrix, row-aligned with the catalogue (may be memory-mapped: read only)
    vectors: np.ndarray

    def __len__(self) -> int:
        """Number of indexed items."""
        ...

    def search(
        self, query: np.ndarray, k: int, where: Where | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows and cosines of the ``k`` items nearest to ``query`` among those ``where``
        keeps (all when None), best first."""
        ...

    def describe(self) -> dict[str, Any]:
        """What the index is (type, parameters, size), for ``/readyz`` and the benchmark."""
        ...

    def check(self) -> None:
        """Raise :class:`IndexUnavailable` when the index cannot serve now (``/readyz``)."""
        ...
