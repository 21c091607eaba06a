"""Recommendations without login: «вам может понравиться» and «с этим дизайном смотрят».

Both are ranked like every other query, through signals and the one fusion and floor:
``recommend`` turns the opened designs into a taste profile (``taste.py``) whose nearest
unseen designs are a ``taste`` signal, fills most slots from it and a share with
exploration picks (``explore.py``); each card's explanation names the opened design it
is closest to. ``also_viewed`` fuses a design's co-visits (``covisit.py``) with its
content neighbours, each weighted by how many co-visits there are.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy import Engine

from . import covisit, explore, taste
from .engine import SearchEngine
from .explanation import Explanation, Ranking
from .results import Hit
from .settings import RecommendSettings
from .signals import Signal, SignalKind


def recommend(
    engine: SearchEngine,
    history: Sequence[str],
    k: int,
    *,
    queries: Sequence[str] = (),
    session_key: str = "",
) -> list[Hit]:
    """Up to ``k`` unseen designs for a shopper who opened ``history`` (oldest first)."""
    settings = engine.settings.recommend
    space = settings.space or engine.similar_space
    seen = engine.lookup(history)
    vectors = engine.item_vectors([p.id for p in seen], space)
    if not len(vectors):
        return []
    profile = taste.profile(vectors, settings.profile, settings.alpha)
    profile = taste.with_queries(
        profile, _query_vectors(engine, space, queries), settings.query_weight
    )
    n_explore = explore.explore_slots(k, settings.explore_share)
    lo, hi = settings.explore_bucket
    rows, cosines = engine.nearest(profile, max(hi, k), space=space, exclude=history)
    seed = explore.session_seed(session_key, len(history))
    picks = explore.draw(rows[lo:hi], n_explore, seed)
    near = Signal.of(SignalKind.TASTE, rows, cosines, name=space)
    exploit = engine.ranker.rank_signals([near], k - n_explore)
    wide = engine.ranker.rank_signals([_only(near, picks)], n_explore)
    seen_ids = [(p.id, p.title) for p in seen]
    hits = _with_source(engine, exploit, "rec", space, seen_ids, vectors)
    extra = _with_source(engine, wide, "explore", space, seen_ids, vectors)
    at = np.random.default_rng(seed).integers(0, len(hits) + 1) if extra else 0
    return [*hits[:at], *extra, *hits[at:]]


def _only(signal: Signal, rows: np.ndarray) -> Signal:
    """``signal`` restricted to ``rows``, in the order ``rows`` are given."""
    at = {r: i for i, r in enumerate(signal.rows.tolist())}
    index = np.array([at[r] for r in rows.tolist()], np.int64)
    return Signal.of(signal.kind, signal.rows[index], signal.raw[index], name=signal.name)


def _query_vectors(engine: SearchEngine, space: str, queries: Sequence[str]) -> np.ndarray:
    """The clicked queries encoded into ``space`` (none when it takes no text query)."""
    encoder = engine.space(space).encoder
    if encoder is None or not queries:
        return np.zeros((0, 1), dtype=np.float32)
    return np.stack([encoder.encode_query(q) for q in queries])


def _with_source(
    engine: SearchEngine,
    ranking: Ranking,
    source: str,
    space: str,
    seen: Sequence[tuple[str, str]],
    seen_vectors: np.ndarray,
) -> list[Hit]:
    """``ranking``'s hits, each explained by its ``source`` and (unless it explores) the
    opened design it is closest to."""
    ids = [engine.products[r].id for r in ranking.rows.tolist()]
    nearest = taste.closest_seen(engine.item_vectors(ids, space), seen_vectors)
    extra = tuple(
        Explanation(source=source, like=None if source == "explore" else seen[j]) for j in nearest
    )
    return engine.hits(Ranking(ranking.fused, extra=extra))


def also_viewed(engine: SearchEngine, db: Engine, product_id: str, k: int) -> list[Hit]:
    """«С этим дизайном смотрят»: co-visited designs fused with content neighbours (a design
    nobody co-visited gets its pure content neighbours)."""
    settings: RecommendSettings = engine.settings.recommend
    space = settings.space or engine.similar_space
    co = covisit.related(db, product_id, settings.covisit_candidates * k)
    co = [(pid, w) for pid, w in co if pid != product_id]
    anchor = engine.item_vectors([product_id], space)
    if not len(anchor):
        return []
    wide = settings.content_candidates * k
    content = engine.nearest(anchor[0], wide, space=space, exclude=[product_id])[0]
    decay = covisit.decay_now(settings.half_life_days)
    ranking = blend_covisits(
        engine, anchor[0], space, co, content, decay=decay, kind=SignalKind.CONTENT, k=k
    )
    anchor_product = engine.product(product_id)
    like = (product_id, anchor_product.title) if anchor_product else None
    extra = tuple(Explanation(source="also", like=like) for _ in range(len(ranking)))
    return engine.hits(Ranking(ranking.fused, extra=extra))


def blend_covisits(
    engine: SearchEngine,
    vector: np.ndarray,
    space: str,
    co: Sequence[tuple[str, float]],
    near: np.ndarray,
    *,
    decay: float,
    kind: SignalKind,
    k: int,
) -> Ranking:
    """Co-visited designs ``co`` ((id, stored weight), best first) and the content rows
    ``near``, fused: each candidate's cosine to ``vector`` (a ``kind`` signal) weighs
    1 − λ and its share of the top co-visit weight λ = n / (n + prior), n the decayed
    co-visits (``decay`` × stored weights), so few co-visits lean on content."""
    co_rows = engine.rows([pid for pid, _ in co])
    rows = np.concatenate([co_rows, near[~np.isin(near, co_rows)]])
    if not len(rows):
        return engine.ranker.rank_signals([], 0)
    known = {engine.products[r].id for r in co_rows.tolist()}
    weights = [(pid, w) for pid, w in co if pid in known]
    prior = engine.settings.recommend.covisit_prior
    lam = covisit.prior_share(decay * sum(w for _, w in weights), prior)
    cosines = engine.row_vectors(rows, space) @ vector
    signals = [Signal.of(kind, rows, cosines, name=space, scale=1 - lam)]
    if weights:
        top = max(w for _, w in weights) or 1.0
        shares = np.array([w / top for _, w in weights])
        signals.insert(0, Signal.of(SignalKind.COVISIT, co_rows, shares, scale=lam))
    return engine.ranker.rank_signals(signals, k)
