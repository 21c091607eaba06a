"""``flask --app webapp index``: build each searchable space's vector index from its cache,
and the catalogue's mapped artifacts (product table, lexicon, category tree) beside them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from ..catalog import artifacts
from ..catalog.definitions import Definitions, DefinitionsError
from ..catalog.embedding_cache import CacheError, cache_path, load_cache
from ..catalog.products import Catalog, CatalogError, read_catalog
from ..encoders.base import EncoderError
from ..encoders.spaces import configured_spaces
from ..index.backends import open_milvus_space
from ..index.base import IndexUnavailable
from ..index.choice import IndexChoiceError, choose_index
from ..index.moments import write_moments
from ..index.prebuilt import write_index
from ..search.lexical import text_analysis
from ..search.settings import from_config as ranking_settings


@click.command("index")
@click.option("--type", "kind", default=None, help="INDEX_TYPE for this build (default: setting).")
@click.option("--params", default=None, help="INDEX_PARAMS for this build (default: setting).")
@with_appcontext
def index_command(kind: str | None, params: str | None) -> None:
    """Build the vector index of every searchable space and record the choice beside its cache
    (servers memory-map it), or with VECTOR_BACKEND=milvus sync its Milvus collection
    (incrementally); build the catalogue's product table, lexicon and category tree
    (servers map them; with LEXICAL_BACKEND=milvus the text collection is synced too).
    Run after `embed`, then `reload`."""
    cfg = current_app.config
    directory = Path(cfg["EMBEDDINGS_DIR"])
    try:
        csv = Path(cfg["DATA_DIR"]) / cfg["CATALOG_CSV"]
        catalog = read_catalog(csv)
        write_catalog_artifacts(cfg, directory, csv, catalog)
        for space in [s for s in configured_spaces(cfg) if s.searchable]:
            if cfg["VECTOR_BACKEND"] == "milvus":
                milvus = open_milvus_space(cfg, space, catalog, sync=True)
                write_moments(directory, space.name, milvus.vectors)
                click.echo(str(milvus.last_sync))
                continue
            cache = load_cache(
                cache_path(directory, space.name),
                model=space.model_id,
                catalog_fingerprint=catalog.fingerprint,
            )
            choice = choose_index(
                kind or cfg["INDEX_TYPE"],
                len(cache.ids),
                cache.dim,
                cfg["INDEX_PARAMS"] if params is None else params,
            )
            manifest = write_index(directory, cache, choice)
            write_moments(directory, space.name, cache.vectors)
            size = sum(manifest["bytes"].values()) / 2**20
            click.echo(
                f"{space.name}: {manifest['index']} over {manifest['items']} items "
                f"in {manifest['build_seconds']:.1f}s, {size:.1f} MiB, params {manifest['params']}"
            )
    except (
        CatalogError,
        CacheError,
        DefinitionsError,
        EncoderError,
        IndexChoiceError,
        IndexUnavailable,
    ) as exc:
        raise click.ClickException(str(exc)) from exc


def write_catalog_artifacts(
    cfg: Mapping[str, Any], directory: Path, csv: Path, catalog: Catalog
) -> artifacts.CatalogArtifacts:
    """Build and write the catalogue's mapped artifacts (with the reverse dictionary when
    the definitions artifact is there), import the catalogue into the database when it
    holds another (so no worker does), and, with LEXICAL_BACKEND=milvus, bring the text
    collection in step; say what was written."""
    path = Path(cfg["DEFINITIONS_PATH"]) if cfg["DEFINITIONS_PATH"] else None
    definitions = Definitions.read(path) if path is not None and path.is_file() else None
    settings = ranking_settings(cfg)
    analysis = text_analysis(settings.words, settings.knowledge)
    built = artifacts.build(catalog, analysis, definitions)
    manifest = artifacts.write(directory, csv, built)
    size = sum(manifest["bytes"].values()) / 2**20
    click.echo(
        f"catalogue: {manifest['items']} designs, {manifest['vocabulary']} terms, "
        f"{manifest['postings']} postings in {manifest['build_seconds']:.1f}s, {size:.1f} MiB "
        f"→ {manifest['folder']}"
    )
    if current_app.extensions["store"].sync(catalog, digest=str(manifest["content_digest"])):
        click.echo(f"database: {manifest['items']} designs imported")
    if cfg["LEXICAL_BACKEND"] == "milvus":
        from ..index.lexical_backends import open_lexical  # pymilvus loads only when Milvus is used

        click.echo(str(open_lexical(cfg, built, sync=True).last_sync))
    return built


COMMANDS = (index_command,)
