"""The scale benchmark's servers: their folders (catalogue, cache, database, prebuilt
index, the catalogue's mapped artifacts) and workers measured in fresh processes.

A worker is ``scale_worker.py`` of a source tree: this one by default, or another
checkout of the project (``--tree``), so the same folder can be served by the code
before and after a change and measured side by side in one run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import faiss
import numpy as np

import scale_corpus
from fixture import ROOT, write_catalog
from scale_worker import app_config
from webapp.index.choice import auto_index, choose_index
from webapp.index.faiss_index import FaissIndex

if TYPE_CHECKING:
    from webapp.catalog.products import Catalog


def built_index(items: int, vectors: np.ndarray, kind: str) -> tuple[FaissIndex, dict]:
    """The index ``kind`` over the first ``items`` vectors: built once, then memory-mapped."""
    choice = choose_index(kind, items, vectors.shape[1])
    folder = scale_corpus.WORKDIR / "indexes" / str(items) / kind
    exact, ann, facts = folder / "flat.faiss", folder / "ann.faiss", folder / "facts.json"
    if not facts.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        faiss.omp_set_num_threads(os.cpu_count() or 1)  # an offline step may use every core
        started = time.perf_counter()
        index = FaissIndex.build(vectors, choice.kind, choice.params)
        build_s = time.perf_counter() - started
        faiss.omp_set_num_threads(1)  # searches are measured as a worker runs them
        index.save(exact, ann)
        sizes = {p.name: p.stat().st_size for p in (exact, ann) if p.is_file()}
        facts.write_text(json.dumps({"kind": choice.kind, "build_s": build_s, "bytes": sizes}))
        del index
    info = json.loads(facts.read_text())
    started = time.perf_counter()
    index = FaissIndex.load(exact, ann if ann.is_file() else None, choice.kind, choice.params)
    info["load_s"] = time.perf_counter() - started
    return index, info


def catalogue_artifacts(items: int) -> tuple[Path, Catalog, dict[str, Any]]:
    """The CSV of a server over ``items`` designs and its mapped artifacts, as
    ``flask --app webapp index`` writes them (rebuilt only when stale): the server's
    folder, the parsed catalogue, and the artifacts' manifest with the parse and write
    times added."""
    from webapp.catalog import artifacts
    from webapp.catalog.definitions import Definitions
    from webapp.catalog.products import read_catalog
    from webapp.search.lexical import text_analysis
    from webapp.search.settings import RankingSettings

    workdir = scale_corpus.WORKDIR / f"server-{items}"
    csv = write_catalog(workdir, items)
    started = time.perf_counter()
    catalog = read_catalog(csv)
    parse_s = time.perf_counter() - started
    embeddings = workdir / "embeddings"
    built = artifacts.read_manifest(embeddings)
    settings = RankingSettings()
    text = text_analysis(settings.words, settings.knowledge)
    definitions = Definitions.read(ROOT / "data" / "rules" / "definitions.json")
    if artifacts.staleness(built, embeddings, csv, text, definitions):
        made = artifacts.build(catalog, text, definitions)
        started = time.perf_counter()
        built = artifacts.write(embeddings, csv, made)
        built["write_seconds"] = round(time.perf_counter() - started, 2)
        built["parse_seconds"] = round(parse_s, 2)
        (embeddings / artifacts.MANIFEST).write_text(
            json.dumps(built, indent=1, ensure_ascii=False)
        )
        print(json.dumps({k: built.get(k) for k in ARTIFACT_FACTS}), flush=True)
    return workdir, catalog, built


def server_dir(items: int) -> tuple[Path, dict[str, Any]]:
    """Catalogue, cache, database, prebuilt index and the catalogue's mapped artifacts of a
    server over ``items`` designs (each rebuilt only when stale); the artifacts' manifest."""
    from webapp import create_app
    from webapp.catalog.embedding_cache import (
        CacheError,
        EmbeddingCache,
        cache_path,
        load_cache,
        save_cache,
    )
    from webapp.encoders.sentence import load_sentence_encoder
    from webapp.index.moments import load_moments, write_moments
    from webapp.index.prebuilt import read_manifest, save_index, staleness

    workdir, catalog, built = catalogue_artifacts(items)
    model = load_sentence_encoder("use", 1).model_id
    embeddings = workdir / "embeddings"
    try:
        cache = load_cache(
            cache_path(embeddings, "text-use"), model=model, catalog_fingerprint=catalog.fingerprint
        )
    except CacheError:
        _, corpus = scale_corpus.catalogue(items)
        cache = EmbeddingCache(
            "text-use", model, "text", 512, catalog.ids(), corpus.vectors, catalog.fingerprint,
            corpus.item_digests,
        )  # fmt: skip
        save_cache(cache, embeddings)
    os.environ.setdefault("INSTANCE_PATH", str(workdir / "instance"))
    create_app(app_config(workdir, "auto")).extensions["store"].sync(catalog)
    choice = choose_index("auto", items, 512)
    manifest = read_manifest(embeddings, "text-use")
    stale = staleness(manifest, embeddings, "text-use", model, catalog.fingerprint)
    if not choice.exact and (stale or manifest is None or manifest["params"] != choice.params):
        index, info = built_index(items, cache.vectors, auto_index(items))
        save_index(embeddings, cache, index, info["build_s"])
    if load_moments(embeddings, "text-use") is None:
        write_moments(embeddings, "text-use", cache.vectors)
    return workdir, built


