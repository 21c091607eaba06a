"""Fitting the confidence model (``search/confidence.py``) on judged queries.

For every answered query of a development set, every fused candidate becomes a row of
features with two labels: *relevant* (judged) and *on topic* (judged, or sharing the
subcategory of a judged design: what a shop owner would accept on the page). A logistic
regression (L2, Newton's method on standardised features, coefficients returned on the
features' own scale) is fitted to the relevant label, first stage then second stage, with
folds by query so every reported figure is out of fold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..search.confidence import (
    FEATURES,
    SECOND,
    features,
    head_closeness,
    logistic,
    with_certainty,
)
from ..search.engine import SearchEngine
from .queries import EvalQuery


@dataclass(frozen=True)
class Samples:
    """Candidates of answered queries: first-stage features, rows, labels, query index."""

    x: np.ndarray
    rows: np.ndarray
    relevant: np.ndarray
    on_topic: np.ndarray
    query: np.ndarray  # index into ``queries``
    #: what the floor's z-score thresholds alone keep (the answer before confidence)
    kept: np.ndarray
    #: per candidate, whether the query's whole phrase explains it (``floor.explained``)
    explained: np.ndarray
    queries: tuple[EvalQuery, ...]
    #: per query, the item vectors of the spaces head closeness is measured in
    spaces: tuple[np.ndarray | None, np.ndarray | None]


def collect(engine: SearchEngine, queries: Sequence[EvalQuery]) -> Samples:
    """Features and labels of every fused candidate of the ``queries`` the gate answers
    (nonsense queries, with nothing judged, are left out)."""
    subcategory = np.array([p.subcategory for p in engine.products])
    xs, rows, rel, topic, which, keeps, explained, kept = [], [], [], [], [], [], [], []
    spaces: tuple[np.ndarray | None, np.ndarray | None] = (None, None)
    for q in queries:
        parsed = engine.understand(q.query)
        if not q.relevant or parsed.empty:
            continue
        found = engine.ranker.candidates(parsed)
        if not engine.ranker.floor.answers(found.fused, found.evidence):
            continue
        assert found.evidence.words is not None
        spaces = found.evidence.words.spaces
        judged = engine.rows(q.relevant)
        topics = set(subcategory[judged].tolist())
        absent = engine.settings.confidence.absent_z
        xs.append(features(found.fused, found.evidence.words, absent))
        rows.append(found.fused.rows)
        rel.append(np.isin(found.fused.rows, judged))
        topic.append(np.isin(subcategory[found.fused.rows], list(topics)) | rel[-1])
        which.append(np.full(len(found.fused), len(kept)))
        keeps.append(engine.ranker.floor.keeps(found.fused, found.evidence))
        explained.append(found.evidence.words.explained)
        kept.append(q)
    return Samples(
        np.concatenate(xs),
        np.concatenate(rows),
        np.concatenate(rel),
        np.concatenate(topic),
        np.concatenate(which),
        np.concatenate(keeps),
        np.concatenate(explained),
        tuple(kept),
        spaces,
    )


def fit_logistic(
    x: np.ndarray, y: np.ndarray, names: Sequence[str], l2: float = 1.0
) -> dict[str, float]:
    """L2-regularised logistic regression (the intercept, column 0, unpenalised), fitted
    by Newton's method on standardised columns; weights on the columns' own scale."""
    mean = x[:, 1:].mean(axis=0)
    scale = x[:, 1:].std(axis=0)
    scale[scale == 0] = 1.0
    z = np.column_stack([np.ones(len(x)), (x[:, 1:] - mean) / scale])
    w = np.zeros(z.shape[1])
    penalty = np.diag(np.r_[0.0, np.full(z.shape[1] - 1, l2)])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -40, 40)))
        gradient = z.T @ (p - y) + penalty @ w
        hessian = (z * (p * (1 - p))[:, None]).T @ z + penalty
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    raw = np.r_[w[0] - float((w[1:] * mean / scale).sum()), w[1:] / scale]
    return {name: round(float(v), 5) for name, v in zip(names, raw, strict=True)}


def second_stage(samples: Samples, first: dict[str, float], head: int) -> np.ndarray:
    """The second stage's features of ``samples`` given the first stage's weights."""
    p1 = logistic(samples.x, FEATURES, first)
    out = np.zeros((len(samples.x), len(SECOND)))
    for q in range(len(samples.queries)):
        at = np.flatnonzero(samples.query == q)
        near = head_closeness(samples.rows[at], p1[at], samples.spaces, head)
        best = np.full(len(at), p1[at].max())
        out[at] = np.column_stack([samples.x[at], near, p1[at], best])
    return out


def fit(samples: Samples, head: int, l2: float = 1.0) -> tuple[dict[str, float], dict[str, float]]:
    """Both stages' weights fitted on all of ``samples``."""
    y = samples.relevant.astype(float)
    first = fit_logistic(samples.x, y, FEATURES, l2)
    second = fit_logistic(second_stage(samples, first, head), y, SECOND, l2)
    return first, second


