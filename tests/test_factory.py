"""The application factory follows the flaskr pattern: defaults → instance → env → test."""

from __future__ import annotations

from pathlib import Path

import pytest

from webapp import create_app


def test_default_app_is_not_testing() -> None:
    assert not create_app().testing


def test_test_config_is_applied() -> None:
    assert create_app({"TESTING": True}).testing


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAGE_SIZE", "7")
    monkeypatch.setenv("TEXT_ENCODER", "use")
    app = create_app()
    assert app.config["PAGE_SIZE"] == 7
    assert app.config["TEXT_ENCODER"] == "use"


def test_instance_config_sits_between_defaults_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config.py").write_text("PAGE_SIZE = 11\nMAX_PAGE = 9\n")
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("MAX_PAGE", "5")
    app = create_app()
    assert app.instance_path == str(tmp_path)
    assert app.config["PAGE_SIZE"] == 11  # instance beats defaults
    assert app.config["MAX_PAGE"] == 5  # environment beats instance


def test_healthz_answers_without_loading_models() -> None:
    app = create_app({"TESTING": True})
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_is_503_until_loaded_then_200(demo_app) -> None:
    cold = create_app({"TESTING": True})
    assert cold.test_client().get("/readyz").status_code == 503
    ready = demo_app.test_client().get("/readyz")
    assert ready.status_code == 200
    assert ready.json["products"] > 1500


def test_an_unknown_text_encoder_is_a_clear_error() -> None:
    from webapp.encoders.base import EncoderError
    from webapp.encoders.spaces import configured_spaces

    with pytest.raises(EncoderError, match="unknown TEXT_ENCODER 'bert'.*use"):
        configured_spaces({"TEXT_ENCODER": "bert"})
