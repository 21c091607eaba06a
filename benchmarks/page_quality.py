"""What a shopper's first page is worth, per query set and kind: the figures issues 22 and
23 are judged by, for any checkout of the project (the same script runs on an older tree).

    python benchmarks/page_quality.py --out build/quality-after.json
    python benchmarks/page_quality.py --out build/after.json --before build/before.json

Per set and kind: nP@5 and MRR@10 of the list the page shows (the confident results, then
«Может подойти»), the share of the first page's confident results on the topic of the
judged designs (judged, or of a judged design's subcategory), the judged designs on the
first page (of min(24, judged); with «Может подойти»), the first page's length, and for
nonsense the share answered «ничего не найдено». With ``--before``, each figure is shown
as before → after.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from webapp import create_app
from webapp.lifecycle import warm_up

try:
    from webapp.search.results import SearchRequest
except ImportError:  # pragma: no cover - older trees
    from webapp.search.engine import SearchRequest  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent
SETS = ("dev", "dev_meaning", "dev_nonsense", "heldout", "blind2", "blind3", "blind4")
PAGE = 24


def measure(sets: list[str]) -> dict[str, dict[str, dict[str, float]]]:
    """Per set and kind (and ``all``), the mean of each figure."""
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp}/q.sqlite3", "LOG_FORMAT": ""}
        )
        engine = warm_up(app)
        sub = {p.id: p.subcategory for p in engine.products}
        out: dict[str, dict[str, dict[str, float]]] = {}
        for name in sets:
            path = ROOT / "data" / "eval" / f"{name}_queries.jsonl"
            if not path.exists():
                continue
            rows: dict[str, list[dict[str, float]]] = defaultdict(list)
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    query = json.loads(line)
                    figures = one(engine, sub, query)
                    rows[query["kind"]].append(figures)
                    rows["all"].append(figures)
            out[name] = {kind: _means(values) for kind, values in rows.items()}
        return out


def one(engine: Any, sub: dict[str, str], query: dict[str, Any]) -> dict[str, float]:
    """The figures of one judged query."""
    result = engine.search(SearchRequest(query["query"], per_page=PAGE))
    confident = [h.product.id for h in result.hits]
    shown = confident + [h.product.id for h in getattr(result, "maybe", [])]
    judged = query["relevant"]
    if not judged:
        return {"nothing": float(not shown)}
    topics = {sub[i] for i in judged if i in sub}
    hits = [i in judged for i in shown]
    first = next((k for k, hit in enumerate(hits[:10]) if hit), None)
    figures = {
        "nP@5": sum(hits[:5]) / min(5, len(judged)),
        "MRR@10": 0.0 if first is None else 1.0 / (first + 1),
        "recall": sum(hits[:PAGE]) / min(PAGE, len(judged)),
        "length": float(len(confident[:PAGE])),
    }
    if confident:
        on_topic = [i in judged or sub.get(i) in topics for i in confident[:PAGE]]
        figures["on topic"] = sum(on_topic) / len(on_topic)
    return figures


def _means(values: list[dict[str, float]]) -> dict[str, float]:
    """The mean of each figure over the queries that have it, and how many queries."""
    names = {k for v in values for k in v}
    means = {k: statistics.fmean(v[k] for v in values if k in v) for k in names}
    return {**means, "queries": float(len(values))}


FIGURES = ("nP@5", "MRR@10", "on topic", "recall", "length", "nothing")


def table(after: dict, before: dict | None) -> str:
    """A Markdown table: one row per set and kind, each figure before → after."""
    lines = ["| set | kind | n | " + " | ".join(FIGURES) + " |", "|---" * (3 + len(FIGURES)) + "|"]
    for name, kinds in after.items():
        for kind, figures in sorted(kinds.items(), key=lambda kv: (kv[0] != "all", kv[0])):
            old = (before or {}).get(name, {}).get(kind, {})
            cells = []
            for f in FIGURES:
                if f not in figures:
                    cells.append("")
                elif f in old:
                    cells.append(f"{old[f]:.3f} → {figures[f]:.3f}")
                else:
                    cells.append(f"{figures[f]:.3f}")
            lines.append(
                f"| {name} | {kind} | {int(figures['queries'])} | " + " | ".join(cells) + " |"
            )
    return "\n".join(lines)


def main() -> None:
    """Measure, save, print (beside an earlier measurement when given)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--before", type=Path, default=None)
    parser.add_argument("--sets", nargs="*", default=list(SETS))
    args = parser.parse_args()
    after = measure(args.sets)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(after, ensure_ascii=False, indent=1), encoding="utf-8")
    before = json.loads(args.before.read_text(encoding="utf-8")) if args.before else None
    print(table(after, before))


if __name__ == "__main__":
    main()
