"""Everything a worker needs of the catalogue, built once and memory-mapped.

``flask --app webapp index`` reads the catalogue CSV once and writes, beside the
vector indexes (``EMBEDDINGS_DIR``), one generation folder ``catalog-<stamp>/``:

* the product table's columns (:mod:`.table`);
* the lexicon: BM25 term by term, vocabulary, shoppers' words, spelling pool
  (:mod:`.lexicon`);
* the category tree's nodes (:mod:`.sections`) and the emoji lookup (``emoji.json``);
* with Wiktionary's definitions configured, the reverse dictionary over each design's
  words' senses (:class:`~.definitions.ReverseDictionary`);

then, last, the manifest ``catalog.index.json`` naming that folder: format and
version, the CSV it was built from (name, size, modification time, SHA-256), the
catalogue fingerprint the embedding caches are checked against, the content digest
the database import is checked against, the ranking settings they were built under
(BM25's, the title and tag weights) and the definitions artifact they read, counts,
sizes and build time. A reader sees
the old generation or the new one, never a mix: a worker maps the folder the manifest
named when it started, and older folders are removed only after the new manifest is
in place (a worker still mapping one keeps its pages until it lets go).

A worker uses the artifacts only while the manifest matches the CSV (size and time,
else its SHA-256), its ranking settings and its definitions. A small catalogue
(:data:`IN_MEMORY_MAX_ITEMS`) without current artifacts is built in memory at start,
with the same objects; a larger one is refused with the command that builds them
(:func:`open_catalog`).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..files import write_atomic
from .definitions import Definitions, ReverseDictionary
from .embedding_cache import CacheError
from .lexicon import BM25_B, BM25_K1, Lexicon
from .products import Catalog, Product, read_catalog
from .sections import Sections
from .source import csv_identity, csv_rows, same_csv
from .store import content_digest
from .table import ProductTable

FORMAT = "embroidery-search/catalog"
VERSION = 1
MANIFEST = "catalog.index.json"
BUILD_HINT = "flask --app webapp index"
#: up to this many designs a worker without current artifacts builds them in memory
#: at start (≈ 2 s at 10,000: the lexicon's lemmatisation); above, `index` must have
#: built them. The same limit as the exact vector index (``index/choice.py``), so one
#: rule holds: above 10,000 designs, run `flask --app webapp index`.
IN_MEMORY_MAX_ITEMS = 10_000
#: at most this many bad CSV rows are kept in the manifest for the log
PROBLEMS_KEPT = 200


@dataclass(frozen=True)
class TextAnalysis:
    """The search core's text functions the build needs (passed in: the catalogue layer
    does not import the search core): a text's lemma terms, a design's weighted lemma
    document, and the emoji lookup of (id, title) pairs."""

    analyse: Callable[[str], tuple[str, ...]]
    document_terms: Callable[[Product], list[str]]
    emoji_table: Callable[[Iterable[tuple[str, str]]], dict[str, tuple[str, str]]]
    #: the lexicon's BM25 k1 and b
    bm25: tuple[float, float] = (BM25_K1, BM25_B)
    #: a design's word keys with their weights, for the reverse dictionary (None: none built)
    design_words: Callable[[Product], list[tuple[str, int]]] | None = None
    #: the reverse dictionary's BM25 k1 and b
    definition_bm25: tuple[float, float] = (1.2, 0.75)
    #: every ranking setting the artifacts depend on (JSON scalars), recorded in the
    #: manifest: artifacts built under other settings are stale
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class CatalogArtifacts:
    """What a worker serves the catalogue from (mapped or built in memory)."""

    table: ProductTable
    lexicon: Lexicon
    sections: Sections
    #: emoji sequence (modifiers stripped) → (product id, lower-case title)
    emoji: dict[str, tuple[str, str]]
    #: the manifest (for a build in memory: what it would have written)
    manifest: dict[str, Any] = field(default_factory=dict)
    #: each row's lemma document (a fresh build only: what a Milvus lexicon is written from)
    documents: list[list[str]] | None = None
    #: the reverse dictionary over the designs' definitions (None: no definitions)
    reverse: ReverseDictionary | None = None

    @property
    def fingerprint(self) -> str:
        """The catalogue fingerprint the embedding caches were built against."""
        return str(self.manifest["catalog_fingerprint"])

    def as_catalog(self) -> Catalog:
        """A :class:`Catalog` whose products are the table's (built row by row on use), for
        code that takes one: the vector back-ends read its fingerprint and size."""
        return Catalog(self.table, self.fingerprint, tuple(self.problems))  # type: ignore[arg-type]

    @property
    def problems(self) -> list[tuple[int, str]]:
        """The CSV's bad rows (at most :data:`PROBLEMS_KEPT`), as (line, message)."""
        return [(int(line), str(msg)) for line, msg in self.manifest.get("problems", [])]


