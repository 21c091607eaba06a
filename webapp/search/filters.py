"""Filters, ordering and paging over a ranked list of catalogue rows.

The facets and the :class:`~webapp.catalog.facets.Filters` a shopper sets live with the
catalogue (``catalog/facets.py``: the back-ends filter by them too); here a ranked list is
filtered, reordered by price when asked, and cut into a page.
"""

from __future__ import annotations

import numpy as np

from ..catalog.facets import Facets, Filters

SORTS = ("relevance", "price_asc", "price_desc")


def apply(rows: np.ndarray, facets: Facets, filters: Filters, sort: str) -> np.ndarray:
    """Filter ranked ``rows`` and reorder them; relevance order is kept on ties."""
    rows = rows[facets.mask(filters)[rows]]
    if sort == "price_asc":
        rows = rows[np.argsort(facets.price[rows], kind="stable")]
    elif sort == "price_desc":
        rows = rows[np.argsort(-facets.price[rows], kind="stable")]
    return rows


def page_slice(total: int, page: int, per_page: int) -> slice:
    """The slice of a result list that page ``page`` (1-based) shows."""
    start = (page - 1) * per_page
    return slice(min(start, total), min(start + per_page, total))
