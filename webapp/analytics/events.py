"""What analytics stores raw: searches, product views and recommendation impressions.

The tables live in the catalogue's database beside the products (``catalog.store.Base``).
Every event carries ``uid``, a key made when it is recorded (:func:`new_uid`), under
a unique index: writing the same event twice (a spool replayed after its batch had
already committed) inserts it once. Raw rows are kept for ``ANALYTICS_RETENTION_DAYS``
(``retention.py``); what the pages show comes from ``counters.py``, so the raw tables
are indexed only for what still reads them: the key, the time (retention) and the
session of a view (co-visits). Each other index made every insert touch one more
random page: at a million events, inserting a batch took 4× longer with them.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

from sqlalchemy import Connection, DateTime, String, inspect, text
from sqlalchemy.orm import Mapped, mapped_column

from ..catalog.store import Base


def now() -> datetime:
    """The current UTC time."""
    return datetime.now(UTC)


def new_uid() -> str:
    """A fresh event key: a UUIDv7 (RFC 9562) in hex. Its first 48 bits are the time in
    ms, so new keys land at the end of the unique index instead of on random pages;
    74 random bits keep keys of the same millisecond apart."""
    value = (time.time_ns() // 1_000_000 % (1 << 48)) << 80 | int.from_bytes(os.urandom(10))
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # RFC 9562 variant
    return f"{value:032x}"


#: stored query length (longer queries are cut to it; MAX_QUERY_LENGTH is the same by default)
QUERY_COLUMN = 200
#: an event's key (:func:`new_uid`); NULL only on rows written before keys existed
UID_COLUMN = 32


class SearchEvent(Base):
    """One answered search (the understood query text, not the raw input)."""

    __tablename__ = "search_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str | None] = mapped_column(String(UID_COLUMN), index=True, unique=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, index=True)
    query: Mapped[str] = mapped_column(String(QUERY_COLUMN))
    total: Mapped[int]
    took_ms: Mapped[float]
    #: the answer's X-Request-ID, to find a search in the request log (and back)
    request_id: Mapped[str | None] = mapped_column(String(64))


class ProductView(Base):
    """A product card opened, with the query that led there (if any)."""

    __tablename__ = "product_views"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str | None] = mapped_column(String(UID_COLUMN), index=True, unique=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, index=True)
    product_id: Mapped[str] = mapped_column(String(64))
    query: Mapped[str | None] = mapped_column(String(QUERY_COLUMN))
    #: anonymous per-session random key (never an identity), for co-visitation
    session_key: Mapped[str | None] = mapped_column(String(32), index=True)
    #: where the click came from: "rec", "explore", "also" (a recommended card) or None
    source: Mapped[str | None] = mapped_column(String(16))


class RecImpression(Base):
    """Recommended cards shown on a page, by source (the denominator of their CTR)."""

    __tablename__ = "rec_impressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str | None] = mapped_column(String(UID_COLUMN), index=True, unique=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, index=True)
    source: Mapped[str] = mapped_column(String(16))
    shown: Mapped[int]


#: the raw event tables, by the kind name the spool writes
TABLES: dict[str, type[Base]] = {
    "search": SearchEvent,
    "view": ProductView,
    "shown": RecImpression,
}


#: indexes older versions made on the raw tables, which nothing reads any more
OBSOLETE_INDEXES = (
    "ix_search_events_query",
    "ix_product_views_product_id",
    "ix_product_views_query",
    "ix_product_views_source",
    "ix_rec_impressions_source",
)


def upgrade(conn: Connection, model: type[Base]) -> None:
    """Bring a table an older version created up to ``model``: add the nullable columns
    and the indexes it declares, drop the ones it no longer needs (the caller holds the
    schema lock)."""
    table = model.__table__
    for name in OBSOLETE_INDEXES:
        if name.startswith(f"ix_{table.name}_"):
            conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
    present = {c["name"] for c in inspect(conn).get_columns(table.name)}
    for column in table.columns:
        if column.name not in present and column.nullable:
            kind = column.type.compile(conn.dialect)
            conn.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))
    for index in table.indexes:
        index.create(conn, checkfirst=True)
