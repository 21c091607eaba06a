"""The evaluation report: a Markdown file of tables and a PNG chart of the headline metrics
(drawn by :mod:`.chart`).

It reads an :class:`~webapp.evaluation.harness.EvalReport` (and optionally the
baseline's, run in the same process) and writes ``report.md`` and ``report.png``; nothing
here computes a metric. Queries are shown verbatim in code spans, since wrong-layout
queries contain backticks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from .harness import Aggregate, EvalReport
from .metrics import MRR_K, fmt, headline_k


def _fmt_delta(before: float | int | None, after: float | int | None) -> str:
    """Signed ``after - before`` (an integer for counts); an em dash when either is missing."""
    if before is None or after is None:
        return "—"
    if isinstance(before, int) and isinstance(after, int):
        return f"{after - before:+d}"
    return f"{after - before:+.3f}"


def md_text(text: str) -> str:
    """Show a query verbatim in a Markdown table cell: a code span with pipes escaped.

    The fence is one backtick longer than the longest backtick run inside, and the text is
    padded with a space when it starts or ends with a backtick or a space, so CommonMark
    keeps leading/trailing spaces and backticks (wrong-layout queries contain them).
    """
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    body = text.replace("|", "\\|")
    pad = " " if body[:1] in ("`", " ") or body[-1:] in ("`", " ") else ""
    return f"{fence}{pad}{body}{pad}{fence}"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """Render a Markdown table as a list of lines."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _summary_columns(report: EvalReport) -> list[str]:
    """Column names of the overall and per-kind tables."""
    tail = ["median rank", "not found", "mean cos", "nothing-found rate"]
    return ["queries", "scored", *report.metric_names, *tail]


def _summary_cells(agg: Aggregate, names: Sequence[str]) -> list[str]:
    """Cells for one Aggregate, in the order of _summary_columns."""
    return [
        str(agg.n_queries),
        str(agg.n_scored),
        *(fmt(agg.means.get(name)) for name in names),
        fmt(agg.median_first_rank, 1),
        str(agg.n_not_found),
        fmt(agg.mean_cosine),
        fmt(agg.nothing_found_rate),
    ]


def _overall_section(report: EvalReport) -> list[str]:
    """Markdown lines for the overall table."""
    rows = [["all", *_summary_cells(report.overall, report.metric_names)]]
    return ["## Overall", "", *_table(["", *_summary_columns(report)], rows), ""]


def _per_kind_section(report: EvalReport) -> list[str]:
    """Markdown lines for the per-kind table."""
    names = report.metric_names
    rows = [[kind, *_summary_cells(agg, names)] for kind, agg in report.per_kind.items()]
    return ["## Per kind", "", *_table(["kind", *_summary_columns(report)], rows), ""]


def _comparison_values(agg: Aggregate, names: Sequence[str]) -> dict[str, float | int | None]:
    """The comparable numbers of one Aggregate, keyed by display name."""
    values: dict[str, float | int | None] = {name: agg.means.get(name) for name in names}
    values["median rank"] = agg.median_first_rank
    values["not found"] = agg.n_not_found
    values["mean cos"] = agg.mean_cosine
    values["nothing-found rate"] = agg.nothing_found_rate
    return values


def _delta_cells(before: float | int | None, after: float | int | None) -> list[str]:
    """Three table cells: before, after and the signed change."""
    return [fmt(before), fmt(after), _fmt_delta(before, after)]


def _kind_comparison_rows(report: EvalReport, baseline: EvalReport, k: int) -> list[list[str]]:
    """Per-kind rows of nP@K, MRR@10 and nothing-found rate, before and after."""
    rows = []
    for kind, agg in report.per_kind.items():
        base = baseline.per_kind.get(kind)
        cells = [kind]
        for name in (f"nP@{k}", f"MRR@{MRR_K}"):
            cells += _delta_cells(base.means.get(name) if base else None, agg.means.get(name))
        cells += _delta_cells(base.nothing_found_rate if base else None, agg.nothing_found_rate)
        rows.append(cells)
    return rows


def _comparison_section(report: EvalReport, baseline: EvalReport) -> list[str]:
    """Markdown lines comparing baseline and system, overall and for headline metrics per kind."""
    names = [n for n in report.metric_names if n in baseline.metric_names]
    before = _comparison_values(baseline.overall, names)
    after = _comparison_values(report.overall, names)
    overall_rows = [[name, *_delta_cells(before[name], after[name])] for name in before]
    k = headline_k(report.ks)
    metrics = (f"nP@{k}", f"MRR@{MRR_K}", "nothing-found")
    kind_header = ["kind"] + [f"{m} {w}" for m in metrics for w in ("before", "after", "Δ")]
    return [
        "## Baseline vs system",
        "",
        f"Baseline: {baseline.overall.n_queries} queries; "
        f"system: {report.overall.n_queries} queries.",
        "",
        *_table(["metric", "baseline", "system", "Δ"], overall_rows),
        "",
        *_table(kind_header, _kind_comparison_rows(report, baseline, k)),
        "",
    ]


def _per_query_section(report: EvalReport) -> list[str]:
    """Markdown lines for the per-query table."""
    k = headline_k(report.ks)
    rows = []
    for r in report.rows:
        top3 = ", ".join(r.returned[:3]) if r.returned else "(nothing found)"
        rank = "—" if r.query.is_nonsense else (fmt(r.first_rank) if r.first_rank else "not found")
        rows.append(
            [
                r.query.kind,
                md_text(r.query.query),
                str(len(r.query.relevant)),
                top3,
                rank,
                fmt(r.scores.get(f"nP@{k}")),
                fmt(r.scores.get(f"MRR@{MRR_K}")),
            ]
        )
    header = [
        "kind",
        "query",
        "relevant",
        "top-3 returned",
        "first relevant rank",
        f"nP@{k}",
        "RR@10",
    ]
    return ["## Per query", "", *_table(header, rows), ""]


def render_markdown(report: EvalReport, *, title: str, baseline: EvalReport | None = None) -> str:
    """The full Markdown report as a string."""
    lines = [
        f"# {title}",
        "",
        f"{report.overall.n_queries} queries ({report.overall.n_scored} scored, "
        f"{report.overall.n_nonsense} nonsense). Nonsense queries are scored only by the "
        "nothing-found rate; every other metric averages the scored queries. "
        "Median rank is over queries whose first relevant item was returned at all.",
        "",
        *_overall_section(report),
        *_per_kind_section(report),
    ]
    if baseline is not None:
        lines += _comparison_section(report, baseline)
    lines += _per_query_section(report)
    return "\n".join(lines)


def write_report(
    report: EvalReport, out_dir: Path, *, title: str, baseline: EvalReport | None = None
) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.png`` into ``out_dir`` (created if needed); return both."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    md_path, png_path = out_dir / "report.md", out_dir / "report.png"
    markdown = render_markdown(report, title=title, baseline=baseline)
    md_path.write_text(markdown + "\n", encoding="utf-8")
    from .chart import render_chart  # with matplotlib, only when a report is written

    render_chart(report, png_path, title=title, baseline=baseline)
    return md_path, png_path
