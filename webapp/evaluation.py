"""Offline evaluation of catalogue search against a query set with known relevant items.

The harness is independent of the web layer and of any particular encoder: it takes a
``search_fn(query) -> ranked ids`` (empty list = "nothing found") and, optionally, a
``cosine_fn(query, ids) -> cosines``, and produces per-query rows plus aggregates overall
and per query kind.

Metrics (``ranked`` is the system's list, best first; ``relevant`` the judged set):

* ``P@K``  = hits@K / K (a list shorter than K is padded with misses);
* ``R@K``  = hits@K / |relevant|;
* ``F1@K`` = harmonic mean of P@K and R@K (0 when both are 0);
* ``nP@K`` = hits@K / min(K, |relevant|), so a perfect system scores 1.0 even when a query
  has fewer than K relevant items;
* ``MRR@10`` = mean over queries of 1 / rank of the first relevant item within the top 10,
  0 when none is there;
* median rank of the first relevant item anywhere in the list, over queries where one was
  returned, plus the count of queries where none was;
* mean cosine of all (query, relevant item) pairs, when a ``cosine_fn`` is given.

Queries with an empty relevant set are *nonsense* queries: the right answer is "nothing
found". They are kept out of every average above and scored only by the
``nothing_found_rate``: the fraction of them for which the system returned an empty list.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # matplotlib is imported lazily, only when a chart is drawn
    from matplotlib.axes import Axes

SearchFn = Callable[[str], Sequence[str]]
CosineFn = Callable[[str, Sequence[str]], Sequence[float]]

MRR_K = 10
DEFAULT_KS = (1, 5, 10)
QUERY_KEYS = frozenset({"query", "kind", "relevant", "note"})


# --------------------------------------------------------------------------- query set


@dataclass(frozen=True)
class EvalQuery:
    """One evaluation query: its text, kind, judged relevant ids and an optional note."""

    query: str
    kind: str
    relevant: tuple[str, ...]
    note: str = ""

    @property
    def is_nonsense(self) -> bool:
        """True when no catalogue item is relevant: the right answer is "nothing found"."""
        return not self.relevant


def _parse_query_line(text: str, where: str) -> EvalQuery:
    """Parse one JSONL line into an EvalQuery; raise ValueError prefixed with ``where``."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - QUERY_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}")
    query, kind = obj.get("query"), obj.get("kind")
    if not isinstance(query, str) or not query:
        raise ValueError(f"{where}: 'query' must be a non-empty string")
    if not isinstance(kind, str) or not kind.strip():
        raise ValueError(f"{where}: 'kind' must be a non-empty string")
    relevant = _parse_relevant(obj.get("relevant"), where)
    return EvalQuery(query, kind.strip(), relevant, _parse_note(obj, where))


def _parse_relevant(value: object, where: str) -> tuple[str, ...]:
    """Validate the 'relevant' field: a list of distinct non-empty id strings."""
    if not isinstance(value, list):
        raise ValueError(f"{where}: 'relevant' must be a list of ids ([] for nonsense queries)")
    if not all(isinstance(item, str) and item.strip() for item in value):
        raise ValueError(f"{where}: every id in 'relevant' must be a non-empty string")
    ids = tuple(item.strip() for item in value)
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"{where}: duplicate id(s) in 'relevant': {', '.join(duplicates)}")
    return ids


def _parse_note(obj: dict[str, object], where: str) -> str:
    """Return the optional 'note' field, which must be a string when present."""
    note = obj.get("note", "")
    if not isinstance(note, str):
        raise ValueError(f"{where}: 'note' must be a string")
    return note


def load_queries(path: str | Path) -> list[EvalQuery]:
    """Read a JSONL query set; blank lines are skipped, bad lines raise ValueError with their number."""
    path = Path(path)
    queries: list[EvalQuery] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if line.strip():
                queries.append(_parse_query_line(line, f"{path}:{lineno}"))
    if not queries:
        raise ValueError(f"{path}: no queries found")
    return queries


# --------------------------------------------------------------------------- metrics


