"""Keeping one space's Milvus collection in step with its embedding cache.

A collection holds one row per product: primary key ``id`` (the product id), the
cache's item ``digest``, the ``category`` and ``price`` the shopper filters on, and
the ``vector``, under a FLAT inner-product index (exact search). :func:`sync`
compares what the collection holds with the catalogue and the cache, upserts only
the rows whose digest, category or price changed, deletes the products that left,
loading the collection once (first: reading it back needs that) and flushing once.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from pymilvus import DataType, MilvusClient

from ..catalog.embedding_cache import EmbeddingCache
from ..catalog.products import Product

log = logging.getLogger(__name__)

#: rows per upsert call (512 floats each: about 2 MB a batch, far below gRPC's limit)
BATCH = 1_000
#: rows per page when reading the collection's ids and digests back
READ_BATCH = 5_000
#: VARCHAR widths: product ids and digests are short; categories are shop text
ID_LENGTH, DIGEST_LENGTH, CATEGORY_LENGTH = 256, 64, 1_024
#: the scalar fields read back to decide what changed
STATE_FIELDS = ["id", "digest", "category", "price"]
#: the collection property naming the space, model and width its vectors are
MANIFEST = "stezhok.manifest"


@dataclass
class SyncReport:
    """What :func:`sync` did, and how long each part took (seconds)."""

    collection: str
    upserted: int = 0
    deleted: int = 0
    unchanged: int = 0
    recreated: bool = False
    seconds: dict[str, float] = field(default_factory=dict)

    def __str__(self) -> str:
        """One line for the log and the CLI."""
        times = ", ".join(f"{part} {secs:.2f} s" for part, secs in self.seconds.items())
        return (
            f"{self.collection}: {self.upserted} upserted, {self.deleted} deleted, "
            f"{self.unchanged} unchanged{' (recreated)' if self.recreated else ''} [{times}]"
        )


def collection_name(space: str) -> str:
    """The collection of ``space``: Milvus allows letters, digits and ``_``, a letter
    or ``_`` first, at most 255 characters."""
    name = "space_" + re.sub(r"[^0-9A-Za-z_]", "_", space)
    return name[:255]


def manifest(cache: EmbeddingCache) -> str:
    """The collection's manifest: which space, model and width its vectors are."""
    return json.dumps({"space": cache.space, "model": cache.model, "dim": cache.dim})


def sync(
    client: MilvusClient, name: str, products: Sequence[Product], cache: EmbeddingCache
) -> SyncReport:
    """Bring collection ``name`` in step with ``products`` (row order) and ``cache``."""
    report = SyncReport(name)
    with _timed(report, "load"):  # once, first: reading the ids back needs it loaded
        report.recreated = _ensure_collection(client, name, cache)
        client.load_collection(name)
    with _timed(report, "read"):
        held = _held_state(client, name)
    wanted = {
        p.id: (d, p.category, p.price) for p, d in zip(products, cache.item_digests, strict=True)
    }
    changed = [row for row, p in enumerate(products) if held.get(p.id) != wanted[p.id]]
    gone = [pid for pid in held if pid not in wanted]
    with _timed(report, "upsert"):
        for start in range(0, len(changed), BATCH):
            batch = changed[start : start + BATCH]
            client.upsert(name, _entities(batch, products, cache))
    with _timed(report, "delete"):
        for start in range(0, len(gone), BATCH):
            client.delete(name, ids=gone[start : start + BATCH])
    with _timed(report, "flush"):
        client.flush(name)
    report.upserted, report.deleted = len(changed), len(gone)
    report.unchanged = len(products) - len(changed)
    log.info("Milvus sync %s", report)
    return report


def _ensure_collection(client: MilvusClient, name: str, cache: EmbeddingCache) -> bool:
    """Create collection ``name`` for ``cache``'s vectors; one built for another model
    or width is dropped first. True when the collection was (re)created."""
    if client.has_collection(name):
        properties = client.describe_collection(name).get("properties") or {}
        if properties.get(MANIFEST) == manifest(cache):
            return False
        log.warning("Milvus: %s holds another model's vectors; rebuilding it", name)
        client.drop_collection(name)
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=ID_LENGTH)
    schema.add_field("digest", DataType.VARCHAR, max_length=DIGEST_LENGTH)
    schema.add_field("category", DataType.VARCHAR, max_length=CATEGORY_LENGTH)
    schema.add_field("price", DataType.INT64)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=cache.dim)
    index = client.prepare_index_params()
    # FLAT: exact inner product, so a filtered search returns k rows whenever k pass.
    index.add_index("vector", index_type="FLAT", metric_type="IP")
    client.create_collection(
        name,
        schema=schema,
        index_params=index,
        consistency_level="Strong",
        properties={MANIFEST: manifest(cache)},
    )
    return True


def _held_state(client: MilvusClient, name: str) -> dict[str, tuple[str, str, int]]:
    """What the collection holds now: id → (digest, category, price)."""
    held: dict[str, tuple[str, str, int]] = {}
    pages = client.query_iterator(name, batch_size=READ_BATCH, output_fields=STATE_FIELDS)
    try:
        while page := pages.next():
            for e in page:
                held[e["id"]] = (e["digest"], e["category"], int(e["price"]))
    finally:
        pages.close()
    return held


def _entities(
    rows: Sequence[int], products: Sequence[Product], cache: EmbeddingCache
) -> list[dict[str, object]]:
    """The collection rows of catalogue ``rows``."""
    vectors = np.asarray(cache.vectors[list(rows)], dtype=np.float32)
    return [
        {
            "id": products[row].id,
            "digest": cache.item_digests[row],
            "category": products[row].category,
            "price": int(products[row].price),
            "vector": vector.tolist(),
        }
        for row, vector in zip(rows, vectors, strict=True)
    ]


@contextmanager
def _timed(report: SyncReport, part: str) -> Iterator[None]:
    """Record how long the block took as ``report.seconds[part]``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        report.seconds[part] = round(time.perf_counter() - start, 3)
