"""A real gunicorn on 127.0.0.1 for the load and fault tests, plus a small bounded HTTP driver.

Everything here talks to loopback only, and every loop is bounded in time.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"


def require_tool(name: str) -> str:
    """The path of a system tool; skip without it, unless CI demands it (REQUIRE_SERVICES=1)."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (make services installs it)"
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    """A TCP port nobody listens on at the moment."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running gunicorn master and where its output goes."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        """The server's root URL."""
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        """Everything gunicorn and the app wrote so far."""
        return self.log.read_text(errors="replace")

    def worker_pids(self) -> list[int]:
        """PIDs of the master's live worker processes."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(p) for p in children.read_text().split()] if children.exists() else []


def server_env(tmp: Path, database_url: str, **extra: str) -> dict[str, str]:
    """Environment for a production-like server over the demo catalogue."""
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(
        {
            "APP_ENV": "production",
            "SECRET_KEY": "test-" + "k" * 40,
            "DATABASE_URL": database_url,
            "INSTANCE_PATH": str(tmp / "instance"),
            "RATELIMIT_ENABLED": "0",
            "RELOAD_POLL_SECONDS": "1",
            "WEB_CONCURRENCY": "2",
            "GUNICORN_THREADS": "4",
            "PYTHONPATH": str(ROOT),
        }
    )
    env.update(extra)
    return env


@contextmanager
def gunicorn(
    tmp: Path, env: dict[str, str], *, wait_ready: bool = True, boot_timeout: float = 90
) -> Iterator[Server]:
    """Run ``gunicorn -c gunicorn.conf.py wsgi:app`` on a free loopback port; stop it after."""
    port = free_port()
    log = tmp / f"gunicorn-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(GUNICORN), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(process, port, log)
    try:
        if wait_ready:
            wait_until_ready(server, boot_timeout)
        yield server
    finally:
        stop(server)


def wait_until_ready(server: Server, timeout: float) -> None:
    """Block until every worker answers /readyz (or fail with gunicorn's output)."""
    deadline = time.monotonic() + timeout
    ready_streak = 0
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(
                f"gunicorn exited {server.process.returncode}:\n{server.output()[-4000:]}"
            )
        status, _ = get(server, "/readyz", timeout=2)
        ready_streak = ready_streak + 1 if status == 200 else 0
        if ready_streak >= 6:  # several answers in a row: both workers are up
            return
        time.sleep(0.25)
    raise AssertionError(f"gunicorn not ready in {timeout}s:\n{server.output()[-4000:]}")


def stop(server: Server) -> None:
    """Stop gunicorn gracefully, then for sure."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=10)


def get(server: Server, path: str, timeout: float = 10) -> tuple[int, bytes]:
    """One GET on a fresh connection; (0, error text) when the connection failed."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException) as exc:
        return 0, repr(exc).encode()
    finally:
        conn.close()


def search_path(query: str, **params: object) -> str:
    """``/api/search`` for ``query`` (and parameters), URL-encoded."""
    return "/api/search?" + urllib.parse.urlencode({"q": query, **params})


def result_ids(body: bytes) -> tuple[str, ...]:
    """The ranked ids of an /api/search answer."""
    return tuple(hit["id"] for hit in json.loads(body)["results"])


@dataclass
class Traffic:
    """What a bounded stream of requests got back."""

    statuses: list[int] = field(default_factory=list)
    bodies: list[tuple[str, bytes]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: when each answer with status 200 arrived (``time.monotonic()``)
    answered_at: list[float] = field(default_factory=list)

    @property
    def ok(self) -> int:
        """Answers with status 200."""
        return sum(1 for s in self.statuses if s == 200)

    def longest_silence(self, start: float, end: float) -> float:
        """The longest stretch between ``start`` and ``end`` without a successful answer."""
        times = sorted(t for t in self.answered_at if start <= t <= end)
        edges = [start, *times, end]
        return max(b - a for a, b in zip(edges, edges[1:], strict=False))


@contextmanager
def hammer(
    server: Server, paths: list[str], *, threads: int = 4, max_seconds: float = 60
) -> Iterator[Traffic]:
    """Send GETs over ``paths`` from ``threads`` threads until the block ends (bounded)."""
    traffic = Traffic()
    stop_at = [time.monotonic() + max_seconds]
    lock = threading.Lock()

    def run(offset: int) -> None:
        i = offset
        while time.monotonic() < stop_at[0]:
            path = paths[i % len(paths)]
            i += threads
            status, body = get(server, path)
            with lock:
                traffic.statuses.append(status)
                if status == 200:
                    traffic.bodies.append((path, body))
                    traffic.answered_at.append(time.monotonic())
                else:
                    traffic.errors.append(f"{status} {path}: {body[:200]!r}")

    workers = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(threads)]
    for worker in workers:
        worker.start()
    try:
        yield traffic
    finally:
        stop_at[0] = 0
        for worker in workers:
            worker.join(timeout=30)
