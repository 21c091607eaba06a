"""The Milvus back-end on a real Milvus Lite file: the demo's real USE vectors, compared
with the exact FAISS back-end; incremental sync; hostile filter values; readiness."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import pytest

from webapp.catalog.embedding_cache import EmbeddingCache, read_cache
from webapp.catalog.facets import Facets, Filters
from webapp.catalog.products import Product, read_catalog
from webapp.index.base import IndexUnavailable, Where
from webapp.index.faiss_index import FaissIndex
from webapp.index.milvus_index import (
    MilvusIndex,
    connect,
    open_milvus,
    public_uri,
    string_literal,
)
from webapp.index.milvus_sync import collection_name

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = ['a"b\\c', '" or price >= 0 or category == "', "line\nbreak\\", "\\"]


@pytest.fixture(scope="module")
def demo() -> tuple[list[Product], EmbeddingCache]:
    """The demo catalogue and its real USE vectors (1,601 × 512)."""
    products = read_catalog(ROOT / "data" / "catalog.csv").products
    return list(products), read_cache(ROOT / "embeddings" / "text-use.pkl")


@pytest.fixture(scope="module")
def milvus(demo, tmp_path_factory) -> MilvusIndex:
    """The whole demo synced into a fresh Milvus Lite file."""
    products, cache = demo
    uri = str(tmp_path_factory.mktemp("milvus") / "demo.db")
    return open_milvus(uri, cache.space, products, cache, sync=True)


@pytest.fixture(scope="module")
def exact(demo) -> FaissIndex:
    """The exact FAISS back-end over the same vectors: the reference answer."""
    return FaissIndex.exact_over(demo[1].vectors, use_gpu=False)


def where(products: list[Product], filters: Filters, exclude: tuple[int, ...] = ()) -> Where:
    """The Where the engine would build for ``filters`` less ``exclude``."""
    mask = Facets(products).mask(filters)
    mask[list(exclude)] = False
    return Where(mask, filters, exclude)


def assert_same(got: tuple[np.ndarray, np.ndarray], want: tuple[np.ndarray, np.ndarray]) -> None:
    """Same rows and cosines, best first (rows may swap only where cosines tie)."""
    (rows, scores), (want_rows, want_scores) = got, want
    assert len(rows) == len(want_rows)
    np.testing.assert_allclose(scores, want_scores, atol=1e-5)
    distinct = np.abs(np.diff(want_scores, prepend=2.0, append=-2.0)) > 1e-5
    unique = distinct[:-1] & distinct[1:]
    assert np.array_equal(rows[unique], want_rows[unique])


FILTERS = [
    Filters(),
    Filters(category="Животные и природа"),
    Filters(price_min=500, price_max=900),
    Filters(category="Предметы", price_max=700),
]


@pytest.mark.parametrize("filters", FILTERS, ids=["none", "category", "price", "both"])
def test_results_equal_the_exact_faiss_top_k(milvus, exact, demo, filters):
    products, cache = demo
    for row in range(0, len(products), 160):
        query = cache.vectors[row]
        kept = where(products, filters, exclude=(row, 3)) if filters.active else None
        got = milvus.search(query, 25, kept)
        assert len(got[0]) == 25
        assert_same(got, exact.search(query, 25, kept))
        if kept is not None:
            assert kept.mask[got[0]].all()


def test_excluded_rows_never_come_back(milvus, demo):
    products, cache = demo
    first, _ = milvus.search(cache.vectors[10], 5)
    rows, _ = milvus.search(cache.vectors[10], 5, where(products, Filters(), tuple(first[:3])))
    assert not set(first[:3].tolist()) & set(rows.tolist()) and len(rows) == 5


def test_a_filter_leaving_fewer_than_k_rows_returns_all_of_them(milvus, exact, demo):
    products, cache = demo
    kept = where(products, Filters(category="Животные и природа", price_max=400))
    assert 0 < kept.count < 100
    got = milvus.search(cache.vectors[0], 100, kept)
    assert_same(got, exact.search(cache.vectors[0], 100, kept))
    assert sorted(got[0].tolist()) == kept.rows.tolist()


def test_a_bare_mask_the_filters_do_not_describe_is_still_honoured(milvus, exact, demo):
    products, cache = demo
    mask = np.zeros(len(products), bool)
    mask[::7] = True
    kept = Where(mask)
    assert_same(milvus.search(cache.vectors[5], 10, kept), exact.search(cache.vectors[5], 10, kept))


def test_describe_names_the_backend_collection_and_size(milvus, demo):
    assert milvus.describe() == {
        "index": "milvus",
        "uri": milvus.uri,
        "collection": "space_text_use",
        "items": len(demo[0]),
    }
    assert milvus.dim == 512 and milvus.vectors is demo[1].vectors


def test_uris_shown_carry_no_credentials_and_names_follow_milvus_rules():
    assert public_uri("https://shop:s3cret@milvus.example:19530/db?token=x") == (
        "https://milvus.example:19530/db"
    )
    assert collection_name("image-efficientnet-lite0") == "space_image_efficientnet_lite0"


def test_string_literals_escape_quotes_backslashes_and_line_breaks():
    assert string_literal('a"b\\c\nd') == '"a\\"b\\\\c\\nd"'


def small(demo, n: int, categories=None) -> tuple[list[Product], EmbeddingCache]:
    """The first ``n`` products and vectors, optionally with categories replaced."""
    products, cache = demo
    chosen = products[:n]
    if categories:
        chosen = [
            dataclasses.replace(p, category=categories[i % len(categories)])
            for i, p in enumerate(chosen)
        ]
    sliced = dataclasses.replace(
        cache,
        ids=cache.ids[:n],
        vectors=cache.vectors[:n],
        item_digests=cache.item_digests[:n],
    )
    return chosen, sliced


def test_hostile_category_strings_filter_exactly(demo, tmp_path):
    products, cache = small(demo, 120, HOSTILE + ["Предметы"])
    index = open_milvus(str(tmp_path / "h.db"), cache.space, products, cache, sync=True)
    reference = FaissIndex.exact_over(cache.vectors, use_gpu=False)
    for category in HOSTILE:
        kept = where(products, Filters(category=category))
        got = index.search(cache.vectors[1], 10, kept)
        assert_same(got, reference.search(cache.vectors[1], 10, kept))
        assert {products[r].category for r in got[0]} == {category}
    missing = where(products, Filters(category='nope" or id != "'))
    assert len(index.search(cache.vectors[1], 10, missing)[0]) == 0


def test_sync_upserts_only_changed_digests_and_deletes_removed_ids(demo, tmp_path):
    products, cache = small(demo, 200)
    uri = str(tmp_path / "sync.db")
    first = open_milvus(uri, cache.space, products, cache, sync=True)
    assert (first.sync().upserted, first.sync().unchanged) == (0, 200)

    # three products re-embedded (new digest, new vector), one repriced, ten withdrawn
    vectors = cache.vectors.copy()
    vectors[[0, 1, 2]] = cache.vectors[[150, 151, 152]]
    digests = list(cache.item_digests)
    for row in (0, 1, 2):
        digests[row] = "changed-" + digests[row][:20]
    products = list(products)
    products[5] = dataclasses.replace(products[5], price=products[5].price + 1)
    keep = [r for r in range(200) if r < 190]
    changed = dataclasses.replace(
        cache,
        ids=[cache.ids[r] for r in keep],
        vectors=vectors[keep],
        item_digests=[digests[r] for r in keep],
    )
    products = [products[r] for r in keep]
    index = MilvusIndex(connect(uri), cache.space, products, changed, uri=uri)
    report = index.sync()
    assert (report.upserted, report.deleted, report.unchanged) == (4, 10, 186)
    assert set(report.seconds) >= {"load", "read", "upsert", "delete", "flush"}
    index.check()
    rows, scores = index.search(cache.vectors[150], 2)
    assert set(rows.tolist()) == {0, 150} and scores[1] > 0.999
    priced = where(products, Filters(price_min=products[5].price, price_max=products[5].price))
    assert 5 in index.search(cache.vectors[5], 200, priced)[0]


def test_another_models_collection_is_rebuilt(demo, tmp_path):
    products, cache = small(demo, 30)
    uri = str(tmp_path / "model.db")
    open_milvus(uri, cache.space, products, cache, sync=True)
    other = dataclasses.replace(cache, model="another-model")
    report = MilvusIndex(connect(uri), cache.space, products, other, uri=uri).sync()
    assert report.recreated and report.upserted == 30


def test_check_passes_when_synced_and_names_the_index_command_when_not(demo, tmp_path):
    products, cache = small(demo, 40)
    uri = str(tmp_path / "check.db")
    with pytest.raises(IndexUnavailable, match="missing; run `flask --app webapp index`"):
        open_milvus(uri, cache.space, products, cache)
    index = open_milvus(uri, cache.space, products, cache, sync=True)
    index.check()
    with pytest.raises(IndexUnavailable, match="holds 40 items, the catalogue 41.*index`"):
        index.check(41)
    grown, bigger = small(demo, 41)
    with pytest.raises(IndexUnavailable, match="flask --app webapp index"):
        open_milvus(uri, cache.space, grown, bigger)


def test_an_unreachable_server_is_a_clear_error_quickly(demo):
    products, cache = small(demo, 10)
    start = time.perf_counter()
    with pytest.raises(IndexUnavailable, match=r"127\.0\.0\.1:1.*flask --app webapp index"):
        open_milvus("http://127.0.0.1:1", cache.space, products, cache, timeout=2)
    assert time.perf_counter() - start < 5


def test_a_cache_out_of_catalogue_order_is_refused(demo, tmp_path):
    products, cache = small(demo, 10)
    with pytest.raises(ValueError, match="not the catalogue's"):
        MilvusIndex(connect(str(tmp_path / "o.db")), cache.space, products[::-1], cache)
