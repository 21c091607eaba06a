"""The product table as mapped columns: every product back exactly, looked up without a dict.

The table a worker maps must give the same products, categories and prices as the
catalogue it was built from, built one row at a time (a page needs 24, not a million).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from webapp.catalog.columns import SortedStrings, StringColumn
from webapp.catalog.facets import Facets
from webapp.catalog.products import Product, read_catalog
from webapp.catalog.table import ProductTable

ROOT = Path(__file__).resolve().parent.parent

ODD = [
    Product("b", "Ёжик «в тумане»", "Животные", "", (), "", 0, "images/b.png"),
    Product("a-1", "Кот 🐈", "Животные", "Кошки", ("кот", "котик, рыжий"), "Описание", 10, "x.png"),
    Product("a", "Ракета", "Транспорт", "Космос", ("ракета",), "Длинное\nописание", 999, "r.png"),
    Product("ab", "Собака", "Животные", "Собаки", ("пёс",), "", 5, "images/ab.png"),
]


@pytest.fixture(scope="module")
def demo() -> tuple[Product, ...]:
    """The committed demo catalogue's products."""
    return read_catalog(ROOT / "data" / "catalog.csv").products


@pytest.fixture(scope="module")
def mapped(demo, tmp_path_factory) -> ProductTable:
    """The demo's table, saved and mapped back."""
    folder = tmp_path_factory.mktemp("table")
    ProductTable.build(demo).save(folder)
    return ProductTable.load(folder)


@pytest.mark.parametrize("products", [ODD, ODD[:1]], ids=["odd", "one"])
def test_every_product_comes_back_from_the_columns(products, tmp_path) -> None:
    ProductTable.build(products).save(tmp_path)
    table = ProductTable.load(tmp_path)
    assert len(table) == len(products)
    assert list(table) == list(products)
    backwards = list(range(len(products)))[::-1]
    assert table.products(backwards) == [products[r] for r in backwards]


def test_the_demo_table_is_mapped_not_read(mapped, demo) -> None:
    assert [mapped[row] for row in range(len(demo))] == list(demo)
    for column in (mapped.prices, mapped.category_codes, mapped.ids.data, mapped.ids.offsets):
        assert isinstance(column.base, np.memmap)


def test_ids_are_found_by_binary_search_and_unknown_ones_are_not(mapped, demo) -> None:
    assert all(mapped.row_of(p.id) == row for row, p in enumerate(demo))
    for unknown in ("", "0", "zzzz", demo[0].id + "-", demo[-1].id[:-1], "\x00"):
        assert mapped.row_of(unknown) is None
    assert mapped.rows_of([demo[5].id, "nope", demo[2].id]) == [5, 2]
    table = ProductTable.build(ODD)
    assert [table.row_of(i) for i in ("a", "a-1", "ab", "b", "a-")] == [2, 1, 3, 0, None]


def test_facet_columns_are_what_the_search_core_filters_on(mapped, demo) -> None:
    facets = Facets(demo)
    assert mapped.categories == facets.categories
    assert np.array_equal(mapped.category_codes, facets.category)
    assert np.array_equal(mapped.prices, facets.price)
    assert mapped.counts() == facets.counts()


def test_a_string_column_slices_and_a_sorted_one_is_a_set(tmp_path) -> None:
    words = sorted({"кот", "котик", "ёж", "", "a-b", "zebra"})
    StringColumn.of(words).save(tmp_path, "words")
    column = StringColumn.load(tmp_path, "words")
    assert list(column) == words and column[1:3] == words[1:3] and column[-1] == words[-1]
    found = SortedStrings(column)
    assert all(found.index(w) == i for i, w in enumerate(words))
    assert "кошка" not in found and "" in found and 5 not in found
