"""Opening every searchable space's vector back-end, as the configuration says.

``VECTOR_BACKEND=faiss`` (the default) opens a FAISS index per space: the
prebuilt one while current, else an exact one over the embedding cache (see
:mod:`.prebuilt`). The index type comes from ``INDEX_TYPE`` and the catalogue's
size (:mod:`.choice`). ``VECTOR_BACKEND=milvus`` opens one Milvus collection per
space at ``VECTOR_BACKEND_URI`` (checked, not built: ``flask --app webapp index`` syncs it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..catalog.embedding_cache import cache_path, load_cache
from ..catalog.products import Catalog
from ..encoders.space import Space
from .base import IndexUnavailable, VectorBackend
from .choice import choose_index, parse_params
from .prebuilt import open_index

if TYPE_CHECKING:
    from .milvus_index import MilvusIndex


def open_backends(
    cfg: Mapping[str, Any], spaces: Sequence[Space], catalog: Catalog
) -> dict[str, VectorBackend]:
    """Space name → its vector back-end, for every space in ``spaces``."""
    opener = {"faiss": open_faiss, "milvus": open_milvus_space}.get(str(cfg["VECTOR_BACKEND"]))
    if opener is None:
        raise IndexUnavailable(f"VECTOR_BACKEND {cfg['VECTOR_BACKEND']!r}: use faiss or milvus")
    return {space.name: opener(cfg, space, catalog) for space in spaces}


def open_milvus_space(
    cfg: Mapping[str, Any], space: Space, catalog: Catalog, *, sync: bool = False
) -> MilvusIndex:
    """``space``'s collection at ``VECTOR_BACKEND_URI`` over its checked cache, checked to hold the
    catalogue (``sync=True``, as ``flask --app webapp index`` does: brought in step first)."""
    from .milvus_index import open_milvus  # pymilvus loads only when Milvus is used

    uri = str(cfg["VECTOR_BACKEND_URI"])
    if not uri:
        raise IndexUnavailable("VECTOR_BACKEND is milvus but VECTOR_BACKEND_URI is not set")
    cache = load_cache(
        cache_path(Path(cfg["EMBEDDINGS_DIR"]), space.name),
        model=space.model_id,
        catalog_fingerprint=catalog.fingerprint,
    )
    timeout = float(cfg["MILVUS_TIMEOUT"])
    return open_milvus(uri, space.name, catalog.products, cache, timeout=timeout, sync=sync)


def open_faiss(cfg: Mapping[str, Any], space: Space, catalog: Catalog) -> VectorBackend:
    """``space``'s FAISS index under ``INDEX_TYPE`` / ``INDEX_PARAMS``."""
    directory = Path(cfg["EMBEDDINGS_DIR"])
    setting = str(cfg["INDEX_TYPE"])
    choice = choose_index(setting, len(catalog.products), space.dim, cfg["INDEX_PARAMS"])

    def vectors() -> np.ndarray:
        """The space's cache, checked against its model and the catalogue."""
        return load_cache(
            cache_path(directory, space.name),
            model=space.model_id,
            catalog_fingerprint=catalog.fingerprint,
        ).vectors

    return open_index(
        directory,
        space.name,
        model=space.model_id,
        fingerprint=catalog.fingerprint,
        choice=choice,
        explicit=setting.strip().lower() not in ("", "auto"),
        overrides=parse_params(cfg["INDEX_PARAMS"]),
        vectors=vectors,
    )
