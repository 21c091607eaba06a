"""``flask --app webapp …`` commands: the build steps and a terminal search.

Each command is a thin shell: it parses options and calls the core.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from .catalog import CatalogError, read_catalog
from .embedding_cache import CacheError
from .encoders.base import EncoderError
from .embed import embed_catalog
from .filters import Filters
from .search import SearchRequest
from .spaces import configured_spaces


@click.command("build-demo-catalog")
@click.option("--cache-dir", type=click.Path(path_type=Path), default=Path("build/npm"),
              show_default=True, help="Where the npm tarballs are kept.")
@click.option("--size", default=256, show_default=True, help="Image size in pixels.")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Keep only the first N products (a quick sample).")
@with_appcontext
def build_demo_catalog_command(cache_dir: Path, size: int, limit: int | None) -> None:
    """Build data/catalog.csv and data/images from emojibase-data and Twemoji (needs npm)."""
    from .demo_catalog import build_demo_catalog

    count = build_demo_catalog(Path(current_app.config["DATA_DIR"]), cache_dir=cache_dir,
                               image_size=size, limit=limit)
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
    for stats in embed_catalog(spaces, catalog, Path(cfg["DATA_DIR"]),
                               Path(cfg["EMBEDDINGS_DIR"]), batch_size=batch_size):
        click.echo(f"{stats.space}: {stats.total} items, {stats.encoded} encoded, "
                   f"{stats.reused} reused → {stats.path}")


@click.command("search")
@click.argument("query")
@click.option("-k", "--top", default=10, show_default=True, help="How many results.")
@click.option("--category", default="", help="Only this category.")
@with_appcontext
def search_command(query: str, top: int, category: str) -> None:
    """Print the top results for QUERY as a table."""
    from .services import get_engine

    try:
        engine = get_engine()
    except (CacheError, CatalogError, EncoderError) as exc:
        raise click.ClickException(str(exc)) from None
    result = engine.search(SearchRequest(query, Filters(category=category), per_page=top))
    if not result.hits:
        click.echo("ничего не найдено" + (f"; может быть: {', '.join(result.suggestions)}"
                                          if result.suggestions else ""))
    for rank, hit in enumerate(result.hits, start=1):
        click.echo(f"{rank:>3}  {hit.product.id:<24} {hit.score:>8.3f}  "
                   f"{hit.product.price:>6} ₽  {hit.product.title}")
    click.echo(f"total {result.total}, {result.took_ms:.1f} ms")


def init_app(app: Flask) -> None:
    """Register the commands on ``app``."""
    for command in (build_demo_catalog_command, embed_command, search_command):
        app.cli.add_command(command)
