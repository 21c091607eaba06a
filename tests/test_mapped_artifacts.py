"""The catalogue's artifacts on disk: written by ``index``, mapped while current, refused
(with the command that rebuilds them) when stale, built in memory for small catalogues.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from flask import Flask

from webapp import create_app
from webapp.catalog import artifacts
from webapp.catalog.embedding_cache import CacheError
from webapp.catalog.products import catalog_csv
from webapp.lifecycle import warm_up
from webapp.search.lexical import text_analysis
from webapp.search.results import SearchRequest
from webapp.search.settings import WordSettings

from .conftest import ROOT, database_url
from .helpers import write_catalog

#: how the catalogue's words are analysed for its artifacts (the shipped settings)
TEXT = text_analysis(WordSettings())

ROWS = [
    {"id": f"d{i:02d}", "title": title, "category": category, "tags": tags, "description": "",
     "price": str(100 + i), "image": f"images/d{i:02d}.png"}
    for i, (title, category, tags) in enumerate(
        [("Кот в шляпе", "Животные", "кот; шляпа"), ("Ракета", "Транспорт", "ракета; космос"),
         ("Котик", "Животные", "кот"), ("Танк", "Транспорт", "танк"),
         ("Собака", "Животные", "собака; пёс")] * 4
    )
]  # fmt: skip


@pytest.fixture()
def csv(tmp_path: Path) -> Path:
    """A 20-design catalogue CSV."""
    path = tmp_path / "data" / "catalog.csv"
    path.parent.mkdir()
    path.write_text(catalog_csv(ROWS), encoding="utf-8")
    return path


def built_app(tmp_path: Path, csv: Path) -> Flask:
    """An app over ``csv`` whose `index` command writes into ``tmp_path / embeddings``."""
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url(tmp_path),
            "DATA_DIR": str(csv.parent),
            "EMBEDDINGS_DIR": str(tmp_path / "embeddings"),
            "TEXT_ENCODER": "",
            "IMAGE_ENCODER": "",
            "XMODAL_HEADS": "",
        }
    )
    result = app.test_cli_runner().invoke(args=["index"])
    assert result.exit_code == 0, result.output
    assert "catalogue: 20 designs" in result.output
    return app


def test_the_index_command_writes_a_generation_that_workers_map(tmp_path, csv) -> None:
    built_app(tmp_path, csv)
    directory = tmp_path / "embeddings"
    manifest = artifacts.read_manifest(directory)
    assert manifest is not None and manifest["items"] == 20
    assert all((directory / manifest["folder"] / name).is_file() for name in manifest["bytes"])
    opened = artifacts.open_catalog(directory, csv, TEXT, max_in_memory=0)
    assert isinstance(opened.lexicon.rows.base, np.memmap) and opened.documents is None
    assert opened.table[0].title == "Кот в шляпе" and opened.fingerprint
    assert opened.table.row_of("d03") == 3


def test_a_changed_catalogue_is_refused_above_the_in_memory_limit(tmp_path, csv) -> None:
    built_app(tmp_path, csv)
    directory = tmp_path / "embeddings"
    csv.write_text(catalog_csv(ROWS[:19]), encoding="utf-8")
    with pytest.raises(CacheError, match="catalog.csv changed.*flask --app webapp index"):
        artifacts.open_catalog(directory, csv, TEXT, max_in_memory=10)
    small = artifacts.open_catalog(directory, csv, TEXT, max_in_memory=100)
    assert len(small.table) == 19 and small.documents is not None  # built in memory


def test_no_artifacts_at_all_are_refused_with_the_command_or_built_when_small(tmp_path, csv):
    with pytest.raises(CacheError, match="have not been built.*flask --app webapp index"):
        artifacts.open_catalog(tmp_path / "none", csv, TEXT, max_in_memory=10)
    opened = artifacts.open_catalog(tmp_path / "none", csv, TEXT)
    assert len(opened.table) == 20 and opened.lexicon.postings("кот").tolist() == [
        0, 2, 5, 7, 10, 12, 15, 17,
    ]  # fmt: skip


def test_a_touched_but_unchanged_catalogue_stays_current(tmp_path, csv) -> None:
    built_app(tmp_path, csv)
    stat = csv.stat()
    os.utime(csv, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    manifest = artifacts.read_manifest(tmp_path / "embeddings")
    assert artifacts.staleness(manifest, tmp_path / "embeddings", csv) == ""


def test_a_missing_file_or_a_foreign_manifest_is_stale(tmp_path, csv) -> None:
    built_app(tmp_path, csv)
    directory = tmp_path / "embeddings"
    manifest = artifacts.read_manifest(directory)
    (directory / manifest["folder"] / "lexicon.rows.npy").unlink()
    assert artifacts.staleness(manifest, directory, csv) == "their file lexicon.rows.npy is missing"
    (directory / artifacts.MANIFEST).write_text(json.dumps({**manifest, "version": 0}))
    assert artifacts.read_manifest(directory) is None


def test_a_rebuild_replaces_the_generation_and_a_mapped_one_keeps_serving(tmp_path, csv) -> None:
    app = built_app(tmp_path, csv)
    directory = tmp_path / "embeddings"
    old = artifacts.open_catalog(directory, csv, TEXT, max_in_memory=0)
    first = old.manifest["folder"]
    csv.write_text(catalog_csv([{**ROWS[0], "title": "Кошка"}, *ROWS[1:]]), encoding="utf-8")
    assert app.test_cli_runner().invoke(args=["index"]).exit_code == 0
    new = artifacts.open_catalog(directory, csv, TEXT, max_in_memory=0)
    assert new.manifest["folder"] != first and not (directory / first).exists()
    assert new.table[0].title == "Кошка"
    assert old.table[0].title == "Кот в шляпе" and old.lexicon.scores(["кот"]).any()


def served_app(tmp_path: Path, csv: Path, **config: object) -> Flask:
    """A server's app over ``csv`` (the text space only) and ``tmp_path / embeddings``
    that builds the catalogue's artifacts in memory only up to 10 designs (this one has 20)."""
    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url(tmp_path),
            "DATA_DIR": str(csv.parent),
            "EMBEDDINGS_DIR": str(tmp_path / "embeddings"),
            "IMAGE_ENCODER": "",
            "XMODAL_HEADS": "",
            "CATALOG_BUILD_AT_START": 10,
            "RELOAD_POLL_SECONDS": 0,
            **config,
        }
    )


