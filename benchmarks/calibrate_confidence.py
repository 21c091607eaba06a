"""Fit the confidence model on the development sets and choose where answers end.

    python benchmarks/calibrate_confidence.py            # out-of-fold trade-off, the fit

Collects every fused candidate of the dev queries (``data/eval/dev_queries.jsonl`` and
``dev_meaning_queries.jsonl``), fits both stages of ``search/confidence.py`` with folds
by query, and prints: the shipped answer (fused order, the floor's z thresholds) beside
confidence order with a sweep of the keep / relative thresholds (nP@5, MRR@10, share of
the first page on topic, recall of judged designs on it, page length), then the weights
fitted on all dev queries, as ``RankingSettings.confidence`` holds them. Writes
``docs/eval/confidence-tradeoff.png``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from webapp import create_app  # noqa: E402
from webapp.evaluation import calibration  # noqa: E402
from webapp.evaluation.queries import load_queries  # noqa: E402
from webapp.lifecycle import warm_up  # noqa: E402
from webapp.search.confidence import FEATURES  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEV = ("data/eval/dev_queries.jsonl", "data/eval/dev_meaning_queries.jsonl")
KEEPS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3)
RELATIVES = (0.0, 0.1, 0.2, 0.3)
MAYBE = 0.01  # «Может подойти»: what the floor keeps down to this confidence


def main() -> None:
    """Collect, fit out of fold, sweep, print, plot, fit on everything."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--head", type=int, default=3, help="designs in the answer's head")
    parser.add_argument("--sets", nargs="*", default=list(DEV))
    args = parser.parse_args()
    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://", "LOG_FORMAT": ""})
    engine = warm_up(app)
    queries = [q for path in args.sets for q in load_queries(ROOT / path)]
    samples = calibration.collect(engine, queries)
    print(f"{len(samples.queries)} answered queries, {len(samples.x)} candidates")
    fused_order = -samples.x[:, FEATURES.index("log_rank")]
    phrase_first = fused_order + 1e6 * samples.explained
    shipped = calibration.page_quality(samples, fused_order, samples.kept)
    print("| answer | nP@5 | MRR@10 | on topic | recall | length | recall with «Может подойти» |")
    print("|---|---|---|---|---|---|---|")
    print(_row("shipped: fused order, z thresholds", shipped))
    p = calibration.out_of_fold(samples, args.head)
    points = []
    for keep in KEEPS:
        for relative in RELATIVES:
            maybe = samples.kept & (p >= MAYBE)
            shown = samples.kept & calibration.answer_mask(samples, p, keep, relative)
            quality = calibration.page_quality(samples, fused_order, shown, maybe)
            print(_row(f"confidence ≥ {keep}, ≥ {relative} × best", quality))
            shown = samples.kept & calibration.answer_mask(samples, p, keep, relative, phrase=True)
            quality = calibration.page_quality(samples, phrase_first, shown, maybe)
            points.append((keep, relative, quality))
            print(_row("… and the phrase's designs alone when it explains some", quality))
    first, second = calibration.fit(samples, args.head)
    print(json.dumps({"first": first, "second": second}, ensure_ascii=False, indent=1))
    _plot(points, shipped, ROOT / "docs" / "eval" / "confidence-tradeoff.png")


def _row(label: str, q: calibration.PageQuality) -> str:
    """One Markdown table row."""
    return (
        f"| {label} | {q.np5:.3f} | {q.mrr10:.3f} | {q.on_topic:.3f} | {q.recall:.3f} | "
        f"{q.length:.1f} | {q.recall_shown:.3f} |"
    )


def _plot(points, shipped, out: Path) -> None:
    """Recall of judged designs (with «Может подойти») against the share on topic, one
    curve per relative cut, answers as the floor makes them (the phrase's designs first)."""
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for relative in RELATIVES:
        line = [(q.on_topic, q.recall_shown) for k, r, q in points if r == relative]
        ax.plot(*zip(*line, strict=True), marker="o", label=f"≥ {relative} × best")
    ax.plot([shipped.on_topic], [shipped.recall_shown], "k*", markersize=12, label="before")
    ax.set_xlabel("share of the first page on topic")
    ax.set_ylabel("judged designs on the first page (recall)")
    ax.set_title("Where answers end: confidence thresholds (dev, out of fold)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"plot: {out}")


if __name__ == "__main__":
    main()
