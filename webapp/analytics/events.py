"""What analytics stores: searches, product views and recommendation impressions.

The tables live in the catalogue's database beside the products (``catalog.store.Base``);
a column a newer version declares is added to an older table at start-up.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, Engine, String, inspect, text
from sqlalchemy.orm import Mapped, mapped_column

from ..catalog.store import Base


def now() -> datetime:
    """The current UTC time."""
    return datetime.now(UTC)


#: stored query length (longer queries are cut to it; MAX_QUERY_LENGTH is the same by default)
QUERY_COLUMN = 200


class SearchEvent(Base):
    """One answered search (the understood query text, not the raw input)."""

    __tablename__ = "search_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, index=True)
    query: Mapped[str] = mapped_column(String(QUERY_COLUMN), index=True)
    total: Mapped[int]
    took_ms: Mapped[float]


class ProductView(Base):
    """A product card opened, with the query that led there (if any)."""

    __tablename__ = "product_views"

    id: Mapped[int] = mapped_column(primary_key=True)
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
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, index=True)
    source: Mapped[str] = mapped_column(String(16), index=True)
    shown: Mapped[int]


def add_missing_columns(engine: Engine, model: type[Base]) -> None:
    """Add nullable columns a newer version declared to a table an older one created."""
    table = model.__table__
    present = {c["name"] for c in inspect(engine).get_columns(table.name)}
    with engine.begin() as conn:
        for column in table.columns:
            if column.name not in present and column.nullable:
                kind = column.type.compile(engine.dialect)
                conn.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))
