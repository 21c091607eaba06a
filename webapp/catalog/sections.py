"""The category tree's nodes: every category and subcategory, its name's lemmas and rows.

What ``webapp/search/signals/category.py``'s ``CategoryTree`` builds from the products in
every worker (``nodes``: a list of ``(frozenset of lemmas, rows)``, categories and
``category/subcategory`` keys in order of first appearance), computed once from the
table's code columns and saved as one JSON file of names and lemmas plus the member
rows of all nodes end to end (``sections.rows.npy``, cut by ``sections.offsets.npy``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..files import write_atomic
from .columns import load_array, save_array
from .table import ProductTable

Analyse = Callable[[str], tuple[str, ...]]


@dataclass(frozen=True)
class Sections:
    """The nodes of the category tree: names, their lemmas and member rows."""

    names: list[str]
    lemmas: list[tuple[str, ...]]
    rows: np.ndarray
    offsets: np.ndarray

    @property
    def nodes(self) -> list[tuple[frozenset[str], np.ndarray]]:
        """``CategoryTree.nodes``: each named node's lemma set and rows (ascending)."""
        return [
            (frozenset(lemmas), self.rows[self.offsets[i] : self.offsets[i + 1]])
            for i, lemmas in enumerate(self.lemmas)
        ]

    @classmethod
    def build(cls, table: ProductTable, analyse: Analyse) -> Sections:
        """The nodes of ``table``'s two levels, names lemmatised by ``analyse``."""
        categories = table.category_codes.astype(np.int64)
        pairs = categories * len(table.subcategory_names) + table.subcategory_codes
        keys: list[tuple[int, int]] = []  # (kind, code): 0 category, 1 subcategory
        members: list[np.ndarray] = []
        # first appearance of each key, categories before their row's subcategory
        firsts = [(r, 0, c) for c, r in _first_rows(categories).items()]
        firsts += [(r, 1, p) for p, r in _first_rows(pairs).items()]
        for _, kind, code in sorted(firsts):
            column = categories if kind == 0 else pairs
            keys.append((kind, code))
            members.append(np.flatnonzero(column == code))
        names, lemmas, kept = [], [], []
        for (kind, code), rows in zip(keys, members, strict=True):
            if kind == 0:
                key = table.categories[code]
            else:
                category, sub = divmod(code, len(table.subcategory_names))
                key = f"{table.categories[category]}/{table.subcategory_names[sub]}"
            name = key.split("/")[-1]
            if name.strip():
                names.append(key)
                lemmas.append(tuple(sorted(set(analyse(name)))))
                kept.append(rows.astype(np.int64))
        offsets = np.zeros(len(kept) + 1, np.int64)
        np.cumsum([len(r) for r in kept], out=offsets[1:])
        rows = np.concatenate(kept) if kept else np.empty(0, np.int64)
        return cls(names, lemmas, rows, offsets)

    def save(self, folder: Path) -> list[Path]:
        """Write the nodes into ``folder``; return the files written."""
        listing = folder / "sections.json"
        pairs = zip(self.names, self.lemmas, strict=True)
        nodes = [{"key": key, "lemmas": list(lemmas)} for key, lemmas in pairs]
        write_atomic(listing, json.dumps(nodes, ensure_ascii=False).encode())
        save_array(folder / "sections.rows.npy", self.rows)
        save_array(folder / "sections.offsets.npy", self.offsets)
        return [listing, folder / "sections.rows.npy", folder / "sections.offsets.npy"]

    @classmethod
    def load(cls, folder: Path) -> Sections:
        """The nodes saved in ``folder`` (rows memory-mapped)."""
        nodes = json.loads((folder / "sections.json").read_text(encoding="utf-8"))
        return cls(
            [n["key"] for n in nodes],
            [tuple(n["lemmas"]) for n in nodes],
            load_array(folder / "sections.rows.npy"),
            load_array(folder / "sections.offsets.npy"),
        )


def _first_rows(codes: np.ndarray) -> dict[int, int]:
    """Each distinct code in ``codes`` and the first row holding it."""
    values, first = np.unique(codes, return_index=True)
    return dict(zip(values.tolist(), first.tolist(), strict=True))
