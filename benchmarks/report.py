"""The benchmark's tables: per-configuration stages and the summary against the targets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench_ruclip import summary

TARGET_UNCACHED_MS, TARGET_CACHED_MS, TARGET_RATIO = 15.0, 3.0, 8.0
#: an approximate index is used only where its recall@100 against exact reaches this
RECALL_FLOOR = 0.98


def fmt(values: Sequence[float]) -> str:
    """``median / p95`` of ``values`` in ms."""
    median, p95 = summary(list(values))
    return f"{median:8.2f} / {p95:8.2f}"


def report_worker(result: dict[str, Any]) -> None:
    """Print one configuration's per-stage and end-to-end tables."""
    print(
        f"\n=== {result['config']}: queries through {result['runtime']}, TORCH_THREADS="
        f"{result['threads']} (torch uses {result['torch_threads']}), start-up "
        f"{result['startup_s']}s, {result['queries']} queries, "
        f"{result['answered']:.0%} answered with results, load avg {result['load_average']:.2f}"
    )
    print("indexes: " + "; ".join(f"{k}: {v}" for k, v in result.get("indexes", {}).items()))
    stages = result["stages"]
    print(
        f"{'stage (in-request), ms: median / p95':<40} {'ours uncached':>19} "
        f"{'ours cached':>19} {'naive':>19}"
    )
    names = list(dict.fromkeys([*stages["uncached"], *stages["naive"]]))
    for name in names:
        cells = [
            fmt(stages[k][name]) if name in stages[k] else f"{'—':>19}"
            for k in ("uncached", "cached", "naive")
        ]
        print(f"{name:<40} {cells[0]:>19} {cells[1]:>19} {cells[2]:>19}")
    e2e = result["e2e"]
    print(
        f"{'GET /search end to end':<40} {fmt(e2e['uncached']):>19} {fmt(e2e['cached']):>19} "
        f"{fmt(e2e['naive']):>19}"
    )
    print(f"{'GET /api/search (JSON), end to end':<40} {'':>19} {fmt(e2e['api cached']):>19}")
    print(f"{'GET /healthz (framework floor)':<40} {fmt(e2e['healthz']):>19}")
    print(f"{'stage (cold, outside a request), ms':<40} {'median / p95':>19}")
    for name, values in result["micro"].items():
        print(f"{name:<40} {fmt(values):>19}")
    agreement = result["agreement"]
    print(
        "top 10 against the exact path (fp32 torch tower, exact flat indexes): "
        f"overlap@10 {agreement['overlap@10']:.3f}, identical top 10 for "
        f"{agreement['identical']:.0%} of the queries, answered differently: "
        f"{agreement['answered_differently']}"
    )


def ratios(result: dict[str, Any]) -> dict[str, float]:
    """p50/p95 of ours and naive, and naive ÷ ours, uncached and cached."""
    e2e = result["e2e"]
    out = {}
    for key in ("uncached", "cached", "naive"):
        out[f"{key}_p50"], out[f"{key}_p95"] = summary(e2e[key])
    for key in ("uncached", "cached"):
        for pct in ("p50", "p95"):
            out[f"ratio_{key}_{pct}"] = out[f"naive_{pct}"] / out[f"{key}_{pct}"]
    return out


