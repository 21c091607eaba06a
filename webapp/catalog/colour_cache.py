"""The colour cache: each design's colour shares, computed once by ``flask embed``.

One small JSON file beside the vector caches (``embeddings/colours.json``): the palette
names, then per design (in catalogue order) its id, the SHA-1 of its picture and its
shares in thousandths. Like the vector caches it is incremental (a picture is measured
again only when its bytes change), rebuilt whole when the colour method changes (the
method id is a digest of the palette and thresholds), and refused when stale or foreign,
with the command that rebuilds it. JSON rather than a pickle: nothing in it can run code.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..files import write_atomic
from . import colours
from .embedding_cache import REBUILD_HINT, CacheError
from .products import Catalog

FORMAT = "stezhok/colours"
VERSION = 1
FILENAME = "colours.json"


def method_id() -> str:
    """Identity of the colour method: a change of palette or threshold re-measures all."""
    settings = [
        colours.NAMES,
        colours.CENTRES,
        colours.GREY_CHROMA,
        colours.BLACK_L,
        colours.WHITE_L,
        colours.OPAQUE,
        colours.FLAT_DELTA,
        colours.MAX_SIDE,
        colours.BORDER_SHARE,
        colours.MAX_BACKGROUND,
    ]
    digest = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()
    return f"cielab-centres:{digest[:12]}"


@dataclass(frozen=True)
class ColourCache:
    """Every design's colour shares (rows = ``ids``, columns = :data:`colours.NAMES`)."""

    method: str
    ids: list[str]
    digests: list[str]
    shares: np.ndarray
    catalog_fingerprint: str

    def of(self, row: int) -> dict[str, float]:
        """Row ``row``'s shares by colour name, largest first, zeros left out."""
        values = self.shares[row]
        order = np.argsort(-values, kind="stable")
        return {colours.NAMES[i]: float(values[i]) for i in order if values[i] > 0}


def cache_file(directory: Path) -> Path:
    """Where the colour cache lives in an embeddings directory."""
    return directory / FILENAME


def read_colours(path: Path) -> ColourCache:
    """Read and check a colour cache; :class:`CacheError` names the command that rebuilds it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CacheError(f"{path} is missing; build it with `{REBUILD_HINT}`") from None
    except (OSError, ValueError) as exc:
        raise CacheError(f"{path} is unreadable ({exc}); run `{REBUILD_HINT}`") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CacheError(f"{path}: not a colour cache; run `{REBUILD_HINT}`")
    if data.get("version") != VERSION or data.get("names") != list(colours.NAMES):
        raise CacheError(f"{path}: another cache version or palette; run `{REBUILD_HINT}`")
    shares = np.asarray(data["shares"], dtype=np.float32).reshape(-1, len(colours.NAMES))
    if not len(data["ids"]) == len(data["digests"]) == len(shares):
        raise CacheError(f"{path}: ids, digests and rows differ in number; run `{REBUILD_HINT}`")
    return ColourCache(
        data["method"], data["ids"], data["digests"], shares / 1000.0, data["fingerprint"]
    )


def load_colours(directory: Path, catalog_fingerprint: str) -> ColourCache:
    """The cache in ``directory``, refused unless it is this method's and this catalogue's."""
    cache = read_colours(cache_file(directory))
    if cache.method != method_id() or cache.catalog_fingerprint != catalog_fingerprint:
        raise CacheError(f"{cache_file(directory)} is stale; run `{REBUILD_HINT}`")
    return cache


def update_colours(
    catalog: Catalog, data_dir: Path, directory: Path, *, progress: bool = True
) -> tuple[ColourCache, int]:
    """Bring the colour cache up to date with ``catalog``; return it and how many pictures
    were measured (the others are reused by id and picture digest)."""
    previous: Mapping[tuple[str, str], np.ndarray] = {}
    try:
        old = read_colours(cache_file(directory))
        if old.method == method_id():
            previous = {
                (i, d): old.shares[r]
                for r, (i, d) in enumerate(zip(old.ids, old.digests, strict=True))
            }
    except CacheError:
        pass  # nothing to reuse: measure every picture
    digests = [
        hashlib.sha1((data_dir / p.image).read_bytes()).hexdigest() for p in catalog.products
    ]
    shares = np.zeros((len(digests), len(colours.NAMES)), np.float32)
    measured = 0
    rows = zip(catalog.products, digests, strict=True)
    for row, (product, digest) in enumerate(tqdm(rows, total=len(digests), disable=not progress)):
        reused = previous.get((product.id, digest))
        if reused is None:
            found = colours.colour_shares(data_dir / product.image)
            reused = np.array([found.get(n, 0.0) for n in colours.NAMES], np.float32)
            measured += 1
        shares[row] = reused
    cache = ColourCache(method_id(), catalog.ids(), digests, shares, catalog.fingerprint)
    _write(cache, cache_file(directory))
    return cache, measured


def _write(cache: ColourCache, path: Path) -> None:
    """Write ``cache`` atomically: shares in thousandths, one design per line."""
    rows = [json.dumps([round(float(v) * 1000) for v in r]) for r in cache.shares]
    head = {
        "format": FORMAT,
        "version": VERSION,
        "method": cache.method,
        "names": list(colours.NAMES),
        "fingerprint": cache.catalog_fingerprint,
        "ids": cache.ids,
        "digests": cache.digests,
    }
    text = json.dumps(head, ensure_ascii=False)[:-1] + ',\n"shares": [\n' + ",\n".join(rows)
    write_atomic(path, (text + "\n]}\n").encode("utf-8"))
