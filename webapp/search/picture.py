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

from ..encoders.base import EncoderError, ImageEncoder, TextEncoder, l2_normalise
from ..encoders.spaces import Space
from ..encoders.transforms import flat_colour_share, query_picture
from ..index.base import VectorBackend
from .cache import LRUCache
from .fusion import SpaceStats
from .timing import Timer

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
    indexes: Mapping[str, VectorBackend],
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


class PictureSearch:
    """Search by picture over the engine's spaces: analysing a picture (cached by its
    digest) and ranking the designs for it."""

    def __init__(
        self,
        spaces: Mapping[str, Space],
        indexes: Mapping[str, VectorBackend],
        picture_space: str,
        text_space: str,
        results: int,
    ) -> None:
        """Search ``picture_space`` by look and, for photos, ``text_space`` by the classes'
        words; rank up to ``results`` designs."""
        self.space, self._text_space = picture_space, text_space
        self._encoder = spaces[picture_space].image_encoder if picture_space else None
        self._model = spaces[picture_space].model_id if picture_space else ""
        self._indexes, self._results = indexes, results
        self._words = class_words(spaces.get(picture_space), spaces.get(text_space))
        self._stats: dict[str, SpaceStats] = {}
        self._queries: LRUCache[tuple[str, str], PictureQuery] = LRUCache(256)

    def query(self, key: str, image: Callable[[], Image.Image]) -> PictureQuery:
        """The :class:`PictureQuery` of ``image()``, cached under ``key``."""
        encoder = self._encoder
        if encoder is None:
            raise EncoderError("no image space is configured (IMAGE_ENCODER is empty)")
        return self._queries.get_or_compute((self._model, key), lambda: analyse(encoder, image()))

    def parts(self, query: PictureQuery) -> list[Part]:
        """The signals ``query`` asks: its look, and for a photo its classes in words."""
        parts = [Part(self.space, query.vector, 1.0)]
        if query.words_weight > 0 and self._words is not None:
            words = Part(
                "photo-words",
                self._words.query(query.classes),
                query.words_weight,
                space=self._text_space,
                terms=tuple(self._words.label(query.classes)),
            )
            parts.append(words)
        return parts

    def rank(
        self,
        query: PictureQuery,
        candidates: Callable[[Part, int], np.ndarray],
        timer: Timer,
    ) -> tuple[np.ndarray, np.ndarray, Callable[[int], dict[str, Any]]]:
        """The best rows for ``query`` among each part's ``candidates(part, k)``, with their
        scores and a ``why`` by position, best first."""
        parts = self.parts(query)
        with timer.stage("knn"):
            rows = np.unique(np.concatenate([candidates(p, self._results) for p in parts]))
        with timer.stage("fuse"):
            scores, why = fuse(rows, parts, self._indexes, self._space_stats)
            best = np.argsort(-scores, kind="stable")[: self._results]
        return rows[best], np.asarray(scores)[best], lambda i: why(int(best[i]))

    def clear(self) -> None:
        """Forget the cached picture queries."""
        self._queries.clear()

    def _space_stats(self, space: str) -> SpaceStats:
        """The catalogue-wide moments of ``space`` (computed on first use, then kept)."""
        if space not in self._stats:
            self._stats[space] = SpaceStats.of(self._indexes[space].vectors)
        return self._stats[space]
