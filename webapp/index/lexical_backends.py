"""Opening the lexical back-end the configuration names (``LEXICAL_BACKEND``).

``local`` (the default) searches the catalogue's lexicon in this process (mapped from
``flask --app webapp index``'s artifacts, or built in memory for a small catalogue);
``milvus`` searches a BM25 collection at ``VECTOR_BACKEND_URI`` (the same server, or Milvus
Lite file, as ``VECTOR_BACKEND=milvus``), checked at start and filled by ``index``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..catalog.artifacts import BUILD_HINT, CatalogArtifacts
from .base import IndexUnavailable
from .lexical_base import LexicalBackend
from .lexical_local import LocalLexical

if TYPE_CHECKING:
    from .lexical_milvus import MilvusLexical

LEXICAL_BACKENDS = ("local", "milvus")


def open_lexical(
    cfg: Mapping[str, Any], catalog: CatalogArtifacts, *, sync: bool = False
) -> LexicalBackend:
    """The configured lexical back-end over ``catalog``'s lexicon; on Milvus, checked to
    hold it (``sync=True``, as ``flask --app webapp index`` does: written first, from
    the documents of a fresh build)."""
    backend = str(cfg["LEXICAL_BACKEND"])
    if backend == "local":
        return LocalLexical(catalog.lexicon)
    if backend == "milvus":
        return open_milvus_lexical(cfg, catalog, sync=sync)
    raise IndexUnavailable(f"LEXICAL_BACKEND {backend!r}: use {' or '.join(LEXICAL_BACKENDS)}")


def open_milvus_lexical(
    cfg: Mapping[str, Any], catalog: CatalogArtifacts, *, sync: bool = False
) -> MilvusLexical:
    """The BM25 collection at ``VECTOR_BACKEND_URI`` for ``catalog``."""
    from .lexical_milvus import MilvusLexical  # pymilvus loads only when Milvus is used
    from .milvus_index import connect

    uri = str(cfg["VECTOR_BACKEND_URI"])
    if not uri:
        raise IndexUnavailable("LEXICAL_BACKEND is milvus but VECTOR_BACKEND_URI is not set")
    timeout = float(cfg["MILVUS_TIMEOUT"])
    manifest = catalog.manifest
    identity = f"{manifest['content_digest']}/{manifest['vocabulary']}/{manifest['postings']}"
    backend = MilvusLexical(
        connect(uri, timeout=timeout), catalog.table, identity, uri=uri, timeout=timeout
    )
    if sync:
        if catalog.documents is None:
            raise IndexUnavailable(f"the Milvus lexicon is written by `{BUILD_HINT}`")
        backend.sync(catalog.documents)
    backend.check()
    return backend