def out_of_fold(samples: Samples, head: int, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Each candidate's confidence from models fitted without its query's fold."""
    order = np.random.default_rng(seed).permutation(len(samples.queries))
    p = np.zeros(len(samples.x))
    for part in np.array_split(order, folds):
        test = np.isin(samples.query, part)
        train = _subset(samples, ~test)
        first, second = fit(train, head)
        held = _subset(samples, test)
        x = second_stage(held, first, head)
        p[test] = with_certainty(logistic(x, SECOND, second), x)
    return p


def _subset(samples: Samples, mask: np.ndarray) -> Samples:
    """The candidates ``mask`` selects (queries renumbered)."""
    kept = np.unique(samples.query[mask])
    renumber = {int(q): i for i, q in enumerate(kept)}
    return Samples(
        samples.x[mask],
        samples.rows[mask],
        samples.relevant[mask],
        samples.on_topic[mask],
        np.array([renumber[int(q)] for q in samples.query[mask]], np.int64),
        samples.kept[mask],
        samples.explained[mask],
        tuple(samples.queries[int(q)] for q in kept),
        samples.spaces,
    )


@dataclass(frozen=True)
class PageQuality:
    """How a way of ordering and ending answers does on judged queries (means over them)."""

    np5: float  # judged designs in the top 5, of min(5, judged)
    mrr10: float
    on_topic: float  # share of the first page on the topic of the judged designs
    recall: float  # judged designs among the confident results of the first page
    length: float  # mean number of confident results on the first page
    #: judged designs anywhere on the first page: the confident results, then «Может
    #: подойти» (the rest of what the floor keeps) to fill the page
    recall_shown: float = 0.0


def page_quality(
    samples: Samples,
    order_key: np.ndarray,
    shown: np.ndarray,
    maybe: np.ndarray | None = None,
    page: int = 24,
) -> PageQuality:
    """Quality when each query's candidates are ordered by ``order_key`` (higher first,
    ties in fused order), the answer is the ``shown`` ones and the ``maybe`` ones follow
    under their own heading."""
    np5, mrr, share, recall, length, whole = [], [], [], [], [], []
    for q in range(len(samples.queries)):
        at = np.flatnonzero(samples.query == q)
        at = at[np.argsort(-order_key[at], kind="stable")]
        answer = at[shown[at]]
        more = at[maybe[at] & ~shown[at]] if maybe is not None else at[:0]
        first = answer[:page]
        listed = np.concatenate([answer, more])
        judged = len(samples.queries[q].relevant)
        np5.append(samples.relevant[listed[:5]].sum() / min(5, judged))
        hits = np.flatnonzero(samples.relevant[listed[:10]])
        mrr.append(1.0 / (hits[0] + 1) if len(hits) else 0.0)
        if len(first):
            share.append(samples.on_topic[first].mean())
        recall.append(samples.relevant[first].sum() / min(page, judged))
        whole.append(samples.relevant[listed[:page]].sum() / min(page, judged))
        length.append(len(first))
    means = (float(np.mean(v)) if v else 0.0 for v in (np5, mrr, share, recall, length, whole))
    return PageQuality(*means)


def answer_mask(
    samples: Samples, p: np.ndarray, keep: float, relative: float, *, phrase: bool = False
) -> np.ndarray:
    """The candidates an answer keeps: confidence at least ``keep`` and at least
    ``relative`` × the query's best confidence (with ``phrase``, only those the query's
    whole phrase explains, when it explains some: what ``RelevanceFloor.judge`` does)."""
    best = np.zeros(len(p))
    explained = np.zeros(len(p), bool)
    for q in range(len(samples.queries)):
        at = samples.query == q
        best[at] = p[at & samples.kept].max() if (at & samples.kept).any() else 0.0
        explained[at] = samples.explained[at].any()
    mask = (p >= keep) & (p >= relative * best)
    return mask & (samples.explained | ~explained) if phrase else mask
