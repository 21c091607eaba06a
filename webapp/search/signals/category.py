"""The category tree as a signal: a query word that names a category or subcategory (or,
through a concept rule, its synonym) reaches every design of that subtree.

«насекомые» names the subcategory «Насекомые», «транспорт» both «Наземный транспорт» and
«Водный транспорт», «животные» the whole category «Животные и природа». The signal's
score is the share of the query's words the node's name covers, like the lexical one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...catalog.products import Product
from ...catalog.sections import Sections
from ...catalog.table import ProductTable
from ...language.text import analyse
from . import Signal, SignalKind


class CategoryTree:
    """Category and subcategory names (as lemma sets) with the rows of their subtrees."""

    def __init__(self, nodes: Sequence[tuple[frozenset[str], np.ndarray]]) -> None:
        """Search ``nodes``: each category's and subcategory's name lemmas and its rows,
        ascending, in order of first appearance (``catalog/sections.py``, built once by
        ``flask --app webapp index``)."""
        self.nodes = list(nodes)

    @classmethod
    def of(cls, products: Sequence[Product]) -> CategoryTree:
        """The tree of ``products``' two levels of categories, built in memory."""
        return cls(Sections.build(ProductTable.build(products), analyse).nodes)

    def signal(
        self,
        groups: Sequence[tuple[str, ...]],
        *,
        alone: float = 0.0,
        beside: np.ndarray | None = None,
    ) -> list[Signal]:
        """Rows of every node whose name covers some query word, scored by the share of query
        words it covers (a design in several matching nodes keeps its best share).

        With ``beside`` (rows other signals found), a row whose share is under ``alone`` is
        returned only if it is among them: a weak category match never keeps a design on
        its own, and a million-design catalogue would otherwise hand fusion every design
        of a category a single query word names."""
        if not groups:
            return []
        parts = [
            (rows, share)
            for terms, rows in self.nodes
            if (share := sum(bool(terms.intersection(g)) for g in groups) / len(groups)) > 0
        ]
        if not parts:
            return []
        rows = np.concatenate([r for r, _ in parts])
        shares = np.concatenate([np.full(len(r), s, np.float32) for r, s in parts])
        order = np.lexsort((-shares, rows))  # by row, its best share first
        rows, shares = rows[order], shares[order]
        first = np.ones(len(rows), bool)
        first[1:] = rows[1:] != rows[:-1]
        rows, shares = rows[first], shares[first]
        if beside is not None:
            keep = (shares >= alone) | np.isin(rows, beside)
            rows, shares = rows[keep], shares[keep]
        order = np.lexsort((rows, -shares))  # best share first, then catalogue order
        return [Signal.of(SignalKind.CATEGORY, rows[order], shares[order])]
