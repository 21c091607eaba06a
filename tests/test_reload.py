"""The engine's life in a server: hot reloads swap a complete new engine in (or keep the
old one when the new caches are broken), and gunicorn's settings (the master preloads
the engine on CPU, each worker loads its own when CUDA may be used)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from webapp import create_app
from webapp.lifecycle import reload, warm_up, watch_reloads
from webapp.search.results import SearchRequest

from .conftest import ROOT, database_url
from .helpers import write_rolled_cache
from .metrics import metric

CACHES = sorted((ROOT / "embeddings").glob("*.pkl"))


# --- hot reload ----------------------------------------------------------------------------
def _write_variant(src: Path, dst: Path, shift: int) -> None:
    """Copy the demo caches into ``dst``, rows rolled by ``shift`` (same manifest, new answers)."""
    for path in CACHES:
        write_rolled_cache(path, dst, shift)


def _ids(engine, query: str) -> tuple[str, ...]:
    return tuple(h.product.id for h in engine.search(SearchRequest(query, per_page=10)).hits)


def test_concurrent_searches_never_see_a_half_loaded_index_during_reloads(tmp_path) -> None:
    caches = tmp_path / "embeddings"
    _write_variant(ROOT / "embeddings", caches, 0)
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url(tmp_path),
            "EMBEDDINGS_DIR": str(caches),
            "RATELIMIT_ENABLED": False,
        }
    )
    queries = ["котёнок", "цветок", "машина", "праздник"]
    engine_a = warm_up(app)
    _write_variant(ROOT / "embeddings", caches, 7)
    engine_b = reload(app)
    allowed = {q: {_ids(engine_a, q), _ids(engine_b, q)} for q in queries}
    assert all(len(answers) == 2 for answers in allowed.values())  # the variants differ

    seen: list[tuple[str, tuple[str, ...]]] = []
    failures: list[BaseException] = []
    done = threading.Event()

    def shopper() -> None:
        client = app.test_client()
        while not done.is_set():
            for q in queries:
                response = client.get(f"/api/search?q={q}&k=10")
                if response.status_code != 200:
                    failures.append(AssertionError(f"{response.status_code} {response.text}"))
                seen.append((q, tuple(r["id"] for r in response.json["results"])))
            time.sleep(0.05)  # leave the reloading thread the GIL now and then

    threads = [threading.Thread(target=shopper) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        for shift in (0, 7, 0, 7):  # replace the files on disk, then reload, four times
            _write_variant(ROOT / "embeddings", caches, shift)
            reload(app)
    finally:
        done.set()
        for thread in threads:
            thread.join(timeout=60)
    assert not failures
    assert len(seen) > 20
    assert all(ids in allowed[q] for q, ids in seen)
    assert _ids(app.extensions["search"], queries[0]) == _ids(engine_b, queries[0])


def test_a_failed_reload_keeps_serving_the_previous_engine(tmp_path, caplog) -> None:
    caches = tmp_path / "embeddings"
    _write_variant(ROOT / "embeddings", caches, 0)
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url(tmp_path),
            "EMBEDDINGS_DIR": str(caches),
            "RELOAD_POLL_SECONDS": 0.2,
            "RELOAD_STAMP": str(tmp_path / "reload.stamp"),
        }
    )
    engine = warm_up(app)
    for cache in caches.glob("*.pkl"):
        cache.write_bytes(b"\x80\x05 not a pickle at all")
    watch_reloads(app)
    time.sleep(0.3)
    with caplog.at_level(logging.ERROR, logger="webapp.lifecycle"):
        result = app.test_cli_runner().invoke(args=["reload"])
        assert result.exit_code == 0 and "reload requested" in result.output
        deadline = time.monotonic() + 10
        while "reload failed" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
    assert "reload failed" in caplog.text and "corrupt" in caplog.text
    assert app.extensions["search"] is engine
    assert app.test_client().get("/api/search?q=петух").status_code == 200
    assert (
        metric(
            app.test_client().get("/metrics").text, "search_engine_reloads_total", outcome="failed"
        )
        >= 1
    )


# --- gunicorn configuration ------------------------------------------------------------------
def _gunicorn_settings(**env: str) -> dict[str, object]:
    """The settings gunicorn.conf.py yields under ``env`` (read in a clean subprocess)."""
    code = (
        "import json, runpy; c = runpy.run_path('gunicorn.conf.py'); "
        "print(json.dumps({k: v for k, v in c.items() if isinstance(v, (int, str, bool))}))"
    )
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PROMETHEUS_MULTIPROC_DIR", "HOST", "PORT", "WEB_CONCURRENCY"}
    }
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


def test_gunicorn_binds_loopback_5000_and_preloads_the_models_on_cpu_only() -> None:
    settings = _gunicorn_settings()
    assert settings["bind"] == "127.0.0.1:5000"
    assert settings["preload_app"] is True  # the master loads once, workers are forked
    assert _gunicorn_settings(DEVICE="cuda")["preload_app"] is False  # CUDA cannot cross fork
    assert _gunicorn_settings(GUNICORN_PRELOAD="0")["preload_app"] is False
    assert settings["worker_class"] == "gthread" and settings["accesslog"] == "-"
    assert settings["workers"] == (os.cpu_count() or 2) and settings["timeout"] >= 30


def test_gunicorn_settings_follow_the_environment() -> None:
    settings = _gunicorn_settings(
        HOST="0.0.0.0",
        PORT="8080",
        WEB_CONCURRENCY="3",
        GUNICORN_THREADS="2",
        PROMETHEUS_MULTIPROC_DIR="/tmp/x",
    )
    assert (settings["bind"], settings["workers"], settings["threads"]) == ("0.0.0.0:8080", 3, 2)
