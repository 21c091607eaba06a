"""Catalogue lookup: products in a SQL database through SQLAlchemy 2.0.

The CSV is imported at start-up (only when it changed since the last import)
and every page reads product cards from here. SQLite in ``instance/`` by
default; any ``DATABASE_URL`` SQLAlchemy understands otherwise.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from flask import Flask
from sqlalchemy import Connection, Engine, create_engine, delete, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ..tables import Base, Meta, ProductRow
from .products import Catalog, Product

#: PostgreSQL advisory lock id taken while creating tables or importing the catalogue.
_LOCK_KEY = 0x5717C4


class CatalogStore:
    """Reads and writes products; the only module that speaks SQL."""

    def __init__(self, url: str) -> None:
        """Connect to ``url`` and create the tables if needed."""
        self.engine: Engine = create_engine(url, pool_pre_ping=True)
        _create_tables(self.engine)
        #: categories() answer, kept until the next sync (the only writer of the table)
        self._categories: list[tuple[str, int]] | None = None

    def sync(self, catalog: Catalog, *, digest: str | None = None) -> bool:
        """Make the table mirror ``catalog`` (whose content digest is ``digest``, when
        known); return True when it had to rewrite it."""
        digest = digest or content_digest(catalog.products)
        try:
            with Session(self.engine) as session, session.begin():
                one_at_a_time(session.connection())
                meta = session.get(Meta, "content_digest")
                if meta is not None and meta.value == digest:
                    return False
                session.execute(delete(ProductRow))
                session.add_all(_rows(catalog.products))
                session.merge(Meta(key="content_digest", value=digest))
            return True
        finally:  # another process may have rewritten the table: count again
            self._categories = None

    def current_digest(self) -> str | None:
        """The content digest of the catalogue the table holds (None: never imported): a
        worker whose mapped catalogue records the same digest need not read the CSV."""
        with Session(self.engine) as session:
            meta = session.get(Meta, "content_digest")
            return None if meta is None else meta.value

    def get(self, product_id: str) -> Product | None:
        """The product with ``product_id``, or None."""
        if "\x00" in product_id:  # no id holds NUL, and PostgreSQL refuses it in a query
            return None
        with Session(self.engine) as session:
            row = session.get(ProductRow, product_id)
            return to_product(row) if row else None

    def get_many(self, ids: Sequence[str]) -> list[Product]:
        """Products for ``ids`` in the order given (unknown ids are skipped)."""
        wanted = [i for i in ids if "\x00" not in i]
        if not wanted:
            return []
        with Session(self.engine) as session:
            rows = session.scalars(select(ProductRow).where(ProductRow.id.in_(wanted)))
            found = {row.id: to_product(row) for row in rows}
        return [found[i] for i in ids if i in found]

    def categories(self) -> list[tuple[str, int]]:
        """Category names with their product counts, in catalogue order.

        Every page shows them, and the GROUP BY scans the whole table (≈12 ms at
        25,000 rows), so the answer is kept until the next :meth:`sync`.
        """
        cached = self._categories
        if cached is None:
            stmt = (
                select(ProductRow.category, func.count(), func.min(ProductRow.position))
                .group_by(ProductRow.category)
                .order_by(func.min(ProductRow.position))
            )
            with Session(self.engine) as session:
                cached = [(name, count) for name, count, _ in session.execute(stmt)]
            self._categories = cached
        return list(cached)

    def count(self) -> int:
        """Number of products stored."""
        with Session(self.engine) as session:
            return session.scalar(select(func.count()).select_from(ProductRow)) or 0


def one_at_a_time(conn: Connection) -> None:
    """Serialise schema changes and imports across processes until the transaction ends.

    gunicorn boots its workers at the same moment and each one syncs the catalogue:
    on PostgreSQL two concurrent imports would both insert every row and one would
    die on a duplicate key. A transaction-level advisory lock makes the second wait,
    then find the digest already current. SQLite serialises writers by itself.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})


def _create_tables(engine: Engine, attempts: int = 3) -> None:
    """Create missing tables; another process creating them at the same moment is fine."""
    for attempt in range(attempts):
        try:
            with engine.begin() as conn:
                one_at_a_time(conn)
                Base.metadata.create_all(conn)
            return
        except OperationalError:  # SQLite: "table … already exists" / "database is locked"
            if attempt == attempts - 1:
                raise


def _rows(products: Iterable[Product]) -> list[ProductRow]:
    """ORM rows for ``products``, keeping their catalogue position."""
    return [
        ProductRow(
            id=p.id,
            position=i,
            title=p.title,
            category=p.category,
            subcategory=p.subcategory,
            tags="; ".join(p.tags),
            description=p.description,
            price=p.price,
            image=p.image,
        )
        for i, p in enumerate(products)
    ]


def content_digest(products: Iterable[Product]) -> str:
    """A digest over every field, prices included: any edit triggers a re-import."""
    digest = hashlib.sha256()
    for p in products:
        digest.update(repr(p).encode())
    return digest.hexdigest()


def init_app(app: Flask) -> None:
    """Open the configured database and keep the store on the app."""
    app.extensions["store"] = CatalogStore(app.config["DATABASE_URL"])


def to_product(row: ProductRow) -> Product:
    """The immutable domain object for a stored row."""
    return Product(
        row.id,
        row.title,
        row.category,
        row.subcategory,
        tuple(t for t in row.tags.split("; ") if t),
        row.description,
        row.price,
        row.image,
    )
