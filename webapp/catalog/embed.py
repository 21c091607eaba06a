"""Offline stage: embedding the catalogue into every configured space.

Runs in batches with a progress bar and is incremental: an item is re-encoded
only when its text or image changed since the cache was written, and a cache
from another model is rebuilt from scratch rather than mixed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..encoders.base import l2_normalise
from ..encoders.space import Space
from .embedding_cache import (
    REBUILD_HINT,
    TRAIN_HINT,
    CacheError,
    EmbeddingCache,
    cache_path,
    read_cache,
    save_cache,
)
from .products import Catalog, Product


@dataclass(frozen=True)
class EmbedStats:
    """What one space's embedding run did."""

    space: str
    total: int
    encoded: int
    reused: int
    path: Path


def item_digest(space: Space, product: Product, data_dir: Path) -> str:
    """Content digest of what ``space`` embeds for ``product``."""
    if space.kind == "image":
        payload = (data_dir / product.image).read_bytes()
    else:
        payload = product.search_text.encode("utf-8")
    return hashlib.sha1(payload).hexdigest()


def embed_catalog(
    spaces: Sequence[Space],
    catalog: Catalog,
    data_dir: Path,
    cache_dir: Path,
    *,
    batch_size: int = 64,
    progress: bool = True,
) -> list[EmbedStats]:
    """Bring every space's cache up to date with ``catalog``; return per-space stats."""
    stats: list[EmbedStats] = []
    built: dict[str, EmbeddingCache] = {}
    for space in sorted(spaces, key=lambda s: s.kind in DERIVED):
        if space.kind in DERIVED:
            parts = [built.get(name) or _part(name, catalog, cache_dir) for name in space.parts]
            cache = DERIVED[space.kind](space, parts)
            stats.append(
                EmbedStats(
                    space.name, len(cache.ids), 0, len(cache.ids), save_cache(cache, cache_dir)
                )
            )
        else:
            cache, encoded = _embed_space(
                space, catalog, data_dir, cache_dir, batch_size=batch_size, progress=progress
            )
            stats.append(
                EmbedStats(
                    space.name,
                    len(cache.ids),
                    encoded,
                    len(cache.ids) - encoded,
                    save_cache(cache, cache_dir),
                )
            )
        built[space.name] = cache
    return stats


def _embed_space(
    space: Space,
    catalog: Catalog,
    data_dir: Path,
    cache_dir: Path,
    *,
    batch_size: int,
    progress: bool,
) -> tuple[EmbeddingCache, int]:
    """Encode the items of one text or image space, reusing unchanged vectors."""
    digests = [item_digest(space, p, data_dir) for p in catalog.products]
    previous = _reusable(cache_path(cache_dir, space.name), space.model_id)
    vectors = np.zeros((len(digests), space.dim), np.float32)
    todo = []
    for row, (product, digest) in enumerate(zip(catalog.products, digests, strict=True)):
        old = previous.get((product.id, digest))
        if old is None:
            todo.append(row)
        else:
            vectors[row] = old
    encode = _item_encoder(space, data_dir)
    bar = tqdm(total=len(todo), desc=f"embed {space.name}", unit="item", disable=not progress)
    for start in range(0, len(todo), batch_size):
        rows = todo[start : start + batch_size]
        vectors[rows] = encode([catalog.products[r] for r in rows])
        bar.update(len(rows))
    bar.close()
    return space_cache(space, catalog.ids(), vectors, catalog.fingerprint, digests), len(todo)


def _item_encoder(space: Space, data_dir: Path) -> Callable[[list[Product]], np.ndarray]:
    """The batch function that embeds products for ``space``."""
    if space.kind == "image":
        assert space.image_encoder is not None
        image_encoder = space.image_encoder
        return lambda items: image_encoder.encode_images(
            [data_dir / p.image for p in items], batch_size=len(items)
        )
    assert space.encoder is not None
    text_encoder = space.encoder
    return lambda items: text_encoder.encode_texts(
        [p.search_text for p in items], batch_size=len(items)
    )


def _reusable(path: Path, model_id: str) -> dict[tuple[str, str], np.ndarray]:
    """Vectors of an existing cache keyed by (id, digest), if it is this model's."""
    try:
        cache = read_cache(path)
    except CacheError:
        return {}
    if cache.model != model_id:
        return {}
    return {
        (pid, digest): cache.vectors[row]
        for row, (pid, digest) in enumerate(zip(cache.ids, cache.item_digests, strict=True))
    }


def _part(name: str, catalog: Catalog, cache_dir: Path) -> EmbeddingCache:
    """An ingredient space's cache from disk (when that space is not configured itself,
    e.g. the image features the cross-modal heads project), checked against the catalogue."""
    cache = read_cache(cache_path(cache_dir, name))
    if cache.catalog_fingerprint != catalog.fingerprint:
        raise CacheError(
            f"{cache_path(cache_dir, name)} is stale: the catalogue changed; "
            f"configure its encoder and run `{REBUILD_HINT}`"
        )
    return cache


def space_cache(
    space: Space, ids: list[str], vectors: np.ndarray, fingerprint: str, digests: list[str]
) -> EmbeddingCache:
    """``vectors`` (rows = ``ids``) as ``space``'s cache: its name, model and kind."""
    return EmbeddingCache(
        space.name,
        space.model_id,
        space.kind,
        int(vectors.shape[1]),
        ids,
        vectors,
        fingerprint,
        digests,
    )


def project(space: Space, parts: Sequence[EmbeddingCache]) -> EmbeddingCache:
    """Items of a ``projected`` space: its image head over the image space's cached features."""
    (source,) = parts
    encoder = space.encoder
    if source.model != encoder.image_model:
        raise CacheError(
            f"{space.name}: heads were trained on {encoder.image_model!r} features "
            f"but {source.space} holds {source.model!r}; run `{TRAIN_HINT}`"
        )
    vectors = encoder.project_images(source.vectors)
    return space_cache(
        space, list(source.ids), vectors, source.catalog_fingerprint, list(source.item_digests)
    )


def combine(space: Space, parts: Sequence[EmbeddingCache]) -> EmbeddingCache:
    """The combined item vector ``normalise((f_image + f_text) / 2)`` of the source documents."""
    first = parts[0]
    if any(p.ids != first.ids for p in parts):
        raise CacheError(f"cannot combine {[p.space for p in parts]}: their items differ")
    mean = l2_normalise(sum(p.vectors for p in parts) / len(parts))
    digests = [
        hashlib.sha1("".join(d).encode()).hexdigest()
        for d in zip(*(p.item_digests for p in parts), strict=True)
    ]
    return space_cache(space, list(first.ids), mean, first.catalog_fingerprint, digests)


#: spaces whose items are computed from other spaces' caches, by kind
DERIVED: dict[str, Callable[[Space, Sequence[EmbeddingCache]], EmbeddingCache]] = {
    "combined": combine,
    "projected": project,
}
