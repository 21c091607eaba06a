"""One benchmark configuration in one process, as a server worker runs it.

``create_app`` + ``warm_up``, then requests through the Flask test client: for every
query, ours uncached, ours cached, the naive route, the JSON API and ``/healthz``,
interleaved so they share the machine's noise; then per-stage micro-timings.
"""

from __future__ import annotations

import argparse
import gc
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench_ruclip import timed
from fixture import bench_config, bench_queries
from naive import naive_blueprint


@dataclass
class Sample:
    """One request: wall-clock ms and the per-stage ms the app recorded."""

    total: float
    stages: dict[str, float]
    hits: int


class RenderClock:
    """Per-request stage timings: the search core's own plus the template render."""

    def __init__(self, app: Any) -> None:
        """Listen to ``app``'s template signals."""
        from flask import before_render_template, template_rendered

        self.started = 0.0
        self.stages: dict[str, float] = {}
        self.hits = 0
        before_render_template.connect(self._before, app)
        template_rendered.connect(self._after, app)

    def _before(self, sender: Any, template: Any, context: dict[str, Any], **extra: Any) -> None:
        self.started = time.perf_counter()

    def _after(self, sender: Any, template: Any, context: dict[str, Any], **extra: Any) -> None:
        render = (time.perf_counter() - self.started) * 1e3
        result = context.get("result")
        self.stages = {**(result.timings if result else {}), "render": render}
        self.hits = len(result.hits) if result else 0

    def get(self, client: Any, path: str, query: str) -> Sample:
        """GET ``path?q=query`` and return its timings."""
        self.stages, self.hits = {}, 0
        start = time.perf_counter()
        response = client.get(path, query_string={"q": query})
        total = (time.perf_counter() - start) * 1e3
        if response.status_code != 200:
            raise SystemExit(f"{path}?q={query} answered {response.status_code}")
        return Sample(total, dict(self.stages), self.hits)


def micro_stages(engine: Any, queries: Sequence[str]) -> dict[str, list[float]]:
    """Per-space encode and kNN, and both tokenisers, on cold caches, outside a request."""
    spaces = [
        engine.space(name)
        for name, described in engine.describe()["spaces"].items()
        if described["text_queries"] and engine.space(name).searchable
    ]
    clip = next(s.encoder for s in spaces if s.name.startswith("ruclip"))
    indexes = {name: d["index"] for name, d in engine.describe()["spaces"].items()}
    out: dict[str, list[float]] = {}

    def add(name: str, fn: Callable[[], object]) -> None:
        out.setdefault(name, []).append(timed(fn))

    for q in queries:
        engine.clear_caches()
        text = engine.understand(q).text or q
        add("tokenise: ruclip processor (77 ids)", lambda q=q: clip.processor(text=[q]))
        add("tokenise: ours (real ids)", lambda text=text: clip.tokenize(text))
        vectors = {}
        for space in spaces:
            if space.encoder.model_id in vectors:
                continue  # one encoder behind several spaces: encoded once per query
            encoder = space.encoder
            label = (
                f"encode: ruclip query tower ({encoder.query_runtime})"
                if encoder is clip
                else f"encode: {space.name}"
            )
            start = time.perf_counter()
            vectors[encoder.model_id] = encoder.encode_query(text)
            out.setdefault(label, []).append((time.perf_counter() - start) * 1e3)
        for space in spaces:
            vector = vectors[space.encoder.model_id]
            add(
                f"kNN: {space.name} ({indexes[space.name]}, k=100)",
                lambda name=space.name, v=vector: engine.nearest(v, 100, space=name),
            )
    return out


