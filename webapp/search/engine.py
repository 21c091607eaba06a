"""The search engine: one query's journey through every stage, timed.

understand → rank (encode, kNN, BM25, fuse, floor) → filter/sort/page →
catalogue lookup. The web layer, the CLI and the benchmarks are thin shells
over :class:`SearchEngine`; they ask it, never its parts, and nothing here
knows about requests.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image

from ..catalog.products import Catalog, Product
from ..encoders.spaces import (
    Space,
    default_picture_space,
    default_similar_space,
    default_text_space,
)
from ..index.base import VectorBackend, Where
from . import filters as flt
from . import picture
from .concepts import Concepts
from .morphology import clear_word_caches
from .picture import PictureQuery
from .query import ParsedQuery, QueryUnderstanding, emoji_table
from .ranking import Ranker, RankingConfig
from .results import Hit, SearchRequest, SearchResult, why_of
from .timing import Timer


class SearchEngine:
    """Everything needed to answer queries over one catalogue, loaded once per process."""

    def __init__(
        self,
        catalog: Catalog,
        spaces: Sequence[Space],
        indexes: Mapping[str, VectorBackend],
        *,
        ranking: RankingConfig | None = None,
        max_query_length: int = 200,
        similar_space: str = "",
        picture_space: str = "",
        picture_results: int = 96,
        concepts: Concepts | None = None,
    ) -> None:
        """Search ``indexes`` (space name → its vector back-end, rows in catalogue order).

        Text queries search the spaces that have a text encoder; «похожие» and
        recommendations use ``similar_space`` (by default the richest space), and a
        search by picture the image space ``picture_space`` (``""``: the last image
        space configured), ranking up to ``picture_results`` designs.
        """
        self.catalog = catalog
        #: how long each start-up step took, in ms (set by whoever loaded the artifacts)
        self.load_ms: dict[str, float] = {}
        self.products = catalog.products
        self._row_of = {p.id: i for i, p in enumerate(self.products)}
        self._spaces = {s.name: s for s in spaces}
        self._indexes = {s.name: indexes[s.name] for s in spaces}
        for setting, name in (("SIMILAR_SPACE", similar_space), ("PICTURE_SPACE", picture_space)):
            if name and name not in self._spaces:
                raise ValueError(f"{setting} {name!r} is not one of {list(self._spaces)}")
        self.similar_space = similar_space or default_similar_space(spaces)
        self.picture_space = picture_space or default_picture_space(spaces)
        self.text_space = default_text_space(spaces) or self.similar_space
        self.ranker = Ranker(self.products, spaces, self._indexes, ranking)
        self._picture = picture.PictureSearch(
            self._spaces, self._indexes, self.picture_space, self.text_space, picture_results
        )
        self._facets = flt.Facets(self.products)
        self._understanding = QueryUnderstanding(
            emoji_table((p.id, p.title) for p in self.products), max_query_length, concepts
        )

    # -- the query's journey ---------------------------------------------------------
    def search(self, request: SearchRequest) -> SearchResult:
        """Answer ``request``: rank, filter, sort, page and look up the products."""
        timer = Timer()
        with timer.stage("understand"):
            parsed = self._understanding.parse(request.query)
        where = self._where(request.filters)
        ranked = self.ranker.rank(parsed, timer, where) if not parsed.empty else []
        by_row = {f.row: f for f in ranked}
        total, hits = self._page(
            np.array([f.row for f in ranked], np.int64),
            request,
            timer,
            lambda r: (by_row[r].score, why_of(by_row[r])),
        )
        suggestions = self.ranker.suggest(parsed) if not total else []
        return SearchResult(request, parsed, total, hits, timer.stages, suggestions)

    def browse(self, request: SearchRequest) -> SearchResult:
        """Products that pass the filters, in catalogue (or price) order, without a query."""
        timer = Timer()
        rows = np.arange(len(self.products))
        total, hits = self._page(rows, request, timer, lambda r: (0.0, {}))
        return SearchResult(request, None, total, hits, timer.stages)

    # -- search by picture ------------------------------------------------------------
    def picture_query(self, key: str, image: Callable[[], Image.Image]) -> PictureQuery:
        """A shopper's picture as a :class:`PictureQuery` of the picture space, cached under
        ``key`` (the digest of its bytes: only vectors are kept); ``image()`` runs on a miss."""
        return self._picture.query(key, image)

    def search_by_picture(
        self, query: PictureQuery, request: SearchRequest, *, exclude: Collection[str] = ()
    ) -> SearchResult:
        """Designs that look like ``query`` (and, for a photo, show what it shows), filtered
        exactly, sorted and paged like a text search (``request.query`` is unused)."""
        timer = Timer()

        def candidates(part: picture.Part, k: int) -> np.ndarray:
            found = self.nearest(
                part.vector, k, space=part.space, filters=request.filters, exclude=exclude
            )
            return found[0]

        rows, scores, why = self._picture.rank(query, candidates, timer)
        position = {r: i for i, r in enumerate(rows.tolist())}
        total, hits = self._page(
            rows, request, timer, lambda r: (scores[position[r]], why(position[r]))
        )
        return SearchResult(request, None, total, hits, timer.stages)

    def nearest(
        self,
        vector: np.ndarray,
        k: int,
        *,
        space: str | None = None,
        filters: flt.Filters = flt.NO_FILTERS,
        exclude: Collection[str] = (),
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows and cosines of the ``k`` items nearest to ``vector`` in ``space`` (default:
        the picture space) among those passing ``filters`` and not in ``exclude``; with a
        filter the back-end searches only the rows it keeps, so none is missed."""
        index = self._indexes[space or self.picture_space]
        skip = [self._row_of[i] for i in exclude if i in self._row_of]
        if not filters.active:  # the index, asked for as many more as are excluded
            rows, scores = index.search(vector, k + len(skip))
            keep = ~np.isin(rows, skip)
            return rows[keep][:k], scores[keep][:k]
        return index.search(vector, k, self._where(filters, skip))

    def _where(self, filters: flt.Filters, skip: Sequence[int] = ()) -> Where | None:
        """The rows ``filters`` keep less ``skip``, for the back-ends (None: no filter)."""
        if not filters.active and not skip:
            return None
        mask = self._facets.mask(filters)
        mask[list(skip)] = False
        return Where(mask, filters, tuple(skip))

    def understand(self, query: str) -> ParsedQuery:
        """What the engine understands ``query`` as (lemmas, repaired layout, emoji)."""
        return self._understanding.parse(query)

    # -- neighbours in a vector space -------------------------------------------------
    def neighbours(
        self,
        of: str | np.ndarray,
        k: int,
        *,
        space: str | None = None,
        exclude: Collection[str] = (),
    ) -> list[Hit]:
        """The ``k`` designs nearest to a design id or a vector, in ``space``.

        ``space`` defaults to :attr:`similar_space`; the design itself and the ids in
        ``exclude`` are never returned. An unknown id has no neighbours.
        """
        name = space or self.similar_space
        if isinstance(of, str):
            if of not in self._row_of:
                return []
            of, exclude = self.item_vectors([of], name)[0], [*exclude, of]
        rows, scores = self.nearest(of, k, space=name, exclude=exclude)
        return [
            self._hit(r, s, {"signals": {name: {"score": round(s, 4)}}})
            for r, s in zip(rows.tolist(), scores.tolist(), strict=True)
        ]

    def item_vectors(self, ids: Iterable[str], space: str | None = None) -> np.ndarray:
        """The vectors of the known ``ids`` (in their order) in ``space`` (default: similar)."""
        rows = [self._row_of[i] for i in ids if i in self._row_of]
        return self._indexes[space or self.similar_space].vectors[rows]

    # -- what the catalogue and the models are ----------------------------------------
    def product(self, product_id: str) -> Product | None:
        """One product by id, or None."""
        row = self._row_of.get(product_id)
        return None if row is None else self.products[row]

    def lookup(self, ids: Sequence[str]) -> list[Product]:
        """The products with these ids, in this order (unknown ids are skipped)."""
        return [self.products[self._row_of[i]] for i in ids if i in self._row_of]

    def categories(self) -> list[tuple[str, int]]:
        """Category names with their product counts, in catalogue order."""
        return self._facets.counts()

    def check(self) -> None:
        """Raise ``IndexUnavailable`` if some space's index cannot serve now."""
        for index in self._indexes.values():
            index.check()

    def space(self, name: str) -> Space:
        """The configured space called ``name`` (its encoders and kind)."""
        return self._spaces[name]

    def describe(self) -> dict[str, Any]:
        """Sizes and models, for gauges and ``/readyz``."""
        return {
            "products": len(self.products),
            "similar_space": self.similar_space,
            "spaces": {
                name: {
                    "model": s.model_id,
                    "kind": s.kind,
                    "items": len(self._indexes[name]),
                    "dim": self._indexes[name].dim,
                    **self._indexes[name].describe(),
                    "text_queries": s.encoder is not None,
                }
                for name, s in self._spaces.items()
            },
        }

    def clear_caches(self) -> None:
        """Forget every cached query vector, picture, ranked list, correction and lemma."""
        self.ranker.clear_caches()
        self._picture.clear()
        clear_word_caches()

    # -- presentation --------------------------------------------------------------------
    def _page(
        self,
        rows: np.ndarray,
        request: SearchRequest,
        timer: Timer,
        describe: Callable[[int], tuple[float, dict[str, Any]]],
    ) -> tuple[int, list[Hit]]:
        """Filter and sort ranked ``rows`` (relevance order kept on ties), cut the requested
        page, and build its hits, ``describe(row)`` giving each one's score and why."""
        with timer.stage("filter"):
            ordered = flt.apply(rows, self._facets, request.filters, request.sort)
            window = ordered[flt.page_slice(len(ordered), request.page, request.per_page)]
        with timer.stage("lookup"):
            hits = [self._hit(r, *describe(r)) for r in window.tolist()]
        return len(ordered), hits

    def _hit(self, row: int, score: float, why: dict[str, Any]) -> Hit:
        """The one Hit builder: the product from the in-process table (the catalogue this
        engine was built from, rebuilt on reload), so a page costs no SQL round trip."""
        return Hit(self.products[row], round(float(score), 4), why)
