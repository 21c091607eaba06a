"""ruCLIP's query tower in ONNX Runtime: the trimmed text tower exported, int8 or fp32.

A query is a handful of tokens, so encoding it is bound by reading the tower's weights,
not by arithmetic. ONNX Runtime's int8 kernels (dynamic quantisation, per output
channel) read 38 MB of int8 weights about twice as fast as torch's dynamically
quantised ``Linear`` on this CPU, and its fp32 graph beats eager torch as well
(docs/performance.md has the table). The exported graph is
:class:`~.ruclip_text.TrimmedTextTower` itself: token ids of any length and each row's
EOS index in, unnormalised features out, so it answers exactly what the torch tower
answers (fp32 ≤ 1e-5; int8 at cosine ≥ 0.997 to the exact vector on the full-size
model, bit for bit the same on AVX2-only and AVX-512 VNNI CPUs: :data:`QUANTISATION`).

``flask --app webapp export-text-model`` (``webapp/commands/models.py``) writes
``ruclip-text-<precision>.onnx`` into
``RUCLIP_ONNX_DIR``; the model's identity, the graph's layout and the quantisation are
stored in its metadata, and an export of other weights or of another quantisation is
never used (the encoder falls back to torch and says which command fixes it).
Catalogue texts always take the exact torch tower: only the query path changes, and
the cache identity stays the model's.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..files import replacing
from .base import EncoderError
from .ruclip_folder import PRECISIONS
from .ruclip_text import TrimmedTextTower
from .sessions import open_onnx

if TYPE_CHECKING:
    from ruclip.model import CLIP

log = logging.getLogger(__name__)

RUNTIMES = ("auto", "onnxruntime", "torch")
#: what the exported graph takes and returns; an export of another layout is not used
LAYOUT = "one-query:ids->features"
EXPORT_HINT = "`flask --app webapp export-text-model`"
#: How the int8 export is quantised, stored in its metadata. Weights are 7-bit
#: (``reduce_range``: |w| ≤ 64), so no pair of u8 activations times weights can pass
#: int16 (2 · 255 · 64 = 32,640 < 32,767): AVX2's ``vpmaddubsw``, which saturates there,
#: and VNNI's ``vpdpbusd``, which does not, compute the same integers. An export without
#: this record (8-bit weights, before issue 20) saturated on AVX2-only CPUs: refused.
QUANTISATION = "dynamic u8xs8 per-channel 7-bit weights"


def onnx_file(folder: Path, precision: str) -> Path:
    """Where the ``precision`` export of the query tower lives in ``folder``."""
    if precision not in PRECISIONS:
        raise EncoderError(f"ruCLIP ONNX precision {precision!r} is not one of {PRECISIONS}")
    return Path(folder) / f"ruclip-text-{precision}.onnx"


def export_text_tower(model: CLIP, model_id: str, target: Path, *, precision: str) -> Path:
    """Export ``model``'s (fp32, CPU) trimmed text tower to ``target`` atomically, int8 or fp32.

    int8 is ONNX Runtime's dynamic quantisation of every MatMul and the token
    table, per output channel (weights int8 in 7 bits, activations u8 quantised per
    call: :data:`QUANTISATION`).
    """
    import onnx

    tower = OneQueryTower(TrimmedTextTower(model)).eval()
    with replacing(target) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation chatter
        torch.onnx.export(
            tower,
            (torch.tensor([[1, 2, 3, 4]]),),
            str(tmp),
            dynamo=False,
            input_names=["ids"],
            output_names=["features"],
            dynamic_axes={"ids": {1: "length"}},
            opset_version=17,
        )
        if precision == "int8":
            _quantize(tmp)
        graph = onnx.load(str(tmp))
        props = {"model_id": model_id, "layout": LAYOUT, "precision": precision}
        if precision == "int8":
            props["quantisation"] = QUANTISATION
        onnx.helper.set_model_props(graph, props)
        onnx.save(graph, str(tmp))
    return target


class OneQueryTower(torch.nn.Module):
    """:class:`TrimmedTextTower`'s maths for one query of real tokens only, as a lean graph.

    A query never needs padding, so the graph takes (1, L) ids ending in EOS and reads
    the last row; every reshape has constant sizes but L, which keeps the exported
    graph free of the shape arithmetic a general batch would need (a third of its
    nodes, and of its time at five tokens).
    """

    def __init__(self, tower: TrimmedTextTower) -> None:
        """Share ``tower``'s modules (no copy)."""
        super().__init__()
        self.tower = tower
        first = tower.blocks[0]
        self.heads, self.width = first.heads, first.qkv.weight.shape[1]

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """(1, L) token ids ending in EOS → (1, embed_dim) features."""
        tower, length = self.tower, ids.shape[1]
        x = tower.token_embedding(ids[0]) + tower.positional_embedding[:length]
        mask = tower.mask[:length, :length]
        for block in tower.blocks:
            x = x + block.out(self._attend(block.qkv(block.ln_1(x)), mask))
            hidden = block.fc(block.ln_2(x))
            x = x + block.proj(hidden * torch.sigmoid(1.702 * hidden))
        out: torch.Tensor = tower.ln_final(x[-1:]) @ tower.text_projection
        return out

    def _attend(self, qkv: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Causal multi-head attention of (L, 3·width) projections → (L, width)."""
        q, k, v = qkv.reshape(-1, 3, self.heads, self.width // self.heads).permute(1, 2, 0, 3)
        scores = (q @ k.transpose(1, 2)) * (self.width // self.heads) ** -0.5 + mask
        out = torch.softmax(scores, dim=-1) @ v
        return out.permute(1, 0, 2).reshape(-1, self.width)


def _quantize(path: Path) -> None:
    """Replace the fp32 graph at ``path`` with its int8 dynamic quantisation."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quiet = logging.getLogger()  # the quantiser logs a pre-processing tip at WARNING
    level, quiet.level = quiet.level, logging.ERROR
    try:
        quantized = path.with_name(path.name + ".int8")
        quantize_dynamic(
            path, quantized, weight_type=QuantType.QInt8, per_channel=True, reduce_range=True
        )
        quantized.replace(path)
    finally:
        quiet.setLevel(level)


class OrtTextTower:
    """The exported query tower in ONNX Runtime, called like the torch tower it replaces."""

    runtime = "onnxruntime"

    def __init__(self, path: Path, *, model_id: str, precision: str, threads: int | None):
        """Open ``path``; EncoderError when it is unloadable or exported from other weights."""
        self._session = open_onnx(path, threads=threads, fix=EXPORT_HINT)
        meta = dict(self._session.get_modelmeta().custom_metadata_map)
        found = (meta.get("model_id"), meta.get("layout"), meta.get("precision"))
        if found != (model_id, LAYOUT, precision):
            raise EncoderError(
                f"{path} was exported from {found[0]} ({found[2]}, {found[1]}), not from "
                f"{model_id} ({precision}); re-export it with {EXPORT_HINT}"
            )
        quantisation = meta.get("quantisation", "8-bit weights, unrecorded")
        if precision == "int8" and quantisation != QUANTISATION:
            raise EncoderError(
                f"{path} is quantised as {quantisation!r}, not {QUANTISATION!r} (8-bit "
                f"weights saturate on AVX2-only CPUs); re-export it with {EXPORT_HINT}"
            )
        self.path, self.precision = Path(path), precision

    def __call__(self, ids: torch.Tensor, eos: torch.Tensor) -> torch.Tensor:
        """(n, L) token ids and each row's EOS index → (n, dim) features, as the torch tower.

        The graph takes one query: each row runs on its real tokens, padding cut off.
        """
        rows = ids.cpu().numpy()
        out = [
            self._session.run(["features"], {"ids": rows[r : r + 1, : int(end) + 1]})[0]
            for r, end in enumerate(eos.tolist())
        ]
        return torch.from_numpy(np.concatenate(out))


def open_query_tower(
    folder: Path | None, *, model_id: str, precision: str, runtime: str, threads: int | None
) -> OrtTextTower | None:
    """The ONNX query tower ``runtime`` asks for, or None when torch should run it.

    "auto" uses a matching export when there is one and logs why not otherwise;
    "onnxruntime" insists (EncoderError naming the export command); "torch" never looks.
    """
    if runtime not in RUNTIMES:
        raise EncoderError(f"RUCLIP_RUNTIME={runtime!r} is not one of {RUNTIMES}")
    if runtime == "torch":
        return None
    path = onnx_file(folder, precision) if folder else None
    try:
        if path is None:
            raise EncoderError(f"RUCLIP_ONNX_DIR is not set; {EXPORT_HINT}")
        if not path.is_file():
            raise EncoderError(f"no ONNX export of the ruCLIP query tower at {path}; {EXPORT_HINT}")
        return OrtTextTower(path, model_id=model_id, precision=precision, threads=threads)
    except EncoderError as exc:
        if runtime == "onnxruntime":
            raise
        log.warning("ruCLIP queries run in torch (%s)", exc)
        return None