@pytest.fixture()
def embedded(tmp_path: Path) -> Path:
    """The 20-design catalogue with pictures, embedded in the text space (no index yet)."""
    csv = write_catalog(tmp_path / "data", [dict(r) for r in ROWS])
    result = served_app(tmp_path, csv).test_cli_runner().invoke(args=["embed"])
    assert result.exit_code == 0, result.output
    return csv


def test_a_worker_maps_what_index_built_and_refuses_missing_or_stale_artifacts(
    tmp_path, embedded
) -> None:
    app = served_app(tmp_path, embedded)
    with pytest.raises(CacheError, match="have not been built; build them with: flask --app"):
        warm_up(app)
    response = app.test_client().get("/api/search", query_string={"q": "кот"})
    assert response.status_code == 503  # the shopper is told to come back, the log says why
    assert app.test_cli_runner().invoke(args=["index"]).exit_code == 0
    engine = warm_up(served_app(tmp_path, embedded))
    assert isinstance(engine.products.prices.base, np.memmap)  # mapped, not parsed or built
    assert isinstance(engine.ranker.lexical.lexicon.rows.base, np.memmap)
    found = engine.search(SearchRequest("кот"))
    assert found.hits[0].product.title == "Котик" and found.hits[0].why["terms"] == ["кот"]
    assert engine.product("d03").title == "Танк" and engine.categories()[0] == ("Животные", 12)
    embedded.write_text(catalog_csv(ROWS[:19]), encoding="utf-8")
    with pytest.raises(CacheError, match="catalog.csv changed after they were built; build them"):
        warm_up(served_app(tmp_path, embedded))


def test_artifacts_built_under_other_settings_or_definitions_are_refused(
    tmp_path, embedded
) -> None:
    definitions = tmp_path / "definitions.json"
    definitions.write_bytes((ROOT / "data" / "rules" / "definitions.json").read_bytes())
    app = served_app(tmp_path, embedded, DEFINITIONS_PATH=str(definitions))
    assert app.test_cli_runner().invoke(args=["index"]).exit_code == 0
    engine = warm_up(app)
    assert isinstance(engine.ranker.reverse.index.rows.base, np.memmap)  # reverse dictionary
    tuned = served_app(
        tmp_path, embedded, DEFINITIONS_PATH=str(definitions), RANKING={"words.title_weight": 4}
    )
    with pytest.raises(CacheError, match="ranking settings changed after they were built"):
        warm_up(tuned)
    definitions.write_bytes(definitions.read_bytes() + b"\n")
    with pytest.raises(CacheError, match="definitions.json changed after they were built"):
        warm_up(served_app(tmp_path, embedded, DEFINITIONS_PATH=str(definitions)))
    small = served_app(
        tmp_path, embedded, DEFINITIONS_PATH=str(definitions), CATALOG_BUILD_AT_START=100
    )
    assert warm_up(small).ranker.reverse is not None  # a small catalogue builds them at start
