"""Recording analytics: events buffered in memory, written in batches by a thread.

Recording costs a request microseconds and never a database round-trip; product views
are paired into co-visits (``search/covisit.py``) as they are written.
"""

from __future__ import annotations

import atexit
import threading
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from ..catalog.store import Base
from ..search import covisit
from . import reports
from .events import QUERY_COLUMN, ProductView, RecImpression, SearchEvent, add_missing_columns, now


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
        add_missing_columns(engine, ProductView)
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
            {"at": now(), "query": query[:QUERY_COLUMN], "total": total, "took_ms": took_ms},
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
                "at": now(),
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
                self._buffer(self._shown, {"at": now(), "source": source, "shown": shown})

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
        return reports.rec_stats(self.engine)

    def query_stats(self, *, limit: int = 20, zero_only: bool = False) -> list[reports.QueryStat]:
        """The most frequent queries (or only those that found nothing), with click counts."""
        return reports.query_stats(self.engine, limit=limit, zero_only=zero_only)
