"""Where an uncached search's time goes in a scale-benchmark server: per-stage medians.

Opens a server folder of ``bench_scale.py`` (``build/scale/server-<n>``) the way a worker
does and runs the benchmark's shopper queries uncached, each twice (the first pass
untimed), then prints each engine stage's median and p95 in ms and the slowest queries.

    python benchmarks/scale_stages.py build/scale/server-100000
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    """Measure one folder; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import scale_corpus
    from scale_worker import app_config
    from webapp import create_app
    from webapp.lifecycle import warm_up
    from webapp.search.results import SearchRequest

    queries = [q.strip() for q in scale_corpus.QUERIES.split(";") if q.strip()]
    engine = warm_up(create_app(app_config(args.workdir, "auto")))
    stages: dict[str, list[float]] = {}
    totals: list[tuple[float, str, int]] = []
    for round_ in range(args.rounds):
        for query in queries:
            engine.clear_caches()
            started = time.perf_counter()
            result = engine.search(SearchRequest(query))
            took = (time.perf_counter() - started) * 1000
            if round_ == 0:
                continue
            totals.append((took, query, result.total))
            for stage, ms in result.timings.items():
                stages.setdefault(stage, []).append(ms)
    stages["total"] = [t for t, _, _ in totals]
    for stage, samples in stages.items():
        ordered = sorted(samples)
        p95 = ordered[round(0.95 * (len(ordered) - 1))]
        print(f"{stage:12} p50 {statistics.median(ordered):7.2f}  p95 {p95:7.2f} ms")
    print(json.dumps(sorted(totals, reverse=True)[:8], ensure_ascii=False))


if __name__ == "__main__":
    main()
