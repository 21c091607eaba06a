"""The models' build steps: the image tower's ONNX export, the ruCLIP query tower's ONNX
export, and a ruCLIP model folder with random weights (no real weights exist here)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..encoders.efficientnet_lite import export_onnx, onnx_path, weights_identity, weights_path
from ..encoders.ruclip_models import PRESETS, ROOT, folder_sizes, generate_model
from ..encoders.ruclip_onnx import PRECISIONS, QUANTISATION, export_text_tower, onnx_file


@click.command("export-image-model")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Target file [default: IMAGE_MODEL_DIR/efficientnet-lite0.onnx].",
)
@with_appcontext
def export_image_model_command(out: Path | None) -> None:
    """Export the EfficientNet-Lite0 image tower to ONNX (≈4× faster than torch on CPU)."""
    target = export_onnx(out or onnx_path(current_app.config))
    click.echo(
        f"{target}: {target.stat().st_size / 2**20:.1f} MiB, {weights_identity(weights_path())}"
    )


@click.command("export-text-model")
@click.option(
    "--precision",
    type=click.Choice([*PRECISIONS, "all"]),
    default=None,
    help="int8, fp32 or all [default: int8 when RUCLIP_QUANTIZE is on, else fp32].",
)
@with_appcontext
def export_text_model_command(precision: str | None) -> None:
    """Export the ruCLIP query tower to ONNX Runtime (RUCLIP_ONNX_DIR); queries then skip torch."""
    from ..encoders.ruclip_encoder import RuCLIPEncoder  # torch and ruclip load only here

    config = current_app.config
    if not config.get("RUCLIP_MODEL_DIR"):
        raise click.UsageError("RUCLIP_MODEL_DIR is not set: there is no ruCLIP model to export")
    precision = precision or ("int8" if config.get("RUCLIP_QUANTIZE") else "fp32")
    clip = RuCLIPEncoder.load(config["RUCLIP_MODEL_DIR"], device="cpu", runtime="torch")
    for name in PRECISIONS if precision == "all" else (precision,):
        target = onnx_file(Path(config["RUCLIP_ONNX_DIR"]), name)
        export_text_tower(clip.model, clip.model_id, target, precision=name)
        how = f", {QUANTISATION}" if name == "int8" else ""
        click.echo(f"{target}: {target.stat().st_size / 2**20:.1f} MiB, {clip.model_id}{how}")


@click.command("make-ruclip-model")
@click.option(
    "--preset",
    type=click.Choice(list(PRESETS)),
    default="tiny",
    show_default=True,
    help="tiny: for tests; base-384: the published ViT-B/32-384 shape, for benchmarks.",
)
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Target folder [default: build/models/<preset>].",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Weight initialisation seed.")
def make_ruclip_model(preset: str, out: Path | None, seed: int) -> None:
    """Generate a ruCLIP model folder with RANDOM weights (no real weights exist here)."""
    folder = generate_model(out or ROOT / "build" / "models" / preset, preset, seed=seed)
    for name, size in folder_sizes(folder).items():
        click.echo(f"{folder / name}: {size / 2**20:.1f} MiB")
    click.echo(f"random weights; use it with RUCLIP_MODEL_DIR={folder}")


COMMANDS = (export_image_model_command, export_text_model_command, make_ruclip_model)
