"""``flask --app webapp …`` commands: the build steps and a terminal search.

Each command is a thin shell: it parses options and calls the core.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from .catalog.colour_cache import cache_file, update_colours
from .catalog.definitions_command import build_definitions_command
from .catalog.embed import embed_catalog
from .catalog.embedding_cache import CacheError
from .catalog.facets import Filters
from .catalog.products import CatalogError, read_catalog
from .catalog.thesaurus import build_thesaurus_command
from .encoders.base import EncoderError
from .encoders.spaces import configured_spaces
from .index.command import index_command, needs_index_build
from .observability import terminal_logging
from .search.lexical import text_analysis
from .search.results import SearchRequest
from .search.settings import from_config as ranking_settings
from .training.command import train_heads_command


@click.command("build-demo-catalog")
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path),
    default=Path("build/npm"),
    show_default=True,
    help="Where the npm tarballs are kept.",
)
@click.option("--size", default=256, show_default=True, help="Image size in pixels.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Keep only the first N products (a quick sample).",
)
@with_appcontext
def build_demo_catalog_command(cache_dir: Path, size: int, limit: int | None) -> None:
    """Build data/catalog.csv and data/images from emojibase-data and Twemoji (needs npm)."""
    from .demo.catalog import build_demo_catalog

    count = build_demo_catalog(
        Path(current_app.config["DATA_DIR"]), cache_dir=cache_dir, image_size=size, limit=limit
    )
    click.echo(f"demo catalogue: {count} products")


@click.command("embed")
@click.option("--batch-size", default=64, show_default=True)
@with_appcontext
def embed_command(batch_size: int) -> None:
    """Embed the catalogue into every configured space (only new or changed items)."""
    cfg = current_app.config
    catalog = read_catalog(Path(cfg["DATA_DIR"]) / cfg["CATALOG_CSV"])
    if catalog.problems:
        click.echo(f"{len(catalog.problems)} bad row(s) skipped:\n{catalog.report()}", err=True)
    spaces = configured_spaces(cfg)
    for stats in embed_catalog(
        spaces, catalog, Path(cfg["DATA_DIR"]), Path(cfg["EMBEDDINGS_DIR"]), batch_size=batch_size
    ):
        click.echo(
            f"{stats.space}: {stats.total} items, {stats.encoded} encoded, "
            f"{stats.reused} reused → {stats.path}"
        )
    colours, measured = update_colours(catalog, Path(cfg["DATA_DIR"]), Path(cfg["EMBEDDINGS_DIR"]))
    click.echo(
        f"colours: {len(colours.ids)} items, {measured} measured, "
        f"{len(colours.ids) - measured} reused → {cache_file(Path(cfg['EMBEDDINGS_DIR']))}"
    )
    if needs_index_build(cfg, len(catalog.products)):
        click.echo("the vector indexes are out of date: run `flask --app webapp index` next")


@click.command("search")
@click.argument("query")
@click.option("-k", "--top", default=10, show_default=True, help="How many results.")
@click.option("--category", default="", help="Only this category.")
@with_appcontext
def search_command(query: str, top: int, category: str) -> None:
    """Print the top results for QUERY as a table."""
    from .lifecycle import get_engine

    try:
        engine = get_engine()
    except (CacheError, CatalogError, EncoderError) as exc:
        raise click.ClickException(str(exc)) from None
    result = engine.search(SearchRequest(query, Filters(category=category), per_page=top))
    if not result.shown:
        click.echo(
            "ничего не найдено"
            + (f"; может быть: {', '.join(result.suggestions)}" if result.suggestions else "")
        )
    for rank, hit in enumerate(result.shown, start=1):
        if rank == len(result.hits) + 1:
            click.echo("     может подойти:")
        click.echo(
            f"{rank:>3}  {hit.product.id:<24} {hit.score:>8.3f}  "
            f"{hit.product.price:>6} ₽  {hit.product.title}"
        )
    click.echo(f"total {result.total}, {result.took_ms:.1f} ms")


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
    from .evaluation import baseline, harness
    from .evaluation.queries import load_queries
    from .evaluation.report import write_report
    from .lifecycle import get_engine

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
    from .evaluation import recs
    from .lifecycle import get_engine

    results = recs.evaluate(get_engine(), test=n_test, train=n_train, seed=seed)
    click.echo(f"{n_test} simulated test sessions (theme-following, 15 % noise), seed {seed}")
    click.echo(recs.table(results))
    if plot_path:
        recs.plot(results, plot_path)
        click.echo(f"plot: {plot_path}")


def with_terminal_logs(app: Flask, command: click.Command) -> click.Command:
    """A copy of ``command`` that first turns ``app``'s logs to the terminal's form
    (:func:`~webapp.observability.terminal_logging`); a server's stay JSON."""
    inner = command.callback
    if inner is None:
        return command

    def callback(*args: Any, **kwargs: Any) -> Any:
        terminal_logging(app)
        return inner(*args, **kwargs)

    wrapped = copy.copy(command)
    wrapped.callback = functools.update_wrapper(callback, inner)
    return wrapped


def init_app(app: Flask) -> None:
    """Register the build commands and the terminal search, and what they share: how the
    catalogue's words are analysed for its mapped artifacts (under the app's ranking
    settings: the index command lives below the search core and is handed it here)."""
    settings = ranking_settings(app.config)
    app.extensions["text_analysis"] = text_analysis(settings.words, settings.knowledge)
    _register(app)


def _register(app: Flask) -> None:
    """Register the commands on ``app``, each logging for a terminal (the services'
    ``init_app`` ran first: ``reload`` is registered by ``lifecycle``)."""
    from .encoders.efficientnet_lite import export_image_model_command
    from .encoders.ruclip_export import export_text_model_command
    from .encoders.ruclip_models import make_ruclip_model

    for command in (
        build_demo_catalog_command,
        embed_command,
        index_command,
        search_command,
        evaluate_command,
        evaluate_recs_command,
        make_ruclip_model,
        export_image_model_command,
        export_text_model_command,
        train_heads_command,
        build_thesaurus_command,
        build_definitions_command,
    ):
        app.cli.add_command(command)
    for name, command in list(app.cli.commands.items()):
        app.cli.commands[name] = with_terminal_logs(app, command)
