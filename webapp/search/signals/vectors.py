"""Vector signals: a query vector against a space's index, cosines calibrated to z-scores.

Cosine similarities of different models live on different scales, so each is turned into
a z-score against the whole catalogue: how many standard deviations a design's cosine
stands above the catalogue's mean for this query, computed in closed form from the
space's mean and covariance (no full scan). One :class:`Spaces` object holds every
space's index and moments for every kind of query (words, pictures, «похожие», taste).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ...encoders.space import Space
from ...index.base import VectorBackend, Where
from ..cache import QueryVectorCache, prefetch
from ..timing import Timer
from . import SPACE_KINDS, Signal, SignalKind


@dataclass(frozen=True)
class SpaceStats:
    """Catalogue-wide moments of one space, for closed-form cosine z-scores."""

    mean: np.ndarray
    covariance: np.ndarray

    @classmethod
    def of(cls, vectors: np.ndarray, sample: int) -> SpaceStats:
        """Moments of the item vectors of a space: of every row up to ``sample`` rows, and
        of ``sample`` evenly spaced rows beyond (a million-row space stays a second's work,
        and its memory-mapped pages are not all read in by each worker)."""
        vectors = np.asarray(vectors[:: max(1, -(-len(vectors) // sample))], np.float32)
        mean = vectors.mean(axis=0)
        centred = vectors - mean
        return cls(mean.astype(np.float32), (centred.T @ centred / len(vectors)).astype(np.float32))

    def zscores(self, query: np.ndarray, cosines: np.ndarray) -> np.ndarray:
        """How many standard deviations each cosine sits above the catalogue mean."""
        mu = float(query @ self.mean)
        sigma = float(np.sqrt(max(query @ self.covariance @ query, 1e-12)))
        return (cosines - mu) / sigma


class Spaces:
    """Every configured space's index, its moments (computed on first use) and the cache of
    query vectors; text queries search the spaces that have a text encoder."""

    def __init__(
        self,
        spaces: Sequence[Space],
        indexes: Mapping[str, VectorBackend],
        stats_sample: int,
        moments: Mapping[str, SpaceStats] | None = None,
    ) -> None:
        """Serve ``spaces`` over their ``indexes`` (rows in catalogue order); ``moments``:
        the spaces whose moments ``flask --app webapp index`` computed (with the same
        sample), the others' are computed on first use."""
        self.by_name = {s.name: s for s in spaces}
        self.indexes = {s.name: indexes[s.name] for s in spaces}
        #: the spaces a text query is encoded into, in configuration order
        self.text = [s for s in spaces if s.encoder is not None]
        self.sample = stats_sample
        self._stats: dict[str, SpaceStats] = dict(moments or {})
        self.query_vectors = QueryVectorCache()

    def vectors_of(self, kind: SignalKind) -> np.ndarray | None:
        """The item vectors of the first text-capable space whose queries give ``kind``
        signals (None when no such space is configured)."""
        for space in self.text:
            if SPACE_KINDS[space.kind] is kind:
                return self.indexes[space.name].vectors
        return None

    def stats(self, name: str) -> SpaceStats:
        """The catalogue-wide moments of space ``name``."""
        found = self._stats.get(name)
        if found is None:
            found = self._stats[name] = SpaceStats.of(self.indexes[name].vectors, self.sample)
        return found

    def nearest(
        self, name: str, vector: np.ndarray, k: int, where: Where | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows and cosines of the ``k`` designs nearest to ``vector`` in space ``name``
        among the rows ``where`` keeps. Without a filter, excluded rows are dropped from
        a search asked for as many more (so none of the ``k`` is missed)."""
        index = self.indexes[name]
        if where is None or where.filters.active:
            return index.search(vector, k, where)
        rows, scores = index.search(vector, k + len(where.exclude))
        keep = ~np.isin(rows, where.exclude)
        return rows[keep][:k], scores[keep][:k]

    def signal(
        self,
        kind: SignalKind,
        name: str,
        vector: np.ndarray,
        k: int,
        where: Where | None = None,
        *,
        label: str = "",
    ) -> Signal:
        """The ``k`` nearest designs to ``vector`` in space ``name`` as a calibrated signal
        (named ``label``, by default after the space)."""
        rows, cosines = self.nearest(name, vector, k, where)
        z = self.stats(name).zscores(vector, cosines)
        return Signal.of(kind, rows, cosines, z, name=label or name)

    def rescore(
        self, kind: SignalKind, name: str, vector: np.ndarray, rows: np.ndarray, label: str = ""
    ) -> Signal:
        """``vector``'s calibrated evidence for every one of ``rows`` in space ``name``
        (exact cosines, best first): how a picture's parts judge each other's candidates."""
        cosines = self.indexes[name].vectors[rows] @ vector
        z = self.stats(name).zscores(vector, cosines)
        return Signal.of(kind, rows, cosines, z, name=label or name).best_first()

    def query_signals(
        self, text: str, k: int, timer: Timer, where: Where | None = None
    ) -> list[Signal]:
        """The query ``text`` in every text-capable space: kNN candidates, z-calibrated (the
        query encoded by every model first, side by side)."""
        signals = []
        with timer.stage("encode"):
            prefetch(self.query_vectors, [s.encoder for s in self.text if s.encoder], text)
        for space in self.text:
            assert space.encoder is not None
            with timer.stage("encode"):
                query = self.query_vectors.encode(space.encoder, text)
            with timer.stage("knn"):
                signals.append(self.signal(SPACE_KINDS[space.kind], space.name, query, k, where))
        return signals

    def meaning_signal(
        self, words: Collection[str], k: int, timer: Timer, where: Where | None = None
    ) -> list[Signal]:
        """The words concept rules added, embedded together in the first text space: what
        they mean together («пломбир» → «мороженое»), weighted below the query's own vector."""
        space = next((s for s in self.text if s.kind == "text"), None)
        if not words or space is None or space.encoder is None:
            return []
        with timer.stage("encode"):
            query = self.query_vectors.encode(space.encoder, ", ".join(words))
        with timer.stage("knn"):
            return [
                self.signal(
                    SignalKind.MEANING_VECTOR,
                    space.name,
                    query,
                    k,
                    where,
                    label=SignalKind.MEANING_VECTOR.value,
                )
            ]

    def clear(self) -> None:
        """Forget the cached query vectors."""
        self.query_vectors.clear()

    def share(self, other: Spaces) -> None:
        """Use ``other``'s query vectors (they depend on the encoder and the text, not on
        the ranking) and, when both sample alike, its moments: an engine re-ranking under
        other settings encodes and measures nothing twice."""
        self.query_vectors = other.query_vectors
        if self.sample == other.sample:
            self._stats = other._stats
