"""What staff and shoppers read from analytics: frequent and failed queries, «часто ищут»,
recommendation CTR. Every read is a short range of a counter index (``counters.py``):
its cost follows the page's LIMIT, never the number of events logged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from ..tables import FOUND, NOTHING, SEARCHED, QueryDay, QueryTotal, RecTotal
from .events import now


@dataclass(frozen=True)
class QueryStat:
    """How often a query was asked, how often it found nothing, how often it led to a click."""

    query: str
    searches: int
    zero_results: int
    clicks: int
    #: searches in the last ``RECENT_DAYS`` days (filled in by :func:`with_recent`)
    recent: int = 0

    @property
    def click_through(self) -> float:
        """Product views per search for this query."""
        return self.clicks / self.searches if self.searches else 0.0


#: the staff page's «за 7 дней» column
RECENT_DAYS = 7


def rec_stats(engine: Engine) -> list[tuple[str, int, int]]:
    """Recommended cards shown and clicked, per source: (source, shown, clicks)."""
    with Session(engine) as session:
        rows = session.execute(
            select(RecTotal.source, RecTotal.shown, RecTotal.clicks).order_by(RecTotal.source)
        )
        return [(s, int(shown), int(clicks)) for s, shown, clicks in rows]


def query_stats(engine: Engine, *, limit: int = 20, zero_only: bool = False) -> list[QueryStat]:
    """The most frequent queries (or only those that found nothing at least once), with
    click counts, most searched first."""
    return _ranked(engine, NOTHING if zero_only else SEARCHED, limit)


def popular(engine: Engine, *, limit: int = 5) -> list[str]:
    """«Часто ищут»: the most asked queries that found something at least once."""
    return [s.query for s in _ranked(engine, FOUND, limit)]


def _ranked(engine: Engine, where: object, limit: int) -> list[QueryStat]:
    """The first ``limit`` rows of ``query_totals`` matching one partial index's condition,
    in that index's order."""
    stmt = (
        select(QueryTotal.query, QueryTotal.searches, QueryTotal.zero_results, QueryTotal.clicks)
        .where(where)
        .order_by(QueryTotal.searches.desc(), QueryTotal.query)
        .limit(limit)
    )
    with Session(engine) as session:
        return [QueryStat(q, int(n), int(z), int(c)) for q, n, z, c in session.execute(stmt)]


def with_recent(
    engine: Engine, stats: Sequence[QueryStat], days: int = RECENT_DAYS, today: date | None = None
) -> list[QueryStat]:
    """``stats`` with their searches of the last ``days`` days (one key range per query)."""
    if not stats:
        return []
    since = (today or now().date()) - timedelta(days=days - 1)
    stmt = (
        select(QueryDay.query, func.sum(QueryDay.searches))
        .where(QueryDay.query.in_({s.query for s in stats}), QueryDay.day >= since)
        .group_by(QueryDay.query)
    )
    with Session(engine) as session:
        recent = {q: int(n) for q, n in session.execute(stmt)}
    return [
        QueryStat(s.query, s.searches, s.zero_results, s.clicks, recent.get(s.query, 0))
        for s in stats
    ]
