"""What each knowledge signal adds, per query set and kind: the shipped ranking beside the
same ranking with one signal switched off (by ``RankingSettings``), in one run.

    python benchmarks/knowledge_ablation.py

Variants: all signals; without decoding words the catalogue lacks by their definitions;
without the reverse dictionary; without colours. Per set and kind: nP@5 of the list the
page shows; and each variant's median time per query (uncached, every query once).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from webapp import create_app
from webapp.lifecycle import warm_up
from webapp.search.results import SearchRequest

ROOT = Path(__file__).resolve().parent.parent
SETS = ("dev", "dev_meaning", "heldout", "blind2", "blind3", "blind4")
VARIANTS = {
    "all": {},
    "no decoding": {"knowledge.decode_words": False},
    "no reverse dictionary": {
        "knowledge.definition_min_words": 99,
        "fusion.weights.definition": 0.0,
    },
    "no colours": {"knowledge.colour_match": 2.0, "fusion.weights.colour": 0.0},
}


def main() -> None:
    """Run every variant over every set; print nP@5 per kind and the time per query."""
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp}/a.sqlite3", "LOG_FORMAT": ""}
        )
        shipped = warm_up(app)
        queries = {
            name: [
                json.loads(line)
                for line in (ROOT / "data" / "eval" / f"{name}_queries.jsonl")
                .read_text(encoding="utf-8")
                .splitlines()
                if line.strip()
            ]
            for name in SETS
        }
        scores: dict[str, dict[tuple[str, str], float]] = {}
        times: dict[str, float] = {}
        for variant, overrides in VARIANTS.items():
            engine = shipped.with_ranking(shipped.settings.replace(**overrides))
            kinds: dict[tuple[str, str], list[float]] = defaultdict(list)
            took = []
            for name, items in queries.items():
                for q in items:
                    if not q["relevant"]:
                        continue
                    started = time.perf_counter()
                    result = engine.search(SearchRequest(q["query"], per_page=24))
                    took.append((time.perf_counter() - started) * 1000)
                    shown = [h.product.id for h in result.shown]
                    hits = sum(i in q["relevant"] for i in shown[:5])
                    np5 = hits / min(5, len(q["relevant"]))
                    kinds[(name, q["kind"])].append(np5)
                    kinds[(name, "all")].append(np5)
            scores[variant] = {k: statistics.fmean(v) for k, v in kinds.items()}
            times[variant] = statistics.median(took)
    names = list(VARIANTS)
    print("| set | kind | " + " | ".join(names) + " |")
    print("|---|---" + "|---" * len(names) + "|")
    for key in sorted(scores["all"], key=lambda k: (SETS.index(k[0]), k[1] != "all", k[1])):
        row = " | ".join(f"{scores[v][key]:.3f}" for v in names)
        print(f"| {key[0]} | {key[1]} | {row} |")
    print(
        "| ms a query (median, uncached) | | " + " | ".join(f"{times[v]:.1f}" for v in names) + " |"
    )


if __name__ == "__main__":
    main()
