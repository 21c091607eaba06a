"""``flask --app webapp build-definitions``: the definitions artifact, written for the server.

Reads the catalogue, Russian Wiktionary's sense lines (the database ``wiki-ru-wordnet``
installs) and, unless ``--no-conceptnet``, ConceptNet's Russian links; writes
``DEFINITIONS_PATH`` (``data/rules/definitions.json``) atomically, one word per line so
that a rebuild's diff reads word by word.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..files import write_atomic
from .conceptnet import read_links
from .definitions_build import build_definitions
from .products import read_catalog
from .thesaurus import wordnet_path


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
    cfg = current_app.config
    catalog = read_catalog(Path(cfg["DATA_DIR"]) / cfg["CATALOG_CSV"])
    links = list(read_links()) if conceptnet else []
    artifact = build_definitions(catalog.products, database or wordnet_path(), links=links)
    target = out or Path(cfg["DEFINITIONS_PATH"])
    size = write_definitions(artifact, target)
    click.echo(
        f"{len(artifact['designs'])} design words, {len(artifact['words'])} query words, "
        f"{size / 1e6:.1f} MB → {target}"
    )


def write_definitions(artifact: dict[str, object], target: Path) -> int:
    """Write ``artifact`` as compact JSON, one word per line (diffable); return its size."""
    head = {k: v for k, v in artifact.items() if k not in ("designs", "words")}
    lines = [json.dumps(head, ensure_ascii=False, sort_keys=True)[:-1] + ","]
    for table in ("designs", "words"):
        entries = artifact[table]
        assert isinstance(entries, dict)
        rows = [f"{json.dumps(k, ensure_ascii=False)}:{_compact(v)}" for k, v in entries.items()]
        closing = "," if table == "designs" else "}"
        lines.append(f'"{table}":{{\n' + ",\n".join(rows) + "\n}" + closing)
    data = ("\n".join(lines) + "\n").encode("utf-8")
    write_atomic(target, data)
    return len(data)


def _compact(value: object) -> str:
    """``value`` as JSON without spaces."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
