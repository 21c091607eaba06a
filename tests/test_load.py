"""Load: wrk against gunicorn on 127.0.0.1 over a mixed query set, bounded in time.

Two phases on the same server: *cached* (the dev queries, repeated: the ranker's
per-query cache answers them after the first time) and *uncached* (every query
unique, so each one is understood, encoded, searched and fused). The test
asserts zero errors; the numbers (p50, p95, req/s) are printed and written to
``reports/load/latest.json``, never asserted: they depend on the machine.
``LOAD_SECONDS`` sets the cached phase's length (default 60; the uncached one is a third).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import urllib.parse
from pathlib import Path

import pytest

from .conftest import ROOT, database_url
from .serving import get, gunicorn, require_tool, server_env

#: wrk script: walks a file of request paths round-robin and reports percentiles as JSON.
WRK_SCRIPT = """
local paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
local counter = 0
function setup(thread)
  thread:set("offset", counter * 7919)
  counter = counter + 1
end
function init(args) i = offset end
function request()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('RESULT {"requests": %%d, "seconds": %%.3f, "rps": %%.1f, ' ..
    '"p50_ms": %%.2f, "p95_ms": %%.2f, "p99_ms": %%.2f, "max_ms": %%.2f, "non_2xx": %%d, ' ..
    '"socket_errors": %%d}\\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, e.status,
    e.connect + e.read + e.write + e.timeout))
end
"""


def dev_queries() -> list[str]:
    """The 111 development queries: words, phrases, emoji, typos, wrong layout, nonsense."""
    lines = (ROOT / "data" / "eval" / "dev_queries.jsonl").read_text().splitlines()
    return [json.loads(line)["query"] for line in lines if line.strip()]


def mixed_paths(queries: list[str]) -> list[str]:
    """API searches, with some search pages and some filtered or sorted searches mixed in."""
    paths = []
    for i, q in enumerate(queries):
        if i % 5 == 0:
            paths.append("/search?" + urllib.parse.urlencode({"q": q}))
        elif i % 7 == 0:
            paths.append(
                "/api/search?"
                + urllib.parse.urlencode({"q": q, "sort": "price_asc", "price_max": 1500, "k": 12})
            )
        else:
            paths.append("/api/search?" + urllib.parse.urlencode({"q": q}))
    return paths


def unique_queries(count: int, seed: int = 5) -> list[str]:
    """``count`` distinct two-word queries built from words of the dev set."""
    words = sorted({w for q in dev_queries() for w in q.split() if w.isalpha() and len(w) > 2})
    pairs = [f"{a} {b}" for a in words for b in words if a != b]
    random.Random(seed).shuffle(pairs)
    return pairs[:count]


def run_wrk(
    tmp: Path, base: str, paths: list[str], *, seconds: int, connections: int = 16, threads: int = 1
) -> dict[str, float]:
    """Run wrk for ``seconds`` over ``paths``; return its summary."""
    wrk = require_tool("wrk")
    paths_file = tmp / f"paths-{len(paths)}-{seconds}.txt"
    paths_file.write_text("\n".join(paths) + "\n")
    script = tmp / "mixed.lua"
    script.write_text(WRK_SCRIPT % {"paths": paths_file})
    out = subprocess.run(
        [
            wrk,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            base,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


@pytest.mark.load
def test_gunicorn_sustains_a_minute_of_mixed_search_traffic_without_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seconds = int(os.environ.get("LOAD_SECONDS", "60"))
    require_tool("wrk")
    env = server_env(tmp_path, database_url(tmp_path), GUNICORN_ACCESS_LOG=str(tmp_path / "a.log"))
    with gunicorn(tmp_path, env) as server:
        cached_paths = mixed_paths(dev_queries())
        for path in cached_paths * 2:  # fill both workers' caches, as a live shop would have
            assert get(server, path)[0] == 200, path
        cached = run_wrk(tmp_path, server.base, cached_paths, seconds=seconds)
        fresh = unique_queries(int(seconds * 400))
        uncached = run_wrk(
            tmp_path,
            server.base,
            ["/api/search?" + urllib.parse.urlencode({"q": q}) for q in fresh],
            seconds=max(5, seconds // 3),
        )
        assert server.process.poll() is None  # no worker died, the master still runs
        metrics = get(server, "/metrics")[1].decode()

    report = {
        "cached": cached,
        "uncached": uncached,
        "workers": env["WEB_CONCURRENCY"],
        "threads": env["GUNICORN_THREADS"],
        "connections": 16,
        "cpus": os.cpu_count(),
    }
    out = ROOT / "reports" / "load"
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    with capsys.disabled():
        for name in ("cached", "uncached"):
            r = report[name]
            print(
                f"\nload {name:>8}: {r['rps']:.0f} req/s, p50 {r['p50_ms']:.1f} ms, "
                f"p95 {r['p95_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms over {r['requests']} "
                f"requests ({r['non_2xx']} non-2xx, {r['socket_errors']} socket errors)"
            )

    for name in ("cached", "uncached"):
        assert report[name]["requests"] > 0
        assert report[name]["non_2xx"] == 0, report
        assert report[name]["socket_errors"] == 0, report
    assert 'http_requests_total{endpoint="api.search",method="GET",status="500"}' not in metrics
