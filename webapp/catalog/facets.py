"""The catalogue's facets (category, price) as arrays, and the filters a shopper sets on them.

Per-row arrays aligned with the index rows make a filter a vectorised mask, so the totals
shown to the shopper are exact and every vector or lexical back-end can be handed the
same :class:`Filters` (or the mask) to search only the rows it keeps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .products import Product
from .table import ProductTable


@dataclass(frozen=True)
class Filters:
    """What the shopper narrowed the results to."""

    category: str = ""
    price_min: int | None = None
    price_max: int | None = None

    @property
    def active(self) -> bool:
        """True when any filter narrows the results."""
        return bool(self.category) or self.price_min is not None or self.price_max is not None


NO_FILTERS = Filters()


class Facets:
    """Per-row category and price arrays of the catalogue."""

    def __init__(self, products: Sequence[Product]) -> None:
        """Collect the facet values of ``products`` (row i = products[i]); a product table
        lends its mapped columns (nothing is built)."""
        if isinstance(products, ProductTable):
            categories = products.categories
            codes, prices = products.category_codes, products.prices
        else:
            categories = list(dict.fromkeys(p.category for p in products))
            code = {name: i for i, name in enumerate(categories)}
            codes = np.array([code[p.category] for p in products], np.int32)
            prices = np.array([p.price for p in products], np.int64)
        #: category names in catalogue order (of first appearance)
        self.categories = list(categories)
        self._code = {name: i for i, name in enumerate(self.categories)}
        #: per row, the index of its category in :attr:`categories`
        self.category = codes
        #: per row, the price in whole roubles
        self.price = prices
        sizes = np.bincount(self.category, minlength=len(self.categories)).tolist()
        self._counts = tuple(zip(self.categories, sizes, strict=True))

    def counts(self) -> list[tuple[str, int]]:
        """Category names with their product counts, in catalogue order (counted once)."""
        return list(self._counts)

    def mask(self, filters: Filters) -> np.ndarray:
        """Boolean mask of the rows that pass ``filters``."""
        keep = np.ones(len(self.price), bool)
        if filters.category:
            keep &= self.category == self._code.get(filters.category, -1)
        if filters.price_min is not None:
            keep &= self.price >= filters.price_min
        if filters.price_max is not None:
            keep &= self.price <= filters.price_max
        return keep
