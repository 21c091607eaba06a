"""Opening every searchable space's vector back-end, as the configuration says.

``VECTOR_BACKEND=faiss`` (the default) opens a FAISS index per space: the
prebuilt one while current, else an exact one over the embedding cache (see
:mod:`.prebuilt`). The index type comes from ``INDEX_TYPE`` and the catalogue's
size (:mod:`.choice`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..catalog.embedding_cache import cache_path, load_cache
from ..catalog.products import Catalog
from ..encoders.spaces import Space
from .base import VectorBackend
from .choice import choose_index, parse_params
from .prebuilt import open_index


def open_backends(
    cfg: Mapping[str, Any], spaces: Sequence[Space], catalog: Catalog
) -> dict[str, VectorBackend]:
    """Space name → its vector back-end, for every space in ``spaces``."""
    return {space.name: open_faiss(cfg, space, catalog) for space in spaces}


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
