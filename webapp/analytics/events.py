"""What analytics stores raw: searches, product views and recommendation impressions.

The tables live in the catalogue's database beside the products (``catalog.store.Base``).
Every event carries ``uid``, a random key made when it is recorded, under a unique
index: writing the same event twice (a spool replayed after its batch had already
committed) inserts it once. Raw rows are kept for ``ANALYTICS_RETENTION_DAYS``
(``retention.py``); what the pages show comes from ``counters.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, DateTime, String, inspect, text
from sqlalchemy.orm import Mapped, mapped_column

from ..catalog.store import Base


def now() -> datetime:
    """The current UTC time."""
    return datetime.now(UTC)


#: stored query length (longer queries are cut to it; MAX_QUERY_LENGTH is the same by default)
QUERY_COLUMN = 200
#: an event's key: ``uuid4().hex``; NULL only on rows written before keys existed
UID_COLUMN = 32


class SearchEvent(Base):
    """One answered search (the understood query text, not the raw input)."""

    __tablename__ = "search_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str | None] = mapped_column(String(UID_COLUMN), index=True, unique=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, index=True)
    query: Mapped[str] = mapped_column(String(QUERY_COLUMN), index=True)
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
    uid: Mapped[str | None] = mapped_column(String(UID_COLUMN), index=True, unique=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, index=True)
    source: Mapped[str] = mapped_column(String(16), index=True)
    shown: Mapped[int]


#: the raw event tables, by the kind name the spool writes
TABLES: dict[str, type[Base]] = {
    "search": SearchEvent,
    "view": ProductView,
    "shown": RecImpression,
}


def upgrade(conn: Connection, model: type[Base]) -> None:
    """Bring a table an older version created up to ``model``: add the nullable columns
    and the indexes it declares (the caller holds the schema lock)."""
    table = model.__table__
    present = {c["name"] for c in inspect(conn).get_columns(table.name)}
    for column in table.columns:
        if column.name not in present and column.nullable:
            kind = column.type.compile(conn.dialect)
            conn.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))
    for index in table.indexes:
        index.create(conn, checkfirst=True)
