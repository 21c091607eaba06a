"""Search by picture: what a shopper's picture asks for, and how its signals are fused.

Every picture queries the picture space by look (shape, colour, outline). Flat art
finds flat art well that way, but a *photograph* of a cat does not look like a cat
motif to an ImageNet backbone. Its classifier, though, names photographs well (and
flat art badly), so a photo also says what it shows: its top ImageNet classes,
named in English and encoded by the offline text encoder (multilingual USE), meet
the designs' Russian words in the text space. The two calibrated signals are added,
the words weighted by ``PHOTO_WEIGHT`` × the top class's probability × how much the
picture looks like a photograph (:func:`photo_likeness`), so flat art stays visual.
Measured on 38 real photos (docs/images.md): a design of the photographed object in
the top 5 for 22, against 13 by look alone; a design's own transformed picture still
finds it in the top 5 as often (0.865 vs 0.875).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from ..encoders.base import ImageEncoder, TextEncoder, l2_normalise
from ..encoders.spaces import Space
from ..encoders.transforms import flat_colour_share, query_picture
from .fusion import SpaceStats
from .vector_index import VectorIndex

PHOTO_WEIGHT = 2.0
TOP_CLASSES = 5
#: flat art has ≥ 0.85 of its pixels in 8 colours; below that, a picture counts as more
#: and more photographic, fully so 0.2 lower (docs/images.md)
FLAT_SHARE, PHOTO_RAMP = 0.85, 0.2


@dataclass(frozen=True)
class PictureQuery:
    """A picture as the engine searches it: its look, and for photos what it shows."""

    vector: np.ndarray  # in the picture space, unit norm
    #: (ImageNet class, probability) of the top classes, best first; empty for flat art
    classes: tuple[tuple[int, float], ...] = ()
    photo: float = 0.0  # 0 = flat art … 1 = a photograph

    @property
    def words_weight(self) -> float:
        """How much the classes' words count beside the look (0: look alone)."""
        if not self.classes:
            return 0.0
        return PHOTO_WEIGHT * self.photo * self.classes[0][1]


def photo_likeness(picture: Image.Image) -> float:
    """0 for flat art, rising to 1 for a photograph, from its colour spread."""
    share = flat_colour_share(picture)
    return float(np.clip((FLAT_SHARE - share) / PHOTO_RAMP, 0.0, 1.0))


def analyse(encoder: ImageEncoder, image: Image.Image) -> PictureQuery:
    """``image`` (as uploaded) → its :class:`PictureQuery` under ``encoder``.

    An encoder with an ImageNet classifier (``analyse_pil``) also names what a
    photograph shows; any other only gives the look.
    """
    picture = query_picture(image)
    classify = getattr(encoder, "analyse_pil", None)
    if classify is None:
        return PictureQuery(encoder.encode_pil([picture])[0])
    vectors, probabilities = classify([picture])
    top = np.argsort(-probabilities[0])[:TOP_CLASSES]
    classes = tuple((int(i), float(probabilities[0][i])) for i in top)
    return PictureQuery(vectors[0], classes, photo_likeness(picture))


class ClassWords:
    """The class names of a classifier as vectors of a text space, encoded on first use."""

    def __init__(self, encoder: TextEncoder, names: Sequence[str]) -> None:
        """Remember the text ``encoder`` and the class ``names`` (in classifier order)."""
        self.encoder, self.names = encoder, tuple(names)

    @functools.cached_property
    def vectors(self) -> np.ndarray:
        """(classes, dim) unit vectors of the names (≈1 s for 1,000 names, once)."""
        return self.encoder.encode_texts(list(self.names))

    def query(self, classes: Sequence[tuple[int, float]]) -> np.ndarray:
        """The probability-weighted mean of the classes' name vectors, unit norm."""
        rows = [i for i, _ in classes]
        weights = np.array([p for _, p in classes], np.float32)[:, None]
        return l2_normalise((weights * self.vectors[rows]).sum(axis=0))

    def label(self, classes: Sequence[tuple[int, float]]) -> list[str]:
        """The names of ``classes``, for ``why``."""
        return [self.names[i] for i, _ in classes]


def class_words(pictures: Space | None, text: Space | None) -> ClassWords | None:
    """The picture encoder's class names in the text space, when both exist."""
    names = getattr(pictures.image_encoder, "class_names", None) if pictures else None
    if not names or text is None or text.encoder is None or text.kind != "text":
        return None
    return ClassWords(text.encoder, names)


@dataclass(frozen=True)
class Part:
    """One signal of a picture search: a query vector in a space, and its weight."""

    name: str
    vector: np.ndarray
    weight: float
    space: str = ""  # the space searched; "" = ``name``
    terms: tuple[str, ...] = ()  # what it says in words, for ``why``

    def __post_init__(self) -> None:
        """A part named after its space searches that space."""
        if not self.space:
            object.__setattr__(self, "space", self.name)


def fuse(
    rows: np.ndarray,
    parts: Sequence[Part],
    indexes: Mapping[str, VectorIndex],
    stats: Callable[[str], SpaceStats],
) -> tuple[np.ndarray, Callable[[int], dict[str, Any]]]:
    """Scores of the candidate ``rows`` and a ``why`` for each (by position in ``rows``).

    One part: its cosine. Several: the weighted sum of their z-scores, each calibrated
    on its whole space, so the look and the words count on one scale.
    """
    cosines = [indexes[p.space].vectors[rows] @ p.vector for p in parts]
    if len(parts) == 1:
        return cosines[0], lambda i: {
            "signals": {parts[0].name: {"score": round(float(cosines[0][i]), 4)}}
        }
    zs = [stats(p.space).zscores(p.vector, cos) for p, cos in zip(parts, cosines, strict=True)]
    scores = np.sum([p.weight * z for p, z in zip(parts, zs, strict=True)], axis=0)
    terms = [term for p in parts for term in p.terms][:3]

    def why(i: int) -> dict[str, Any]:
        return {
            "signals": {
                p.name: {"score": round(float(cos[i]), 4), "calibrated": round(float(z[i]), 3)}
                for p, cos, z in zip(parts, cosines, zs, strict=True)
            },
            "terms": terms,
        }

    return scores, why
