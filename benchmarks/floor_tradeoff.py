"""The relevance floor's trade-off: answers to real queries against «ничего не найдено» for
nonsense, over the development sets only (dev_queries + dev_meaning_queries).

Run ``PYTHONPATH=. .venv/bin/python benchmarks/floor_tradeoff.py`` (about 2 min). For each
query gate ``min_query_z`` and each ``unexplained_z`` (the gate for queries whose Russian
words neither the catalogue nor a rule explains) it prints the share of real queries that
get an answer, the share of those whose top 5 holds a relevant design, and the share of
nonsense queries that get nothing; writes ``docs/eval/floor-tradeoff.png``.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from webapp import create_app  # noqa: E402
from webapp.evaluation.queries import load_queries  # noqa: E402
from webapp.lifecycle import warm_up  # noqa: E402
from webapp.search.results import SearchRequest  # noqa: E402

SETS = (
    "data/eval/dev_queries.jsonl",
    "data/eval/dev_meaning_queries.jsonl",
    "data/eval/dev_nonsense_queries.jsonl",
)
GATES = (3.5, 4.0, 4.4, 5.0, 5.5, 6.0, 7.0, 8.0)
UNEXPLAINED = (None, 5.0, 6.0, 7.0, 8.0)


def measure(engine, queries, **knobs) -> tuple[float, float, float]:
    """(answered share of real queries, hit@5 share of them, nothing-found share of nonsense)."""
    engine = engine.with_ranking(
        engine.settings.replace(**{f"floor.{k}": v for k, v in knobs.items()})
    )
    real = [q for q in queries if q.relevant]
    nonsense = [q for q in queries if not q.relevant]
    answered = hit = empty = 0
    for q in real:
        ids = [h.product.id for h in engine.search(SearchRequest(q.query, per_page=5)).shown]
        answered += bool(ids)
        hit += bool(set(ids) & set(q.relevant))
    for q in nonsense:
        empty += engine.search(SearchRequest(q.query, per_page=5)).total == 0
    return answered / len(real), hit / len(real), empty / len(nonsense)


def main() -> None:
    """Sweep, print a Markdown table, draw the curves."""
    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://"})
    queries = [q for path in SETS for q in load_queries(Path(path))]
    with app.app_context():
        engine = warm_up(app)
        print(
            "| min_query_z | unexplained_z | answered (real) | hit@5 (real) | nonsense → nothing |"
        )
        print("|---|---|---|---|---|")
        curves = {}
        for unexplained in UNEXPLAINED:
            points = []
            for gate in GATES:
                knobs = {"min_query_z": gate, "unexplained_z": unexplained or gate}
                answered, hit, empty = measure(engine, queries, **knobs)
                points.append((empty, answered, hit))
                print(
                    f"| {gate} | {unexplained or '='} | {answered:.3f} | {hit:.3f} | {empty:.2f} |"
                )
            curves[unexplained] = points
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for unexplained, points in curves.items():
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o",
                label=f"unexplained_z = {unexplained or 'min_query_z'}")  # fmt: skip
    ax.set_xlabel("nonsense queries answered «ничего не найдено»")
    ax.set_ylabel("real queries answered")
    ax.set_title("Relevance floor: sweep of min_query_z (dev sets)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    out = Path("docs/eval/floor-tradeoff.png")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"plot: {out}")


if __name__ == "__main__":
    main()
