"""No acknowledged event is lost: a gunicorn worker SIGKILLed under load leaves its spool,
which is replayed, and every search that got a 200 is stored exactly once."""

from __future__ import annotations

import http.client
import os
import re
import signal
import threading
import time
import urllib.parse
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from webapp.analytics import SearchEvent
from webapp.tables import QueryTotal

from .conftest import database_url
from .serving import Server, get, gunicorn, server_env

pytestmark = pytest.mark.faults

QUERIES = ["петух", "котёнок в шляпе", "новогодний узор", "цветок", "ъъъжжжщщ", "сердце"]


class Shoppers:
    """Threads searching with a request id of their own, noting which got a 200."""

    def __init__(self, server: Server, threads: int = 4) -> None:
        self.server, self.acknowledged, self.failed = server, set[str](), 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(threads)
        ]

    def __enter__(self) -> Shoppers:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _run(self, offset: int) -> None:
        n = offset
        deadline = time.monotonic() + 240  # bounded, whatever happens
        while not self._stop.is_set() and time.monotonic() < deadline:
            rid = f"t{offset}-{n}"
            query = urllib.parse.quote(QUERIES[n % len(QUERIES)])
            n += len(self._threads)
            conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
            try:
                conn.request("GET", f"/api/search?q={query}", headers={"X-Request-ID": rid})
                response = conn.getresponse()
                response.read()
                ok = response.status == 200 and response.getheader("X-Request-ID") == rid
            except (OSError, http.client.HTTPException):
                ok = False
            finally:
                conn.close()
            with self._lock:
                if ok:
                    self.acknowledged.add(rid)
                else:
                    self.failed += 1


def test_a_worker_killed_under_load_loses_no_acknowledged_search(tmp_path: Path) -> None:
    url, spool = database_url(tmp_path), tmp_path / "spool"
    env = server_env(
        tmp_path,
        url,
        ANALYTICS_SPOOL_DIR=str(spool),
        ANALYTICS_FLUSH_SECONDS="5",  # a wide window of answered, not yet written searches
        LOG_LEVEL="INFO",
    )
    with gunicorn(tmp_path, env) as server:
        victim = server.worker_pids()[0]
        with Shoppers(server) as shoppers:
            time.sleep(4)
            os.kill(victim, signal.SIGKILL)
            # the master boots a replacement, which replays the spool before it serves
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and "replayed spool" not in server.output():
                time.sleep(0.5)
            time.sleep(2)
        metrics = get(server, "/metrics")[1].decode()
    log = server.output()  # gunicorn stopped gracefully: each worker flushed what it had
    assert len(shoppers.acknowledged) > 100 and shoppers.failed <= 4
    replayed = [int(n) for n in re.findall(r"replayed spool \S+: (\d+) new events", log)]
    assert replayed and sum(replayed) > 0, log[-3000:]  # the kill left answered searches
    assert f'analytics_events_written_total{{how="replay"}} {float(sum(replayed))}' in metrics
    engine = create_engine(url)
    with Session(engine) as session:
        stored = dict(
            session.execute(
                select(SearchEvent.request_id, func.count()).group_by(SearchEvent.request_id)
            ).all()
        )
        counted = session.scalar(select(func.sum(QueryTotal.searches)))
        rows = session.scalar(select(func.count()).select_from(SearchEvent))
    engine.dispose()
    lost = shoppers.acknowledged - set(stored)
    assert not lost, f"{len(lost)} of {len(shoppers.acknowledged)} acknowledged searches lost"
    assert set(stored.values()) == {1}  # none twice (not even those answered by nobody)
    assert counted == rows  # the counters saw each stored event once
    assert not list(spool.rglob("*.jsonl"))  # every spool replayed or flushed
