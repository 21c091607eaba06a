"""Counters the pages read: per query (all time and per day) and per recommendation source.

Each batch of new events adds to them in the batch's own transaction (``writer.py``),
so a page's database work is a few index reads however long the raw log grows:

* ``query_totals``: one row per query, all time; three partial indexes, each ordered
  as a page reads it (most searched first), serve «часто ищут», the staff page's
  popular queries and its «ничего не нашли» with a LIMIT and no sort;
* ``query_days``: one row per query per UTC day, keyed (query, day), so «за 7 дней»
  for the rows a page shows is a short key range each; raw events are pruned after
  their retention (``retention.py``), these rows are kept;
* ``rec_totals``: recommended cards shown and clicked, per source.

Rows written before the counters existed (their ``uid`` is NULL) are counted once,
when the counters are first created (:func:`count_legacy`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, case, cast, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..tables import (
    Base,
    Meta,
    ProductView,
    QueryDay,
    QueryTotal,
    RecImpression,
    RecTotal,
    SearchEvent,
)

#: ``catalog_meta`` key marking that rows older than the counters have been counted
LEGACY_COUNTED = "analytics.legacy-counted"


TABLES = (QueryTotal, QueryDay, RecTotal)


def add(
    session: Session,
    searches: Sequence[Mapping[str, Any]],
    views: Sequence[Mapping[str, Any]],
    shown: Sequence[Mapping[str, Any]],
) -> None:
    """Add new event rows (each counted once: the caller passes only rows it inserted)."""
    totals: Counter[tuple[str, str]] = Counter()  # (query, field) → n
    days: Counter[tuple[str, date, str]] = Counter()
    recs: Counter[tuple[str, str]] = Counter()
    for row in searches:
        fields = ("searches", "zero_results") if row["total"] == 0 else ("searches",)
        for name in fields:
            totals[(row["query"], name)] += 1
            days[(row["query"], _day(row["at"]), name)] += 1
    for row in views:
        if row.get("query"):
            totals[(row["query"], "clicks")] += 1
            days[(row["query"], _day(row["at"]), "clicks")] += 1
        if row.get("source"):
            recs[(row["source"], "clicks")] += 1
    for row in shown:
        recs[(row["source"], "shown")] += int(row["shown"])
    increment(session, QueryTotal, _pivot(totals, ("query",)))
    increment(session, QueryDay, _pivot(days, ("query", "day")))
    increment(session, RecTotal, _pivot(recs, ("source",)))


def _day(at: datetime) -> date:
    """The UTC day of an event's time (recorded in UTC)."""
    return at.date()


def _pivot(counts: Counter[Any], keys: Sequence[str]) -> list[dict[str, Any]]:
    """{(key…, field): n} → one row per key with a column per field, sorted by key
    (concurrent writers then lock rows in one order and never deadlock)."""
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for (*key, name), n in counts.items():
        row = rows.setdefault(tuple(key), dict(zip(keys, key, strict=True)))
        row[name] = row.get(name, 0) + n
    return [rows[k] for k in sorted(rows)]


def increment(session: Session, model: type[Base], rows: Iterable[dict[str, Any]]) -> None:
    """Add each row's counts to ``model``'s row of the same key, creating it when absent:
    one upsert statement for all rows (SQLite, PostgreSQL), else update-then-insert."""
    table = model.__table__
    keys = [c.name for c in table.primary_key]
    fields = [c.name for c in table.columns if c.name not in keys]
    rows = [{**{f: 0 for f in fields}, **row} for row in rows]
    if not rows:
        return
    conn = session.connection()
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        ins = (sqlite if dialect == "sqlite" else postgresql).insert(model)
        upsert = ins.on_conflict_do_update(
            index_elements=keys,
            set_={f: table.c[f] + ins.excluded[f] for f in fields},
        )
        conn.execute(upsert, rows)
        return
    for row in rows:  # any other database
        where = [table.c[k] == row[k] for k in keys]
        done = conn.execute(
            update(table).where(*where).values({f: table.c[f] + row[f] for f in fields})
        )
        if not done.rowcount:
            conn.execute(insert(table), [row])


def count_legacy(session: Session) -> None:
    """Count, once per database, the events stored before counters existed (no ``uid``).

    The marker row is written in the same transaction, which the caller runs under the
    schema lock: of two processes starting together one counts, the other finds the
    marker. Rows written with a ``uid`` were counted by their own batch.
    """
    if session.get(Meta, LEGACY_COUNTED) is not None:
        return
    session.add(Meta(key=LEGACY_COUNTED, value="1"))
    dialect = session.get_bind().dialect.name
    zero = func.sum(case((SearchEvent.total == 0, 1), else_=0))
    day = _day_of(SearchEvent.at, dialect)
    searched = session.execute(
        select(SearchEvent.query, day, func.count(), zero)
        .where(SearchEvent.uid.is_(None))
        .group_by(SearchEvent.query, day)
    ).all()
    day = _day_of(ProductView.at, dialect)
    clicked = session.execute(
        select(ProductView.query, day, func.count())
        .where(ProductView.uid.is_(None), ProductView.query.is_not(None))
        .group_by(ProductView.query, day)
    ).all()
    totals: Counter[tuple[str, str]] = Counter()
    days: Counter[tuple[str, date, str]] = Counter()
    for q, d, n, z in searched:
        for name, value in (("searches", n), ("zero_results", z)):
            totals[(q, name)] += int(value)
            days[(q, _date(d), name)] += int(value)
    for q, d, n in clicked:
        totals[(q, "clicks")] += int(n)
        days[(q, _date(d), "clicks")] += int(n)
    recs: Counter[tuple[str, str]] = Counter()
    for source, n in session.execute(
        select(ProductView.source, func.count())
        .where(ProductView.uid.is_(None), ProductView.source.is_not(None))
        .group_by(ProductView.source)
    ):
        recs[(source, "clicks")] += int(n)
    for source, n in session.execute(
        select(RecImpression.source, func.sum(RecImpression.shown))
        .where(RecImpression.uid.is_(None))
        .group_by(RecImpression.source)
    ):
        recs[(source, "shown")] += int(n)
    increment(session, QueryTotal, _pivot(totals, ("query",)))
    increment(session, QueryDay, _pivot(days, ("query", "day")))
    increment(session, RecTotal, _pivot(recs, ("source",)))


def _day_of(column: Any, dialect: str) -> Any:
    """SQL for the UTC day of a stored timestamp."""
    if dialect == "sqlite":  # stored as UTC text
        return func.date(column)
    return cast(func.timezone("UTC", column), Date)


def _date(value: date | str) -> date:
    """A day as SQLite (text) or PostgreSQL (date) returns it."""
    return date.fromisoformat(value) if isinstance(value, str) else value
