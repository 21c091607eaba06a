"""Vector back-ends: index choice, approximate search on real vectors, exact filters,
prebuilt memory-mapped indexes and the ``index`` command."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from flask import Flask

from webapp.catalog.embedding_cache import CacheError, read_cache
from webapp.catalog.facets import Facets, Filters
from webapp.catalog.products import read_catalog
from webapp.index.base import Where
from webapp.index.choice import EXACT_MAX_ITEMS, IndexChoiceError, choose_index
from webapp.index.faiss_index import FaissIndex
from webapp.index.prebuilt import IndexFiles, read_manifest
from webapp.lifecycle import build_engine
from webapp.search.results import SearchRequest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def demo() -> tuple[np.ndarray, Facets, list[str]]:
    """The demo catalogue's real USE vectors, its facets and category names."""
    products = read_catalog(ROOT / "data" / "catalog.csv").products
    vectors = read_cache(ROOT / "embeddings" / "text-use.pkl").vectors
    facets = Facets(products)
    return vectors, facets, facets.categories


def exact_top(vectors: np.ndarray, query: np.ndarray, mask: np.ndarray, k: int) -> list[int]:
    """The exact top-``k`` rows among those ``mask`` keeps (brute force, numpy)."""
    rows = np.flatnonzero(mask)
    return rows[np.argsort(-(vectors[rows] @ query), kind="stable")[:k]].tolist()


# -- choosing ------------------------------------------------------------------------------
def test_auto_is_exact_for_small_catalogues_and_hnsw_for_large() -> None:
    assert choose_index("auto", 1601, 512).exact  # the demo: its rankings never move
    assert choose_index("auto", EXACT_MAX_ITEMS, 512).exact
    # make bench: at 25,000 designs a beam of 256 missed recall@100 0.98, 512 met it
    bench = choose_index("auto", 25_000, 512)
    assert bench.kind == "HNSW32,Flat" and bench.params == {"efSearch": 512}
    assert choose_index("auto", 100_000, 512).kind == "HNSW32,Flat"
    large = choose_index("auto", 1_000_000, 512)
    assert large.kind == "IVF4096,SQ8" and large.params == {"nprobe": 128, "rerank": 2}
    assert choose_index("hnsw", 1_000_000, 512).params["efSearch"] == 1024  # the beam grows


def test_names_factory_strings_and_params() -> None:
    assert choose_index("ivf-sq8", 1_000_000, 512).kind == "IVF4096,SQ8"
    assert choose_index("HNSW16,SQfp16", 10, 512).kind == "HNSW16,SQfp16"
    assert choose_index("hnsw", 10, 512, "efSearch=300,rerank=3").params == {
        "efSearch": 300,
        "rerank": 3,
    }


@pytest.mark.parametrize(
    ("setting", "params", "named"),
    [
        ("fancy-tree", "", "fancy-tree"),
        ("hnsw", "efSearch=many", "efSearch=many"),
        ("hnsw", "depth=3", "depth=3"),
        ("flat", "efSearch=64", "exact"),
    ],
)
def test_bad_settings_are_refused_clearly(setting: str, params: str, named: str) -> None:
    with pytest.raises(IndexChoiceError, match=named):
        choose_index(setting, 1000, 512, params)


# -- searching -----------------------------------------------------------------------------
def test_hnsw_finds_what_exact_search_finds_on_real_vectors(demo) -> None:
    vectors, _, _ = demo
    index = FaissIndex.build(vectors, "HNSW32,SQ8", {"efSearch": 64, "rerank": 2})
    queries = vectors[::40]
    everything = np.ones(len(vectors), bool)
    recall = np.mean(
        [
            len(set(index.search(q, 10)[0].tolist()) & set(exact_top(vectors, q, everything, 10)))
            / 10
            for q in queries
        ]
    )
    assert recall >= 0.95
    rows, scores = index.search(queries[0], 10)
    assert np.allclose(scores, vectors[rows] @ queries[0], atol=1e-5)  # re-scored exactly


@pytest.mark.parametrize("scan_rows", [0, 20_000])
def test_filters_never_lose_results_with_an_approximate_index(demo, scan_rows: int) -> None:
    """A coarse IVF probing one cell misses most of a narrow category; the filtered
    search still returns as many rows as pass, all of them passing. Filters keeping
    fewer than ``exact_scan_rows`` rows (all of the demo's) are answered exactly."""
    vectors, facets, categories = demo
    index = FaissIndex.build(vectors, "IVF32,Flat", {"nprobe": 1})
    index.exact_scan_rows = scan_rows
    index.exact_scan_share = 0.15 if scan_rows else 0.0
    filters = [Filters(category=c) for c in categories] + [
        Filters(price_min=500, price_max=700),
        Filters(category=categories[0], price_max=900),
    ]
    for number, flt in enumerate(filters):
        query = vectors[(number * 97) % len(vectors)]
        mask = facets.mask(flt)
        rows, scores = index.search(query, 24, Where(mask, flt))
        expected = exact_top(vectors, query, mask, 24)
        assert len(rows) == min(24, int(mask.sum())), flt
        assert mask[rows].all(), flt
        if scan_rows:
            assert rows.tolist() == expected, flt


