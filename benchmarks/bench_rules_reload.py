"""Benchmark: what a staff rule save costs each worker, rules only against a full reload.

Run ``PYTHONPATH=. .venv/bin/python benchmarks/bench_rules_reload.py [--repeats R]``.

Loads the demo app (its own SQLite file and stamps under ``build/bench/rules``), saves one
staff rule, then times in the same run:

* **rules only** (ours): what a worker does when ``RULES_STAMP`` changed, the staff rules
  read from the database, merged with the cached shipped ones (thesaurus, occasions) and
  swapped into the loaded engine (``concept_rules.apply_rules``);
* **full reload** (baseline, what every save used to trigger on every worker): a whole new
  engine built from the artifacts and swapped in (``lifecycle.reload``).

It prints medians, the ratio of the baseline to ours, and checks that the rule is in force.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from webapp import create_app  # noqa: E402
from webapp.concept_rules import apply_rules, get_rule_store  # noqa: E402
from webapp.lifecycle import reload, warm_up  # noqa: E402
from webapp.search.results import SearchRequest  # noqa: E402


def timed(step: Callable[[], object], repeats: int) -> list[float]:
    """Milliseconds of each of ``repeats`` runs of ``step``."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    """Time both ways of applying a saved rule and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="full reloads (rules: 5×)")
    args = parser.parse_args()
    work = ROOT / "build" / "bench" / "rules"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{work / 'bench.sqlite3'}",
            "RULES_STAMP": str(work / "rules.stamp"),
            "RELOAD_STAMP": str(work / "reload.stamp"),
        }
    )
    with app.app_context():
        warm_up(app)
        get_rule_store(app).save("бумбарякса", "петух")
        light = timed(lambda: apply_rules(app), args.repeats * 5)
        full = timed(lambda: reload(app), args.repeats)
        hits = app.extensions["search"].search(SearchRequest("бумбарякса")).hits
    assert hits and hits[0].product.id == "1f413", "the saved rule is in force"
    ours, baseline = statistics.median(light), statistics.median(full)
    print(f"{'step':<14}{'median ms':>10}{'runs':>6}")
    print(f"{'rules only':<14}{ours:>10.1f}{len(light):>6}")
    print(f"{'full reload':<14}{baseline:>10.0f}{len(full):>6}")
    print(f"a rule save costs each worker {baseline / ours:.0f}× less than a full reload")


if __name__ == "__main__":
    main()
