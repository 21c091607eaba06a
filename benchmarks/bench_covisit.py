"""Benchmark: «с этим дизайном смотрят» at 1M view events, incremental against a full recount.

Run ``.venv/bin/python benchmarks/bench_covisit.py [--events N] [--repeats R]``.

Sets up a fresh SQLite file (``build/bench/covisit.sqlite3``) holding N view events
(default 1,000,000) of simulated sessions of 3–8 designs over the demo catalogue's
1,601 ids, and their co-visit table. Then, in the same run:

* **flush** (ours): 2,000 new views (≈ a busy flush interval) recorded through
  ``Analytics`` and flushed: the views are inserted and their co-visits upserted,
  pairing only with the same sessions' stored recent views (indexed by session key);
* **lookup** (ours): ``covisit.related`` for one design, as a product card asks;
* **recount** (baseline): rebuilding the co-visit counts from the whole log, which a
  per-request or periodic batch approach would pay.

It prints medians and the ratio of the baseline to ours.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, insert, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from webapp.analytics import Analytics, ProductView  # noqa: E402
from webapp.catalog.products import read_catalog  # noqa: E402
from webapp.search import covisit  # noqa: E402

WINDOW, HALF_LIFE = 1800.0, 14.0


def simulated_views(ids: list[str], n: int, seed: int = 1) -> list[dict[str, object]]:
    """``n`` view rows: sessions of 3–8 designs a minute apart, over the last 30 days."""
    rng = np.random.default_rng(seed)
    start = datetime.now(UTC) - timedelta(days=30)
    rows: list[dict[str, object]] = []
    session = 0
    while len(rows) < n:
        at = start + timedelta(seconds=float(rng.uniform(0, 30 * 86400)))
        first = int(rng.integers(len(ids)))
        for i in range(int(rng.integers(3, 9))):  # a session stays near its first design
            pid = ids[(first + int(rng.integers(-20, 21))) % len(ids)]
            rows.append(
                {"at": at + timedelta(minutes=i), "product_id": pid, "session_key": f"s{session}"}
            )
        session += 1
    return rows[:n]


def recount(engine_url: str) -> float:
    """Seconds to rebuild all co-visit weights from the full log (the baseline)."""
    engine = create_engine(engine_url)
    t = time.perf_counter()
    with engine.connect() as conn:
        rows = conn.execute(
            select(ProductView.session_key, ProductView.product_id, ProductView.at)
        ).all()
    covisit.pair_weights(
        [],
        [{"session_key": k, "product_id": p, "at": a} for k, p, a in rows],
        window_s=WINDOW,
        half_life_days=HALF_LIFE,
    )
    return time.perf_counter() - t


def main() -> None:
    """Build the fixture, time flush, lookup and recount, print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    ids = [p.id for p in read_catalog(ROOT / "data" / "catalog.csv").products]
    path = ROOT / "build" / "bench" / "covisit.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    recorder = Analytics(create_engine(url), flush_seconds=3600, covisit_window_s=WINDOW)
    t = time.perf_counter()
    log = simulated_views(ids, args.events)
    with recorder.engine.begin() as conn:
        for start in range(0, len(log), 50_000):
            conn.execute(insert(ProductView), log[start : start + 50_000])
    with covisit.Session(recorder.engine) as session, session.begin():
        covisit.add(
            session, covisit.pair_weights([], log, window_s=WINDOW, half_life_days=HALF_LIFE)
        )
    print(
        f"fixture: {args.events:,} events, {covisit.pair_count(recorder.engine):,} pairs "
        f"in {time.perf_counter() - t:.0f} s"
    )

    rng = np.random.default_rng(2)
    flushes, lookups, recounts = [], [], []
    for r in range(args.repeats):
        for i in range(2000):  # 2,000 new views from 400 live sessions
            recorder.record_view(
                ids[int(rng.integers(len(ids)))], None, session_key=f"live{r}-{i % 400}"
            )
        t = time.perf_counter()
        recorder.flush()
        flushes.append(time.perf_counter() - t)
        for pid in rng.choice(ids, 50):
            t = time.perf_counter()
            covisit.related(recorder.engine, str(pid), 18)
            lookups.append(time.perf_counter() - t)
    for _ in range(min(3, args.repeats)):
        recounts.append(recount(url))
    flush, lookup, full = (statistics.median(x) for x in (flushes, lookups, recounts))
    print(f"flush of 2,000 views (+ co-visits): median {flush * 1000:.0f} ms")
    print(f"lookup of one design's co-visits:   median {lookup * 1000:.2f} ms")
    print(
        f"full recount from the log (baseline): median {full:.1f} s  "
        f"= {full / flush:.0f}× one incremental flush"
    )


if __name__ == "__main__":
    main()
