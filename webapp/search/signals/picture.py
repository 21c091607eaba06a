"""Picture signals: what a shopper's picture asks for.

Every picture queries the picture space by its look (shape, colour, outline). Flat art
finds flat art well that way, but a *photograph* of a cat does not look like a cat motif
to an ImageNet backbone. Its classifier, though, names photographs well (and flat art
badly), so a photo also says what it shows: its top ImageNet classes, named in English and
encoded by the offline text encoder (multilingual USE), meet the designs' Russian words in
the text space. The words count by the photo-words weight × the top class's probability ×
how much the picture looks like a photograph (:func:`photo_likeness`), so flat art stays
visual. Measured on 38 real photos (docs/images.md): a design of the photographed object in
the top 5 for 22, against 13 by look alone.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ...encoders.base import ImageClassifier, ImageEncoder, TextEncoder, l2_normalise
from ...encoders.space import Space
from ...encoders.transforms import flat_colour_share, query_picture
from ...index.base import Where
from ..settings import PictureSettings
from . import Signal, SignalKind
from .vectors import Spaces


@dataclass(frozen=True)
class PictureQuery:
    """A picture as the engine searches it: its look, and for photos what it shows."""

    vector: np.ndarray  # in the picture space, unit norm
    #: (ImageNet class, probability) of the top classes, best first; empty for flat art
    classes: tuple[tuple[int, float], ...] = ()
    photo: float = 0.0  # 0 = flat art … 1 = a photograph

    @property
    def words_strength(self) -> float:
        """How strongly the classes' words speak beside the look (0: look alone)."""
        return self.photo * self.classes[0][1] if self.classes else 0.0


def photo_likeness(picture: Image.Image, settings: PictureSettings) -> float:
    """0 for flat art, rising to 1 for a photograph, from its colour spread."""
    share = flat_colour_share(picture)
    return float(np.clip((settings.flat_share - share) / settings.photo_ramp, 0.0, 1.0))


def analyse(encoder: ImageEncoder, image: Image.Image, settings: PictureSettings) -> PictureQuery:
    """``image`` (as uploaded) → its :class:`PictureQuery` under ``encoder``; an encoder that
    classifies also names what a photograph shows, any other only gives the look."""
    picture = query_picture(image)
    if not isinstance(encoder, ImageClassifier):
        return PictureQuery(encoder.encode_pil([picture])[0])
    vectors, probabilities = encoder.analyse_pil([picture])
    top = np.argsort(-probabilities[0])[: settings.top_classes]
    classes = tuple((int(i), float(probabilities[0][i])) for i in top)
    return PictureQuery(vectors[0], classes, photo_likeness(picture, settings))


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

    def label(self, classes: Sequence[tuple[int, float]]) -> tuple[str, ...]:
        """The names of ``classes``, best first."""
        return tuple(self.names[i] for i, _ in classes)


def class_words(pictures: Space | None, text: Space | None) -> ClassWords | None:
    """The picture encoder's class names in the text space, when both exist."""
    encoder = pictures.image_encoder if pictures else None
    if not isinstance(encoder, ImageClassifier) or text is None or text.kind != "text":
        return None
    if text.encoder is None:
        return None
    return ClassWords(text.encoder, encoder.class_names)


@dataclass(frozen=True)
class PictureSignals:
    """A picture's signals over the union of their candidates, and the classes its words
    stand for (empty: look alone)."""

    signals: list[Signal]
    labels: tuple[str, ...] = ()


def picture_signals(
    query: PictureQuery,
    spaces: Spaces,
    picture_space: str,
    words: ClassWords | None,
    text_space: str,
    k: int,
    where: Where | None,
) -> PictureSignals:
    """The look of ``query`` in ``picture_space`` and, for a photo, its classes' words in
    ``text_space``: each proposes its ``k`` nearest designs among those ``where`` keeps,
    and each then judges every proposed design, so both count on one scale."""
    parts = [(SignalKind.LOOK, picture_space, query.vector, 1.0)]
    labels: tuple[str, ...] = ()
    if query.words_strength > 0 and words is not None:
        parts.append(
            (SignalKind.PHOTO_WORDS, text_space, words.query(query.classes), query.words_strength)
        )
        labels = words.label(query.classes)
    found = [spaces.nearest(space, vector, k, where)[0] for _, space, vector, _ in parts]
    rows = np.unique(np.concatenate(found))
    signals = [
        _scaled(spaces.rescore(kind, space, vector, rows, label=_LABELS.get(kind, "")), scale)
        for kind, space, vector, scale in parts
    ]
    return PictureSignals(signals, labels)


#: signal names other than the space's own (the look is named after its space)
_LABELS = {SignalKind.PHOTO_WORDS: SignalKind.PHOTO_WORDS.value}


def _scaled(signal: Signal, scale: float) -> Signal:
    """``signal`` with its own strength ``scale``."""
    return Signal(signal.kind, signal.name, signal.rows, signal.raw, signal.calibrated, scale)
