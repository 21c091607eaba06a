"""The on-disk embedding cache: one ``.pkl`` per vector space.

A cache is a plain dict of builtins plus one numpy matrix. It is read back
through :class:`RestrictedUnpickler`, which resolves only the handful of numpy
globals an array needs, so a planted pickle cannot run code. Every load is
checked against the model and catalogue it must match; a stale or foreign
cache is refused with the command that rebuilds it.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..files import replacing

FORMAT = "embroidery-search/embeddings"
VERSION = 1
REBUILD_HINT = "flask --app webapp embed"
TRAIN_HINT = "flask --app webapp train-heads"  # for caches of trained heads
KINDS = ("text", "image", "combined", "projected")

# The only globals a numpy float32 array needs to unpickle (numpy 1.x and 2.x).
_ALLOWED_GLOBALS = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
    }
)


class CacheError(RuntimeError):
    """A cache file is missing, unsafe, corrupt, stale or from another model."""


@dataclass(frozen=True)
class EmbeddingCache:
    """Vectors of one space, with the manifest that says where they came from."""

    space: str
    model: str
    kind: str
    dim: int
    ids: list[str]
    vectors: np.ndarray
    catalog_fingerprint: str
    item_digests: list[str]

    def to_payload(self) -> dict[str, object]:
        """The dict that is pickled: builtins plus one float32 matrix."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "space": self.space,
            "model": self.model,
            "kind": self.kind,
            "dim": self.dim,
            "ids": list(self.ids),
            "vectors": np.ascontiguousarray(self.vectors, dtype=np.float32),
            "catalog_fingerprint": self.catalog_fingerprint,
            "item_digests": list(self.item_digests),
        }


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that refuses every global except numpy's array rebuilders."""

    def find_class(self, module: str, name: str) -> object:
        """Resolve ``module.name`` only when it is on the allow-list."""
        if (module, name) not in _ALLOWED_GLOBALS:
            raise CacheError(f"refusing to load {module}.{name}: not an embedding cache type")
        return super().find_class(module, name)


def cache_path(directory: Path, space: str) -> Path:
    """Where the cache of ``space`` lives."""
    return directory / f"{space}.pkl"


def save_cache(cache: EmbeddingCache, directory: Path) -> Path:
    """Validate and write ``cache`` atomically (temp file + rename); return its path."""
    _check_payload(cache.to_payload(), source=cache.space)
    target = cache_path(directory, cache.space)
    with replacing(target) as tmp, tmp.open("wb") as handle:
        pickle.dump(cache.to_payload(), handle, protocol=5)
    return target


def read_cache(path: Path) -> EmbeddingCache:
    """Safely read a cache file and check its internal consistency."""
    if not path.is_file():
        raise CacheError(f"{path} is missing; build it with `{REBUILD_HINT}`")
    try:
        payload = RestrictedUnpickler(io.BytesIO(path.read_bytes())).load()
    except CacheError as exc:
        raise CacheError(f"{path}: {exc}; delete it and run `{REBUILD_HINT}`") from None
    except Exception as exc:  # any unpickling failure means a corrupt file
        raise CacheError(
            f"{path} is corrupt ({exc.__class__.__name__}); run `{REBUILD_HINT}`"
        ) from None
    _check_payload(payload, source=str(path))
    fields = {
        k: payload[k]
        for k in (
            "space",
            "model",
            "kind",
            "dim",
            "ids",
            "vectors",
            "catalog_fingerprint",
            "item_digests",
        )
    }
    return EmbeddingCache(**fields)


def load_cache(path: Path, *, model: str, catalog_fingerprint: str) -> EmbeddingCache:
    """Read a cache and refuse it unless it matches ``model`` and the catalogue."""
    cache = read_cache(path)
    if cache.model != model:
        raise CacheError(
            f"{path} was built by model {cache.model!r}, but {model!r} is configured; "
            f"run `{REBUILD_HINT}`"
        )
    if cache.catalog_fingerprint != catalog_fingerprint:
        raise CacheError(
            f"{path} is stale: the catalogue changed since it was built; run `{REBUILD_HINT}`"
        )
    return cache


def _check_payload(payload: object, *, source: str) -> None:
    """Raise CacheError unless ``payload`` follows the cache contract."""
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CacheError(f"{source}: not an embedding cache; run `{REBUILD_HINT}`")
    if payload.get("version") != VERSION:
        raise CacheError(
            f"{source}: cache version {payload.get('version')!r} != {VERSION}; run `{REBUILD_HINT}`"
        )
    vectors, ids = payload.get("vectors"), payload.get("ids")
    problems = []
    if payload.get("kind") not in KINDS:
        problems.append(f"kind {payload.get('kind')!r} not in {KINDS}")
    if not isinstance(vectors, np.ndarray) or vectors.dtype != np.float32 or vectors.ndim != 2:
        problems.append("vectors must be a 2-D float32 matrix")
    elif (
        not isinstance(ids, list)
        or len(ids) != vectors.shape[0]
        or len(payload.get("item_digests") or []) != len(ids)
    ):
        problems.append("ids, digests and vector rows differ in number")
    elif vectors.shape[1] != payload.get("dim"):
        problems.append(f"dim {payload.get('dim')} != matrix width {vectors.shape[1]}")
    elif len(ids) and not np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3):
        problems.append("rows are not L2-normalised")
    if problems:
        raise CacheError(f"{source}: invalid cache ({'; '.join(problems)}); run `{REBUILD_HINT}`")
