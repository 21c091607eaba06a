"""Wiring the search core into the app: load artifacts once per process, fail fast.

Building is separate from serving: this module only reads the catalogue, the
embedding caches and the models that the CLI commands wrote, and refuses to
start with a message naming the command that fixes whatever is missing or stale.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from flask import Flask, current_app

from .catalog import read_catalog
from .embedding_cache import cache_path, load_cache
from .search import SearchEngine
from .spaces import configured_spaces
from .store import CatalogStore

log = logging.getLogger(__name__)
_lock = threading.Lock()


def build_engine(app: Flask) -> SearchEngine:
    """Read every artifact the configuration names and assemble the engine."""
    cfg = app.config
    started = time.perf_counter()
    catalog = read_catalog(Path(cfg["DATA_DIR"]) / cfg["CATALOG_CSV"])
    for line, problem in catalog.problems:
        log.warning("catalogue line %d skipped: %s", line, problem)
    store: CatalogStore = app.extensions["store"]
    store.sync(catalog)
    spaces = configured_spaces(cfg)
    vectors = {}
    for space in spaces:
        cache = load_cache(cache_path(Path(cfg["EMBEDDINGS_DIR"]), space.name),
                           model=space.model_id, catalog_fingerprint=catalog.fingerprint)
        vectors[space.name] = cache.vectors
    engine = SearchEngine(catalog, spaces, vectors, store,
                          max_query_length=cfg["MAX_QUERY_LENGTH"])
    log.info("search ready: %d products, spaces %s, %.1fs", len(catalog.products),
             [s.name for s in spaces], time.perf_counter() - started)
    return engine


def warm_up(app: Flask) -> SearchEngine:
    """Load the engine now (servers call this at start-up so errors surface at once)."""
    with _lock:
        engine: SearchEngine | None = app.extensions.get("search")
        if engine is None:
            engine = build_engine(app)
            app.extensions["search"] = engine
    return engine


def get_engine() -> SearchEngine:
    """The current app's engine, loading it on first use."""
    return warm_up(current_app._get_current_object())  # type: ignore[attr-defined]


def is_ready(app: Flask) -> bool:
    """True once the models and indexes are loaded."""
    return app.extensions.get("search") is not None


def init_app(app: Flask) -> None:
    """Register the (not yet loaded) search service on ``app``."""
    app.extensions["search"] = None
