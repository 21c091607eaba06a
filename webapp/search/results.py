"""What a search is asked and what it answers: request, hits and the result page."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..catalog.facets import NO_FILTERS, Filters
from ..catalog.products import Product
from .explanation import Explanation
from .query import ParsedQuery


@dataclass(frozen=True)
class SearchRequest:
    """What a shopper asked for."""

    query: str
    filters: Filters = NO_FILTERS
    sort: str = "relevance"
    page: int = 1
    per_page: int = 24
    #: the shopper typed more than ``MAX_QUERY_LENGTH`` characters and ``query`` is the
    #: part kept (cut at a word boundary); the page and the API say so
    truncated: bool = False


@dataclass(frozen=True)
class Hit:
    """One result: the product, its score and why it was chosen (None: browsing)."""

    product: Product
    score: float
    explanation: Explanation | None = None

    @property
    def why(self) -> dict[str, Any]:
        """The explanation in its structured form, as the API returns it."""
        return self.explanation.to_json() if self.explanation else {}


@dataclass
class SearchResult:
    """A page of results plus everything the page and the API show about it."""

    request: SearchRequest
    parsed: ParsedQuery | None
    total: int
    hits: list[Hit]
    timings: dict[str, float]
    suggestions: list[str] = field(default_factory=list)
    #: designs that may fit but are not confident results, shown apart after the last
    #: confident one («Может подойти»; not counted in ``total``)
    maybe: list[Hit] = field(default_factory=list)

    @property
    def shown(self) -> list[Hit]:
        """Every design the page lists, in order: the confident results, then «Может
        подойти» (what an evaluation of the page scores)."""
        return [*self.hits, *self.maybe]

    @property
    def took_ms(self) -> float:
        """Total time spent in the search core."""
        return round(sum(self.timings.values()), 2)

    @property
    def pages(self) -> int:
        """Number of pages for ``total`` results."""
        return max(1, -(-self.total // self.request.per_page))