def test_memory_mapped_index_answers_like_the_built_one(demo, tmp_path: Path) -> None:
    vectors, facets, categories = demo
    built = FaissIndex.build(vectors, "HNSW16,Flat", {"efSearch": 32})
    built.save(tmp_path / "e.faiss", tmp_path / "a.faiss")
    assert not (tmp_path / "e.faiss").exists()  # the HNSW's own float storage serves exactly
    mapped = FaissIndex.load(tmp_path / "e.faiss", tmp_path / "a.faiss", "HNSW16,Flat", {})
    assert np.array_equal(mapped.vectors, vectors)
    where = Where(facets.mask(Filters(category=categories[1])))
    for q in vectors[::200]:
        assert mapped.search(q, 10)[0].tolist() == built.search(q, 10)[0].tolist()
        assert mapped.search(q, 10, where)[0].tolist() == built.search(q, 10, where)[0].tolist()


# -- the engine with filters pushed down ---------------------------------------------------
QUERIES = ("кот", "цветы", "новогодний узор", "машина", "сердце", "еда", "флаг")


def test_a_filtered_search_keeps_every_result_the_filter_allows(demo_app: Flask) -> None:
    """Filters narrow the candidates before ranking: a filtered search never shows fewer
    designs than the unfiltered one has in that category or price range."""
    engine = demo_app.extensions["search"]
    for query in QUERIES:
        everything = engine.search(SearchRequest(query, per_page=2000))
        for category in {h.product.category for h in everything.hits}:
            flt = Filters(category=category)
            narrowed = engine.search(SearchRequest(query, filters=flt, per_page=2000))
            inside = {h.product.id for h in everything.hits if h.product.category == category}
            assert inside <= {h.product.id for h in narrowed.hits}, (query, category)
            assert narrowed.total >= len(inside)


# -- prebuilt indexes in the app -----------------------------------------------------------
def test_index_command_builds_what_the_server_maps(mini_app: Flask) -> None:
    mini_app.config["INDEX_TYPE"] = "hnsw"
    with pytest.raises(CacheError, match="flask --app webapp index"):
        build_engine(mini_app)
    result = mini_app.test_cli_runner().invoke(args=["index"])
    assert result.exit_code == 0, result.output
    assert "HNSW32,Flat over 5 items" in result.output
    directory = Path(mini_app.config["EMBEDDINGS_DIR"])
    manifest = read_manifest(directory, "text-use")
    assert manifest is not None and manifest["index"] == "HNSW32,Flat"
    assert IndexFiles.of(directory, "text-use").ann.is_file()
    assert not IndexFiles.of(directory, "text-use").exact.exists()  # kept once, in the HNSW
    engine = build_engine(mini_app)
    assert engine.describe()["spaces"]["text-use"]["index"] == "HNSW32,Flat"
    assert engine.search(SearchRequest("танк")).hits[0].product.title == "Танк"


def test_a_rewritten_cache_makes_the_prebuilt_index_stale(mini_app: Flask) -> None:
    mini_app.config["INDEX_TYPE"] = "hnsw"
    assert mini_app.test_cli_runner().invoke(args=["index"]).exit_code == 0
    cache = Path(mini_app.config["EMBEDDINGS_DIR"]) / "text-use.pkl"
    os.utime(cache, ns=(cache.stat().st_atime_ns, cache.stat().st_mtime_ns + 10**9))
    with pytest.raises(CacheError, match="rewritten after the index was built"):
        build_engine(mini_app)
    mini_app.config["INDEX_TYPE"] = "auto"  # exact: rebuilt in memory from the cache
    assert build_engine(mini_app).describe()["spaces"]["text-use"]["index"] == "Flat"


def test_a_missing_index_file_is_refused_with_the_fix(mini_app: Flask) -> None:
    mini_app.config["INDEX_TYPE"] = "hnsw"
    assert mini_app.test_cli_runner().invoke(args=["index"]).exit_code == 0
    IndexFiles.of(Path(mini_app.config["EMBEDDINGS_DIR"]), "text-use").ann.unlink()
    with pytest.raises(CacheError, match="text-use.ann.faiss is missing.*webapp index"):
        build_engine(mini_app)


def test_a_bad_index_setting_is_a_clear_cli_error(mini_app: Flask) -> None:
    result = mini_app.test_cli_runner().invoke(args=["index", "--type", "bogus"])
    assert result.exit_code != 0
    assert "INDEX_TYPE 'bogus'" in result.output


def test_a_narrow_filter_gets_its_own_candidates(demo_app: Flask) -> None:
    """With a small candidate budget, the unfiltered ranking reaches few designs in a price
    band; the filtered one searches inside the band and finds more (post-filtering the
    unfiltered list, as before, would find exactly as many)."""
    shipped = demo_app.extensions["search"]
    engine = shipped.with_ranking(shipped.settings.replace(**{"fusion.candidates": 10}))
    gained = 0
    for low in range(100, 3000, 300):
        flt = Filters(price_min=low, price_max=low + 299)
        everything = engine.search(SearchRequest("цветы", per_page=2000))
        inside = [h for h in everything.hits if low <= h.product.price <= low + 299]
        narrowed = engine.search(SearchRequest("цветы", filters=flt, per_page=2000))
        assert narrowed.total >= len(inside)
        gained += narrowed.total > len(inside)
    assert gained >= 3