def build(
    catalog: Catalog, text: TextAnalysis, definitions: Definitions | None = None
) -> CatalogArtifacts:
    """Every artifact of ``catalog``, in memory (the seconds of each step in the manifest);
    the reverse dictionary too when ``definitions`` are given."""
    steps: dict[str, float] = {}
    products = catalog.products
    with _timed(steps, "table"):
        table = ProductTable.build(products)
    with _timed(steps, "documents"):  # lemmatisation: the bulk of the build
        documents = [text.document_terms(p) for p in products]
        shoppers = {t for p in products for t in (*text.analyse(p.title), *_tag_terms(p, text))}
    with _timed(steps, "lexicon"):
        k1, b = text.bm25
        lexicon = Lexicon.build(documents, shoppers, k1=k1, b=b)
    reverse = None
    if definitions is not None and text.design_words is not None:
        with _timed(steps, "reverse dictionary"):
            k1, b = text.definition_bm25
            words = [text.design_words(p) for p in products]
            reverse = ReverseDictionary(definitions, words, k1=k1, b=b)
    with _timed(steps, "sections and emoji"):
        sections = Sections.build(table, text.analyse)
        emoji = text.emoji_table((p.id, p.title) for p in products)
    with _timed(steps, "content digest"):
        digest = content_digest(products)
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "items": len(products),
        "catalog_fingerprint": catalog.fingerprint,
        "content_digest": digest,
        "settings": dict(text.settings),
        "definitions": None if reverse is None else definitions_identity(definitions),
        "problem_count": len(catalog.problems),
        "problems": [list(p) for p in catalog.problems[:PROBLEMS_KEPT]],
        "categories": dict(table.counts()),
        "vocabulary": len(lexicon.vocabulary),
        "postings": len(lexicon.rows),
        "letters": lexicon.spelling.letters,
        "build_seconds": round(sum(steps.values()), 2),
        "build_steps": {name: round(took, 2) for name, took in steps.items()},
    }
    return CatalogArtifacts(table, lexicon, sections, emoji, manifest, documents, reverse)


def definitions_identity(definitions: Definitions | None) -> dict[str, Any] | None:
    """What the manifest records of the definitions artifact a reverse dictionary was built
    from (its file's identity; None when it was not read from a file)."""
    path = None if definitions is None else definitions.path
    return None if path is None else csv_identity(path)


@contextmanager
def _timed(steps: dict[str, float], name: str) -> Iterator[None]:
    """Add the block's seconds to ``steps[name]``."""
    started = time.perf_counter()
    yield
    steps[name] = time.perf_counter() - started


def _tag_terms(product: Product, text: TextAnalysis) -> tuple[str, ...]:
    """The lemma terms of ``product``'s tags, as the lexical index reads them."""
    return text.analyse(" ; ".join(product.tags))


