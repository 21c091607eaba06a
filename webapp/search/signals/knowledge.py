"""Knowledge signals: what the dictionary and the pictures say beyond the designs' words.

``definition``: the query's words against the dictionary definitions of each design's
title and tag words (a reverse dictionary: «животное с ветвистыми рогами» reaches the deer
through «олень — парнокопытное … с ветвистыми рогами»), asked only for a description (see
``KnowledgeSettings.definition_min_words``), calibrated as the share of the best score.
``colour``: a colour word of the query against each design's palette, measured from its
picture; the designs that show the colour also cover that word of the query, so «рыжий
зверь» needs both an orange picture and an animal.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...catalog.colour_words import (
    HUES,
    MANY_COLOURS,
    MANY_SHARE,
    TOGETHER_SHARE,
    ColourTerm,
)
from ...catalog.colours import NAMES
from ...catalog.definitions import ReverseDictionary
from ..terms import QueryTerms
from . import Signal, SignalKind
from .words import top_rows


def definition_signal(
    reverse: ReverseDictionary | None,
    words: Sequence[str],
    k: int,
    mask: np.ndarray | None = None,
) -> list[Signal]:
    """The ``k`` designs whose words' definitions best match ``words`` (among the rows
    ``mask`` keeps); empty without definitions or a match."""
    if reverse is None or not words:
        return []
    scores = reverse.scores(words)
    top = float(scores.max()) if len(scores) else 0.0
    if top <= 0:
        return []
    kept = scores if mask is None else np.where(mask, scores, 0.0)
    matching = np.flatnonzero(kept > 0)
    rows = matching[top_rows(kept[matching], k)]
    return [Signal.of(SignalKind.DEFINITION, rows, scores[rows], scores[rows] / top)]


class Palette:
    """Every design's colour shares (rows = catalogue rows, columns = colour names)."""

    def __init__(self, shares: np.ndarray) -> None:
        """Wrap the (designs × :data:`~webapp.catalog.colours.NAMES`) share matrix."""
        self.shares = shares

    def match(self, term: ColourTerm) -> np.ndarray:
        """How well each design's palette answers ``term`` (0–1): what
        :func:`~webapp.catalog.colour_words.colour_match` says of one, for every design."""
        share = self.column
        if term.many:
            hues = np.stack([share(c) for c in HUES], axis=1)
            many = np.minimum(1.0, (hues >= MANY_SHARE).sum(axis=1) / MANY_COLOURS)
            return (many * np.minimum(1.0, hues.sum(axis=1))).astype(np.float32)
        held = np.stack([share(c) for c in term.colours], axis=1)
        if term.together:
            together = np.minimum(1.0, held.min(axis=1) / TOGETHER_SHARE)
            return (together * np.minimum(1.0, held.sum(axis=1))).astype(np.float32)
        near = sum((share(c) for c in term.near), np.zeros(len(self.shares), np.float32))
        return np.minimum(1.0, held.sum(axis=1) + 0.5 * near).astype(np.float32)

    def match_row(self, row: int, term: ColourTerm) -> float:
        """How well one design's palette answers ``term``."""
        return float(Palette(self.shares[row : row + 1]).match(term)[0])

    def column(self, name: str) -> np.ndarray:
        """Every design's share of colour ``name``."""
        return self.shares[:, NAMES.index(name)]

    def showing(self, terms: QueryTerms, threshold: float) -> dict[int, np.ndarray]:
        """Per colour group of the query, the rows whose picture shows that colour."""
        return {i: np.flatnonzero(self.match(t) >= threshold) for i, t in terms.colours}

    def signal(
        self, terms: QueryTerms, threshold: float, k: int, mask: np.ndarray | None = None
    ) -> list[Signal]:
        """The ``k`` designs that best show the query's colours (all of them, when it names
        several), scored by the weakest match; empty when it names none."""
        if not terms.colours:
            return []
        match = np.min([self.match(t) for _, t in terms.colours], axis=0)
        if mask is not None:
            match = np.where(mask, match, 0.0)
        candidates = np.flatnonzero(match >= threshold)
        rows = candidates[top_rows(match[candidates], k)]
        return [Signal.of(SignalKind.COLOUR, rows, match[rows])] if len(rows) else []
