"""The lexical contract, run against every back-end combination: VECTOR_BACKEND (FAISS,
Milvus) × LEXICAL_BACKEND (local, Milvus full-text BM25), on Milvus Lite in a file.

Each combination is set up as a shop would: ``flask --app webapp index`` writes the
catalogue's artifacts and, where Milvus is named, fills its collections (both in the
same Milvus file when both back-ends are on Milvus); then both back-ends are opened the
way a worker opens them and must keep the contracts at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from flask import Flask

from webapp import create_app
from webapp.catalog import artifacts
from webapp.catalog.facets import Facets, Filters
from webapp.encoders.spaces import configured_spaces
from webapp.index.backends import open_backends
from webapp.index.base import IndexUnavailable, Where
from webapp.index.lexical_backends import open_lexical
from webapp.index.lexical_base import LexicalBackend
from webapp.index.lexical_local import LocalLexical
from webapp.search.lexical import text_analysis
from webapp.search.settings import WordSettings

from .conftest import database_url

#: how the catalogue's words are analysed for its artifacts (the shipped settings)
TEXT = text_analysis(WordSettings())

ROOT = Path(__file__).resolve().parent.parent
COMBINATIONS = [(v, t) for v in ("faiss", "milvus") for t in ("local", "milvus")]
QUERIES = (["кот"], ["кот", "шляпа"], ["новый", "год", "елка"], ["танк", "танк"], ["цветок"])
#: Milvus's BM25 keeps its own document-length statistics: score / best differs from
#: bm25s's by at most 0.075 on 200 random demo queries (mean 0.014); the rows matched
#: are always the same
CALIBRATION_TOLERANCE = 0.1


@pytest.fixture(scope="module", params=COMBINATIONS, ids=lambda c: "×".join(c))
def shop(request, tmp_path_factory) -> Iterator[tuple[Flask, artifacts.CatalogArtifacts, dict]]:
    """The demo shop on one combination, built by ``index``: its app, catalogue artifacts
    and back-ends as a worker opens them."""
    vector, lexical = request.param
    tmp = tmp_path_factory.mktemp("-".join(request.param))
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url(tmp),
            "EMBEDDINGS_DIR": str(tmp / "embeddings"),
            "IMAGE_ENCODER": "",
            "XMODAL_HEADS": "",
            "VECTOR_BACKEND": vector,
            "LEXICAL_BACKEND": lexical,
            "VECTOR_BACKEND_URI": str(tmp / "milvus.db"),
        }
    )
    (tmp / "embeddings").mkdir()
    (tmp / "embeddings" / "text-use.pkl").write_bytes(
        (ROOT / "embeddings/text-use.pkl").read_bytes()
    )
    result = app.test_cli_runner().invoke(args=["index"])
    assert result.exit_code == 0, result.output
    assert ("catalog_lexicon: 1601 upserted" in result.output) == (lexical == "milvus")
    cfg = app.config
    catalog = artifacts.open_catalog(
        Path(cfg["EMBEDDINGS_DIR"]), Path(cfg["DATA_DIR"]) / cfg["CATALOG_CSV"], TEXT,
        max_in_memory=0,
    )  # fmt: skip
    spaces = [s for s in configured_spaces(cfg) if s.searchable]
    vectors = open_backends(cfg, spaces, catalog.as_catalog())
    yield app, catalog, {"lexical": open_lexical(cfg, catalog), **vectors}


def wheres(catalog: artifacts.CatalogArtifacts) -> list[Where | None]:
    """No filter, a category, a price band, an exclusion, and a bare mask."""
    facets = Facets(catalog.table)
    animals, band = Filters(category="Животные и природа"), Filters(price_min=500, price_max=900)
    bare = np.zeros(len(catalog.table), bool)
    bare[::3] = True
    kept = np.ones(len(catalog.table), bool)
    kept[[0, 2]] = False
    return [
        None,
        Where(facets.mask(animals), animals),
        Where(facets.mask(band), band),
        Where(kept, exclude=(0, 2)),
        Where(bare),
    ]


def test_lexical_hits_keep_the_contract(shop) -> None:
    _, catalog, backends = shop
    lexical: LexicalBackend = backends["lexical"]
    local = LocalLexical(catalog.lexicon)
    every = np.arange(len(catalog.table))
    for where in wheres(catalog):
        allowed = every if where is None else where.rows
        for terms in QUERIES:
            hits = lexical.search(terms, 5000, where, words=[*terms, "шляпа"])
            truth = local.search(terms, 5000, where, words=[*terms, "шляпа"])
            assert sorted(hits.rows.tolist()) == sorted(truth.rows.tolist()), terms
            assert np.isin(hits.rows, allowed).all()
            assert np.all(np.diff(hits.scores) <= 0) and hits.best >= hits.scores.max(initial=0)
            assert np.array_equal(hits.contains, catalog.lexicon.contains(hits.rows, hits.words))
            top = lexical.search(terms, 10, where)
            assert len(top.rows) == min(10, len(truth.rows))
            assert np.array_equal(top.rows, hits.rows[:10]), "the top k are the first k"
            mine = dict(zip(hits.rows.tolist(), (hits.scores / hits.best).tolist(), strict=True))
            exact = dict(
                zip(truth.rows.tolist(), (truth.scores / truth.best).tolist(), strict=True)
            )
            assert all(abs(mine[r] - exact[r]) <= CALIBRATION_TOLERANCE for r in exact)
            assert (
                hits.coverage([(terms[0],), ("шляпа",)]).tolist()
                == truth.coverage([(terms[0],), ("шляпа",)]).tolist()
            )


def test_unknown_words_find_nothing_and_the_best_score_ignores_filters(shop) -> None:
    _, catalog, backends = shop
    lexical = backends["lexical"]
    assert len(lexical.search(["несуществующееслово"], 10).rows) == 0
    assert len(lexical.search([], 10).rows) == 0
    unfiltered = lexical.search(["кот"], 10)
    narrow = lexical.search(["кот"], 10, wheres(catalog)[2])
    assert narrow.best == pytest.approx(unfiltered.best)
    assert lexical.describe()["documents"] == len(lexical) == 1601
    lexical.check()


def test_the_vector_backend_serves_beside_it(shop) -> None:
    app, catalog, backends = shop
    vectors = backends["text-use"]
    query = vectors.vectors[catalog.table.row_of("1f413")]
    for where in wheres(catalog):
        rows, scores = vectors.search(np.asarray(query), 20, where)
        exact = np.argsort(-(np.asarray(vectors.vectors) @ query), kind="stable")
        allowed = exact if where is None else exact[where.mask[exact]]
        assert rows.tolist()[:5] == allowed.tolist()[:5]
    assert vectors.describe()["index"] == (
        "milvus" if app.config["VECTOR_BACKEND"] == "milvus" else "Flat"
    )


def test_an_unknown_lexical_backend_is_a_clear_error(shop) -> None:
    _, catalog, _ = shop
    with pytest.raises(IndexUnavailable, match="LEXICAL_BACKEND 'solr': use local or milvus"):
        open_lexical({"LEXICAL_BACKEND": "solr"}, catalog)


def test_a_milvus_lexicon_out_of_step_is_refused_with_the_command(tmp_path) -> None:
    from webapp.catalog.products import read_catalog

    catalog = artifacts.build(read_catalog(ROOT / "data" / "catalog.csv"), TEXT)
    cfg = {
        "LEXICAL_BACKEND": "milvus",
        "VECTOR_BACKEND_URI": str(tmp_path / "m.db"),
        "MILVUS_TIMEOUT": 10.0,
    }
    with pytest.raises(IndexUnavailable, match="catalog_lexicon does not hold.*webapp index"):
        open_lexical(cfg, catalog)
    assert open_lexical(cfg, catalog, sync=True).last_sync.upserted == 1601
    again = open_lexical(cfg, catalog, sync=True).last_sync
    assert again.unchanged == 1601 and not again.recreated
    catalog.manifest["content_digest"] = "another"  # a changed catalogue: rewritten
    with pytest.raises(IndexUnavailable, match="does not hold"):
        open_lexical(cfg, catalog)
