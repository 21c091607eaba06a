"""End-to-end search with RUCLIP_MODEL_DIR pointing at a generated tiny ruCLIP model."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from webapp import create_app
from webapp.encoders.base import EncoderError

from .conftest import MINI_ROWS
from .helpers import write_catalog
from .ruclip_fixtures import make_model


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_model(tmp_path_factory.mktemp("ruclip") / "tiny")


def ruclip_app(tmp_path: Path, model: Path) -> Flask:
    data = tmp_path / "data"
    write_catalog(data, [dict(r) for r in MINI_ROWS])
    app = create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(data),
            "RUCLIP_MODEL_DIR": str(model),
            "EMBEDDINGS_DIR": str(tmp_path / "embeddings"),
            "TORCH_THREADS": 1,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        }
    )
    result = app.test_cli_runner().invoke(args=["embed"])
    assert result.exit_code == 0, result.output
    for space in ("text-use", "ruclip-image", "ruclip-text", "ruclip-combined"):
        assert f"{space}: 5 items" in result.output
    return app


def test_api_and_page_rank_deterministically_with_ruclip_spaces(tmp_path: Path, tiny_model) -> None:
    app = ruclip_app(tmp_path, tiny_model)
    client = app.test_client()
    first = client.get("/api/search", query_string={"q": "петух"}).json
    again = client.get("/api/search", query_string={"q": "петух"}).json
    assert [r["id"] for r in first["results"]] == [r["id"] for r in again["results"]]
    assert first["results"][0]["id"] == "a1"
    assert {"ruclip-image", "ruclip-combined"} <= set(first["results"][0]["why"]["signals"])
    assert "ruclip-text" not in first["results"][0]["why"]["signals"]  # embedded, not searched
    html = client.get("/search", query_string={"q": "петух"}).get_data(as_text=True)
    positions = [html.index(f"/product/{r['id']}?q=") for r in first["results"]]
    assert positions == sorted(positions)
    ready = client.get("/readyz").json
    assert ready["spaces"]["ruclip-image"].startswith("ruclip/")


def test_a_rebuilt_model_makes_the_server_refuse_old_caches(tmp_path: Path, tiny_model) -> None:
    app = ruclip_app(tmp_path, tiny_model)
    other = make_model(tmp_path / "other", seed=1)
    app.config["RUCLIP_MODEL_DIR"] = str(other)
    response = app.test_client().get("/api/search", query_string={"q": "петух"})
    assert response.status_code == 503  # the engine cannot load: foreign caches
    from webapp.catalog.embedding_cache import CacheError
    from webapp.lifecycle import build_engine

    with pytest.raises(CacheError, match="built by model.*flask --app webapp embed"):
        build_engine(app)


def test_a_bad_model_folder_names_the_three_files(tmp_path: Path) -> None:
    app = create_app({"TESTING": True, "RUCLIP_MODEL_DIR": str(tmp_path)})
    result = app.test_cli_runner().invoke(args=["embed"])
    assert result.exit_code != 0
    assert isinstance(result.exception, EncoderError)
    for name in ("config.json", "bpe.model", "pytorch_model.bin"):
        assert name in str(result.exception)
