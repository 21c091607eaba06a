"""Every table of the database, in one place: the catalogue, the staff's rules, the
analytics events and their counters, and the co-visits.

The modules that read and write them (``catalog/store.py``, ``concept_rules.py``,
``analytics/``, ``search/covisit.py``) import them from here; ``Base.metadata`` is the
whole schema, created by ``CatalogStore`` at start.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# -- the catalogue -------------------------------------------------------------------


class Base(DeclarativeBase):
    """Declarative base of the catalogue tables."""


class ProductRow(Base):
    """A design as stored in the database."""

    __tablename__ = "products"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(index=True)
    title: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(200), index=True)
    subcategory: Mapped[str] = mapped_column(String(200), default="")
    tags: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    price: Mapped[int] = mapped_column(index=True)
    image: Mapped[str] = mapped_column(String(300))


class Meta(Base):
    """Key/value facts about the imported catalogue (its full content digest)."""

    __tablename__ = "catalog_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


# -- the staff's concept rules -----------------------------------------------------------


class ConceptRule(Base):
    """One staff rule: a query phrase and the catalogue words it adds (comma-separated)."""

    __tablename__ = "concept_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    phrase: Mapped[str] = mapped_column(String(200), unique=True)
    words: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(UTC)
    )


# -- analytics: raw events -------------------------------------------------------------------


def now() -> datetime:
    """The current UTC time."""
    return datetime.now(UTC)


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


# -- analytics: counters the pages read --------------------------------------------------------


class QueryTotal(Base):
    """How often a query was asked, found nothing and led to a click, all time."""

    __tablename__ = "query_totals"

    query: Mapped[str] = mapped_column(String(QUERY_COLUMN), primary_key=True)
    searches: Mapped[int] = mapped_column(Integer, default=0)
    zero_results: Mapped[int] = mapped_column(Integer, default=0)
    clicks: Mapped[int] = mapped_column(Integer, default=0)


class QueryDay(Base):
    """The same counts for one UTC day."""

    __tablename__ = "query_days"

    query: Mapped[str] = mapped_column(String(QUERY_COLUMN), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    searches: Mapped[int] = mapped_column(Integer, default=0)
    zero_results: Mapped[int] = mapped_column(Integer, default=0)
    clicks: Mapped[int] = mapped_column(Integer, default=0)


class RecTotal(Base):
    """Recommended cards of one source shown, and clicked, all time."""

    __tablename__ = "rec_totals"

    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    shown: Mapped[int] = mapped_column(Integer, default=0)
    clicks: Mapped[int] = mapped_column(Integer, default=0)


def _ranked(name: str, where: Any) -> Index:
    """An index in the order the pages read (most searched first), over ``where`` only,
    holding every column they show (a read never leaves the index)."""
    return Index(
        name,
        QueryTotal.searches.desc(),
        QueryTotal.query,
        QueryTotal.zero_results,
        QueryTotal.clicks,
        sqlite_where=where,
        postgresql_where=where,
    )


#: the three lists the pages show, each one index range read in order
SEARCHED = QueryTotal.searches > 0
FOUND = QueryTotal.searches > QueryTotal.zero_results  # found something at least once
NOTHING = QueryTotal.zero_results > 0  # found nothing at least once
INDEXES = (
    _ranked("ix_query_totals_searched", SEARCHED),
    _ranked("ix_query_totals_found", FOUND),
    _ranked("ix_query_totals_nothing", NOTHING),
)


# -- co-visits («с этим дизайном смотрят») ------------------------------------------------------


class CoVisit(Base):
    """How often design ``b`` was opened near design ``a`` (decay-weighted), and raw count."""

    __tablename__ = "covisits"

    a: Mapped[str] = mapped_column(String(64), primary_key=True)
    b: Mapped[str] = mapped_column(String(64), primary_key=True)
    weight: Mapped[float] = mapped_column(Float)
    count: Mapped[int] = mapped_column(Integer)


#: the staff page's most co-visited pairs: read in this order, so the page never sorts the table
Index("ix_covisits_top", CoVisit.weight.desc(), CoVisit.a, CoVisit.b)
