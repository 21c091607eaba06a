"""Prebuilt indexes on disk: written by ``flask --app webapp index``, memory-mapped by servers.

Each space gets, beside its embedding cache ``<space>.pkl``:

* ``<space>.flat.faiss``: the float vectors as an exact index (not written when the
  approximate index is an HNSW over float vectors: it holds them already);
* ``<space>.ann.faiss``: the approximate index, unless the choice is exact;
* ``<space>.index.json``: the manifest: the index type and search parameters, the
  model, catalogue fingerprint and cache file it was built from, its build time
  and sizes.

A server uses the files only while the manifest matches the cache on disk; a
stale or missing index is rebuilt in memory when the choice is exact (cheap), and
otherwise refused with the command that builds it: a server never spends minutes
building a large index at start-up.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from ..catalog.embedding_cache import CacheError, EmbeddingCache, cache_path
from ..files import replacing, write_atomic
from .choice import IndexChoice
from .faiss_index import FaissIndex

FORMAT = "embroidery-search/index"
VERSION = 1
INDEX_HINT = "flask --app webapp index"


@dataclass(frozen=True)
class IndexFiles:
    """Where one space's prebuilt index lives."""

    exact: Path
    ann: Path
    manifest: Path

    @classmethod
    def of(cls, directory: Path, space: str) -> IndexFiles:
        """The files of ``space`` in the embeddings ``directory``."""
        return cls(
            directory / f"{space}.flat.faiss",
            directory / f"{space}.ann.faiss",
            directory / f"{space}.index.json",
        )


def cache_identity(path: Path) -> dict[str, Any]:
    """What identifies a cache file cheaply (its name, size and modification time)."""
    st = path.stat()
    return {"file": path.name, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def write_index(directory: Path, cache: EmbeddingCache, choice: IndexChoice) -> dict[str, Any]:
    """Build ``choice`` over ``cache``'s vectors, write its files atomically (manifest
    last) and return the manifest."""
    started = time.perf_counter()
    index = FaissIndex.build(cache.vectors, choice.kind, choice.params)
    return save_index(directory, cache, index, time.perf_counter() - started)


def save_index(
    directory: Path, cache: EmbeddingCache, index: FaissIndex, built: float
) -> dict[str, Any]:
    """Write ``index`` (built over ``cache`` in ``built`` seconds) as ``cache``'s prebuilt
    index, manifest last; return the manifest."""
    files = IndexFiles.of(directory, cache.space)
    paths = {"exact": files.exact, "ann": files.ann}
    for name, path in paths.items():
        if name in index.parts:
            _write(index.parts[name], path)
        else:
            path.unlink(missing_ok=True)
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "space": cache.space,
        "model": cache.model,
        "catalog_fingerprint": cache.catalog_fingerprint,
        "cache": cache_identity(cache_path(directory, cache.space)),
        "index": index.kind,
        "params": index.params,
        "items": len(index),
        "dim": index.dim,
        "build_seconds": round(built, 2),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "bytes": {p.name: p.stat().st_size for p in (files.exact, files.ann) if p.is_file()},
    }
    write_atomic(files.manifest, json.dumps(manifest, indent=2).encode())
    return manifest


def _write(index: faiss.Index, path: Path) -> None:
    """Write one FAISS index through a temporary file."""
    with replacing(path) as tmp:
        faiss.write_index(index, str(tmp))


def read_manifest(directory: Path, space: str) -> dict[str, Any] | None:
    """The manifest of ``space``'s prebuilt index, or None if there is none readable."""
    try:
        manifest = json.loads(IndexFiles.of(directory, space).manifest.read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(manifest, dict) and manifest.get("format") == FORMAT
    return manifest if ok and manifest.get("version") == VERSION else None


def staleness(
    manifest: dict[str, Any] | None, directory: Path, space: str, model: str, fingerprint: str
) -> str:
    """Why a prebuilt index cannot serve (``""``: it is current)."""
    if manifest is None:
        return "no index has been built"
    cache = cache_path(directory, space)
    if not cache.is_file():
        return f"its cache {cache.name} is missing"
    if manifest["model"] != model:
        return f"it was built for model {manifest['model']!r}, not {model!r}"
    if manifest["catalog_fingerprint"] != fingerprint:
        return "it was built for another version of the catalogue"
    if manifest["cache"] != cache_identity(cache):
        return f"{cache.name} was rewritten after the index was built"
    missing = [name for name in manifest["bytes"] if not (directory / name).is_file()]
    return f"its file {missing[0]} is missing" if missing else ""


def open_index(
    directory: Path,
    space: str,
    *,
    model: str,
    fingerprint: str,
    choice: IndexChoice,
    explicit: bool,
    overrides: dict[str, int],
    vectors: Callable[[], np.ndarray],
) -> FaissIndex:
    """``space``'s index: the prebuilt one when current (of type ``choice`` when the
    setting is ``explicit``; searched with its recorded parameters and ``overrides``),
    else an exact one over ``vectors()`` when ``choice`` is exact; otherwise
    :class:`CacheError` naming the command that builds it."""
    manifest = read_manifest(directory, space)
    why = staleness(manifest, directory, space, model, fingerprint)
    if not why and manifest is not None and explicit and manifest["index"] != choice.kind:
        why = f"it is {manifest['index']!r}, and INDEX_TYPE asks for {choice.kind!r}"
    if not why and manifest is not None:
        files = IndexFiles.of(directory, space)
        params = {**manifest["params"], **overrides}
        ann = files.ann if manifest["index"] != "Flat" else None
        return FaissIndex.load(files.exact, ann, manifest["index"], params)
    if choice.exact:
        return FaissIndex.exact_over(vectors())
    raise CacheError(
        f"space {space!r} needs a prebuilt {choice.kind} index, but {why}; "
        f"build it with: {INDEX_HINT}"
    )
