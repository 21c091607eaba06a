"""The scale benchmark's corpus: up to a million designs with real text embeddings.

Designs are made deterministically from the demo catalogue (``fixture.synthetic_rows``
varies each demo design by a style, a colour and a donor design's tags; every
text is distinct up to 1,601 × 18 × 36 ≈ 1.04M designs), and embedded with the
offline text encoder (USE multilingual, 512-d) over their short text: title,
section and tags. The template description adds no words of its own, and leaving
it out keeps a million encodings to about half an hour on one core.

Vectors are written in chunks of 50,000 under ``build/scale/vectors/`` as they are
made, so an interrupted run resumes where it stopped and a second run starts at
once. Queries are the benchmark's shopper queries, encoded by the same model.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bench_ruclip import QUERIES
from fixture import ROOT, synthetic_rows

if TYPE_CHECKING:
    from webapp.catalog.embedding_cache import EmbeddingCache
    from webapp.catalog.products import Product

WORKDIR = ROOT / "build" / "scale"
#: the model label of corpus caches outside an app (an app's cache carries the real model id)
MODEL_LABEL = "use"
CHUNK = 50_000
SIZES = (100_000, 1_000_000)


def short_text(row: dict[str, str]) -> str:
    """What the corpus embeds of a row: title, section and tags."""
    section = " / ".join(s for s in (row["category"], row["subcategory"]) if s)
    return f"{row['title']}. {section}. {row['tags'].replace('; ', ', ')}"


def rows(items: int) -> Iterator[dict[str, str]]:
    """The first ``items`` rows of the corpus (a prefix of every larger corpus)."""
    return synthetic_rows(items)


def _chunk_path(number: int) -> Path:
    """Where chunk ``number`` of the corpus vectors lives."""
    return WORKDIR / "vectors" / f"chunk-{number:03d}.npy"


def vectors(items: int, *, threads: int = 1, log: bool = True, reverse: bool = False) -> np.ndarray:
    """The (items, 512) unit-norm float32 matrix of the first ``items`` designs, encoding
    only the chunks not on disk yet (last first when ``reverse``: a second process can
    share the work)."""
    from webapp.encoders.sentence import load_sentence_encoder
    from webapp.files import replacing

    chunks = -(-items // CHUNK)
    missing = [n for n in range(chunks) if not _chunk_path(n).is_file()]
    if missing:
        encoder = load_sentence_encoder("use", threads)
        texts = [short_text(r) for r in rows(chunks * CHUNK)]
        for number in missing[::-1] if reverse else missing:
            if _chunk_path(number).is_file():  # another process made it meanwhile
                continue
            started = time.perf_counter()
            block = texts[number * CHUNK : (number + 1) * CHUNK]
            part = encoder.encode_texts(block, batch_size=256)
            path = _chunk_path(number)
            path.parent.mkdir(parents=True, exist_ok=True)
            with replacing(path) as tmp, open(tmp, "wb") as out:
                np.save(out, part.astype(np.float32))
            if log:
                took = time.perf_counter() - started
                print(f"chunk {number + 1}/{chunks}: {took:.0f}s", flush=True)
    matrix = np.vstack([np.load(_chunk_path(n)) for n in range(chunks)])
    return np.ascontiguousarray(matrix[:items])


def write_proxy_chunks(items: int, source: Path, noise: float = 0.01) -> int:
    """Stand-in vectors for the first ``items`` designs under :data:`WORKDIR`, made from
    the real chunks already encoded under ``source`` (a 1M corpus takes hours to encode
    on a busy 2-core machine): a real chunk is linked as it is, a missing one is a real
    one (cycled) with Gaussian noise of ``noise`` per dimension, re-normalised (cosine
    ≈ 0.97 to its original). Start-up and memory do not depend on what the vectors say;
    search latencies over them are indicative only. Returns the real chunks used."""
    real = sorted(source.glob("chunk-*.npy"))
    if not real:
        raise SystemExit(f"no real chunks under {source}: run scale_corpus.py first")
    for number in range(-(-items // CHUNK)):
        path = _chunk_path(number)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            continue
        if number < len(real):
            path.symlink_to(real[number])
            continue
        base = np.load(real[number % len(real)])
        rng = np.random.default_rng(number)
        part = base + rng.normal(0.0, noise, base.shape).astype(np.float32)
        np.save(path, (part / np.linalg.norm(part, axis=1, keepdims=True)).astype(np.float32))
    return len(real)


def catalogue(items: int) -> tuple[list[Product], EmbeddingCache]:
    """The first ``items`` designs as products, and their vectors as a ``text-use`` cache
    (item digests: of the embedded text)."""
    from webapp.catalog.embedding_cache import EmbeddingCache
    from webapp.catalog.products import parse_row

    made = list(rows(items))
    products = [parse_row(r) for r in made]
    digests = [hashlib.sha1(short_text(r).encode()).hexdigest() for r in made]
    cache = EmbeddingCache(
        "text-use", MODEL_LABEL, "text", 512, [p.id for p in products], vectors(items), "", digests
    )
    return products, cache


def query_vectors() -> tuple[list[str], np.ndarray]:
    """The benchmark's shopper queries and their vectors in the corpus space."""
    from webapp.encoders.sentence import load_sentence_encoder

    queries = [q.strip() for q in QUERIES.split(";") if q.strip()]
    encoder = load_sentence_encoder("use", 1)
    return queries, np.vstack([encoder.encode_query(q) for q in queries])


def main() -> None:
    """Encode the corpus up to ``--items`` designs (resumable)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=max(SIZES))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--reverse", action="store_true", help="Encode the last chunks first.")
    args = parser.parse_args()
    matrix = vectors(args.items, threads=args.threads, reverse=args.reverse)
    print(f"{matrix.shape[0]} vectors of {matrix.shape[1]} dims ready in {WORKDIR}")


if __name__ == "__main__":
    main()
