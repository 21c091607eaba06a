"""Measuring the search: quality on judged query files, recommenders on simulated sessions."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from ..lifecycle import get_engine
from ..search.results import SearchRequest


@click.command("evaluate")
@click.option(
    "--queries",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=Path("data/eval/dev_queries.jsonl"),
    show_default=True,
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("reports/eval"),
    show_default=True,
)
@click.option(
    "--baseline/--no-baseline",
    "with_baseline",
    default=True,
    show_default=True,
    help="Also run the plain vector search in the same run and compare.",
)
@with_appcontext
def evaluate_command(queries: Path, out: Path, with_baseline: bool) -> None:
    """Measure search quality on a query file; write report.md and report.png."""
    from ..evaluation import baseline, harness
    from ..evaluation.queries import load_queries
    from ..evaluation.report import write_report

    engine = get_engine()
    dev = load_queries(queries)
    judged = {i for q in dev for i in q.relevant}
    if unknown := sorted(judged - {p.id for p in engine.lookup(sorted(judged))}):
        raise click.ClickException(
            f"{queries}: {len(unknown)} judged design(s) are not in this catalogue "
            f"({', '.join(unknown[:5])}{', …' if len(unknown) > 5 else ''}): evaluate against "
            "the catalogue the set was written for"
        )
    report = harness.evaluate(
        dev,
        lambda q: [h.product.id for h in engine.search(SearchRequest(q, per_page=10)).shown],
        cosine_fn=lambda q, ids: baseline.query_cosines(engine, q, ids),
    )
    plain = (
        harness.evaluate(
            dev,
            lambda q: baseline.plain_search(engine, q, 10),
            cosine_fn=lambda q, ids: baseline.query_cosines(engine, q, ids),
        )
        if with_baseline
        else None
    )
    md, png = write_report(report, out, title="Search quality", baseline=plain)
    runs = [("system", report.overall)] + ([("baseline", plain.overall)] if plain else [])
    for name, agg in runs:
        scored = "  ".join(f"{m} {agg.means[m]:.3f}" for m in ("nP@5", "MRR@10") if m in agg.means)
        click.echo(
            f"{name:>8}: {scored or 'no scored queries'}  "
            f"nothing-found on nonsense {agg.nothing_found_rate or 0:.2f}"
        )
    click.echo(f"report: {md}, {png}")


@click.command("evaluate-recs")
@click.option("--test", "n_test", default=600, show_default=True, help="Simulated test sessions.")
@click.option("--train", "n_train", default=3000, show_default=True, help="Sessions for co-visits.")
@click.option("--seed", default=7, show_default=True)
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None)
@with_appcontext
def evaluate_recs_command(n_test: int, n_train: int, seed: int, plot_path: str | None) -> None:
    """Compare recommenders on SIMULATED sessions (docs/recommendations.md); print a table."""
    from ..evaluation import recs

    results = recs.evaluate(get_engine(), test=n_test, train=n_train, seed=seed)
    click.echo(f"{n_test} simulated test sessions (theme-following, 15 % noise), seed {seed}")
    click.echo(recs.table(results))
    if plot_path:
        recs.plot(results, plot_path)
        click.echo(f"plot: {plot_path}")


COMMANDS = (evaluate_command, evaluate_recs_command)