def report_summary(results: Sequence[dict[str, Any]]) -> None:
    """The comparison table across configurations, with the targets checked."""
    print(
        "\nsummary: GET /search through the Flask test client, ms (p50 / p95); "
        "× = naive ÷ ours, same run"
    )
    print(
        f"{'config':<11} {'uncached':>15} {'cached':>13} {'naive':>13} {'× uncached':>13} "
        f"{'× cached':>13} {'top-10 overlap':>15}  targets (uncached, cached, ×)"
    )
    for result in results:
        r = ratios(result)
        met = [
            r["uncached_p50"] <= TARGET_UNCACHED_MS,
            r["cached_p50"] <= TARGET_CACHED_MS,
            r["ratio_uncached_p50"] >= TARGET_RATIO,
        ]
        cells = [
            f"{r['uncached_p50']:.1f} / {r['uncached_p95']:.0f}",
            f"{r['cached_p50']:.1f} / {r['cached_p95']:.1f}",
            f"{r['naive_p50']:.0f} / {r['naive_p95']:.0f}",
            f"{r['ratio_uncached_p50']:.1f} / {r['ratio_uncached_p95']:.1f}",
            f"{r['ratio_cached_p50']:.0f} / {r['ratio_cached_p95']:.0f}",
        ]
        overlap = result["agreement"]["overlap@10"]
        print(
            f"{result['config']:<11} {cells[0]:>15} {cells[1]:>13} {cells[2]:>13} "
            f"{cells[3]:>13} {cells[4]:>13} {overlap:>15.3f}  "
            + " ".join("ok" if ok else "MISS" for ok in met)
        )
    print(
        f"targets: uncached p50 ≤ {TARGET_UNCACHED_MS:g} ms · cached p50 ≤ "
        f"{TARGET_CACHED_MS:g} ms · naive ÷ ours (uncached p50) ≥ {TARGET_RATIO:g}×"
    )


def report_knn(rows: Sequence[Any], joint: Sequence[Any], served: dict[str, Any]) -> None:
    """The index sweep (:func:`knn_choice.sweep`), the one-batch table and what the app serves."""
    spaces = list(rows[0].ms)
    short = [s.split("-", 1)[-1][:9] for s in spaces]
    exact = rows[0].total_ms
    print(
        "\nkNN by index type on the encoders' own vectors: the bench queries' real query "
        "vectors, k = 100, one FAISS thread, candidates re-scored exactly as the app does; "
        f"ms are medians, recall@100 is against exact ({', '.join(spaces)})"
    )
    cols = " ".join(f"{s:>9}" for s in short)
    print(
        f"{'index':<30} {'ms: ' + cols:>{4 + 10 * len(spaces)}} {'all p50 / p95':>14} "
        f"{'× exact':>8}  {'recall: ' + cols:>{8 + 10 * len(spaces)}} {'build s':>8}"
    )
    for r in rows:
        ms = " ".join(f"{r.ms[s]:>9.2f}" for s in spaces)
        recall = " ".join(f"{r.recall[s]:>9.3f}" for s in spaces)
        flag = "" if min(r.recall.values()) >= RECALL_FLOOR else f"  recall < {RECALL_FLOOR}"
        if all(d["index"] == r.kind and d["params"] == r.params for d in served.values()):
            flag += "  ← the app's choice (INDEX_TYPE=auto)"
        print(
            f"{r.label:<30} {ms:>{4 + 10 * len(spaces)}} "
            f"{f'{r.total_ms:.2f} / {r.total_p95:.2f}':>14} {exact / r.total_ms:>7.2f}×  "
            f"{recall:>{8 + 10 * len(spaces)}} {r.build_s:>8.1f}{flag}"
        )
    best = {
        space: min((r for r in rows if r.recall[space] >= RECALL_FLOOR), key=lambda r: r.ms[space])
        for space in spaces
    }
    print(
        f"fastest with recall@100 ≥ {RECALL_FLOOR} per space: "
        + "; ".join(f"{s}: {r.label} {r.ms[s]:.2f} ms" for s, r in best.items())
        + f" (sum {sum(r.ms[s] for s, r in best.items()):.2f} ms, exact {exact:.2f})"
    )
    print(f"\n{'one query vector, two spaces':<52} {'ms p50':>7}  recall@100")
    for label, ms, recall in joint:
        cells = ", ".join(f"{name} {value:.3f}" for name, value in recall.items())
        print(f"{label:<52} {ms:>7.2f}  {cells}")
    print("\nserved by the bench's app (INDEX_TYPE=auto, prebuilt by `flask --app webapp index`):")
    for name, described in served.items():
        print(
            f"  {name}: {described['index']} params {described['params']} "
            f"over {described['items']} items"
        )
