"""Signals: every source of evidence a query can have, in one typed form.

Whatever a shopper asks (words, a picture, «похожие» of a design, a taste built from what
they opened), the ranking turns it into a list of :class:`Signal`: a declared
:class:`SignalKind`, a name (a vector space's, or the kind's own), and candidate rows with
raw and calibrated scores, best first. One fusion (``search/fusion.py``) combines them,
weighted by kind (``search/settings.py``), and one floor (``search/floor.py``) decides what
is answered. The modules of this package each produce one family of signals:

* ``vectors``: a query vector against a space's index (kNN, cosines calibrated to z-scores);
* ``words``: BM25 over the catalogue's lemmas, for the query's own words and for the words
  concept rules add;
* ``category``: a query word naming a category or subcategory reaches its designs;
* ``emoji``: an emoji typed into the query is that design;
* ``knowledge``: the query's words in the dictionary definitions of a design's words, and
  its colour words in the design's picture;
* ``picture``: a shopper's picture, by its look and (for a photo) by what it shows;
* ``neighbours``: «похожие», a taste profile and co-visits, for recommendations.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np


class SignalKind(StrEnum):
    """What a signal's evidence is; fusion weights and floor thresholds are set per kind."""

    TEXT = "text"
    """The query's sentence vector in a text space (offline encoder or ruCLIP's text tower)."""
    IMAGE = "image"
    """The query's vector in an image space that takes text queries (ruCLIP's image side)."""
    COMBINED = "combined"
    """The query's vector in a space of averaged picture and text vectors (ruCLIP)."""
    CROSS_MODAL = "projected"
    """The query through trained heads into the cross-modal space (words → pictures)."""
    LEXICAL = "lexical"
    """BM25 of the query's own words (lemmas, diminutive bases, typo corrections)."""
    MEANING = "meaning"
    """BM25 of the words concept rules (thesaurus, occasions, staff) add to the query."""
    MEANING_VECTOR = "meaning-vector"
    """The added words embedded together in the first text space."""
    CATEGORY = "category"
    """A query word names a category or subcategory; the score is the share it covers."""
    EMOJI = "emoji"
    """An emoji typed into the query: that very design."""
    DEFINITION = "definition"
    """The query's words in the dictionary definitions of a design's words (a reverse
    dictionary: «животное с ветвистыми рогами» → олень)."""
    COLOUR = "colour"
    """A colour word of the query in the design's picture (its palette's share)."""
    LOOK = "look"
    """A shopper's picture (or a design's own) in the picture space: what it looks like."""
    PHOTO_WORDS = "photo-words"
    """A photo's top classifier classes, put into words, in the text space."""
    CONTENT = "content"
    """A design's own vector: its «похожие» in a space."""
    TASTE = "taste"
    """A shopper's taste profile (the opened designs' vectors) in the similar space."""
    COVISIT = "covisit"
    """How often other shoppers opened a design near the one shown."""


#: the kind of signal a vector space gives for a text query, by the space's kind
SPACE_KINDS = {
    "text": SignalKind.TEXT,
    "image": SignalKind.IMAGE,
    "combined": SignalKind.COMBINED,
    "projected": SignalKind.CROSS_MODAL,
}


@dataclass(frozen=True, eq=False)
class Signal:
    """Candidates from one source, best first: rows, raw scores and calibrated scores."""

    kind: SignalKind
    #: the source's name: a vector space's (``text-use``), else the kind's own
    name: str
    rows: np.ndarray
    raw: np.ndarray
    calibrated: np.ndarray
    #: this signal's own strength on top of its kind's weight (1 for most; a photo's words
    #: count by how photographic the picture is, co-visits by how many there are)
    scale: float = 1.0

    @classmethod
    def of(
        cls,
        kind: SignalKind,
        rows: np.ndarray,
        raw: np.ndarray,
        calibrated: np.ndarray | None = None,
        *,
        name: str = "",
        scale: float = 1.0,
    ) -> Signal:
        """A signal (``calibrated`` defaults to ``raw``; ``name`` to the kind's)."""
        return cls(
            kind, name or kind.value, rows, raw, raw if calibrated is None else calibrated, scale
        )

    def __len__(self) -> int:
        """How many candidates it proposes."""
        return len(self.rows)

    def best_first(self) -> Signal:
        """The same candidates ordered by calibrated score, best first (ties by row)."""
        order = np.lexsort((self.rows, -np.asarray(self.calibrated, np.float64)))
        return Signal(
            self.kind,
            self.name,
            self.rows[order],
            self.raw[order],
            self.calibrated[order],
            self.scale,
        )