def worker(*args: str, tree: Path = ROOT) -> subprocess.Popen:
    """Start ``scale_worker.py`` of source ``tree`` with ``args``; its JSON line comes on stdout."""
    command = [sys.executable, str(tree / "benchmarks" / "scale_worker.py"), *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


def result(process: subprocess.Popen) -> dict[str, Any]:
    """The JSON line a worker printed last."""
    out, _ = process.communicate()
    if process.returncode:
        raise SystemExit(f"a scale worker failed ({process.returncode})")
    return json.loads(out.strip().splitlines()[-1])


def read_through(path: Path) -> None:
    """Read ``path`` once, so its pages are in the page cache (not in this process)."""
    with open(path, "rb") as source:
        while source.read(1 << 24):
            pass


def bench_server(
    items: int, queries: list[str], trees: dict[str, Path], workers: int = 1
) -> dict[str, Any]:
    """Server workers over ``items`` designs, for each source tree in ``trees`` (label →
    checkout): start-up by step, memory, ``/api/search``; ``workers`` of them at once."""
    workdir, manifest = server_dir(items)
    for path in (workdir / "embeddings").rglob("*.*"):  # a server that has run a while
        if path.suffix in (".faiss", ".npy"):  # finds its files in the page cache
            read_through(path)
    listing = scale_corpus.WORKDIR / "queries.json"
    listing.write_text(json.dumps(queries, ensure_ascii=False), encoding="utf-8")
    facts = {k: manifest.get(k) for k in ARTIFACT_FACTS}
    sizes: dict[str, float] = {}
    for name, size in manifest["bytes"].items():  # MiB per artifact: table, lexicon, …
        sizes[name.split(".")[0]] = sizes.get(name.split(".")[0], 0) + size / 2**20
    report: dict[str, Any] = {"artifacts": facts | {"disk_mib": sizes}}
    print(json.dumps(report), flush=True)
    for label, tree in trees.items():
        hold = "--hold=10" if workers > 1 else "--hold=0"
        started = [
            worker(f"--workdir={workdir}", f"--queries={listing}", hold, tree=tree)
            for _ in range(workers)
        ]
        report[label] = [result(w) for w in started]
        for number, measured in enumerate(report[label]):
            print(json.dumps({"tree": label, "worker": number, **measured}), flush=True)
    return report


#: what the report keeps of the catalogue artifacts' manifest
ARTIFACT_FACTS = (
    "items", "vocabulary", "postings", "build_seconds", "build_steps", "write_seconds",
    "parse_seconds",
)  # fmt: skip