def _check_k(k: int) -> None:
    """Reject cut-offs below 1."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")


def _check_relevant(relevant: Iterable[str], metric: str) -> frozenset[str]:
    """Return ``relevant`` as a frozenset; raise ValueError when it is empty."""
    rel = frozenset(relevant)
    if not rel:
        raise ValueError(f"{metric} is undefined for an empty relevant set (a nonsense query)")
    return rel


def hits_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> int:
    """Number of distinct relevant ids among the first ``k`` ranked ids."""
    _check_k(k)
    return len(set(ranked[:k]) & frozenset(relevant))


def precision_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """P@K = hits@K / K; missing positions in a short list count as misses."""
    return hits_at_k(ranked, relevant, k) / k


def recall_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """R@K = hits@K / |relevant|; ValueError for an empty relevant set."""
    rel = _check_relevant(relevant, "recall")
    return hits_at_k(ranked, rel, k) / len(rel)


def f1_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """F1@K = 2PR / (P + R), or 0.0 when both P@K and R@K are 0."""
    rel = _check_relevant(relevant, "F1")
    p, r = precision_at_k(ranked, rel, k), recall_at_k(ranked, rel, k)
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def normalised_precision_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """nP@K = hits@K / min(K, |relevant|): 1.0 means as many hits as were possible."""
    rel = _check_relevant(relevant, "normalised precision")
    return hits_at_k(ranked, rel, k) / min(k, len(rel))


def first_relevant_rank(ranked: Sequence[str], relevant: Iterable[str]) -> int | None:
    """1-based rank of the first relevant id anywhere in ``ranked``, or None if absent."""
    rel = frozenset(relevant)
    for rank, item in enumerate(ranked, start=1):
        if item in rel:
            return rank
    return None


def reciprocal_rank(ranked: Sequence[str], relevant: Iterable[str], k: int = MRR_K) -> float:
    """1 / rank of the first relevant id within the top ``k``, else 0.0."""
    _check_k(k)
    rank = first_relevant_rank(ranked[:k], relevant)
    return 0.0 if rank is None else 1.0 / rank


def nothing_found_rate(results: Sequence[Sequence[str]]) -> float | None:
    """Fraction of result lists that are empty; None when there are none to score."""
    if not results:
        return None
    return sum(1 for ranked in results if not ranked) / len(results)


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class QueryResult:
    """The outcome of one query: what came back and how it scored."""

    query: EvalQuery
    returned: tuple[str, ...]
    scores: dict[str, float]
    first_rank: int | None
    cosines: tuple[float, ...] | None = None

    @property
    def nothing_found(self) -> bool:
        """True when the system returned no results."""
        return not self.returned

    @property
    def mean_cosine(self) -> float | None:
        """Mean cosine of the query to its relevant items, when cosines were computed."""
        return statistics.fmean(self.cosines) if self.cosines else None


@dataclass(frozen=True)
class Aggregate:
    """Aggregated metrics over a group of queries (all of them, or one kind)."""

    n_queries: int
    n_scored: int
    n_nonsense: int
    means: dict[str, float]
    median_first_rank: float | None
    n_not_found: int
    mean_cosine: float | None
    nothing_found_rate: float | None


@dataclass(frozen=True)
class EvalReport:
    """Per-query rows and aggregates, overall and per kind (kinds in first-seen order)."""

    rows: tuple[QueryResult, ...]
    overall: Aggregate
    per_kind: dict[str, Aggregate]
    ks: tuple[int, ...] = DEFAULT_KS

    @property
    def metric_names(self) -> tuple[str, ...]:
        """Names of the averaged metrics for this report's cut-offs."""
        return metric_names(self.ks)


def metric_names(ks: Sequence[int]) -> tuple[str, ...]:
    """Names of the averaged metrics, in display order: P, R, F1, nP for each K, then MRR@10."""
    names = [f"{m}@{k}" for m in ("P", "R", "F1", "nP") for k in ks]
    return (*names, f"MRR@{MRR_K}")


def score_ranked(ranked: Sequence[str], relevant: Sequence[str], ks: Sequence[int]) -> dict[str, float]:
    """All averaged metrics for one query with a non-empty relevant set."""
    scores: dict[str, float] = {}
    for k in ks:
        scores[f"P@{k}"] = precision_at_k(ranked, relevant, k)
        scores[f"R@{k}"] = recall_at_k(ranked, relevant, k)
        scores[f"F1@{k}"] = f1_at_k(ranked, relevant, k)
        scores[f"nP@{k}"] = normalised_precision_at_k(ranked, relevant, k)
    scores[f"MRR@{MRR_K}"] = reciprocal_rank(ranked, relevant, MRR_K)
    return scores


