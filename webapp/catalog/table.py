"""The product table as columns: what pages, facets and the ranking read, row by row.

Row ``i`` is the catalogue's ``i``-th good product, as everywhere in the search core.
Text columns are :class:`~.columns.StringColumn` s, categories and subcategories are
codes into their names (in order of first appearance, as the category list shows
them), prices an ``int64`` column. Saved by ``flask --app webapp index``, a worker maps
the columns and builds a :class:`Product` only for the rows a page shows; a small
catalogue builds the same table in memory at start (:func:`.artifacts.open_catalog`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from .columns import IdLookup, StringColumn, load_array, save_array
from .products import Product

#: the string columns, named after Product's fields (tags joined by TAG_SEPARATOR)
TEXT_COLUMNS = ("id", "title", "tags", "description", "image")
#: tags never hold ";" (``products._split_tags`` splits on it), so this joins them safely
TAG_SEPARATOR = "; "


class ProductTable(Sequence[Product]):
    """The catalogue's products as columns; ``table[row]`` builds one :class:`Product`."""

    def __init__(
        self,
        text: dict[str, StringColumn],
        category_names: StringColumn,
        category_codes: np.ndarray,
        subcategory_names: StringColumn,
        subcategory_codes: np.ndarray,
        prices: np.ndarray,
        by_id: np.ndarray,
    ) -> None:
        """Assemble a table from its columns (all row-aligned; ``by_id``: rows in id order)."""
        self.text = text
        self.ids = text["id"]
        #: category names in catalogue order (few: a plain list)
        self.categories: list[str] = list(category_names)
        self.category_names = category_names
        #: per row, the index of its category in :attr:`categories`
        self.category_codes = category_codes
        self.subcategory_names = subcategory_names
        self.subcategory_codes = subcategory_codes
        #: per row, the price in whole roubles
        self.prices = prices
        self._lookup = IdLookup(self.ids, by_id)

    # -- building and saving ---------------------------------------------------------------
    @classmethod
    def build(cls, products: Sequence[Product]) -> ProductTable:
        """The table of ``products`` in memory (row i = ``products[i]``)."""
        text = {
            "id": StringColumn.of(p.id for p in products),
            "title": StringColumn.of(p.title for p in products),
            "tags": StringColumn.of(TAG_SEPARATOR.join(p.tags) for p in products),
            "description": StringColumn.of(p.description for p in products),
            "image": StringColumn.of(p.image for p in products),
        }
        categories, category_codes = _codes(p.category for p in products)
        subcategories, subcategory_codes = _codes(p.subcategory for p in products)
        ids = [p.id for p in products]
        by_id = np.array(sorted(range(len(ids)), key=ids.__getitem__), np.int64)
        return cls(
            text,
            StringColumn.of(categories),
            category_codes,
            StringColumn.of(subcategories),
            subcategory_codes,
            np.array([p.price for p in products], np.int64),
            by_id,
        )

    def save(self, folder: Path) -> list[Path]:
        """Write every column into ``folder``; return the files written."""
        written: list[Path] = []
        for name, column in self.text.items():
            written += column.save(folder, f"table.{name}")
        written += self.category_names.save(folder, "table.category_names")
        written += self.subcategory_names.save(folder, "table.subcategory_names")
        arrays = {
            "table.category_codes": self.category_codes,
            "table.subcategory_codes": self.subcategory_codes,
            "table.price": self.prices,
            "table.by_id": self._lookup.by_id,
        }
        for name, array in arrays.items():
            save_array(folder / f"{name}.npy", array)
            written.append(folder / f"{name}.npy")
        return written

    @classmethod
    def load(cls, folder: Path) -> ProductTable:
        """The table saved in ``folder``, every column memory-mapped."""
        return cls(
            {name: StringColumn.load(folder, f"table.{name}") for name in TEXT_COLUMNS},
            StringColumn.load(folder, "table.category_names"),
            load_array(folder / "table.category_codes.npy"),
            StringColumn.load(folder, "table.subcategory_names"),
            load_array(folder / "table.subcategory_codes.npy"),
            load_array(folder / "table.price.npy"),
            load_array(folder / "table.by_id.npy"),
        )

    # -- reading ---------------------------------------------------------------------------
    def __len__(self) -> int:
        """Number of products."""
        return len(self.ids)

    def __getitem__(self, row):  # type: ignore[override]
        """The product in ``row`` (a list of them for a slice)."""
        if isinstance(row, slice):
            return [self.product(i) for i in range(*row.indices(len(self)))]
        return self.product(row)

    def __iter__(self) -> Iterator[Product]:
        """Every product in row order (offline use: builds them all)."""
        return (self.product(row) for row in range(len(self)))

    def product(self, row: int) -> Product:
        """The :class:`Product` of ``row``, built from the columns."""
        row = int(row)
        text = self.text
        tags = text["tags"][row]
        return Product(
            id=text["id"][row],
            title=text["title"][row],
            category=self.categories[int(self.category_codes[row])],
            subcategory=self.subcategory_names[int(self.subcategory_codes[row])],
            tags=tuple(tags.split(TAG_SEPARATOR)) if tags else (),
            description=text["description"][row],
            price=int(self.prices[row]),
            image=text["image"][row],
        )

    def products(self, rows: Iterable[int]) -> list[Product]:
        """The products of ``rows``, in that order (a page: 24 of them)."""
        return [self.product(r) for r in rows]

    def row_of(self, product_id: str) -> int | None:
        """The row of ``product_id``, or None (a binary search over the mapped id order)."""
        return self._lookup.row_of(product_id)

    def rows_of(self, ids: Iterable[str]) -> list[int]:
        """Rows of the known ``ids``, in their order (unknown ids are skipped)."""
        rows = (self.row_of(i) for i in ids)
        return [r for r in rows if r is not None]

    def counts(self) -> list[tuple[str, int]]:
        """Category names with their product counts, in catalogue order."""
        sizes = np.bincount(self.category_codes, minlength=len(self.categories)).tolist()
        return list(zip(self.categories, sizes, strict=True))


def _codes(values: Iterable[str]) -> tuple[list[str], np.ndarray]:
    """Distinct ``values`` in order of first appearance, and each value's index among them."""
    names: dict[str, int] = {}
    codes = [names.setdefault(v, len(names)) for v in values]
    return list(names), np.array(codes, np.int32)