def run_worker(args: argparse.Namespace) -> dict[str, Any]:
    """Measure one configuration (``fp32:1`` …) in this process; return the samples."""
    import torch

    from webapp import create_app
    from webapp.lifecycle import warm_up

    tower, threads = args.worker.split(":")
    started = time.perf_counter()
    os.environ.setdefault("INSTANCE_PATH", str(args.workdir / "instance"))
    app = create_app(
        bench_config(
            args.workdir,
            args.model_dir,
            quantize=tower.endswith("int8"),
            threads=int(threads),
            runtime="onnxruntime" if tower.startswith("ort-") else "torch",
        )
    )
    engine = warm_up(app)
    startup = time.perf_counter() - started
    clip = engine.space("ruclip-image").encoder
    app.register_blueprint(naive_blueprint(engine, clip))
    client, clock = app.test_client(), RenderClock(app)
    queries = bench_queries(args.queries)
    for q in ("котик", "ёлка", "rjn", "🐓"):  # warm-up: allocator, thread pools, kernels
        clock.get(client, "/search", q)
        clock.get(client, "/naive-search", q)
    samples: dict[str, list[Sample]] = {
        "uncached": [],
        "cached": [],
        "naive": [],
        "api cached": [],  # GET /api/search, same query again: JSON, no template
        "healthz": [],  # GET /healthz: the per-request floor of Flask and its middleware
    }
    gc.collect()
    for q in queries:  # interleaved, so all three paths share the machine's noise
        engine.clear_caches()
        samples["uncached"].append(clock.get(client, "/search", q))
        for _ in range(args.cached_repeats):
            samples["cached"].append(clock.get(client, "/search", q))
        samples["naive"].append(clock.get(client, "/naive-search", q))
        samples["api cached"].append(clock.get(client, "/api/search", q))
        samples["healthz"].append(clock.get(client, "/healthz", q))
    return {
        "config": args.worker,
        "tower": tower,
        "threads": int(threads),
        "torch_threads": torch.get_num_threads(),
        "quantized": bool(clip.quantized),
        "runtime": clip.query_runtime,
        "startup_s": round(startup, 1),
        "queries": len(queries),
        "load_average": os.getloadavg()[0],
        "e2e": {k: [s.total for s in v] for k, v in samples.items()},
        "stages": {k: _stage_lists(v) for k, v in samples.items()},
        "answered": sum(s.hits > 0 for s in samples["uncached"]) / len(queries),
        "indexes": {  # what each searched space is served by
            name: f"{d['index']} {d['params'] or ''}".strip()
            for name, d in engine.describe()["spaces"].items()
            if d["text_queries"] and engine.space(name).searchable
        },
        "micro": micro_stages(engine, queries),
        "agreement": exact_agreement(engine, clip, queries),
    }


def exact_agreement(engine: Any, clip: Any, queries: Sequence[str]) -> dict[str, float]:
    """How much of each query's top 10 the exact path also ranks in its top 10.

    The exact path is the fp32 torch query tower over exact flat indexes (the same
    vectors); ours is the configuration as served. Run last: it swaps the engine's
    tower and indexes for the exact ones in this process.
    """
    from webapp.index.faiss_index import FaissIndex
    from webapp.search.results import SearchRequest

    def top10() -> list[list[str]]:
        engine.clear_caches()
        return [
            [h.product.id for h in engine.search(SearchRequest(q, per_page=10)).shown]
            for q in queries
        ]

    ours = top10()
    clip.query_tower = clip.text_tower
    indexes = engine.ranker.spaces.indexes
    for name, index in list(indexes.items()):
        indexes[name] = FaissIndex.exact_over(np.asarray(index.vectors), use_gpu=False)
    exact = top10()
    shared = [len(set(a) & set(b)) / len(b) for a, b in zip(ours, exact, strict=True) if b]
    return {
        "overlap@10": float(np.mean(shared)) if shared else 1.0,
        "identical": sum(a == b for a, b in zip(ours, exact, strict=True)) / len(queries),
        "answered_differently": sum(bool(a) != bool(b) for a, b in zip(ours, exact, strict=True)),
    }


def _stage_lists(samples: Sequence[Sample]) -> dict[str, list[float]]:
    """Stage name → its ms in every sample (0 where a request skipped the stage)."""
    names = list(dict.fromkeys(name for s in samples for name in s.stages))
    return {name: [s.stages.get(name, 0.0) for s in samples] for name in names}
