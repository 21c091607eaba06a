"""ruCLIP (SberAI) as a text *and* image encoder of one shared 512-d space.

Loading goes through ruclip's own ``CLIP.from_pretrained`` and
``RuCLIPProcessor.from_pretrained``, so a folder with the published weights
works unchanged; this module checks the folder first and names the model by
its files. Two paths are ours, both proven equal to ruclip's in tests: the
trimmed text tower (:mod:`.ruclip_text`) and the deterministic image
preprocessing with transparency on white (:mod:`.ruclip_image`).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from . import ruclip_image, ruclip_text
from .base import EncoderError, l2_normalise
from .ruclip_image import WHITE
from .ruclip_text import TrimmedTextTower

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # ruclip imports huggingface_hub: never call out
from ruclip.model import CLIP  # noqa: E402
from ruclip.processor import RuCLIPProcessor  # noqa: E402

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


class RuCLIPEncoder:
    """ruCLIP behind the :class:`TextEncoder` and :class:`ImageEncoder` protocols."""

    def __init__(
        self,
        model: CLIP,
        processor: RuCLIPProcessor,
        *,
        model_id: str,
        device: torch.device,
        quantize: bool = False,
        background: tuple[int, int, int] | None = WHITE,
    ):
        """Wrap a loaded ``model``/``processor`` pair; prefer :meth:`load`."""
        self.model = model.eval().requires_grad_(False)
        self.processor = processor
        self.model_id = model_id
        self.dim = int(model.text_projection.shape[1])
        self.device = device
        self.background = background
        self.text_tower = TrimmedTextTower(model)
        self.query_tower = TrimmedTextTower.int8(model) if quantize else self.text_tower
        self.quantized = self.query_tower is not self.text_tower
        self._mean = torch.tensor(processor.mean, dtype=torch.float32).view(3, 1, 1)
        self._std = torch.tensor(processor.std, dtype=torch.float32).view(3, 1, 1)

    @classmethod
    def load(
        cls,
        model_dir: Path | str,
        *,
        device: str | None = None,
        threads: int | None = None,
        quantize: bool = False,
        background: tuple[int, int, int] | None = WHITE,
    ) -> RuCLIPEncoder:
        """Load a ruCLIP folder (``config.json``, ``bpe.model``, ``pytorch_model.bin``).

        ``device``: None/"auto" picks CUDA (fp16) when available, else CPU; any
        torch device string ("cpu", "cuda", "cuda:1") is accepted. ``threads``
        sets torch's intra-op thread count (process-wide). ``quantize`` runs
        queries through an int8 dynamically quantised text tower (CPU only;
        ignored on CUDA, where fp16 is used). Catalogue texts always take the
        exact fp32 tower.
        Raises :class:`EncoderError` naming the three files when the folder is
        missing, incomplete or corrupt.
        """
        folder = Path(model_dir)
        check_model_dir(folder)
        if threads:
            torch.set_num_threads(int(threads))
        target = resolve_device(device)
        model, processor = _from_pretrained(folder)
        model = model.to(target)
        if target.type == "cuda":
            model = model.half()
        return cls(
            model,
            processor,
            model_id=model_identity(folder),
            device=target,
            quantize=quantize and target.type == "cpu",
            background=background,
        )

    # --- text ---------------------------------------------------------------
    def tokenize(self, text: str) -> list[int]:
        """Token ids exactly as ruclip's processor makes them, without the padding."""
        return ruclip_text.tokenize(self.processor, text)

    def encode_query(self, query: str) -> np.ndarray:
        """One query as a unit-norm float32 (dim,) vector through the query tower (int8 when
        quantised); the search core caches it."""
        return self.encode_tokens([self.tokenize(query)], tower=self.query_tower)[0]

    def encode_texts(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """Catalogue texts as an (n, dim) unit-norm matrix: exact tower, length-sorted batches."""
        tokens = [self.tokenize(t) for t in texts]
        order = sorted(range(len(tokens)), key=lambda i: len(tokens[i]))
        out = np.zeros((len(tokens), self.dim), np.float32)
        for start in range(0, len(order), max(1, batch_size)):
            rows = order[start : start + batch_size]
            out[rows] = self.encode_tokens([tokens[i] for i in rows])
        return out

    @torch.inference_mode()
    def encode_tokens(
        self, batch: Sequence[Sequence[int]], *, tower: TrimmedTextTower | None = None
    ) -> np.ndarray:
        """Token lists (from :meth:`tokenize`) padded to the longest through ``tower``; unit rows.

        ``tower`` defaults to the exact fp32 one; pass ``self.query_tower`` for int8.
        """
        tower = self.text_tower if tower is None else tower
        ids, eos = ruclip_text.pad_tokens(batch, self.processor.pad_id)
        features = tower(ids.to(self.device), eos.to(self.device))
        return l2_normalise(features.float().cpu().numpy())

    # --- images -------------------------------------------------------------
    def load_image(self, path: Path) -> Image.Image:
        """Open ``path`` as RGB, compositing transparency on ``background`` (if set)."""
        return ruclip_image.load_rgb(path, self.background)

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """The (3, S, S) float32 tensor ruclip's processor makes of an RGB-convertible ``image``."""
        return ruclip_image.preprocess(image, self.processor.image_size, self._mean, self._std)

    def encode_pil(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Decoded pictures as an (n, dim) unit-norm matrix (transparency on ``background``)."""
        if not images:
            return np.zeros((0, self.dim), np.float32)
        pixels = [self.preprocess(ruclip_image.to_rgb(image, self.background)) for image in images]
        return self.encode_pixels(torch.stack(pixels))

    def encode_images(self, paths: Sequence[Path], *, batch_size: int = 32) -> np.ndarray:
        """Image files as an (n, dim) unit-norm matrix, ``batch_size`` at a time."""
        out = np.zeros((len(paths), self.dim), np.float32)
        for start in range(0, len(paths), max(1, batch_size)):
            chunk = paths[start : start + batch_size]
            pixels = torch.stack([self.preprocess(self.load_image(Path(p))) for p in chunk])
            out[start : start + len(chunk)] = self.encode_pixels(pixels)
        return out

    @torch.inference_mode()
    def encode_pixels(self, pixels: torch.Tensor) -> np.ndarray:
        """Preprocessed (n, 3, S, S) pixels through the image tower; unit-norm rows."""
        features = self.model.encode_image(pixels.to(self.device))
        return l2_normalise(features.float().cpu().numpy())


# --- loading -------------------------------------------------------------------
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


def _from_pretrained(folder: Path) -> tuple[CLIP, RuCLIPProcessor]:
    """ruclip's own loaders, with their failures turned into EncoderError."""
    try:
        with warnings.catch_warnings():  # ruclip's json.load(open(...)) leaks a file handle
            warnings.simplefilter("ignore", ResourceWarning)
            return CLIP.from_pretrained(str(folder)), RuCLIPProcessor.from_pretrained(str(folder))
    except Exception as exc:  # torch/pickle/shape errors all mean the same: corrupt files
        raise _problem(
            folder,
            f"loading failed ({exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0][:300] if str(exc) else ''})",
        ) from exc


def resolve_device(device: str | None) -> torch.device:
    """None/""/"auto" → CUDA when available else CPU; otherwise the named torch device."""
    if not device or str(device).lower() == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        target = torch.device(str(device))
    except (RuntimeError, ValueError) as exc:
        raise EncoderError(f"DEVICE={device!r} is not a torch device ({exc})") from None
    if target.type == "cuda" and not torch.cuda.is_available():
        raise EncoderError(f"DEVICE={device!r} but CUDA is not available; use 'cpu' or 'auto'")
    return target


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