def _run_search(search_fn: SearchFn, query: str) -> tuple[str, ...]:
    """Call ``search_fn`` and check that it returned a sequence of string ids."""
    returned = search_fn(query)
    if isinstance(returned, str) or not all(isinstance(i, str) for i in returned):
        raise TypeError(f"search_fn({query!r}) must return a list of string ids")
    return tuple(returned)


def _run_cosines(cosine_fn: CosineFn, q: EvalQuery) -> tuple[float, ...]:
    """Call ``cosine_fn`` for the relevant ids of ``q`` and check the length of its answer."""
    values = tuple(float(v) for v in cosine_fn(q.query, q.relevant))
    if len(values) != len(q.relevant):
        raise ValueError(f"cosine_fn({q.query!r}) returned {len(values)} values for {len(q.relevant)} ids")
    return values


def evaluate_query(
    q: EvalQuery, search_fn: SearchFn, ks: Sequence[int], cosine_fn: CosineFn | None
) -> QueryResult:
    """Run one query and score it (nonsense queries get no scores, only nothing_found)."""
    returned = _run_search(search_fn, q.query)
    if q.is_nonsense:
        return QueryResult(q, returned, {}, None)
    cosines = _run_cosines(cosine_fn, q) if cosine_fn is not None else None
    scores = score_ranked(returned, q.relevant, ks)
    return QueryResult(q, returned, scores, first_relevant_rank(returned, q.relevant), cosines)


def aggregate(rows: Sequence[QueryResult], names: Sequence[str]) -> Aggregate:
    """Average the scored rows' metrics and summarise ranks, cosines and nonsense handling."""
    scored = [r for r in rows if not r.query.is_nonsense]
    nonsense = [r for r in rows if r.query.is_nonsense]
    means = {name: statistics.fmean(r.scores[name] for r in scored) for name in names} if scored else {}
    ranks = [r.first_rank for r in scored if r.first_rank is not None]
    pairs = [c for r in scored for c in (r.cosines or ())]
    return Aggregate(
        n_queries=len(rows),
        n_scored=len(scored),
        n_nonsense=len(nonsense),
        means=means,
        median_first_rank=float(statistics.median(ranks)) if ranks else None,
        n_not_found=len(scored) - len(ranks),
        mean_cosine=statistics.fmean(pairs) if pairs else None,
        nothing_found_rate=nothing_found_rate([r.returned for r in nonsense]),
    )


def evaluate(
    queries: Sequence[EvalQuery],
    search_fn: SearchFn,
    *,
    ks: Sequence[int] = DEFAULT_KS,
    cosine_fn: CosineFn | None = None,
) -> EvalReport:
    """Run every query through ``search_fn`` and aggregate the metrics overall and per kind."""
    if not queries:
        raise ValueError("no queries to evaluate")
    ks = tuple(sorted(set(ks)))
    for k in ks:
        _check_k(k)
    names = metric_names(ks)
    rows = tuple(evaluate_query(q, search_fn, ks, cosine_fn) for q in queries)
    kinds = list(dict.fromkeys(r.query.kind for r in rows))
    per_kind = {kind: aggregate([r for r in rows if r.query.kind == kind], names) for kind in kinds}
    return EvalReport(rows, aggregate(rows, names), per_kind, ks)


# --------------------------------------------------------------------------- report


def headline_k(report: EvalReport) -> int:
    """The K used for headline nP@K in tables and the chart: 5 when evaluated, else the largest K."""
    return 5 if 5 in report.ks else max(report.ks)


def _fmt(value: float | int | None, digits: int = 3) -> str:
    """Format a number for a Markdown table; None becomes an em dash."""
    if value is None:
        return "—"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def _fmt_delta(before: float | int | None, after: float | int | None) -> str:
    """Signed difference ``after - before`` (integer for counts), or an em dash when either is missing."""
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
        *(_fmt(agg.means.get(name)) for name in names),
        _fmt(agg.median_first_rank, 1),
        str(agg.n_not_found),
        _fmt(agg.mean_cosine),
        _fmt(agg.nothing_found_rate),
    ]


def _overall_section(report: EvalReport) -> list[str]:
    """Markdown lines for the overall table."""
    rows = [["all", *_summary_cells(report.overall, report.metric_names)]]
    return ["## Overall", "", *_table(["", *_summary_columns(report)], rows), ""]


