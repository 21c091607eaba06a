"""The benchmark's vectors: the encoders' own output, made by the app's embedding pipeline.

Every configured space is embedded with :func:`webapp.catalog.embed.embed_catalog` (the
``flask --app webapp embed`` machinery) on the synthetic catalogue. Its rows reuse the
1,601 demo pictures, so an image space is first filled here by encoding each distinct
picture once; the pipeline then finds those vectors current (same id, same content
digest) and encodes only the texts. It is a one-time cost (≈ half an hour on two
cores): later runs reuse the caches while they match the model and the catalogue.

Earlier versions of this fixture wrote seeded random vectors under the same model ids.
The marker file :data:`MARKER` records where the vectors came from, so caches without
it (or with another source) are deleted and embedded again, never silently reused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

#: what the caches hold; change it whenever the way the vectors are made changes
SOURCE = {"vectors": "encoders: webapp.catalog.embed.embed_catalog", "version": 1}
MARKER = "bench-vectors.json"


def _clear_foreign(out: Path) -> None:
    """Delete caches and index files that this version of the fixture did not make, then
    claim the folder (the pipeline's caches are then current or incrementally completed,
    even after an interrupted run)."""
    marker = out / MARKER
    try:
        if json.loads(marker.read_text(encoding="utf-8")) == SOURCE:
            return
    except (OSError, ValueError):
        pass
    for pattern in ("*.pkl", "*.faiss", "*.index.json"):
        for path in out.glob(pattern):
            path.unlink()
    marker.write_text(json.dumps(SOURCE), encoding="utf-8")


def _stale(spaces: list[Any], out: Path, fingerprint: str) -> list[str]:
    """Names of the spaces whose cache is missing or not this model's and catalogue's."""
    from webapp.catalog.embedding_cache import CacheError, cache_path, load_cache

    stale = []
    for space in spaces:
        try:
            load_cache(
                cache_path(out, space.name), model=space.model_id, catalog_fingerprint=fingerprint
            )
        except CacheError:
            stale.append(space.name)
    return stale


def seed_image_space(space: Any, catalog: Any, data: Path, out: Path) -> int:
    """Write ``space``'s cache with each distinct picture encoded once; return how many."""
    from webapp.catalog.embed import item_digest, space_cache
    from webapp.catalog.embedding_cache import save_cache

    paths = [data / p.image for p in catalog.products]
    distinct = sorted(set(paths))
    vectors = space.image_encoder.encode_images(distinct, batch_size=32)
    row = {path: i for i, path in enumerate(distinct)}
    matrix = np.ascontiguousarray(vectors[[row[p] for p in paths]], dtype=np.float32)
    digests = [item_digest(space, p, data) for p in catalog.products]
    save_cache(space_cache(space, catalog.ids(), matrix, catalog.fingerprint, digests), out)
    return len(distinct)


def write_caches(app: Any, spaces: list[Any]) -> list[str]:
    """Bring the cache of every space in ``spaces`` (the app's configured ones) up to date
    with the app's own embedding pipeline (images deduplicated first); return those rebuilt."""
    from webapp.catalog.embed import embed_catalog
    from webapp.catalog.products import read_catalog

    cfg = app.config
    data, out = Path(cfg["DATA_DIR"]), Path(cfg["EMBEDDINGS_DIR"])
    out.mkdir(parents=True, exist_ok=True)
    _clear_foreign(out)
    catalog = read_catalog(data / cfg["CATALOG_CSV"])
    stale = _stale(spaces, out, catalog.fingerprint)
    if not stale:
        return []
    for space in spaces:
        if space.name in stale and space.kind == "image" and space.image_encoder is not None:
            print(f"{space.name}: encoding the distinct pictures once …", flush=True)
            seed_image_space(space, catalog, data, out)
    embed_catalog(spaces, catalog, data, out)
    return stale


def write_indexes(app: Any, spaces: list[Any]) -> list[str]:
    """Prebuild the index of every searchable space in ``spaces`` with the app's own
    ``index`` command when one is stale or not the type ``INDEX_TYPE`` picks; return
    what the command printed."""
    from webapp.catalog.products import read_catalog
    from webapp.commands.index import index_command
    from webapp.index.choice import choose_index
    from webapp.index.prebuilt import read_manifest, staleness

    cfg = app.config
    out = Path(cfg["EMBEDDINGS_DIR"])
    catalog = read_catalog(Path(cfg["DATA_DIR"]) / cfg["CATALOG_CSV"])
    wanted = choose_index(cfg["INDEX_TYPE"], len(catalog.products), 1, cfg["INDEX_PARAMS"])
    current = True
    for space in (s for s in spaces if s.searchable):
        manifest = read_manifest(out, space.name)
        why = staleness(manifest, out, space.name, space.model_id, catalog.fingerprint)
        current &= not why and manifest is not None and manifest["index"] == wanted.kind
    if current:
        return []
    result = app.test_cli_runner().invoke(index_command)
    if result.exit_code:
        raise SystemExit(f"flask --app webapp index failed:\n{result.output}")
    return result.output.strip().splitlines()
