"""Benchmark: the per-request floor on the demo catalogue, and what each middleware costs.

Run ``make bench-floor`` or ``.venv/bin/python benchmarks/bench_floor.py [--rounds N]``.

The app is the one ``make run`` serves (``create_app`` with the default config +
``warm_up``: the demo catalogue, real FAISS, real SQLite, real templates and every
middleware), driven in-process through the Flask test client, no sockets. Each
round sends one request of every case below, in a new random order, so all cases
share the machine's noise; the report gives medians and p95 and ratios against ``/healthz``
measured in the same run:

* ``/healthz`` as served (twice: the second copy shows the noise), then with one
  middleware switched off at a time (its hooks taken out of the app between
  requests, never during one): the security
  headers (Talisman), CSRF, the upload body limit, the rate limiter, metrics and the
  request log together (``observability``), the JSON request log alone, the session;
* ``/api/search?q=…`` cached (the queries asked once before timing), with and
  without the analytics event;
* ``/search?q=…`` cached, split by the app's own stage timings (``lookup`` of the
  products, ``render`` of the template) and the rest of the request.

The rate limiter stays on with its real storage and strategy; only its allowance is
raised so that one client's few thousand requests are not refused (same work per
request). The request log goes to ``/dev/null`` instead of the terminal.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # as wsgi.py / gunicorn.conf.py set them for a worker

from flask import Flask  # noqa: E402
from flask.sessions import NullSession, SecureCookieSessionInterface  # noqa: E402

QUERIES = ("петух", "котёнок", "новогодний узор", "цветы", "🚀")
HOOK_OWNERS = {
    "security headers (Talisman)": ("flask_talisman",),
    "CSRF (Flask-WTF)": ("flask_wtf",),
    "upload body limit": ("webapp.security",),
    "rate limiter (Flask-Limiter)": ("flask_limiter",),
    "metrics + request log": ("webapp.observability",),
}


@dataclass
class Case:
    """One kind of request and how to switch its variant on and off around it."""

    name: str
    paths: tuple[str, ...]
    switch: Callable[[Flask], Callable[[], None]] | None = None
    times: list[float] = field(default_factory=list)
    stages: dict[str, list[float]] = field(default_factory=dict)


def _owner(func: Any) -> str:
    """The module a hook comes from (a ``functools.partial`` is unwrapped)."""
    return str(getattr(getattr(func, "func", func), "__module__", ""))


def without_hooks(prefixes: tuple[str, ...]) -> Callable[[Flask], Callable[[], None]]:
    """A switch that takes every app-wide hook from modules ``prefixes`` out of the app."""

    def switch(app: Flask) -> Callable[[], None]:
        tables = (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs)
        saved = [(table, list(table.get(None, []))) for table in tables]
        for table, funcs in saved:
            table[None] = [f for f in funcs if not _owner(f).startswith(prefixes)]

        def undo() -> None:
            for table, funcs in saved:
                table[None] = funcs

        return undo

    return switch


def without_request_log(app: Flask) -> Callable[[], None]:
    """A switch that silences the JSON request log line (metrics stay)."""
    log = logging.getLogger("webapp.requests")
    log.disabled = True
    return lambda: setattr(log, "disabled", False)


def without_session(app: Flask) -> Callable[[], None]:
    """A switch that replaces the signed-cookie session with Flask's null session."""

    class _NoSession(SecureCookieSessionInterface):
        def open_session(self, app: Flask, request: Any) -> NullSession:
            return NullSession()

        def save_session(self, *args: Any) -> None:
            return None

    saved = app.session_interface
    app.session_interface = _NoSession()
    return lambda: setattr(app, "session_interface", saved)


def without_analytics(app: Flask) -> Callable[[], None]:
    """A switch that drops the buffered analytics event of each search."""
    analytics = app.extensions["analytics"]
    analytics.record_search = lambda *args, **kwargs: None
    return lambda: analytics.__dict__.pop("record_search", None)


class StageLog(logging.Handler):
    """Keeps the stage timings of the last request log line."""

    def __init__(self) -> None:
        super().__init__()
        self.stages: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        """Remember ``stages_ms`` of this request."""
        self.stages = dict(getattr(record, "fields", {}).get("stages_ms", {}))


