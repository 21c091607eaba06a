"""The evaluation report's chart: nP@K and MRR@10 per query kind, baseline beside system."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .harness import EvalReport
from .metrics import MRR_K, fmt, headline_k

if TYPE_CHECKING:  # matplotlib is imported lazily, only when a chart is drawn
    from matplotlib.axes import Axes


def _chart_series(report: EvalReport, kinds: Sequence[str], name: str) -> list[float]:
    """Values of metric ``name`` per kind (0.0 where a kind has no value)."""
    return [report.per_kind[k].means.get(name, 0.0) if k in report.per_kind else 0.0 for k in kinds]


def _draw_panel(
    ax: Axes, kinds: Sequence[str], name: str, series: Sequence[tuple[str, EvalReport, str]]
) -> None:
    """Draw grouped bars of metric ``name`` per kind, one bar per (label, report, colour)."""
    width = 0.8 / len(series)
    for i, (label, rep, colour) in enumerate(series):
        xs = [x - 0.4 + width * (i + 0.5) for x in range(len(kinds))]
        ax.bar(xs, _chart_series(rep, kinds, name), width, label=label, color=colour)
    ax.set_ylabel(name)
    ax.set_ylim(0, 1.05)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper right", fontsize="small")


def render_chart(
    report: EvalReport, path: Path, *, title: str, baseline: EvalReport | None = None
) -> None:
    """Write grouped bars of nP@K and MRR@10 per kind (baseline vs system) to a PNG (Agg)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    kinds = [kind for kind, agg in report.per_kind.items() if agg.n_scored]
    series = [("system", report, "#2f6db3")]
    if baseline is not None:
        series.insert(0, ("baseline", baseline, "#b0b0b0"))
    fig = Figure(figsize=(max(8.0, 1.1 * len(kinds) + 3), 7.5), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 1, sharex=True)
    for ax, name in zip(axes, (f"nP@{headline_k(report.ks)}", f"MRR@{MRR_K}"), strict=True):
        _draw_panel(ax, kinds, name, series)
    axes[-1].set_xticks(range(len(kinds)), kinds, rotation=30, ha="right")
    fig.suptitle(_chart_title(report, title, baseline))
    fig.tight_layout()
    fig.savefig(path, format="png")


def _chart_title(report: EvalReport, title: str, baseline: EvalReport | None) -> str:
    """Chart title with the nothing-found rate of nonsense queries appended."""
    rate = fmt(report.overall.nothing_found_rate)
    if baseline is not None:
        rate = f"{fmt(baseline.overall.nothing_found_rate)} → {rate}"
    return f"{title}\nnonsense queries answered with nothing found: {rate}"
