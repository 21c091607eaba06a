"""Offline evaluation of catalogue search against a query set with known relevant items.

The harness is independent of the web layer and of any particular encoder: it takes a
``search_fn(query) -> ranked ids`` (empty list = "nothing found") and, optionally, a
``cosine_fn(query, ids) -> cosines``, and produces per-query rows plus aggregates overall
and per query kind.

Metrics (``ranked`` is the system's list, best first; ``relevant`` the judged set):

* ``P@K``  = hits@K / K (a list shorter than K is padded with misses);
* ``R@K``  = hits@K / |relevant|;
* ``F1@K`` = harmonic mean of P@K and R@K (0 when both are 0);
* ``nP@K`` = hits@K / min(K, |relevant|), so a perfect system scores 1.0 even when a query
  has fewer than K relevant items;
* ``MRR@10`` = mean over queries of 1 / rank of the first relevant item within the top 10,
  0 when none is there;
* median rank of the first relevant item anywhere in the list, over queries where one was
  returned, plus the count of queries where none was;
* mean cosine of all (query, relevant item) pairs, when a ``cosine_fn`` is given.

Queries with an empty relevant set are *nonsense* queries: the right answer is "nothing
found". They are kept out of every average above and scored only by the
``nothing_found_rate``: the fraction of them for which the system returned an empty list.

The Markdown and PNG report is written by :mod:`webapp.evaluation.report`.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .metrics import (
    MRR_K,
    check_k,
    f1_at_k,
    first_relevant_rank,
    normalised_precision_at_k,
    nothing_found_rate,
    precision_at_k,
    recall_at_k,
    reciprocal_rank,
)
from .queries import EvalQuery

SearchFn = Callable[[str], Sequence[str]]
CosineFn = Callable[[str, Sequence[str]], Sequence[float]]

DEFAULT_KS = (1, 5, 10)


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class QueryResult:
    """The outcome of one query: what came back and how it scored."""

    query: EvalQuery
    returned: tuple[str, ...]
    scores: dict[str, float]
    first_rank: int | None
    cosines: tuple[float, ...] | None = None

    @property
    def nothing_found(self) -> bool:
        """True when the system returned no results."""
        return not self.returned

    @property
    def mean_cosine(self) -> float | None:
        """Mean cosine of the query to its relevant items, when cosines were computed."""
        return statistics.fmean(self.cosines) if self.cosines else None


@dataclass(frozen=True)
class Aggregate:
    """Aggregated metrics over a group of queries (all of them, or one kind)."""

    n_queries: int
    n_scored: int
    n_nonsense: int
    means: dict[str, float]
    median_first_rank: float | None
    n_not_found: int
    mean_cosine: float | None
    nothing_found_rate: float | None


@dataclass(frozen=True)
class EvalReport:
    """Per-query rows and aggregates, overall and per kind (kinds in first-seen order)."""

    rows: tuple[QueryResult, ...]
    overall: Aggregate
    per_kind: dict[str, Aggregate]
    ks: tuple[int, ...] = DEFAULT_KS

    @property
    def metric_names(self) -> tuple[str, ...]:
        """Names of the averaged metrics for this report's cut-offs."""
        return metric_names(self.ks)


def metric_names(ks: Sequence[int]) -> tuple[str, ...]:
    """Names of the averaged metrics, in display order: P, R, F1, nP for each K, then MRR@10."""
    names = [f"{m}@{k}" for m in ("P", "R", "F1", "nP") for k in ks]
    return (*names, f"MRR@{MRR_K}")


def score_ranked(
    ranked: Sequence[str], relevant: Sequence[str], ks: Sequence[int]
) -> dict[str, float]:
    """All averaged metrics for one query with a non-empty relevant set."""
    scores: dict[str, float] = {}
    for k in ks:
        scores[f"P@{k}"] = precision_at_k(ranked, relevant, k)
        scores[f"R@{k}"] = recall_at_k(ranked, relevant, k)
        scores[f"F1@{k}"] = f1_at_k(ranked, relevant, k)
        scores[f"nP@{k}"] = normalised_precision_at_k(ranked, relevant, k)
    scores[f"MRR@{MRR_K}"] = reciprocal_rank(ranked, relevant, MRR_K)
    return scores


def _run_search(search_fn: SearchFn, query: str) -> tuple[str, ...]:
    """Call ``search_fn`` and check that it returned a sequence of string ids."""
    returned = search_fn(query)
    if isinstance(returned, str) or not all(isinstance(i, str) for i in returned):
        raise TypeError(f"search_fn({query!r}) must return a list of string ids")
    return tuple(returned)


def _run_cosines(cosine_fn: CosineFn, q: EvalQuery) -> tuple[float, ...]:
    """Call ``cosine_fn`` for the relevant ids of ``q`` and check the length of its answer."""
    values = tuple(float(v) for v in cosine_fn(q.query, q.relevant))
    if len(values) != len(q.relevant):
        raise ValueError(
            f"cosine_fn({q.query!r}) returned {len(values)} values for {len(q.relevant)} ids"
        )
    return values


def evaluate_query(
    q: EvalQuery, search_fn: SearchFn, ks: Sequence[int], cosine_fn: CosineFn | None
) -> QueryResult:
    """Run one query and score it (nonsense queries get no scores, only nothing_found)."""
    returned = _run_search(search_fn, q.query)
    if q.is_nonsense:
        return QueryResult(q, returned, {}, None)
    cosines = _run_cosines(cosine_fn, q) if cosine_fn is not None else None
    scores = score_ranked(returned, q.relevant, ks)
    return QueryResult(q, returned, scores, first_relevant_rank(returned, q.relevant), cosines)


def aggregate(rows: Sequence[QueryResult], names: Sequence[str]) -> Aggregate:
    """Average the scored rows' metrics and summarise ranks, cosines and nonsense handling."""
    scored = [r for r in rows if not r.query.is_nonsense]
    nonsense = [r for r in rows if r.query.is_nonsense]
    means = {n: statistics.fmean(r.scores[n] for r in scored) for n in names} if scored else {}
    ranks = [r.first_rank for r in scored if r.first_rank is not None]
    pairs = [c for r in scored for c in (r.cosines or ())]
    return Aggregate(
        n_queries=len(rows),
        n_scored=len(scored),
        n_nonsense=len(nonsense),
        means=means,
        median_first_rank=float(statistics.median(ranks)) if ranks else None,
        n_not_found=len(scored) - len(ranks),
        mean_cosine=statistics.fmean(pairs) if pairs else None,
        nothing_found_rate=nothing_found_rate([r.returned for r in nonsense]),
    )


def evaluate(
    queries: Sequence[EvalQuery],
    search_fn: SearchFn,
    *,
    ks: Sequence[int] = DEFAULT_KS,
    cosine_fn: CosineFn | None = None,
) -> EvalReport:
    """Run every query through ``search_fn`` and aggregate the metrics overall and per kind."""
    if not queries:
        raise ValueError("no queries to evaluate")
    ks = tuple(sorted(set(ks)))
    for k in ks:
        check_k(k)
    names = metric_names(ks)
    rows = tuple(evaluate_query(q, search_fn, ks, cosine_fn) for q in queries)
    kinds = list(dict.fromkeys(r.query.kind for r in rows))
    per_kind = {kind: aggregate([r for r in rows if r.query.kind == kind], names) for kind in kinds}
    return EvalReport(rows, aggregate(rows, names), per_kind, ks)
