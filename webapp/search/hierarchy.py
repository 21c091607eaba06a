"""The category tree as a signal: a query word that names a category or subcategory (or,
through a concept rule, its synonym) reaches every design of that subtree.

«насекомые» names the subcategory «Насекомые», «транспорт» both «Наземный транспорт» and
«Водный транспорт», «животные» the whole category «Животные и природа». The signal's
score is the share of the query's words the node's name covers, like the lexical one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from ..catalog.products import Product
from .fusion import Signal
from .query import analyse


class CategoryTree:
    """Category and subcategory names (as lemma sets) with the rows of their subtrees."""

    def __init__(self, products: Sequence[Product]) -> None:
        """Index the two levels of ``products``' categories."""
        members: dict[tuple[str, str], list[int]] = defaultdict(list)
        for row, product in enumerate(products):
            members[("category", product.category)].append(row)
            members[("subcategory", f"{product.category}/{product.subcategory}")].append(row)
        self.nodes = [
            (frozenset(analyse(name.split("/")[-1])), np.array(rows, np.int64))
            for (_, name), rows in members.items()
            if name.split("/")[-1].strip()
        ]

    def signal(self, groups: Sequence[tuple[str, ...]]) -> list[Signal]:
        """Rows of every node whose name covers some query word, scored by the share of query
        words it covers (a design in several matching nodes keeps its best share)."""
        if not groups:
            return []
        best: dict[int, float] = {}
        for terms, rows in self.nodes:
            share = sum(bool(terms.intersection(g)) for g in groups) / len(groups)
            if share > 0:
                for row in rows.tolist():
                    best[row] = max(best.get(row, 0.0), share)
        if not best:
            return []
        ordered = sorted(best.items(), key=lambda item: (-item[1], item[0]))
        rows = np.array([r for r, _ in ordered], np.int64)
        scores = np.array([s for _, s in ordered], np.float32)
        return [Signal("category", rows, scores, scores)]
