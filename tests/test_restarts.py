"""Restarts and replaced workers under a real gunicorn on the demo, with clients searching
all along: the operator's restart command (``python -m webapp.restart``) fails no request
and leaves no silence longer than a second, in both process models; a broken deploy is
refused while the previous version keeps serving; a SIGKILLed worker is replaced by one
that answers, sharing the master's engine instead of loading its own."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from webapp.restart import memory, read_state, ready_workers

from .conftest import ROOT, database_url
from .serving import Server, get, gunicorn, hammer, search_path, server_env

pytestmark = pytest.mark.faults

PATHS = [
    search_path(q, k=10)
    for q in ("петух", "котёнок в шляпе", "новогодний узор", "цветок", "машина", "сердце")
]
#: the longest a shopper may wait for the site to answer anything during a restart; without
#: preloading, each new worker loads its engine on one of the two cores the serving
#: workers need (bench-boot: 0.11 s on a quiet minute, 1.24 s at load average 5.5)
MAX_SILENCE_S = {"1": 1.0, "0": 2.0}


def _restart(server: Server, instance: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """The operator's command, as typed, against ``server``'s pid file."""
    return subprocess.run(
        [sys.executable, "-m", "webapp.restart", "--timeout", str(timeout)],
        cwd=ROOT,
        env={**os.environ, "INSTANCE_PATH": str(instance), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=timeout + 30,
        check=False,
    )


def _wait_for(condition, timeout: float, what: str) -> None:  # noqa: ANN001 - a callable
    """Poll ``condition`` until it holds (generous timeouts: these machines are shared)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


@pytest.mark.parametrize("preload", ["1", "0"], ids=["preloaded", "per-worker"])
def test_a_restart_under_traffic_fails_no_request_and_leaves_no_silence(
    tmp_path: Path, preload: str
) -> None:
    env = server_env(tmp_path, database_url(tmp_path), GUNICORN_PRELOAD=preload)
    with gunicorn(tmp_path, env, boot_timeout=180) as server:
        before = set(server.worker_pids())
        with hammer(server, PATHS, threads=4, max_seconds=400) as traffic:
            time.sleep(2)
            started = time.monotonic()
            done = _restart(server, tmp_path / "instance")
            ended = time.monotonic()
            time.sleep(2)  # the new workers answer on their own
        after = set(server.worker_pids())
        state = read_state(tmp_path / "instance" / "gunicorn.pid")
    assert done.returncode == 0, done.stderr + done.stdout
    assert len(after) == 2 and not after & before, (before, after)
    assert state["preload"] is (preload == "1")
    assert not traffic.errors, traffic.errors[:5]
    assert traffic.ok > 50
    assert traffic.longest_silence(started, ended + 2) <= MAX_SILENCE_S[preload]


def test_a_broken_deploy_is_refused_and_the_next_good_one_is_served(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    env = server_env(tmp_path, database_url(tmp_path))
    with gunicorn(tmp_path, env) as server:
        first = set(server.worker_pids())
        with hammer(server, PATHS, threads=2, max_seconds=400) as traffic:
            # new settings that cannot load: the master keeps the app it has
            (instance / "config.py").write_text("raise RuntimeError('a broken deploy')\n")
            refused = _restart(server, instance)
            status, body = get(server, search_path("петух"))
            # a good one: PAGE_SIZE is read again, so the default page changes
            (instance / "config.py").write_text("PAGE_SIZE = 3\n")
            accepted = _restart(server, instance)
            page = json.loads(get(server, search_path("кот"))[1])
        last = set(server.worker_pids())
        log = server.output()
    assert refused.returncode == 1
    assert "restart refused, still serving the previous version" in refused.stderr
    assert "a broken deploy" in refused.stderr and "a broken deploy" in log
    assert status == 200 and json.loads(body)["results"]
    assert accepted.returncode == 0, accepted.stderr
    assert len(page["results"]) == 3
    assert not traffic.errors, traffic.errors[:5]
    assert len(last) == 2 and last.isdisjoint(first)


def test_a_sigkilled_worker_is_replaced_by_a_fork_that_answers_at_once(tmp_path: Path) -> None:
    env = server_env(tmp_path, database_url(tmp_path), WEB_CONCURRENCY="1")
    pidfile = tmp_path / "instance" / "gunicorn.pid"
    with gunicorn(tmp_path, env) as server:
        [killed] = server.worker_pids()
        master = memory(server.process.pid)
        os.kill(killed, signal.SIGKILL)
        _wait_for(lambda: ready_workers(pidfile, server.process.pid) - {killed}, 60, "a new worker")
        _wait_for(lambda: get(server, search_path("петух"))[0] == 200, 60, "an answer")
        [replacement] = server.worker_pids()
        own = memory(replacement)
    assert replacement != killed
    assert master is not None and own is not None
    # forked from the master that holds the engine: its own memory is a sliver of the
    # master's (a worker that loads its own engine holds over 500 MiB)
    assert own.own < 0.25 * master.rss, (own, master)


def test_a_worker_over_the_memory_guard_is_replaced_between_requests(tmp_path: Path) -> None:
    """``GUNICORN_WORKER_MAX_MB``: a worker whose own memory passes it finishes the request
    and leaves, and a fresh fork takes over; no request fails (here every worker is over a
    1 MiB limit, looked at every 20 requests; the readiness probes count too)."""
    env = server_env(
        tmp_path,
        database_url(tmp_path),
        WEB_CONCURRENCY="1",
        GUNICORN_WORKER_MAX_MB="1",
        GUNICORN_MEMORY_CHECK_EVERY="20",
    )
    with gunicorn(tmp_path, env) as server:
        [first] = server.worker_pids()
        statuses = []
        for n in range(30):
            statuses.append(get(server, search_path(f"петух {n}"))[0])
            if n == 25:
                _wait_for(lambda: first not in server.worker_pids(), 60, "the guard")
        log = server.output()
    assert statuses == [200] * 30
    assert "replacing it" in log and f"worker {first} holds" in log
