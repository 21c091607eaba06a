"""Writing events: one transaction per batch inserts the new events, adds them to the
counters and pairs new product views into co-visits.

Inserts skip events already stored (``ON CONFLICT (uid) DO NOTHING``) and return the
keys they did insert; counters and co-visits grow by those rows only, so writing a
batch twice, or replaying a spool whose batch had committed, changes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from ..catalog.store import one_at_a_time
from ..search import covisit
from ..tables import Base, Meta, ProductView
from . import counters
from .events import TABLES, upgrade

Row = dict[str, Any]


def prepare(engine: Engine, attempts: int = 3) -> None:
    """Create or upgrade the analytics tables and count rows older than the counters.

    Workers start together: the schema lock serialises them on PostgreSQL; SQLite may
    refuse one of two concurrent writers, which then tries again and finds it done.
    """
    models = [Meta, *TABLES.values(), *counters.TABLES, covisit.CoVisit]
    for attempt in range(attempts):
        try:
            with Session(engine) as session, session.begin():
                conn = session.connection()
                one_at_a_time(conn)
                Base.metadata.create_all(conn, tables=[m.__table__ for m in models])
                for model in [*TABLES.values(), covisit.CoVisit]:
                    upgrade(conn, model)
                counters.count_legacy(session)
            return
        except (OperationalError, IntegrityError):
            if attempt == attempts - 1:
                raise


def write(
    session: Session,
    batch: Mapping[str, Sequence[Row]],
    *,
    covisit_window_s: float,
    half_life_days: float,
) -> int:
    """Store ``batch`` (rows by kind: "search", "view", "shown") inside the caller's
    transaction; returns how many events were new."""
    new = {kind: insert_new(session, TABLES[kind], batch.get(kind, ())) for kind in TABLES}
    if new["view"]:
        count_covisits(session, new["view"], covisit_window_s, half_life_days)
    counters.add(session, new["search"], new["view"], new["shown"])
    return sum(len(rows) for rows in new.values())


def insert_new(session: Session, model: type[Base], rows: Sequence[Row]) -> list[Row]:
    """Insert the rows whose ``uid`` is not stored yet; return those rows."""
    unique = list({row["uid"]: row for row in rows}.values())
    if not unique:
        return []
    conn = session.connection()
    dialect = conn.dialect.name
    uid = model.__table__.c.uid
    if dialect in ("sqlite", "postgresql"):
        ins = (sqlite if dialect == "sqlite" else postgresql).insert(model)
        stmt = ins.on_conflict_do_nothing(index_elements=["uid"]).returning(uid)
        inserted = {u for (u,) in conn.execute(stmt, unique)}
        return [row for row in unique if row["uid"] in inserted]
    stored: set[str] = set()
    keys = [row["uid"] for row in unique]
    for start in range(0, len(keys), 500):  # any other database: look first
        stored.update(conn.scalars(select(uid).where(uid.in_(keys[start : start + 500]))))
    fresh = [row for row in unique if row["uid"] not in stored]
    if fresh:
        conn.execute(insert(model), fresh)
    return fresh


def count_covisits(
    session: Session, views: Sequence[Row], window_s: float, half_life_days: float
) -> None:
    """Pair the new ``views`` (already inserted) with their sessions' earlier stored
    views within ``window_s``; upsert the co-visit counts."""
    keys = sorted({str(v["session_key"]) for v in views if v.get("session_key")})
    if not keys:
        return
    first: datetime = min(v["at"] for v in views)
    since = first - timedelta(seconds=window_s)
    new = {v["uid"] for v in views}
    earlier = [
        (key, pid, at)
        for start in range(0, len(keys), 500)
        for key, pid, at, uid in session.execute(
            select(
                ProductView.session_key, ProductView.product_id, ProductView.at, ProductView.uid
            ).where(ProductView.session_key.in_(keys[start : start + 500]), ProductView.at >= since)
        )
        if uid not in new
    ]
    pair_counts: Counter[tuple[str, str]] = Counter()
    weights = covisit.pair_weights(
        earlier, views, window_s=window_s, half_life_days=half_life_days, counts=pair_counts
    )
    covisit.add(session, weights, pair_counts)
