"""How analytics keys and upgrades its raw events: searches, product views and
recommendation impressions (the tables themselves are in ``webapp/tables.py``, in the
catalogue's database beside the products).

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

from sqlalchemy import Connection, inspect, text

from ..tables import Base, ProductView, RecImpression, SearchEvent, now

__all__ = ["TABLES", "new_uid", "now", "upgrade"]


def new_uid() -> str:
    """A fresh event key: a UUIDv7 (RFC 9562) in hex. Its first 48 bits are the time in
    ms, so new keys land at the end of the unique index instead of on random pages;
    74 random bits keep keys of the same millisecond apart."""
    value = (time.time_ns() // 1_000_000 % (1 << 48)) << 80 | int.from_bytes(os.urandom(10))
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # RFC 9562 variant
    return f"{value:032x}"


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
