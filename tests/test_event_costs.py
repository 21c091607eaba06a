"""A page's database work follows the page, not the history: the nothing-found page, with
its «часто ищут», does the same work over a log 100 times larger.

Work is counted by the database itself, not by a clock: SQLite's virtual-machine
instructions (its progress handler, called on every one), PostgreSQL's rows read and
filtered by each plan node (``EXPLAIN ANALYZE`` of each statement the page ran).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, case, event, func, select
from sqlalchemy.orm import Session

from webapp.analytics import Analytics, SearchEvent, writer
from webapp.catalog.store import CatalogStore

from .conftest import database_url

NOTHING_FOUND = "/search?q=ъъъжжжщщ"


@dataclass
class Work:
    """What a block of code asked of one database."""

    statements: list[tuple[str, Any]] = field(default_factory=list)
    steps: int = 0  # SQLite: VM instructions; PostgreSQL: rows read and filtered


@contextmanager
def database_work(engine: Engine) -> Iterator[Work]:
    """Count the statements run on ``engine`` inside the block, and their work."""
    work = Work()
    sqlite = engine.dialect.name == "sqlite"
    metered: list[Any] = []

    def step() -> int:
        work.steps += 1
        return 0  # go on

    def before(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        work.statements.append((statement, parameters))
        raw = conn.connection.dbapi_connection
        if sqlite and raw not in metered:
            raw.set_progress_handler(step, 1)
            metered.append(raw)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield work
    finally:
        event.remove(engine, "before_cursor_execute", before)
        for raw in metered:
            raw.set_progress_handler(None, 1)
    if not sqlite:
        work.steps = sum(_rows_read(engine, s, p) for s, p in work.statements)


def _rows_read(engine: Engine, statement: str, parameters: Any) -> int:
    """PostgreSQL: rows every node of ``statement``'s plan produced or filtered out."""
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters)
            (plan,) = cursor.fetchone()[0]
    finally:
        raw.close()

    def rows(node: dict[str, Any]) -> int:
        own = node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
        return own * node.get("Actual Loops", 1) + sum(rows(n) for n in node.get("Plans", []))

    return int(rows(plan["Plan"]))


def _log(tmp: Path, events: int, queries: int) -> Engine:
    """A database holding ``events`` searches over ``queries`` distinct queries (a third
    of them finding nothing), written the way the recorder writes them."""
    tmp.mkdir()
    engine = CatalogStore(database_url(tmp)).engine
    Analytics(engine)
    start = datetime.now(UTC) - timedelta(days=30)
    rows = [
        {
            "uid": uuid.uuid4().hex,
            "at": start + timedelta(seconds=n * 30 * 86400 / events),
            # a skewed mix: low numbers are asked far more often
            "query": f"запрос {(n * n) % queries if n % 2 else n % 10}",
            "total": 0 if ((n * n) % queries if n % 2 else n % 10) % 3 == 0 else 5,
            "took_ms": 3.0,
        }
        for n in range(events)
    ]
    for first in range(0, events, 20_000):
        with Session(engine) as session, session.begin():
            writer.write(
                session,
                {"search": rows[first : first + 20_000]},
                covisit_window_s=1,
                half_life_days=1,
            )
    return engine


def _legacy_report(engine: Engine) -> None:
    """What the nothing-found page used to run: a GROUP BY over the whole raw log."""
    zero = func.sum(case((SearchEvent.total == 0, 1), else_=0))
    stmt = (
        select(SearchEvent.query, func.count(), zero)
        .group_by(SearchEvent.query)
        .order_by(func.count().desc(), SearchEvent.query)
        .limit(8)
    )
    with Session(engine) as session:
        session.execute(stmt).all()


def test_the_nothing_found_page_costs_the_same_over_a_100x_larger_log(
    demo_app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small, large = _log(tmp_path / "small", 1_000, 200), _log(tmp_path / "large", 100_000, 20_000)
    client = demo_app.test_client()
    pages, legacy = {}, {}
    for name, engine in (("small", small), ("large", large)):
        monkeypatch.setitem(demo_app.extensions, "analytics", Analytics(engine, flush_seconds=60))
        client.get(NOTHING_FOUND)  # warm: connections, compiled statements
        with database_work(engine) as work:
            page = client.get(NOTHING_FOUND).get_data(as_text=True)
        assert "Часто ищут" in page and "запрос 1" in page, page[-3000:]
        pages[name] = work
        with database_work(engine) as work:
            _legacy_report(engine)
        legacy[name] = work.steps
    # one read, of a handful of counter rows, however long the log
    assert len(pages["small"].statements) == len(pages["large"].statements) == 1
    assert pages["large"].steps <= pages["small"].steps * 1.1 + 10, (
        pages["small"].steps,
        pages["large"].steps,
    )
    # the meter does see a cost that grows with the log: the report this page used to run
    assert legacy["large"] > 30 * legacy["small"], legacy
