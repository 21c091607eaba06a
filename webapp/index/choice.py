"""Which index a space gets: from the ``INDEX_TYPE`` setting and the catalogue's size.

``INDEX_TYPE`` is ``auto`` (the default), a short name (``flat``, ``hnsw``,
``hnsw-sq8``, ``hnsw-fp16``, ``ivf-flat``, ``ivf-sq8``) or any FAISS index-factory
string (``"HNSW48,SQ8"``, ``"IVF4096,PQ64"``). ``auto`` is exact up to
:data:`EXACT_MAX_ITEMS` designs, HNSW up to :data:`HNSW_MAX_ITEMS` and IVF with 8-bit
codes above; the thresholds and default search parameters come from ``make bench``
(25,000 designs, the encoders' own vectors in every searched space) and
``make bench-scale`` (100k and 1M, docs/scaling.md). ``INDEX_PARAMS`` (``"efSearch=256,rerank=2"``)
overrides the search parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import faiss

from .faiss_index import SEARCH_PARAMETERS

#: up to this many designs an exact scan is fast enough and needs no build step: about
#: 1.8 ms a space at 10,000, what HNSW's beam of 512 costs. At 25,000 (``make bench``) exact
#: took 13.8 ms for the three searched spaces and HNSW32 efSearch=512 3.6 ms at recall@100
#: 0.993-0.999 in each; the demo's 1,601 designs stay exact.
EXACT_MAX_ITEMS = 10_000
#: up to this many HNSW is the fastest at recall@10 ≥ 0.99; above, IVF+SQ8 (at 1M: 4.2 ms
#: p50 and 4.7 p95 at recall@10 0.997, where HNSW needed a beam of 1,024 for 0.978)
HNSW_MAX_ITEMS = 250_000


class IndexChoiceError(ValueError):
    """``INDEX_TYPE`` or ``INDEX_PARAMS`` cannot be used."""


@dataclass(frozen=True)
class IndexChoice:
    """A FAISS factory string and the search parameters to use it with."""

    kind: str
    params: dict[str, int] = field(default_factory=dict)

    @property
    def exact(self) -> bool:
        """True for the exact (flat) index, which needs no build step."""
        return self.kind == "Flat"


def _ivf_lists(items: int) -> int:
    """Coarse cells for an IVF index: about 4·√n, a power of two, at least 16."""
    return max(16, 2 ** round(math.log2(4 * math.sqrt(max(items, 1)))))


def _ef_search(items: int) -> int:
    """HNSW's search beam: 512 up to 250,000 designs, 1,024 above. Measured: at 25,000
    designs (``make bench``) a beam of 256 reached recall@100 only 0.969 in the ruCLIP image
    space and 0.970 in the combined one, 512 reached 0.995 and 0.993; at 1M designs 1,024
    reached recall@10 0.98 (docs/scaling.md)."""
    return min(1024, 512 * max(1, math.ceil(items / 250_000)))


def _named(name: str, items: int) -> IndexChoice | None:
    """The choice a short name stands for, with its default parameters (None: not a name)."""
    lists = _ivf_lists(items)
    probes = max(16, lists // 32)
    ef = _ef_search(items)
    return {
        "flat": IndexChoice("Flat"),
        "hnsw": IndexChoice("HNSW32,Flat", {"efSearch": ef}),
        "hnsw-sq8": IndexChoice("HNSW32,SQ8", {"efSearch": ef, "rerank": 2}),
        "hnsw-fp16": IndexChoice("HNSW32,SQfp16", {"efSearch": ef}),
        "ivf-flat": IndexChoice(f"IVF{lists},Flat", {"nprobe": probes}),
        "ivf-sq8": IndexChoice(f"IVF{lists},SQ8", {"nprobe": probes, "rerank": 2}),
    }.get(name.lower())


def auto_index(items: int) -> str:
    """The short name ``auto`` stands for at ``items`` designs."""
    if items <= EXACT_MAX_ITEMS:
        return "flat"
    return "hnsw" if items <= HNSW_MAX_ITEMS else "ivf-sq8"


def choose_index(setting: str, items: int, dim: int, params: str = "") -> IndexChoice:
    """The index for a space of ``items`` vectors of width ``dim`` under ``INDEX_TYPE``
    ``setting`` and ``INDEX_PARAMS`` ``params``; raises :class:`IndexChoiceError`."""
    setting = (setting or "auto").strip()
    if setting.lower() == "auto":
        setting = auto_index(items)
    choice = _named(setting, items) or IndexChoice(_checked_factory(setting, dim))
    if choice.kind == "Flat" and params.strip():
        raise IndexChoiceError("INDEX_PARAMS has no meaning for the exact index")
    return IndexChoice(choice.kind, {**choice.params, **parse_params(params)})


def _checked_factory(kind: str, dim: int) -> str:
    """``kind`` if FAISS's index factory accepts it for inner product at width ``dim``."""
    try:
        faiss.index_factory(dim, kind, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as exc:
        names = "auto, flat, hnsw, hnsw-sq8, hnsw-fp16, ivf-flat, ivf-sq8"
        raise IndexChoiceError(
            f"INDEX_TYPE {kind!r} is neither one of {names} nor a FAISS factory string: "
            f"{str(exc).splitlines()[-1][:200]}"
        ) from None
    return "Flat" if kind.lower() == "flat" else kind


def parse_params(text: str) -> dict[str, int]:
    """``"efSearch=256,rerank=2"`` as a dict; raises :class:`IndexChoiceError`."""
    params: dict[str, int] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = item.partition("=")
        name = name.strip()
        if name not in SEARCH_PARAMETERS or not value.strip().isdigit() or int(value) < 1:
            raise IndexChoiceError(
                f"INDEX_PARAMS item {item!r}: expected name=positive integer, "
                f"name one of {', '.join(SEARCH_PARAMETERS)}"
            )
        params[name] = int(value)
    return params
