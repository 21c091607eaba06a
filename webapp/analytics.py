"""Search analytics for staff: what shoppers ask, what finds nothing, what they open.

Events are buffered in memory and written in batches by a background thread,
so recording costs a request microseconds and never a database round-trip.
"""

from __future__ import annotations

import atexit
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Flask, current_app
from sqlalchemy import DateTime, Engine, String, case, func, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from .catalog.store import Base


def _now() -> datetime:
    """The current UTC time."""
    return datetime.now(UTC)


#: stored query length (longer queries are cut to it; MAX_QUERY_LENGTH is the same by default)
QUERY_COLUMN = 200


class SearchEvent(Base):
    """One answered search (the understood query text, not the raw input)."""

    __tablename__ = "search_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)
    query: Mapped[str] = mapped_column(String(QUERY_COLUMN), index=True)
    total: Mapped[int]
    took_ms: Mapped[float]


class ProductView(Base):
    """A product card opened, with the query that led there (if any)."""

    __tablename__ = "product_views"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)
    product_id: Mapped[str] = mapped_column(String(64), index=True)
    query: Mapped[str | None] = mapped_column(String(QUERY_COLUMN), index=True)


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


class Analytics:
    """Buffers events and flushes them to the database in batches."""

    def __init__(self, engine: Engine, *, flush_seconds: float = 2.0) -> None:
        """Record into ``engine``'s database (tables are created if needed)."""
        self.engine = engine
        Base.metadata.create_all(engine, tables=[SearchEvent.__table__, ProductView.__table__])
        self.flush_seconds = flush_seconds
        self._searches: list[dict[str, object]] = []
        self._views: list[dict[str, object]] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        atexit.register(self.flush)

    def record_search(self, query: str, total: int, took_ms: float) -> None:
        """Remember one answered search."""
        self._buffer(
            self._searches,
            {"at": _now(), "query": query[:QUERY_COLUMN], "total": total, "took_ms": took_ms},
        )

    def record_view(self, product_id: str, query: str | None) -> None:
        """Remember one product card opened (``query``: the search it came from)."""
        self._buffer(
            self._views,
            {
                "at": _now(),
                "product_id": product_id[:64],
                "query": (query or None) and query[:QUERY_COLUMN],
            },
        )

    def _buffer(self, target: list[dict[str, object]], row: dict[str, object]) -> None:
        """Append ``row`` and make sure the background writer runs."""
        with self._lock:
            target.append(row)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="analytics", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        """Background loop: flush every ``flush_seconds`` while there is work."""
        stop = threading.Event()
        while not stop.wait(self.flush_seconds):
            if not self.flush():
                return

    def flush(self) -> int:
        """Write buffered events now; return how many were written."""
        with self._lock:
            searches, self._searches = self._searches, []
            views, self._views = self._views, []
        if searches or views:
            with Session(self.engine) as session, session.begin():
                if searches:
                    session.execute(insert(SearchEvent), searches)
                if views:
                    session.execute(insert(ProductView), views)
        return len(searches) + len(views)

    def query_stats(self, *, limit: int = 20, zero_only: bool = False) -> list[QueryStat]:
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
        with Session(self.engine) as session:
            return [QueryStat(q, int(n), int(z), int(c)) for q, n, z, c in session.execute(stmt)]


def init_app(app: Flask) -> None:
    """Keep an analytics recorder on the app, writing to the catalogue's database."""
    app.extensions["analytics"] = Analytics(
        app.extensions["store"].engine, flush_seconds=app.config["ANALYTICS_FLUSH_SECONDS"]
    )


def get_analytics() -> Analytics:
    """The current app's analytics recorder."""
    analytics: Analytics = current_app.extensions["analytics"]
    return analytics
