"""Ranking metrics on one ranked list of ids against a judged relevant set.

``ranked`` is the system's list, best first; ``relevant`` the judged set. See
:mod:`webapp.evaluation` for the definitions and how they are aggregated.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

MRR_K = 10


def check_k(k: int) -> None:
    """Reject cut-offs below 1."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")


def _check_relevant(relevant: Iterable[str], metric: str) -> frozenset[str]:
    """Return ``relevant`` as a frozenset; raise ValueError when it is empty."""
    rel = frozenset(relevant)
    if not rel:
        raise ValueError(f"{metric} is undefined for an empty relevant set (a nonsense query)")
    return rel


def hits_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> int:
    """Number of distinct relevant ids among the first ``k`` ranked ids."""
    check_k(k)
    return len(set(ranked[:k]) & frozenset(relevant))


def precision_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """P@K = hits@K / K; missing positions in a short list count as misses."""
    return hits_at_k(ranked, relevant, k) / k


def recall_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """R@K = hits@K / |relevant|; ValueError for an empty relevant set."""
    rel = _check_relevant(relevant, "recall")
    return hits_at_k(ranked, rel, k) / len(rel)


def f1_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """F1@K = 2PR / (P + R), or 0.0 when both P@K and R@K are 0."""
    rel = _check_relevant(relevant, "F1")
    p, r = precision_at_k(ranked, rel, k), recall_at_k(ranked, rel, k)
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def normalised_precision_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """nP@K = hits@K / min(K, |relevant|): 1.0 means as many hits as were possible."""
    rel = _check_relevant(relevant, "normalised precision")
    return hits_at_k(ranked, rel, k) / min(k, len(rel))


def first_relevant_rank(ranked: Sequence[str], relevant: Iterable[str]) -> int | None:
    """1-based rank of the first relevant id anywhere in ``ranked``, or None if absent."""
    rel = frozenset(relevant)
    for rank, item in enumerate(ranked, start=1):
        if item in rel:
            return rank
    return None


def reciprocal_rank(ranked: Sequence[str], relevant: Iterable[str], k: int = MRR_K) -> float:
    """1 / rank of the first relevant id within the top ``k``, else 0.0."""
    check_k(k)
    rank = first_relevant_rank(ranked[:k], relevant)
    return 0.0 if rank is None else 1.0 / rank


def nothing_found_rate(results: Sequence[Sequence[str]]) -> float | None:
    """Fraction of result lists that are empty; None when there are none to score."""
    if not results:
        return None
    return sum(1 for ranked in results if not ranked) / len(results)


def headline_k(ks: Sequence[int]) -> int:
    """The K of the headline nP@K in tables and the chart: 5 when evaluated, else the largest."""
    return 5 if 5 in ks else max(ks)


def fmt(value: float | int | None, digits: int = 3) -> str:
    """Format a number for a Markdown table; None becomes an em dash."""
    if value is None:
        return "—"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"
