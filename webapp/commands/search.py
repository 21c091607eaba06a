"""``flask --app webapp search``: the ranked answer to a query, as a table on the terminal."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from ..catalog.embedding_cache import CacheError
from ..catalog.facets import Filters
from ..catalog.products import CatalogError
from ..encoders.base import EncoderError
from ..lifecycle import get_engine
from ..search.results import SearchRequest


@click.command("search")
@click.argument("query")
@click.option(
    "-k", "--top", default=10, show_default=True, help="How many results at most (both sections)."
)
@click.option("--category", default="", help="Only this category.")
@with_appcontext
def search_command(query: str, top: int, category: str) -> None:
    """Print the top results for QUERY as a table."""
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
    shown = result.shown[:top]  # the confident results, then «может подойти» up to TOP
    for rank, hit in enumerate(shown, start=1):
        if rank == len(result.hits) + 1:
            click.echo("     может подойти:")
        click.echo(
            f"{rank:>3}  {hit.product.id:<24} {hit.score:>8.3f}  "
            f"{hit.product.price:>6} ₽  {hit.product.title}"
        )
    apart = f" (+{len(result.maybe)} может подойти)" if result.maybe else ""
    click.echo(f"total {result.total}{apart}, {result.took_ms:.1f} ms")


COMMANDS = (search_command,)
