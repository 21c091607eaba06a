"""ruCLIP's query tower in ONNX Runtime: exported for real from a generated tiny model.

The exported graph must answer what the torch tower answers (fp32: equal; int8: close),
an export of other weights must never be used, and the setting that chooses the
runtime must say what it does: "auto" falls back to torch and says why, "onnxruntime"
refuses to start without a matching export.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import database_url
from tests.ruclip_fixtures import make_model
from webapp import create_app
from webapp.encoders.base import EncoderError
from webapp.encoders.ruclip_encoder import RuCLIPEncoder
from webapp.encoders.ruclip_onnx import export_text_tower, onnx_file
from webapp.encoders.spaces import ruclip_spaces

QUERIES = [
    "милый котёнок в шляпе акварелью",
    "пасхальный кролик",
    "Ёлка",
    "",
    "большой красивый цветочный орнамент с розами для кухонного полотенца " * 12,
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly generated tiny ruCLIP folder (seed 0)."""
    return make_model(tmp_path_factory.mktemp("ruclip") / "tiny")


@pytest.fixture(scope="module")
def exact(model_dir: Path) -> RuCLIPEncoder:
    """The exact fp32 torch encoder: the reference every export is held to."""
    return RuCLIPEncoder.load(model_dir, device="cpu", runtime="torch")


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory: pytest.TempPathFactory, exact: RuCLIPEncoder) -> Path:
    """Both exports of the tiny model's query tower, written by the real exporter."""
    folder = tmp_path_factory.mktemp("onnx")
    for precision in ("int8", "fp32"):
        export_text_tower(
            exact.model, exact.model_id, onnx_file(folder, precision), precision=precision
        )
    return folder


def test_fp32_export_answers_what_the_torch_tower_answers(
    model_dir: Path, exact: RuCLIPEncoder, onnx_dir: Path
) -> None:
    """One query at a time and in a padded batch, short, empty and truncated texts alike."""
    ort = RuCLIPEncoder.load(model_dir, device="cpu", quantize=False, onnx_dir=onnx_dir)
    assert ort.query_runtime == "onnxruntime fp32" and not ort.quantized
    for text in QUERIES:
        assert np.abs(ort.encode_query(text) - exact.encode_query(text)).max() <= 1e-5
    batch = [ort.tokenize(t) for t in QUERIES]
    together = ort.encode_tokens(batch, tower=ort.query_tower)
    assert np.abs(together - exact.encode_tokens(batch)).max() <= 1e-5


def test_int8_export_stays_close_and_leaves_the_catalogue_path_exact(
    model_dir: Path, exact: RuCLIPEncoder, onnx_dir: Path
) -> None:
    """The int8 graph is an approximation (cosine > 0.99); catalogue texts stay in torch fp32."""
    ort = RuCLIPEncoder.load(model_dir, device="cpu", quantize=True, onnx_dir=onnx_dir)
    assert ort.query_runtime == "onnxruntime int8" and ort.quantized
    for text in QUERIES:
        assert float(ort.encode_query(text) @ exact.encode_query(text)) > 0.99
    assert np.abs(ort.encode_texts(QUERIES[:2]) - exact.encode_texts(QUERIES[:2])).max() <= 1e-6
    int8, fp32 = (onnx_file(onnx_dir, p).stat().st_size for p in ("int8", "fp32"))
    assert int8 < fp32 / 2  # the weights are stored as int8


def test_auto_without_an_export_runs_torch_and_says_which_command_fixes_it(
    model_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """No file: "auto" logs the export command and runs the torch int8 tower."""
    with caplog.at_level(logging.WARNING):
        encoder = RuCLIPEncoder.load(model_dir, device="cpu", quantize=True, onnx_dir=tmp_path)
    assert encoder.query_runtime == "torch int8"
    assert "export-text-model" in caplog.text


def test_onnxruntime_without_an_export_refuses_to_start(model_dir: Path, tmp_path: Path) -> None:
    """RUCLIP_RUNTIME=onnxruntime is a promise: no export, no encoder (with the fix)."""
    with pytest.raises(EncoderError, match="export-text-model"):
        RuCLIPEncoder.load(model_dir, device="cpu", runtime="onnxruntime", onnx_dir=tmp_path)


def test_an_export_of_other_weights_is_never_used(
    tmp_path_factory: pytest.TempPathFactory, onnx_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A second model finds the first one's export: auto falls back, onnxruntime refuses."""
    other = make_model(tmp_path_factory.mktemp("ruclip") / "tiny-seed1", seed=1)
    with caplog.at_level(logging.WARNING):
        encoder = RuCLIPEncoder.load(other, device="cpu", quantize=True, onnx_dir=onnx_dir)
    assert encoder.query_runtime == "torch int8" and "exported from" in caplog.text
    with pytest.raises(EncoderError, match="exported from"):
        RuCLIPEncoder.load(other, device="cpu", runtime="onnxruntime", onnx_dir=onnx_dir)


def test_a_corrupt_export_or_an_unknown_runtime_is_refused(
    model_dir: Path, onnx_dir: Path, tmp_path: Path
) -> None:
    """Garbage bytes in the file and a misspelt runtime each get a clear error."""
    broken = tmp_path / "broken"
    broken.mkdir()
    onnx_file(broken, "int8").write_bytes(b"not a model")
    with pytest.raises(EncoderError, match="cannot load"):
        RuCLIPEncoder.load(
            model_dir, device="cpu", quantize=True, runtime="onnxruntime", onnx_dir=broken
        )
    with pytest.raises(EncoderError, match="RUCLIP_RUNTIME"):
        RuCLIPEncoder.load(model_dir, device="cpu", runtime="tensorrt", onnx_dir=onnx_dir)


def test_the_settings_choose_the_runtime(model_dir: Path, onnx_dir: Path) -> None:
    """RUCLIP_RUNTIME and RUCLIP_ONNX_DIR reach the encoder the spaces are built with."""
    config = {"RUCLIP_QUANTIZE": True, "RUCLIP_ONNX_DIR": str(onnx_dir)}
    assert ruclip_spaces(model_dir, config)[0].encoder.query_runtime == "onnxruntime int8"
    config["RUCLIP_RUNTIME"] = "torch"
    assert ruclip_spaces(model_dir, config)[0].encoder.query_runtime == "torch int8"


def test_export_text_model_command_writes_what_the_server_then_uses(
    model_dir: Path, tmp_path: Path
) -> None:
    """``flask export-text-model --precision all`` writes both files; the app's encoder runs
    the configured one. Without a model the command says so (exit 2)."""
    target = tmp_path / "models"
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url(tmp_path),
            "RUCLIP_MODEL_DIR": str(model_dir),
            "RUCLIP_ONNX_DIR": str(target),
        }
    )
    result = app.test_cli_runner().invoke(args=["export-text-model", "--precision", "all"])
    assert result.exit_code == 0, result.output
    assert {p.name for p in target.glob("*.onnx")} == {
        "ruclip-text-int8.onnx",
        "ruclip-text-fp32.onnx",
    }
    assert "ruclip/" in result.output
    for quantize, runtime in ((True, "onnxruntime int8"), (False, "onnxruntime fp32")):
        encoder = RuCLIPEncoder.load(
            model_dir, device="cpu", quantize=quantize, runtime="onnxruntime", onnx_dir=target
        )
        assert encoder.query_runtime == runtime
    bare = create_app({"TESTING": True, "DATABASE_URL": database_url(tmp_path)})
    result = bare.test_cli_runner().invoke(args=["export-text-model"])
    assert result.exit_code == 2 and "RUCLIP_MODEL_DIR" in result.output
