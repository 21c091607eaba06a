"""Benchmark: what recording an event costs, and the nothing-found page at 1k and 1M events.

Run ``.venv/bin/python benchmarks/bench_analytics.py [--events N] [--rounds R]``.

1. **Recording one event**, medians over rounds of 2,000 events (200 for the ways that
   wait for the disk), every way in turn in each round so that they share the machine's
   noise: memory only (the recorder
   before the spool), the spool as served (one ``write`` per event), the spool with
   ``ANALYTICS_SPOOL_FSYNC`` (plus ``fdatasync``), and the alternative the spool was
   chosen over: a SQLite database in WAL mode per process, ``synchronous=NORMAL``
   and ``FULL``, one insert and commit per event.
2. **The nothing-found page** (``/search?q=ъъъжжжщщ`` with its «часто ищут») of the
   demo app (``create_app`` + ``warm_up``, Flask test client, no sockets) over a fresh
   SQLite file (``build/bench/analytics.sqlite3``) holding first 1,000 logged searches,
   then N (default 1,000,000; a tenth of them distinct queries, a third of those finding
   nothing), inserted in batches of 50,000 through the recorder's own writer (raw rows
   and counters in one transaction each). The page is timed at both sizes, so is its
   analytics read alone, and so is the GROUP BY over the raw log the page used to run
   (the baseline). Ratios large/small are printed: ~1 means the cost does not grow.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # as a served worker has them

from sqlalchemy import case, func, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from webapp import create_app  # noqa: E402
from webapp.analytics import Analytics, SearchEvent, writer  # noqa: E402
from webapp.analytics.events import new_uid  # noqa: E402
from webapp.analytics.spool import encode  # noqa: E402
from webapp.catalog.store import CatalogStore  # noqa: E402
from webapp.lifecycle import warm_up  # noqa: E402

NOTHING_FOUND = "/search?q=ъъъжжжщщ"
BATCH = 50_000


def recording_costs(work: Path, rounds: int, n: int = 2000) -> None:
    """Print the cost of recording one search event, each way: rounds of ``n`` events,
    every way once per round in turn, so they share the machine's noise."""
    engine = CatalogStore(f"sqlite:///{work / 'record.sqlite3'}").engine
    ways: dict[str, Callable[[int], None]] = {}
    recorders = {
        "memory only (no spool)": Analytics(engine, flush_seconds=3600),
        "spool, write() (served default)": Analytics(
            engine, flush_seconds=3600, spool_dir=work / "spool"
        ),
        "spool, write() + fdatasync": Analytics(
            engine, flush_seconds=3600, spool_dir=work / "spool-fsync", spool_fsync=True
        ),
    }
    for name, recorder in recorders.items():
        ways[name] = lambda i, r=recorder: r.record_search(
            f"кот {i % 50}", 3, 4.2, request_id=f"r{i}"
        )
    for sync in ("NORMAL", "FULL"):
        db = sqlite3.connect(work / f"wal-{sync}.sqlite3", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={sync}")
        db.execute("CREATE TABLE spool (id INTEGER PRIMARY KEY, line BLOB)")

        def insert(i: int, db: sqlite3.Connection = db) -> None:
            row = {"uid": uuid.uuid4().hex, "at": datetime.now(UTC), "query": f"кот {i % 50}"}
            db.execute("INSERT INTO spool (line) VALUES (?)", (encode("search", row),))

        ways[f"SQLite WAL per process, synchronous={sync}"] = insert
    times: dict[str, list[float]] = {name: [] for name in ways}
    for r in range(rounds):
        for name, record in ways.items():
            count = n // 10 if "fdatasync" in name or "FULL" in name else n  # ms each
            t = time.perf_counter()
            for i in range(count):
                record(r * n + i)
            times[name].append((time.perf_counter() - t) / count * 1e6)
    for recorder in recorders.values():
        recorder.flush()
    base = statistics.median(times["memory only (no spool)"])
    print(f"recording one search event (median µs per event over {rounds} rounds):")
    for name, values in times.items():
        us = statistics.median(values)
        print(f"  {name:<45} {us:8.1f} µs  (+{us - base:.1f} over memory only)")


def synthetic(n: int, first: int, distinct: int) -> list[dict[str, object]]:
    """Search rows ``first``…``first + n``: a skewed mix over ``distinct`` queries."""
    start = datetime.now(UTC) - timedelta(days=60)
    rows = []
    for k in range(first, first + n):
        q = (k * 7919) % distinct if k % 3 else k % 20  # a few very common queries
        rows.append(
            {
                "uid": new_uid(),
                "at": start + timedelta(seconds=k % (60 * 86400)),
                "query": f"запрос {q}",
                "total": 0 if q % 3 == 0 else 7,
                "took_ms": 4.0,
            }
        )
    return rows


def fill(recorder: Analytics, upto: int, have: int, distinct: int) -> float:
    """Log searches until ``upto`` are stored; seconds taken."""
    t = time.perf_counter()
    while have < upto:
        n = min(BATCH, upto - have)
        with Session(recorder.engine) as session, session.begin():
            writer.write(
                session,
                {"search": synthetic(n, have, distinct)},
                covisit_window_s=1,
                half_life_days=14,
            )
        have += n
    return time.perf_counter() - t


def legacy_report(recorder: Analytics) -> None:
    """The GROUP BY over the raw log the nothing-found page ran before the counters."""
    zero = func.sum(case((SearchEvent.total == 0, 1), else_=0))
    stmt = (
        select(SearchEvent.query, func.count(), zero)
        .group_by(SearchEvent.query)
        .order_by(func.count().desc(), SearchEvent.query)
        .limit(8)
    )
    with Session(recorder.engine) as session:
        session.execute(stmt).all()


def median_ms(job: Callable[[], object], rounds: int) -> float:
    """Median milliseconds of ``job`` over ``rounds`` calls."""
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        job()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def page_costs(events: int, rounds: int) -> None:
    """Print the nothing-found page at 1,000 and ``events`` logged searches."""
    folder = ROOT / "build" / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "analytics.sqlite3"
    path.unlink(missing_ok=True)
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{path}",
            "RATELIMIT_ENABLED": False,
            "ANALYTICS_SPOOL_DIR": str(folder / "spool"),
            "LOG_FORMAT": "",
        }
    )
    warm_up(app)
    recorder: Analytics = app.extensions["analytics"]
    client = app.test_client()
    distinct = max(100, events // 10)

    def page() -> None:
        response = client.get(NOTHING_FOUND)
        assert response.status_code == 200 and "Часто ищут" in response.get_data(as_text=True)

    measured = {}
    have = 0
    for size in (1000, events):
        took = fill(recorder, size, have, distinct)
        have = size
        recorder.flush()
        page()  # warm
        measured[size] = (
            median_ms(page, rounds),
            median_ms(lambda: recorder.popular(5), rounds),
            median_ms(lambda: legacy_report(recorder), max(3, rounds // 20)),
        )
        print(f"logged {size:>9,} searches (filled in {took:.0f} s)", flush=True)
    small, large = measured[1000], measured[events]
    print(f"\nnothing-found page, median ms over {rounds} requests:")
    print(f"  {'':<38} {'1,000':>9} {events:>11,} {'ratio':>7}")
    names = ["the page (counters)", "its analytics read alone", "GROUP BY over the log (before)"]
    for name, a, b in zip(names, small, large, strict=True):
        print(f"  {name:<38} {a:9.2f} {b:11.2f} {b / a:7.2f}×")
    recorder.flush()


def main() -> None:
    """Recording costs, then the page at two log sizes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-analytics-"))
    try:
        recording_costs(work, max(3, args.rounds // 40))
        page_costs(args.events, args.rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
