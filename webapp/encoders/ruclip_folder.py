"""A ruCLIP model folder: what it must hold, how it is checked, and who it is.

``config.json``, ``bpe.model`` and ``pytorch_model.bin`` are checked before torch
touches them (youtokentome would load any file), and the folder's identity names
every cache built from it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .base import EncoderError

#: the precisions the query tower is exported in for ONNX Runtime (``ruclip_onnx.py``)
PRECISIONS = ("int8", "fp32")

MODEL_FILES = ("config.json", "bpe.model", "pytorch_model.bin")
_MIB = 1 << 20
_CONFIG_KEYS = (
    "embed_dim",
    "image_resolution",
    "vision_layers",
    "vision_width",
    "vision_patch_size",
    "context_length",
    "vocab_size",
    "transformer_width",
    "transformer_heads",
    "transformer_layers",
)


def _problem(folder: Path, what: str) -> EncoderError:
    """An EncoderError saying what is wrong and what a ruCLIP folder must hold."""
    return EncoderError(
        f"{folder} is not a usable ruCLIP model folder: {what}. It must hold "
        f"{', '.join(MODEL_FILES)} (the published ruclip-vit-base-patch32-384 files, "
        "or generate random ones with `flask --app webapp make-ruclip-model`)."
    )


def check_model_dir(folder: Path) -> dict[str, Any]:
    """Validate the folder's files and config before torch touches them; return the config."""
    if not folder.is_dir():
        raise _problem(folder, "no such folder")
    missing = [name for name in MODEL_FILES if not (folder / name).is_file()]
    if missing:
        raise _problem(folder, f"missing {', '.join(missing)}")
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _problem(folder, f"config.json is not valid JSON ({exc})") from None
    absent = [k for k in _CONFIG_KEYS if not isinstance(config, dict) or k not in config]
    if absent:
        raise _problem(folder, f"config.json lacks {', '.join(absent)}")
    check_bpe(folder, int(config["vocab_size"]))
    return dict(config)


def check_bpe(folder: Path, vocab_size: int) -> None:
    """Check ``bpe.model`` is a youtokentome model ruclip can use.

    youtokentome accepts any file without complaint (an empty one yields a
    random vocabulary), so its text format is checked here: a header
    ``<chars> <merges>``, that many id lines, and the special ids line
    ``unk pad bos eos`` = ``1 0 2 3``, which ruclip hard-codes.
    """
    try:
        lines = (folder / "bpe.model").read_text(encoding="utf-8").split("\n")
        chars, merges = (int(v) for v in lines[0].split())
        body = [[int(v) for v in line.split()] for line in lines[1 : 1 + chars + merges]]
        specials = [int(v) for v in lines[1 + chars + merges].split()]
    except (OSError, UnicodeDecodeError, ValueError, IndexError):
        raise _problem(folder, "bpe.model is not a youtokentome BPE model") from None
    top = max((row[-1] for row in body), default=0)
    if specials != [1, 0, 2, 3] or any(len(r) not in (2, 3) for r in body) or top >= vocab_size:
        raise _problem(folder, "bpe.model does not match ruclip's special ids or vocab_size")


def model_identity(folder: Path) -> str:
    """``ruclip/<name>@<hash>``: the hash covers config.json, bpe.model and a weights fingerprint.

    The weights are fingerprinted by size plus the SHA-256 of their first and
    last MiB, so start-up does not hash ~600 MB; any retrained or regenerated
    checkpoint changes at least its tensors' bytes at both ends.
    """
    digest = hashlib.sha256()
    for name in ("config.json", "bpe.model"):
        digest.update(hashlib.sha256((folder / name).read_bytes()).digest())
    weights = folder / "pytorch_model.bin"
    size = weights.stat().st_size
    with weights.open("rb") as handle:
        head = handle.read(_MIB)
        handle.seek(max(0, size - _MIB))
        tail = handle.read(_MIB)
    for part in (str(size).encode(), head, tail):
        digest.update(hashlib.sha256(part).digest())
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    name = str(config.get("model_name") or folder.resolve().name)
    return f"ruclip/{name}@{digest.hexdigest()[:12]}"
