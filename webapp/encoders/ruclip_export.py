"""``flask --app webapp export-text-model``: ruCLIP's query tower exported for ONNX Runtime.

Apart from the export itself (``ruclip_onnx.py``) so that registering the command costs
a server nothing: torch (≈ 250 MiB and 2–3 s) is imported only when the command runs.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from .ruclip_folder import PRECISIONS


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
    from .ruclip_encoder import RuCLIPEncoder
    from .ruclip_onnx import QUANTISATION, export_text_tower, onnx_file

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
