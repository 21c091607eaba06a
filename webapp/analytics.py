"""Search analytics for staff: what shoppers ask, what finds nothing, what they open.

Events are buffered in memory and written in batches by a background thread,
so recording costs a request microseconds and never a database round-trip.
"""

from __future__ import annotations

import atexit
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import Flask, current_app
from sqlalchemy import DateTime, Engine, String, case, func, insert, inspect, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from .catalog.store import Base
from .search import covisit


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
    #: anonymous per-session random key (never an identity), for co-visitation
    session_key: Mapped[str | None] = mapped_column(String(32), index=True)
    #: where the click came from: "rec", "explore", "also" (a recommended card) or None
    source: Mapped[str | None] = mapped_column(String(16), index=True)


class RecImpression(Base):
    """Recommended cards shown on a page, by source (the denominator of their CTR)."""

    __tablename__ = "rec_impressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)
    source: Mapped[str] = mapped_column(String(16), index=True)
    shown: Mapped[int]


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

    def __init__(
        self,
        engine: Engine,
        *,
        flush_seconds: float = 2.0,
        covisit_window_s: float = 1800.0,
        half_life_days: float = 14.0,
    ) -> None:
        """Record into ``engine``'s database (tables are created if needed); views of one
        session within ``covisit_window_s`` count as co-visits (``search/covisit.py``)."""
        self.engine = engine
        tables = [SearchEvent, ProductView, RecImpression, covisit.CoVisit]
        Base.metadata.create_all(engine, tables=[t.__table__ for t in tables])
        _add_missing_columns(engine, ProductView)
        self.flush_seconds = flush_seconds
        self.covisit_window_s, self.half_life_days = covisit_window_s, half_life_days
        self._searches: list[dict[str, object]] = []
        self._views: list[dict[str, object]] = []
        self._shown: list[dict[str, object]] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        atexit.register(self.flush)

    def record_search(self, query: str, total: int, took_ms: float) -> None:
        """Remember one answered search."""
        self._buffer(
            self._searches,
            {"at": _now(), "query": query[:QUERY_COLUMN], "total": total, "took_ms": took_ms},
        )

    def record_view(
        self,
        product_id: str,
        query: str | None,
        *,
        session_key: str | None = None,
        source: str | None = None,
    ) -> None:
        """Remember one product card opened (``query``: the search it came from,
        ``source``: the recommendation row it was clicked in)."""
        self._buffer(
            self._views,
            {
                "at": _now(),
                "product_id": product_id[:64],
                "query": (query or None) and query[:QUERY_COLUMN],
                "session_key": session_key and session_key[:32],
                "source": source and source[:16],
            },
        )

    def record_shown(self, counts: dict[str, int]) -> None:
        """Remember how many recommended cards of each source a page showed."""
        for source, shown in counts.items():
            if shown:
                self._buffer(self._shown, {"at": _now(), "source": source, "shown": shown})

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
            shown, self._shown = self._shown, []
        if searches or views or shown:
            with Session(self.engine) as session, session.begin():
                if searches:
                    session.execute(insert(SearchEvent), searches)
                if views:
                    self._count_covisits(session, views)
                    session.execute(insert(ProductView), views)
                if shown:
                    session.execute(insert(RecImpression), shown)
        return len(searches) + len(views) + len(shown)

    def _count_covisits(self, session: Session, views: list[dict[str, object]]) -> None:
        """Pair the new views with their sessions' recent stored views; upsert the counts."""
        keys = sorted({str(v["session_key"]) for v in views if v.get("session_key")})
        if not keys:
            return
        first: datetime = min(v["at"] for v in views)  # every buffered view has its time
        since = first - timedelta(seconds=self.covisit_window_s)
        earlier = [
            row
            for start in range(0, len(keys), 500)
            for row in session.execute(
                select(ProductView.session_key, ProductView.product_id, ProductView.at).where(
                    ProductView.session_key.in_(keys[start : start + 500]),
                    ProductView.at >= since,
                )
            )
        ]
        counts: Counter[tuple[str, str]] = Counter()
        weights = covisit.pair_weights(
            earlier,
            views,
            window_s=self.covisit_window_s,
            half_life_days=self.half_life_days,
            counts=counts,
        )
        covisit.add(session, weights, counts)

    def rec_stats(self) -> list[tuple[str, int, int]]:
        """Recommended cards shown and clicked, per source: (source, shown, clicks)."""
        with Session(self.engine) as session:
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


def _add_missing_columns(engine: Engine, model: type[Base]) -> None:
    """Add nullable columns a newer version declared to a table an older one created."""
    table = model.__table__
    present = {c["name"] for c in inspect(engine).get_columns(table.name)}
    with engine.begin() as conn:
        for column in table.columns:
            if column.name not in present and column.nullable:
                kind = column.type.compile(engine.dialect)
                conn.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))


def init_app(app: Flask) -> None:
    """Keep an analytics recorder on the app, writing to the catalogue's database."""
    app.extensions["analytics"] = Analytics(
        app.extensions["store"].engine,
        flush_seconds=app.config["ANALYTICS_FLUSH_SECONDS"],
        covisit_window_s=app.config["COVISIT_WINDOW_SECONDS"],
        half_life_days=app.config["COVISIT_HALF_LIFE_DAYS"],
    )


def get_analytics() -> Analytics:
    """The current app's analytics recorder."""
    analytics: Analytics = current_app.extensions["analytics"]
    return analytics
