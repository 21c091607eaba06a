"""Recommendations without login: «вам может понравиться» and «с этим дизайном смотрят».

``recommend`` blends the opened designs into a taste profile (``taste.py``), fills
most slots with the nearest unseen designs and a share with exploration picks
(``explore.py``); each says in ``why`` which opened design it is closest to.
``also_viewed`` ranks a design's co-visited designs blended with content
similarity (``covisit.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Engine

from ..catalog.products import Product
from . import covisit, explore, taste
from .engine import SearchEngine
from .results import Hit


@dataclass(frozen=True)
class RecommendSettings:
    """How recommendations are made (config keys ``RECOMMEND_*`` and ``COVISIT_*``)."""

    profile: str = "ema"
    alpha: float = 0.3
    explore_share: float = 1 / 6
    explore_bucket: tuple[int, int] = (30, 300)
    query_weight: float = 0.3
    space: str = ""  # "" = the engine's similar space
    covisit_prior: float = 3.0
    half_life_days: float = 14.0


def recommend(
    engine: SearchEngine,
    history: Sequence[str],
    k: int,
    *,
    settings: RecommendSettings = RecommendSettings(),
    queries: Sequence[str] = (),
    session_key: str = "",
) -> list[Hit]:
    """Up to ``k`` unseen designs for a shopper who opened ``history`` (oldest first)."""
    space = settings.space or engine.similar_space
    seen = engine.lookup(history)
    vectors = engine.item_vectors([p.id for p in seen], space)
    if not len(vectors):
        return []
    profile_vector = taste.profile(vectors, settings.profile, settings.alpha)
    profile_vector = taste.with_queries(
        profile_vector, _query_vectors(engine, space, queries), settings.query_weight
    )
    n_explore = explore.explore_slots(k, settings.explore_share)
    lo, hi = settings.explore_bucket
    rows, _ = engine.nearest(profile_vector, max(hi, k), space=space, exclude=history)
    exploit_ids = [engine.products[r].id for r in rows[: k - n_explore]]
    seed = explore.session_seed(session_key, len(history))
    picks = explore.draw(rows[lo:hi], n_explore, seed)
    explore_ids = [engine.products[r].id for r in picks]
    hits = _with_why(engine, space, exploit_ids, "rec", profile_vector, seen, vectors)
    extra = _with_why(engine, space, explore_ids, "explore", profile_vector, seen, vectors)
    at = np.random.default_rng(seed).integers(0, len(hits) + 1) if extra else 0
    return [*hits[:at], *extra, *hits[at:]]


def _query_vectors(engine: SearchEngine, space: str, queries: Sequence[str]) -> np.ndarray:
    """The clicked queries encoded into ``space`` (none when it takes no text query)."""
    encoder = engine.space(space).encoder
    if encoder is None or not queries:
        return np.zeros((0, 1), dtype=np.float32)
    return np.stack([encoder.encode_query(q) for q in queries])


def _with_why(
    engine: SearchEngine,
    space: str,
    ids: Sequence[str],
    source: str,
    profile_vector: np.ndarray,
    seen: Sequence[Product],
    seen_vectors: np.ndarray,
) -> list[Hit]:
    """Hits for ``ids`` with their profile cosine, source and the opened design they resemble."""
    products = engine.lookup(ids)
    vectors = engine.item_vectors([p.id for p in products], space)
    nearest = taste.closest_seen(vectors, seen_vectors)
    scores = (vectors @ profile_vector).tolist() if len(vectors) else []
    return [
        Hit(
            p,
            round(float(s), 4),
            {
                "signals": {space: {"score": round(float(s), 4)}},
                "source": source,
                "like": {"id": seen[j].id, "title": seen[j].title},
            },
        )
        for p, s, j in zip(products, scores, nearest, strict=True)
    ]


def also_viewed(
    engine: SearchEngine,
    db: Engine,
    product_id: str,
    k: int,
    *,
    settings: RecommendSettings = RecommendSettings(),
) -> list[Hit]:
    """«С этим дизайном смотрят»: co-visited designs blended with content neighbours;
    a design nobody co-visited gets its pure content neighbours."""
    space = settings.space or engine.similar_space
    co = [(pid, w) for pid, w in covisit.related(db, product_id, 3 * k) if pid != product_id]
    content = engine.neighbours(product_id, 2 * k, space=space)
    candidates = [p.id for p in engine.lookup([pid for pid, _ in co])]
    candidates += [h.product.id for h in content if h.product.id not in candidates]
    anchor = engine.item_vectors([product_id], space)
    if not len(anchor) or not candidates:
        return []
    cos = covisit.cosines(anchor[0], candidates, engine.item_vectors(candidates, space))
    known = {pid for pid in candidates}
    co = [(pid, w) for pid, w in co if pid in known]
    ranked = covisit.blend(
        co, cos, k, settings.covisit_prior, covisit.decay_now(settings.half_life_days)
    )
    products = {p.id: p for p in engine.lookup([pid for pid, *_ in ranked])}
    return [
        Hit(
            products[pid],
            round(score, 4),
            {
                "signals": {"covisit": {"score": round(share, 4)}, space: {"score": round(c, 4)}},
                "source": "also",
            },
        )
        for pid, score, share, c in ranked
    ]
