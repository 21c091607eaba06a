"""The catalogue's build steps: the demo catalogue, its embeddings and colours, and the
two artifacts drawn from Russian Wiktionary (the thesaurus and the definitions)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..catalog.colour_cache import cache_file, update_colours
from ..catalog.conceptnet import read_links
from ..catalog.definitions_build import build_definitions, write_definitions
from ..catalog.embed import embed_catalog
from ..catalog.products import Catalog, read_catalog
from ..catalog.thesaurus import build_thesaurus, wordnet_path, write_thesaurus
from ..encoders.spaces import configured_spaces
from ..index.build import needs_index_build


def configured_catalog() -> Catalog:
    """The catalogue the app's configuration names (``DATA_DIR`` / ``CATALOG_CSV``)."""
    cfg = current_app.config
    return read_catalog(Path(cfg["DATA_DIR"]) / cfg["CATALOG_CSV"])


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
    from ..demo.catalog import build_demo_catalog

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
    catalog = configured_catalog()
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


@click.command("build-thesaurus")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="artifact path")
@with_appcontext
def build_thesaurus_command(out: Path | None) -> None:
    """Write the thesaurus artifact (THESAURUS_PATH) from wiki-ru-wordnet and the catalogue."""
    artifact = build_thesaurus(configured_catalog().products, wordnet_path())
    target = out or Path(current_app.config["THESAURUS_PATH"])
    write_thesaurus(artifact, target)
    click.echo(f"{len(artifact['entries'])} thesaurus entries → {target}")  # type: ignore[arg-type]


@click.command("build-definitions")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="artifact path")
@click.option(
    "--database",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="a wikiwordnet.db (default: the one wiki-ru-wordnet installs)",
)
@click.option(
    "--conceptnet/--no-conceptnet",
    default=True,
    show_default=True,
    help="also decode words Wiktionary does not, by ConceptNet's links",
)
@with_appcontext
def build_definitions_command(out: Path | None, database: Path | None, conceptnet: bool) -> None:
    """Write the definitions artifact (DEFINITIONS_PATH) from wiki-ru-wordnet, ConceptNet
    and the catalogue."""
    links = list(read_links()) if conceptnet else []
    artifact = build_definitions(
        configured_catalog().products, database or wordnet_path(), links=links
    )
    target = out or Path(current_app.config["DEFINITIONS_PATH"])
    size = write_definitions(artifact, target)
    click.echo(
        f"{len(artifact['designs'])} design words, {len(artifact['words'])} query words, "
        f"{size / 1e6:.1f} MB → {target}"
    )


COMMANDS = (
    build_demo_catalog_command,
    embed_command,
    build_thesaurus_command,
    build_definitions_command,
)