def make_app(instance: str) -> Flask:
    """The demo app as ``make run`` serves it, loaded and primed."""
    from webapp import create_app
    from webapp.lifecycle import warm_up

    os.environ["INSTANCE_PATH"] = instance
    os.environ["RATELIMIT_APPLICATION"] = "1000000 per second;10000000 per minute"
    app = create_app()
    warm_up(app)
    return app


def cases() -> list[Case]:
    """Every case, in the order each round sends them."""
    api = tuple(f"/api/search?q={q}" for q in QUERIES)
    page = tuple(f"/search?q={q}" for q in QUERIES)
    found = [Case("/healthz", ("/healthz",)), Case("/healthz again (noise control)", ("/healthz",))]
    for label, owners in HOOK_OWNERS.items():
        found.append(Case(f"/healthz − {label}", ("/healthz",), without_hooks(owners)))
    found.append(Case("/healthz − JSON request log", ("/healthz",), without_request_log))
    found.append(Case("/healthz − session", ("/healthz",), without_session))
    found.append(Case("/api/search cached", api))
    found.append(Case("/api/search cached − analytics", api, without_analytics))
    found.append(Case("/search cached", page))
    return found


@contextmanager
def quiet_stderr() -> Iterator[None]:
    """Send the app's log lines (written to the current ``sys.stderr``) to /dev/null."""
    saved = sys.stderr
    with open(os.devnull, "w") as sink:
        sys.stderr = sink
        try:
            yield
        finally:
            sys.stderr = saved


def measure(app: Flask, all_cases: list[Case], rounds: int, stage_log: StageLog) -> None:
    """Send ``rounds`` rounds of every case, interleaved; record ms and stage timings."""
    client = app.test_client()
    for case in all_cases:  # warm every path and fill the query caches
        for path in case.paths:
            assert client.get(path).status_code == 200, path
    order = list(all_cases)
    shuffle = random.Random(13).shuffle  # a new order each round: no case always follows /search
    for i in range(rounds):
        shuffle(order)
        for case in order:
            path = case.paths[i % len(case.paths)]
            undo = case.switch(app) if case.switch else None
            start = time.perf_counter()
            response = client.get(path)
            elapsed = (time.perf_counter() - start) * 1000
            if undo:
                undo()
            if response.status_code != 200:
                raise RuntimeError(f"{path}: {response.status_code}")
            case.times.append(elapsed)
            for stage, ms in stage_log.stages.items():
                case.stages.setdefault(stage, []).append(ms)
            stage_log.stages = {}


def p95(values: list[float]) -> float:
    """The 95th percentile of ``values``."""
    return statistics.quantiles(values, n=20)[-1]


def report(all_cases: list[Case]) -> None:
    """Print medians, p95 and the ratio to ``/healthz``, then each middleware's cost."""
    floor = statistics.median(all_cases[0].times)
    print(f"\n{'case':<44} {'median ms':>10} {'p95 ms':>8} {'× /healthz':>11}")
    for case in all_cases:
        med = statistics.median(case.times)
        print(f"{case.name:<44} {med:>10.3f} {p95(case.times):>8.3f} {med / floor:>11.2f}")
    print("\nCost of each middleware on /healthz (median as served − median without it), ms:")
    for case in all_cases[1:]:
        if case.name.startswith("/healthz "):
            cost = floor - statistics.median(case.times)
            print(f"  {case.name.removeprefix('/healthz ').removeprefix('− '):<40} {cost:>7.3f}")
    page = all_cases[-1]
    total = statistics.median(page.times)
    print("\n/search cached, by stage (medians, ms):")
    named = 0.0
    for stage, values in sorted(page.stages.items()):
        med = statistics.median(values)
        named += med
        print(f"  {stage:<40} {med:>7.3f}")
    print(f"  {'the rest (Flask, middleware, client)':<40} {total - named:>7.3f}")
    print(f"  {'total':<40} {total:>7.3f}")


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, load the demo app, measure and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300, help="requests per case")
    args = parser.parse_args(argv)
    stage_log = StageLog()
    logging.getLogger("webapp.requests").addHandler(stage_log)
    with tempfile.TemporaryDirectory() as instance, quiet_stderr():
        app = make_app(instance)
        all_cases = cases()
        measure(app, all_cases, args.rounds, stage_log)
        app.extensions["analytics"].flush()  # before its database leaves with the folder
    print(f"python {sys.version.split()[0]}, {args.rounds} rounds, interleaved")
    report(all_cases)


if __name__ == "__main__":
    main()