def _per_kind_section(report: EvalReport) -> list[str]:
    """Markdown lines for the per-kind table."""
    rows = [[kind, *_summary_cells(agg, report.metric_names)] for kind, agg in report.per_kind.items()]
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
    return [_fmt(before), _fmt(after), _fmt_delta(before, after)]


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
    k = headline_k(report)
    metrics = (f"nP@{k}", f"MRR@{MRR_K}", "nothing-found")
    kind_header = ["kind"] + [f"{m} {w}" for m in metrics for w in ("before", "after", "Δ")]
    return [
        "## Baseline vs system",
        "",
        f"Baseline: {baseline.overall.n_queries} queries; system: {report.overall.n_queries} queries.",
        "",
        *_table(["metric", "baseline", "system", "Δ"], overall_rows),
        "",
        *_table(kind_header, _kind_comparison_rows(report, baseline, k)),
        "",
    ]


def _per_query_section(report: EvalReport) -> list[str]:
    """Markdown lines for the per-query table."""
    k = headline_k(report)
    rows = []
    for r in report.rows:
        top3 = ", ".join(r.returned[:3]) if r.returned else "(nothing found)"
        rank = "—" if r.query.is_nonsense else (_fmt(r.first_rank) if r.first_rank else "not found")
        rows.append([
            r.query.kind,
            md_text(r.query.query),
            str(len(r.query.relevant)),
            top3,
            rank,
            _fmt(r.scores.get(f"nP@{k}")),
            _fmt(r.scores.get(f"MRR@{MRR_K}")),
        ])
    header = ["kind", "query", "relevant", "top-3 returned", "first relevant rank", f"nP@{k}", "RR@10"]
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


def _chart_series(report: EvalReport, kinds: Sequence[str], name: str) -> list[float]:
    """Values of metric ``name`` per kind (0.0 where a kind has no value)."""
    return [report.per_kind[k].means.get(name, 0.0) if k in report.per_kind else 0.0 for k in kinds]


def _draw_panel(ax: Axes, kinds: Sequence[str], name: str, series: Sequence[tuple[str, EvalReport, str]]) -> None:
    """Draw grouped bars of metric ``name`` per kind, one bar per (label, report, colour)."""
    width = 0.8 / len(series)
    for i, (label, rep, colour) in enumerate(series):
        xs = [x - 0.4 + width * (i + 0.5) for x in range(len(kinds))]
        ax.bar(xs, _chart_series(rep, kinds, name), width, label=label, color=colour)
    ax.set_ylabel(name)
    ax.set_ylim(0, 1.05)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper right", fontsize="small")


def render_chart(report: EvalReport, path: Path, *, title: str, baseline: EvalReport | None = None) -> None:
    """Write grouped bars of nP@K and MRR@10 per kind (baseline vs system) to a PNG (Agg backend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    kinds = [kind for kind, agg in report.per_kind.items() if agg.n_scored]
    series = [("system", report, "#2f6db3")]
    if baseline is not None:
        series.insert(0, ("baseline", baseline, "#b0b0b0"))
    fig = Figure(figsize=(max(8.0, 1.1 * len(kinds) + 3), 7.5), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 1, sharex=True)
    for ax, name in zip(axes, (f"nP@{headline_k(report)}", f"MRR@{MRR_K}")):
        _draw_panel(ax, kinds, name, series)
    axes[-1].set_xticks(range(len(kinds)), kinds, rotation=30, ha="right")
    fig.suptitle(_chart_title(report, title, baseline))
    fig.tight_layout()
    fig.savefig(path, format="png")


def _chart_title(report: EvalReport, title: str, baseline: EvalReport | None) -> str:
    """Chart title with the nothing-found rate of nonsense queries appended."""
    rate = _fmt(report.overall.nothing_found_rate)
    if baseline is not None:
        rate = f"{_fmt(baseline.overall.nothing_found_rate)} → {rate}"
    return f"{title}\nnonsense queries answered with nothing found: {rate}"


def write_report(
    report: EvalReport, out_dir: Path, *, title: str, baseline: EvalReport | None = None
) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.png`` into ``out_dir`` (created if needed); return both paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    md_path, png_path = out_dir / "report.md", out_dir / "report.png"
    md_path.write_text(render_markdown(report, title=title, baseline=baseline) + "\n", encoding="utf-8")
    render_chart(report, png_path, title=title, baseline=baseline)
    return md_path, png_path
