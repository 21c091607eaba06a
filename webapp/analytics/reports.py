"""What staff read from analytics: frequent and failed queries, recommendation CTR."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, case, func, select
from sqlalchemy.orm import Session

from .events import ProductView, RecImpression, SearchEvent


@dataclass(frozen=True)
class QueryStat:
    """How often a query was asked, how often it found nothing, how often it led to a click."""

    query: str
    searches: int
    zero_results: int
    clicks: int

    @property
    def click_through(self) -> float:
        """Product views per search for this query."""
        return self.clicks / self.searches if self.searches else 0.0


def rec_stats(engine: Engine) -> list[tuple[str, int, int]]:
    """Recommended cards shown and clicked, per source: (source, shown, clicks)."""
    with Session(engine) as session:
        shown = dict(
            session.execute(
                select(RecImpression.source, func.sum(RecImpression.shown)).group_by(
                    RecImpression.source
                )
            ).all()
        )
        clicks = dict(
            session.execute(
                select(ProductView.source, func.count())
                .where(ProductView.source.is_not(None))
                .group_by(ProductView.source)
            ).all()
        )
    return [(s, int(shown.get(s, 0)), int(clicks.get(s, 0))) for s in sorted({*shown, *clicks})]


def query_stats(engine: Engine, *, limit: int = 20, zero_only: bool = False) -> list[QueryStat]:
    """The most frequent queries (or only those that found nothing), with click counts."""
    clicks = (
        select(ProductView.query, func.count().label("clicks"))
        .where(ProductView.query.is_not(None))
        .group_by(ProductView.query)
        .subquery()
    )
    zero = func.sum(case((SearchEvent.total == 0, 1), else_=0))
    stmt = (
        select(SearchEvent.query, func.count(), zero, func.coalesce(clicks.c.clicks, 0))
        .outerjoin(clicks, clicks.c.query == SearchEvent.query)
        .group_by(SearchEvent.query, clicks.c.clicks)
        .order_by(func.count().desc(), SearchEvent.query)
        .limit(limit)
    )
    if zero_only:
        stmt = stmt.having(zero > 0)
    with Session(engine) as session:
        return [QueryStat(q, int(n), int(z), int(c)) for q, n, z, c in session.execute(stmt)]
