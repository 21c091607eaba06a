"""ruCLIP (SberAI) as a text *and* image encoder of one shared 512-d space.

Loading goes through ruclip's own ``CLIP.from_pretrained`` and
``RuCLIPProcessor.from_pretrained``, so a folder with the published weights
works unchanged; this module checks the folder first and names the model by
its files. Two paths are ours, both proven equal to ruclip's in tests: the
trimmed text tower (:mod:`.ruclip_text`) and the deterministic image
preprocessing with transparency on white (:mod:`.ruclip_image`).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from ruclip.model import CLIP
from ruclip.processor import RuCLIPProcessor

from . import ruclip_image, ruclip_text
from .base import EncoderError, l2_normalise
from .ruclip_folder import _problem, check_model_dir, model_identity
from .ruclip_image import WHITE
from .ruclip_onnx import OrtTextTower, open_query_tower
from .ruclip_text import TrimmedTextTower

log = logging.getLogger(__name__)

#: what turns padded token ids and EOS positions into features (torch or ONNX Runtime)
QueryTower = TrimmedTextTower | OrtTextTower


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
        query_tower: OrtTextTower | None = None,
    ):
        """Wrap a loaded ``model``/``processor`` pair; prefer :meth:`load`.

        ``query_tower``: an ONNX Runtime tower for queries (else torch: the int8
        quantised tower when ``quantize``, else the exact one).
        """
        self.model = model.eval().requires_grad_(False)
        self.processor = processor
        self.model_id = model_id
        self.dim = int(model.text_projection.shape[1])
        self.device = device
        self.background = background
        self.text_tower = TrimmedTextTower(model)
        self.query_tower: QueryTower = query_tower or (
            TrimmedTextTower.int8(model) if quantize else self.text_tower
        )
        self.quantized = query_tower.precision == "int8" if query_tower else quantize
        #: what runs a query: "onnxruntime int8", "torch fp32", … (logs and benchmarks)
        self.query_runtime = (
            f"{query_tower.runtime} {query_tower.precision}"
            if query_tower
            else f"torch {'int8' if quantize else ('fp16' if device.type == 'cuda' else 'fp32')}"
        )
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
        runtime: str = "auto",
        onnx_dir: Path | str | None = None,
    ) -> RuCLIPEncoder:
        """Load a ruCLIP folder (``config.json``, ``bpe.model``, ``pytorch_model.bin``).

        ``device``: None/"auto" picks CUDA (fp16) when available, else CPU; any
        torch device string ("cpu", "cuda", "cuda:1") is accepted. ``threads``
        sets torch's intra-op thread count (process-wide). ``quantize`` runs
        queries through an int8 text tower (CPU only; ignored on CUDA, where fp16
        is used). ``runtime`` ("auto", "onnxruntime", "torch") says whether CPU
        queries run in ONNX Runtime from the export in ``onnx_dir``
        (:mod:`.ruclip_onnx`). Catalogue texts always take the exact fp32 tower.
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
        model_id = model_identity(folder)
        on_cpu = target.type == "cpu"
        query_tower = open_query_tower(
            Path(onnx_dir) if onnx_dir else None,
            model_id=model_id,
            precision="int8" if quantize else "fp32",
            runtime=runtime if on_cpu else "torch",
            threads=int(threads) if threads else None,
        )
        encoder = cls(
            model,
            processor,
            model_id=model_id,
            device=target,
            quantize=quantize and on_cpu,
            background=background,
            query_tower=query_tower,
        )
        log.info("ruCLIP %s on %s; queries: %s", model_id, target, encoder.query_runtime)
        return encoder

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
        self, batch: Sequence[Sequence[int]], *, tower: QueryTower | None = None
    ) -> np.ndarray:
        """Token lists (from :meth:`tokenize`) padded to the longest through ``tower``; unit rows.

        ``tower`` defaults to the exact fp32 one; pass ``self.query_tower`` for the query path.
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