def write(directory: Path, csv: Path, artifacts: CatalogArtifacts) -> dict[str, Any]:
    """Save ``artifacts`` (built from ``csv``) as a new generation under ``directory``,
    manifest last, then remove older generations; return the manifest."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    folder = directory / f"catalog-{stamp}"
    folder.mkdir(parents=True)
    files = artifacts.table.save(folder) + artifacts.lexicon.save(folder)
    files += artifacts.sections.save(folder)
    if artifacts.reverse is not None:
        files += artifacts.reverse.save(folder)
    emoji = folder / "emoji.json"
    write_atomic(emoji, json.dumps(artifacts.emoji, ensure_ascii=False).encode())
    files.append(emoji)
    manifest = {
        **artifacts.manifest,
        "folder": folder.name,
        "csv": csv_identity(csv),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "bytes": {p.name: p.stat().st_size for p in files},
    }
    write_atomic(directory / MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False).encode())
    for old in directory.glob("catalog-*"):
        if old.is_dir() and old.name != folder.name:
            shutil.rmtree(old, ignore_errors=True)
    artifacts.manifest = manifest
    return manifest


def read_manifest(directory: Path) -> dict[str, Any] | None:
    """The catalogue manifest in ``directory``, or None if there is none readable."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = isinstance(manifest, dict) and manifest.get("format") == FORMAT
    return manifest if ok and manifest.get("version") == VERSION else None


def staleness(
    manifest: dict[str, Any] | None,
    directory: Path,
    csv: Path,
    text: TextAnalysis | None = None,
    definitions: Definitions | None = None,
) -> str:
    """Why the artifacts in ``directory`` cannot serve ``csv`` (``""``: they are current);
    with ``text``, built under its settings; with ``definitions``, with the reverse
    dictionary over them."""
    if manifest is None:
        return "they have not been built"
    if not csv.is_file():
        return f"the catalogue {csv} is missing"
    if not same_csv(manifest["csv"], csv):
        return f"{csv.name} changed after they were built"
    if text is not None and manifest.get("settings") != dict(text.settings):
        return "the ranking settings changed after they were built"
    if definitions is not None and definitions.path is not None:
        recorded = manifest.get("definitions")
        if recorded is None:
            return "they were built without the definitions"
        if not same_csv(recorded, definitions.path):
            return f"{definitions.path.name} changed after they were built"
    folder = directory / str(manifest["folder"])
    missing = [name for name in manifest["bytes"] if not (folder / name).is_file()]
    return f"their file {missing[0]} is missing" if missing else ""


def load(
    directory: Path, manifest: dict[str, Any], definitions: Definitions | None = None
) -> CatalogArtifacts:
    """Map the generation ``manifest`` names (checked current by the caller); with
    ``definitions``, its reverse dictionary over them (when it has one)."""
    folder = directory / str(manifest["folder"])
    emoji = json.loads((folder / "emoji.json").read_text(encoding="utf-8"))
    items = int(manifest["items"])
    reverse = None
    if definitions is not None and manifest.get("definitions") is not None:
        reverse = ReverseDictionary.load(folder, definitions, items)
    return CatalogArtifacts(
        ProductTable.load(folder),
        Lexicon.load(folder, items, str(manifest["letters"])),
        Sections.load(folder),
        {key: (pid, title) for key, (pid, title) in emoji.items()},
        manifest,
        reverse=reverse,
    )


def open_catalog(
    directory: Path,
    csv: Path,
    text: TextAnalysis,
    definitions: Definitions | None = None,
    *,
    max_in_memory: int = IN_MEMORY_MAX_ITEMS,
) -> CatalogArtifacts:
    """The catalogue's artifacts (with the reverse dictionary over ``definitions``, when
    given): mapped from ``directory`` when current; else, for a catalogue of at most
    ``max_in_memory`` rows, built in memory from ``csv``; else :class:`CacheError` naming
    the command that builds them."""
    why = ""
    for _ in range(2):  # a rebuild may swap the generation between reading and mapping
        manifest = read_manifest(directory)
        why = staleness(manifest, directory, csv, text, definitions)
        if why or manifest is None:
            break
        try:
            return load(directory, manifest, definitions)
        except OSError as exc:
            why = f"their files changed while being opened ({exc})"
    if csv.is_file() and csv_rows(csv) > max_in_memory:
        raise CacheError(
            f"the catalogue's mapped artifacts (product table, lexicon) are needed above "
            f"{max_in_memory} designs, but {why}; build them with: {BUILD_HINT}"
        )
    return build(read_catalog(csv), text, definitions)
