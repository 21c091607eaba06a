"""The search engine: one query's journey through every stage, timed.

understand → rank (signals, fusion, floor: ``ranking.py``) → filter/sort/page →
catalogue lookup and explanations. The web layer, the CLI and the benchmarks are thin
shells over :class:`SearchEngine`; they ask it, never its parts, and nothing here
knows about requests.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from PIL import Image

from ..catalog.artifacts import CatalogArtifacts
from ..catalog.artifacts import build as build_artifacts
from ..catalog.definitions import ReverseDictionary
from ..catalog.facets import NO_FILTERS, Facets, Filters
from ..catalog.knowledge import NO_KNOWLEDGE, Knowledge
from ..catalog.products import Catalog, Product
from ..catalog.rules import Concepts
from ..encoders.base import EncoderError
from ..encoders.spaces import (
    Space,
    default_picture_space,
    default_similar_space,
    default_text_space,
)
from ..index.base import VectorBackend, Where
from ..index.moments import SAMPLE as MOMENTS_SAMPLE
from ..language.morphology import clear_word_caches
from . import filters as flt
from .cache import LRUCache
from .explanation import Ranking
from .lexical import text_analysis
from .query import ParsedQuery, QueryUnderstanding
from .ranking import Ranker
from .results import Hit, SearchRequest, SearchResult
from .settings import RankingSettings
from .signals import Signal, SignalKind
from .signals.picture import PictureQuery, analyse
from .signals.vectors import SpaceStats
from .timing import Timer


class SearchEngine:
    """Everything needed to answer queries over one catalogue, loaded once per process."""

    def __init__(
        self,
        catalog: CatalogArtifacts | Catalog,
        spaces: Sequence[Space],
        indexes: Mapping[str, VectorBackend],
        *,
        ranking: RankingSettings | None = None,
        max_query_length: int = 200,
        similar_space: str = "",
        picture_space: str = "",
        concepts: Concepts | None = None,
        knowledge: Knowledge = NO_KNOWLEDGE,
        moments: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> None:
        """Search ``catalog`` (its artifacts, mapped or built in memory; a parsed catalogue
        is built into them here) through ``indexes`` (space name → its vector back-end,
        rows in catalogue order) under ``ranking`` (every tuning constant; the shipped
        values by default).

        Text queries search the spaces that have a text encoder; «похожие» and
        recommendations use ``similar_space`` (by default the richest space), and a
        search by picture the image space ``picture_space`` (``""``: the last image
        space configured). ``moments``: each space's mean and covariance as
        ``flask --app webapp index`` computed them (others are computed on first use).
        """
        self.settings = ranking or RankingSettings()
        #: the catalogue's artifacts: product table, lexicon, category tree, emoji lookup
        self.artifacts = current_artifacts(catalog, self.settings, knowledge)
        #: how long each start-up step took, in ms (set by whoever loaded the artifacts)
        self.load_ms: dict[str, float] = {}
        #: the products, as mapped columns (a :class:`Product` is built per row on use)
        self.products = self.artifacts.table
        self._spaces = {s.name: s for s in spaces}
        self._indexes = {s.name: indexes[s.name] for s in spaces}
        for setting, name in (("SIMILAR_SPACE", similar_space), ("PICTURE_SPACE", picture_space)):
            if name and name not in self._spaces:
                raise ValueError(f"{setting} {name!r} is not one of {list(self._spaces)}")
        self.similar_space = similar_space or default_similar_space(spaces)
        self.picture_space = picture_space or default_picture_space(spaces)
        self.text_space = default_text_space(spaces) or self.similar_space
        self._moments = dict(moments or {})
        same_sample = self.settings.fusion.stats_sample == MOMENTS_SAMPLE
        self.ranker = Ranker(
            self.artifacts,
            spaces,
            self._indexes,
            self.settings,
            picture_space=self.picture_space,
            text_space=self.text_space,
            knowledge=knowledge,
            moments={n: SpaceStats(*m) for n, m in self._moments.items()} if same_sample else None,
        )
        self._knowledge = knowledge
        self._pictures: LRUCache[tuple[str, str], PictureQuery] = LRUCache(256)
        self._facets = Facets(self.products)
        self._concepts = concepts
        self._max_query_length = max_query_length
        self._understanding = QueryUnderstanding(
            self.artifacts.emoji,
            max_query_length,
            concepts,
            self.settings.words.layout_share,
        )

    def use_concepts(self, concepts: Concepts | None) -> None:
        """Search with ``concepts`` from now on (staff saved a rule): only query
        understanding changes, in one assignment, so a search in flight keeps the rules it
        started with; cached rankings are keyed by the rules a query triggered."""
        self._understanding = QueryUnderstanding(
            self._understanding.emoji_names,
            self._max_query_length,
            concepts,
            self.settings.words.layout_share,
        )
        self._concepts = concepts

    def with_ranking(self, ranking: RankingSettings) -> SearchEngine:
        """An engine over the same catalogue, spaces and indexes, ranking under ``ranking``
        (how benchmarks and tests compare settings; the running app's settings are frozen)."""
        engine = SearchEngine(
            self.artifacts,
            list(self._spaces.values()),
            self._indexes,
            ranking=ranking,
            max_query_length=self._max_query_length,
            similar_space=self.similar_space,
            picture_space=self.picture_space,
            concepts=self._concepts,
            knowledge=self._knowledge,
            moments=self._moments,
        )
        engine.ranker.spaces.share(self.ranker.spaces)
        engine.load_ms = self.load_ms
        return engine

    # -- the query's journey ---------------------------------------------------------
    def search(self, request: SearchRequest) -> SearchResult:
        """Answer ``request``: rank, filter, sort, page and look up the products."""
        timer = Timer()
        with timer.stage("understand"):
            parsed = self._understanding.parse(request.query)
        where = self._where(request.filters)
        if parsed.empty:
            ranking = self.ranker.rank_signals([], 0)
        else:
            ranking = self.ranker.rank(parsed, timer, where)
        total, hits, maybe = self._page(ranking, request, timer)
        suggestions = self.ranker.suggest(parsed) if not total and not maybe else []
        return SearchResult(request, parsed, total, hits, timer.stages, suggestions, maybe)

    def browse(self, request: SearchRequest) -> SearchResult:
        """Products that pass the filters, in catalogue (or price) order, without a query."""
        timer = Timer()
        total, hits, _ = self._page(None, request, timer)
        return SearchResult(request, None, total, hits, timer.stages)

    def understand(self, query: str) -> ParsedQuery:
        """What the engine understands ``query`` as (lemmas, repaired layout, emoji)."""
        return self._understanding.parse(query)

    # -- search by picture ------------------------------------------------------------
    def picture_query(self, key: str, image: Callable[[], Image.Image]) -> PictureQuery:
        """A shopper's picture as a :class:`PictureQuery` of the picture space, cached under
        ``key`` (the digest of its bytes: only vectors are kept); ``image()`` runs on a miss."""
        encoder = self._spaces[self.picture_space].image_encoder if self.picture_space else None
        if encoder is None:
            raise EncoderError("no image space is configured (IMAGE_ENCODER is empty)")
        model = self._spaces[self.picture_space].model_id
        return self._pictures.get_or_compute(
            (model, key), lambda: analyse(encoder, image(), self.settings.picture)
        )

    def search_by_picture(
        self, query: PictureQuery, request: SearchRequest, *, exclude: Collection[str] = ()
    ) -> SearchResult:
        """Designs that look like ``query`` (and, for a photo, show what it shows), filtered
        exactly, sorted and paged like a text search (``request.query`` is unused)."""
        timer = Timer()
        skip = self.products.rows_of(exclude)
        ranking = self.ranker.rank_picture(query, self._where(request.filters, skip), timer)
        total, hits, maybe = self._page(ranking, request, timer)
        return SearchResult(request, None, total, hits, timer.stages, maybe=maybe)

    def nearest(
        self,
        vector: np.ndarray,
        k: int,
        *,
        space: str | None = None,
        filters: Filters = NO_FILTERS,
        exclude: Collection[str] = (),
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows and cosines of the ``k`` items nearest to ``vector`` in ``space`` (default:
        the picture space) among those passing ``filters`` and not in ``exclude``; with a
        filter the back-end searches only the rows it keeps, so none is missed."""
        skip = self.products.rows_of(exclude)
        where = self._where(filters, skip)
        return self.ranker.spaces.nearest(space or self.picture_space, vector, k, where)

    def _where(self, filters: Filters, skip: Sequence[int] = ()) -> Where | None:
        """The rows ``filters`` keep less ``skip``, for the back-ends (None: no filter)."""
        if not filters.active and not skip:
            return None
        mask = self._facets.mask(filters)
        mask[list(skip)] = False
        return Where(mask, filters, tuple(skip))

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
            if self.products.row_of(of) is None:
                return []
            of, exclude = self.item_vectors([of], name)[0], [*exclude, of]
        rows, cosines = self.nearest(of, k, space=name, exclude=exclude)
        kind = SignalKind.LOOK if self._spaces[name].kind == "image" else SignalKind.CONTENT
        signal = Signal.of(kind, rows, cosines, name=name)
        return self.hits(self.ranker.rank_signals([signal], k))

    def item_vectors(self, ids: Iterable[str], space: str | None = None) -> np.ndarray:
        """The vectors of the known ``ids`` (in their order) in ``space`` (default: similar)."""
        rows = self.products.rows_of(ids)
        return self._indexes[space or self.similar_space].vectors[rows]

    def row_vectors(self, rows: np.ndarray, space: str | None = None) -> np.ndarray:
        """The vectors of catalogue ``rows`` in ``space`` (default: similar)."""
        return self._indexes[space or self.similar_space].vectors[rows]

    def rows(self, ids: Iterable[str]) -> np.ndarray:
        """The catalogue rows of the known ``ids``, in their order."""
        return np.array(self.products.rows_of(ids), np.int64)

    # -- what the catalogue and the models are ----------------------------------------
    def product(self, product_id: str) -> Product | None:
        """One product by id, or None."""
        row = self.products.row_of(product_id)
        return None if row is None else self.products[row]

    def lookup(self, ids: Sequence[str]) -> list[Product]:
        """The products with these ids, in this order (unknown ids are skipped)."""
        return self.products.products(self.products.rows_of(ids))

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
            "ranking": self.settings.fingerprint,
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
        self._pictures.clear()
        clear_word_caches()

    # -- presentation --------------------------------------------------------------------
    def hits(self, ranking: Ranking, positions: Iterable[int] | None = None) -> list[Hit]:
        """The hits of ``ranking`` at ``positions`` (all by default), explained: the products
        built from the mapped table's columns (the catalogue this engine was built from,
        mapped again on reload), so a page costs no SQL round trip."""
        chosen = range(len(ranking)) if positions is None else positions
        return [
            Hit(
                self.products[int(ranking.rows[i])],
                round(float(ranking.fused.scores[i]), 4),
                ranking.explain(i),
            )
            for i in chosen
        ]

    def _page(
        self, ranking: Ranking | None, request: SearchRequest, timer: Timer
    ) -> tuple[int, list[Hit], list[Hit]]:
        """Filter and sort the confident rows of ``ranking`` (relevance order kept on ties;
        every row when browsing), cut the requested page and build its hits; the last page
        of confident results (the first when there are none) also gets the designs shown
        apart, «Может подойти», in relevance order whatever the sort."""
        with timer.stage("filter"):
            sure = len(self.products) if ranking is None else ranking.confident
            rows = np.arange(sure) if ranking is None else ranking.rows[:sure]
            ordered = flt.apply(rows, self._facets, request.filters, request.sort)
            window = ordered[flt.page_slice(len(ordered), request.page, request.per_page)]
            last = max(1, -(-len(ordered) // request.per_page))
            rest = np.empty(0, np.int64)
            if ranking is not None and request.page == last:
                rest = flt.apply(ranking.rows[sure:], self._facets, request.filters, "relevance")
        with timer.stage("lookup"):
            if ranking is None:
                return len(ordered), [Hit(self.products[r], 0.0) for r in window.tolist()], []
            hits = self.hits(ranking, ranking.fused.positions(window).tolist())
            maybe = self.hits(ranking, ranking.fused.positions(rest[: request.per_page]).tolist())
        return len(ordered), hits, maybe


def current_artifacts(
    catalog: CatalogArtifacts | Catalog, settings: RankingSettings, knowledge: Knowledge
) -> CatalogArtifacts:
    """``catalog``'s artifacts as ``settings`` and ``knowledge`` need them: a parsed
    catalogue is built into them; artifacts built under other ranking settings are built
    again from their table (how a benchmark compares settings); and, with definitions, a
    reverse dictionary is built over the table when the artifacts have none (a server
    gets current ones from ``lifecycle``: mapped, or built in memory for a small
    catalogue)."""
    text = text_analysis(settings.words, settings.knowledge)
    definitions = knowledge.definitions
    if isinstance(catalog, Catalog):
        return build_artifacts(catalog, text, definitions)
    if catalog.manifest.get("settings") != text.settings:
        return build_artifacts(catalog.as_catalog(), text, definitions)
    if definitions is not None and catalog.reverse is None:
        k1, b = text.definition_bm25
        assert text.design_words is not None
        words = [text.design_words(p) for p in catalog.table]
        return replace(catalog, reverse=ReverseDictionary(definitions, words, k1=k1, b=b))
    return catalog
