"""What a search is asked and what it answers: request, hits and the result page."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..catalog.products import Product
from . import filters as flt
from .fusion import Fused
from .query import ParsedQuery


@dataclass(frozen=True)
class SearchRequest:
    """What a shopper asked for."""

    query: str
    filters: flt.Filters = flt.NO_FILTERS
    sort: str = "relevance"
    page: int = 1
    per_page: int = 24


@dataclass(frozen=True)
class Hit:
    """One result: the product, its score and why it was chosen."""

    product: Product
    score: float
    why: dict[str, Any]


@dataclass
class SearchResult:
    """A page of results plus everything the page and the API show about it."""

    request: SearchRequest
    parsed: ParsedQuery | None
    total: int
    hits: list[Hit]
    timings: dict[str, float]
    suggestions: list[str] = field(default_factory=list)

    @property
    def took_ms(self) -> float:
        """Total time spent in the search core."""
        return round(sum(self.timings.values()), 2)

    @property
    def pages(self) -> int:
        """Number of pages for ``total`` results."""
        return max(1, -(-self.total // self.request.per_page))


def why_of(item: Fused) -> dict[str, Any]:
    """Which signals matched a ranked item, how strongly, and with which words."""
    signals = {
        name: {"score": round(raw, 4), "calibrated": round(cal, 3), "rank": rank}
        for name, (raw, cal, rank) in sorted(item.evidence.items())
    }
    why: dict[str, Any] = {"signals": signals, "terms": list(item.terms)}
    if item.meaning:
        why["meaning"] = list(item.meaning)
    return why
