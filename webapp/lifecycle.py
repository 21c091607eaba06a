"""Wiring the search core into the app: load artifacts once per process, fail fast.

Building is separate from serving: this module only reads the catalogue, the
embedding caches and the models that the CLI commands wrote, and refuses to
start with a message naming the command that fixes whatever is missing or stale.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import click
from blinker import Namespace
from flask import Flask, current_app
from flask.cli import with_appcontext
from PIL import Image
from werkzeug.local import LocalProxy

from .catalog.artifacts import open_catalog
from .catalog.colour_cache import cache_file, load_colours
from .catalog.definitions import BUILD_HINT as DEFINITIONS_HINT
from .catalog.definitions import Definitions
from .catalog.knowledge import Knowledge
from .catalog.store import CatalogStore
from .concept_rules import load_concepts
from .encoders.spaces import configured_spaces
from .index.backends import open_backends
from .index.moments import load_moments
from .restart import request_reload
from .search.engine import SearchEngine
from .search.lexical import text_analysis
from .search.results import SearchRequest
from .search.settings import from_config as ranking_settings
from .search.timing import Timer

log = logging.getLogger(__name__)
#: side of the blank picture :func:`_prime` searches by (small: it only loads the tower)
PRIME_PICTURE_PX = 32
_lock = threading.Lock()
_reload_lock = threading.Lock()
#: Sent with ``engine=`` (and ``reloaded=True`` after a hot reload) once an engine is in place.
engine_loaded = Namespace().signal("engine-loaded")
#: Sent with ``error=`` when a hot reload failed and the previous engine stays in service.
reload_failed = Namespace().signal("reload-failed")
#: Sent in a gunicorn worker just forked from a master that preloaded the app
#: (``webapp/workers.py``): whatever a fork does not carry over is made again here.
#: Code below this layer registers ``os.register_at_fork(after_in_child=...)`` instead.
worker_forked = Namespace().signal("worker-forked")


def build_engine(app: Flask) -> SearchEngine:
    """Read every artifact the configuration names and assemble the engine; the time
    each step took is logged and kept as ``engine.load_ms``.

    The catalogue comes as the artifacts ``flask --app webapp index`` built (product
    table, lexicon, category tree, reverse dictionary), memory-mapped: nothing that grows
    with the catalogue is parsed or built per worker. A small catalogue without current
    artifacts builds them in memory; a large one is refused with the command."""
    cfg = app.config
    settings = ranking_settings(cfg)
    timer = Timer()
    definitions = load_definitions(cfg)
    with timer.stage("catalogue"):
        catalog = open_catalog(
            Path(cfg["EMBEDDINGS_DIR"]),
            Path(cfg["DATA_DIR"]) / cfg["CATALOG_CSV"],
            text_analysis(settings.words, settings.knowledge),
            definitions,
            max_in_memory=int(cfg["CATALOG_BUILD_AT_START"]),
        )
    for line, problem in catalog.problems:
        log.warning("catalogue line %d skipped: %s", line, problem)
    store: CatalogStore = app.extensions["store"]
    with timer.stage("store"):  # the database mirrors the catalogue: compare digests
        digest = str(catalog.manifest["content_digest"])
        if store.current_digest() != digest:
            store.sync(catalog.as_catalog(), digest=digest)
    spaces = [space for space in configured_spaces(cfg) if space.searchable]
    with timer.stage("indexes"):
        indexes = open_backends(cfg, spaces, catalog.as_catalog())
        moments = {
            s.name: found
            for s in spaces
            if (found := load_moments(Path(cfg["EMBEDDINGS_DIR"]), s.name)) is not None
        }
    with timer.stage("concepts"):
        concepts = load_concepts(app)
    with timer.stage("knowledge"):
        knowledge = load_knowledge(cfg, catalog.fingerprint, definitions)
    with timer.stage("engine"):
        engine = SearchEngine(
            catalog,
            spaces,
            indexes,
            ranking=settings,
            max_query_length=cfg["MAX_QUERY_LENGTH"],
            similar_space=cfg["SIMILAR_SPACE"],
            picture_space=cfg["PICTURE_SPACE"],
            concepts=concepts,
            knowledge=knowledge,
            moments=moments,
        )
    engine.load_ms = timer.stages
    log.info(
        "search ready: %d products, spaces %s, %s",
        len(engine.products),
        [s.name for s in spaces],
        ", ".join(f"{stage} {ms / 1000:.1f}s" for stage, ms in timer.stages.items()),
    )
    return engine


def load_definitions(cfg: Mapping[str, Any]) -> Definitions | None:
    """The definitions artifact the configuration names; a missing one is logged with the
    command that builds it (the search then has no such signal)."""
    path = Path(cfg["DEFINITIONS_PATH"]) if cfg["DEFINITIONS_PATH"] else None
    if path is not None and path.exists():
        return Definitions.read(path)
    if path is not None:
        log.warning("no definitions at %s: run `%s`", path, DEFINITIONS_HINT)
    return None


def load_knowledge(
    cfg: Mapping[str, Any], fingerprint: str, definitions: Definitions | None
) -> Knowledge:
    """``definitions`` and the colour cache the configuration names; a missing colour
    cache is logged with the command that builds it, a stale one is refused like every
    other cache."""
    colours = None
    if cache_file(Path(cfg["EMBEDDINGS_DIR"])).exists():
        colours = load_colours(Path(cfg["EMBEDDINGS_DIR"]), fingerprint)
    else:
        log.warning("no colour cache in %s: run `flask --app webapp embed`", cfg["EMBEDDINGS_DIR"])
    return Knowledge(definitions, colours)


def warm_up(app: Flask) -> SearchEngine:
    """Load the engine now (servers call this at start-up so errors surface at once)."""
    engine: SearchEngine | None = app.extensions.get("search")
    if engine is not None:  # the hot path: no lock, so a reload in progress never blocks requests
        return engine
    with _lock:
        engine = app.extensions.get("search")
        if engine is None:
            engine = _prime(build_engine(app))
            app.extensions["search"] = engine
            engine_loaded.send(app, engine=engine)
    return engine


def _prime(engine: SearchEngine) -> SearchEngine:
    """Answer one query, and one search by picture when an image space serves them, so
    that models which load lazily are in memory before shoppers come (timed as the
    ``prime`` step of ``engine.load_ms``).

    Otherwise the first search in each process pays the encoder's start-up (about a
    second), the first picture the image tower's, and ``/readyz`` would say "ready"
    before the models really are. Under gunicorn's ``preload_app`` this runs in the
    master, so the towers' memory is shared by every worker it forks.
    """
    started = time.perf_counter()
    engine.search(SearchRequest("вышивка"))
    if engine.picture_space and engine.space(engine.picture_space).image_encoder is not None:
        blank = Image.new("RGB", (PRIME_PICTURE_PX, PRIME_PICTURE_PX), "white")
        engine.search_by_picture(engine.picture_query("prime", lambda: blank), SearchRequest(""))
    engine.load_ms["prime"] = round((time.perf_counter() - started) * 1000, 3)
    return engine


def reload(app: Flask) -> SearchEngine:
    """Build a complete new engine from the artifacts on disk, then swap it in at once.

    Requests in flight keep the engine they started with and new ones get the
    new engine, so none ever sees a half-loaded index. If the build fails (a
    corrupt or stale cache), the exception propagates and the old engine stays.
    If a catalogue or cache file is replaced while the build reads them, the set
    it read may mix two generations, so it builds again.
    """
    with _reload_lock:
        for _ in range(3):
            before = _artifact_state(app)
            engine = _prime(build_engine(app))
            if _artifact_state(app) == before:
                break
            log.warning("artifacts changed during the reload; building again")
        else:
            raise RuntimeError("catalogue or caches kept changing during the reload")
        app.extensions["search"] = engine  # one reference assignment: atomic under the GIL
    engine_loaded.send(app, engine=engine, reloaded=True)
    return engine


def _artifact_state(app: Flask) -> list[tuple[str, int, int, int]]:
    """Identity of the catalogue CSV and every cache file: name, inode, size, mtime."""
    cfg = app.config
    paths = [
        Path(cfg["DATA_DIR"]) / cfg["CATALOG_CSV"],
        *sorted(Path(cfg["EMBEDDINGS_DIR"]).glob("*.pkl")),
        *sorted(Path(cfg["EMBEDDINGS_DIR"]).glob("*.index.json")),
        cache_file(Path(cfg["EMBEDDINGS_DIR"])),
        *([Path(cfg["DEFINITIONS_PATH"])] if cfg["DEFINITIONS_PATH"] else []),
    ]
    state = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            continue
        state.append((str(path), st.st_ino, st.st_size, st.st_mtime_ns))
    return state


def watch_reloads(app: Flask) -> threading.Thread | None:
    """Reload whenever ``RELOAD_STAMP`` changes (``flask --app webapp reload`` touches it).

    Runs in a daemon thread of each server process; a failed reload is logged
    and the process keeps serving its current engine.
    """
    interval = float(app.config["RELOAD_POLL_SECONDS"])
    if interval <= 0:
        return None
    stamp = Path(app.config["RELOAD_STAMP"])

    def loop() -> None:
        seen = _mtime(stamp)
        while True:
            time.sleep(interval)
            current = _mtime(stamp)
            if current == seen:
                continue
            seen = current
            try:
                engine = reload(app)
                log.info("engine reloaded: %d products", len(engine.products))
            except Exception as exc:  # keep serving the old engine whatever went wrong
                log.error("reload failed, still serving the previous engine: %s", exc)
                reload_failed.send(app, error=exc)

    thread = threading.Thread(target=loop, name="engine-reload-watcher", daemon=True)
    thread.start()
    return thread


def _mtime(path: Path) -> int:
    """``path``'s modification time in ns, 0 when it does not exist."""
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


@click.command("reload")
@with_appcontext
def reload_command() -> None:
    """Tell running servers to reload the catalogue, caches and models (touches RELOAD_STAMP)."""
    stamp = Path(current_app.config["RELOAD_STAMP"])
    request_reload(stamp)
    click.echo(f"reload requested ({stamp}): the servers swap in a new engine once it is built")


def get_engine() -> SearchEngine:
    """The current app's engine, loading it on first use."""
    # The app itself, not its proxy: signal receivers are connected to the real object.
    return warm_up(cast("LocalProxy[Flask]", current_app)._get_current_object())


def is_ready(app: Flask) -> bool:
    """True once the models and indexes are loaded."""
    return app.extensions.get("search") is not None


def init_app(app: Flask) -> None:
    """Register the (not yet loaded) search service and its ``reload`` command on ``app``."""
    app.extensions["search"] = None
    app.cli.add_command(reload_command)
