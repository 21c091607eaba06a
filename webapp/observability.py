"""Observability: Prometheus metrics at ``/metrics`` and one structured log line per request.

Metrics stay correct across gunicorn workers through prometheus_client's
multiprocess mode: ``gunicorn.conf.py`` points ``PROMETHEUS_MULTIPROC_DIR`` at a
fresh folder before any worker starts, and ``/metrics`` merges every worker's
files. Without that variable (``flask run``, tests) the process registry is used.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import uuid
from typing import Any, TextIO

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    before_render_template,
    current_app,
    g,
    has_request_context,
    request,
    template_rendered,
)
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    multiprocess,
)
from prometheus_client.exposition import choose_encoder

from .analytics.recorder import events_written, write_failed
from .lifecycle import engine_loaded, reload_failed

log = logging.getLogger("webapp.requests")
bp = Blueprint("observability", __name__)
disable_created_metrics()  # the *_created series double the output and nobody graphs them

_FAST = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests by endpoint, method and status",
    ["endpoint", "method", "status"],
)
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to answer a request, by endpoint",
    ["endpoint"],
    buckets=_FAST + (2.5, 5.0, 10.0),
)
STAGES = Histogram(
    "search_stage_duration_seconds",
    "Time per stage of a query's journey (understand, encode, knn, words = BM25, "
    "category, emoji, fuse, floor, filter, lookup = products and explanations, "
    "render = template)",
    ["stage"],
    buckets=_FAST,
)
INDEX_ITEMS = Gauge(
    "search_index_items",
    "Vectors in the index of each space",
    ["space"],
    multiprocess_mode="livemax",
)
MODEL_INFO = Gauge(
    "search_model_info",
    "1 for the model that serves each space",
    ["space", "model"],
    multiprocess_mode="livemax",
)
PRODUCTS = Gauge(
    "search_catalog_products", "Products in the loaded catalogue", multiprocess_mode="livemax"
)
LOADED_AT = Gauge(
    "search_engine_loaded_timestamp_seconds",
    "When this worker's engine was (re)loaded",
    multiprocess_mode="livemax",
)
RELOADS = Counter(
    "search_engine_reloads_total", "Hot reloads of the engine by outcome", ["outcome"]
)
EVENTS = Counter(
    "analytics_events_written_total",
    "Analytics events stored, by how: flush (live) or replay (a dead process's spool)",
    ["how"],
)
EVENT_FAILURES = Counter(
    "analytics_write_failures_total",
    "Batches of analytics events the database refused (kept on disk and retried)",
)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@bp.get("/metrics")
def metrics() -> Response:
    """Every worker's metrics in the Prometheus text format."""
    if not current_app.config["METRICS_ENABLED"]:
        abort(404)
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return Response(encode(registry), headers={"Content-Type": content_type})


def annotate_request(timings: dict[str, float], **fields: Any) -> None:
    """Attach a search's per-stage milliseconds (and e.g. ``total``) to this request's log."""
    g.obs_stages = {**g.get("obs_stages", {}), **timings}
    g.obs_fields = {**g.get("obs_fields", {}), **fields}


def on_engine_loaded(app: Flask, engine: Any, reloaded: bool = False) -> None:
    """Publish the loaded engine's size and models as gauges."""
    described = engine.describe()
    PRODUCTS.set(described["products"])
    for name, space in described["spaces"].items():
        INDEX_ITEMS.labels(name).set(space["items"])
        MODEL_INFO.labels(name, space["model"]).set(1)
    LOADED_AT.set_to_current_time()
    if reloaded:
        RELOADS.labels("ok").inc()


def on_reload_failed(app: Flask, error: Exception) -> None:
    """Count a hot reload that kept the previous engine."""
    RELOADS.labels("failed").inc()


def on_events_written(recorder: Any, count: int, how: str) -> None:
    """Count analytics events stored."""
    EVENTS.labels(how).inc(count)


def on_event_write_failed(recorder: Any, error: Exception) -> None:
    """Count a batch of analytics events the database refused."""
    EVENT_FAILURES.inc()


def _start() -> None:
    """Stamp the request with a start time and an id (the caller's, when it is sane)."""
    g.obs_start = time.perf_counter()
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex


def _before_render(*_: Any, **__: Any) -> None:
    g.obs_render_start = time.perf_counter()


def _after_render(*_: Any, **__: Any) -> None:
    start = g.pop("obs_render_start", None)
    if start is not None:
        annotate_request({"render": round((time.perf_counter() - start) * 1000, 3)})


def _finish(response: Response) -> Response:
    """Count the request, observe its stages and write its log line."""
    if "obs_start" not in g:  # only when a hook put before ours answered (see init_app)
        _start()
    elapsed = time.perf_counter() - g.obs_start
    endpoint = request.endpoint or "unmatched"  # bounded: never the raw path
    REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
    LATENCY.labels(endpoint).observe(elapsed)
    stages = g.get("obs_stages", {})
    for stage, ms in stages.items():
        STAGES.labels(stage).observe(ms / 1000)
    response.headers["X-Request-ID"] = g.request_id
    log.info(
        "request",
        extra={
            "fields": {
                "request_id": g.get("request_id"),
                "method": request.method,
                "path": request.path,
                "endpoint": endpoint,
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 2),
                "remote_addr": request.remote_addr,
                **g.get("obs_fields", {}),
                **({"stages_ms": stages} if stages else {}),
            }
        },
    )
    return response


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's ``fields``."""

    converter = staticmethod(time.gmtime)  # timestamps in UTC (the "Z" below)

    def format(self, record: logging.LogRecord) -> str:
        """Serialise ``record`` (exceptions included) as a single line of JSON."""
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class RequestContext(logging.Filter):
    """Adds the request's id to every record logged while a request is being answered
    (an error, a warning, a search's own lines), not only to the request's line."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Put ``request_id`` first in the record's ``fields``; always let it through."""
        if has_request_context() and "request_id" in g:
            fields = getattr(record, "fields", {})
            if "request_id" not in fields:
                record.fields = {"request_id": g.request_id, **fields}
        return True


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        """Emit ``record`` to the current ``sys.stderr``."""
        self.stream = sys.stderr
        super().emit(record)


#: how each ``LOG_FORMAT`` (and the terminal, for ``flask`` commands) writes a record
_FORMATS: dict[str, logging.Formatter] = {
    "json": JsonFormatter(),
    "text": logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s %(fields)s", defaults={"fields": ""}
    ),
    "terminal": logging.Formatter("%(levelname)s %(name)s: %(message)s"),
}


def configure_logging(fmt: str, level: str) -> None:
    """Send the app's logs (``webapp.*``) to stderr as ``fmt`` (json, text or terminal) from
    ``level`` up: one handler per process, set again by a later call; ``""`` leaves it."""
    if not fmt:
        return
    logger = logging.getLogger("webapp")
    handler = next((h for h in logger.handlers if isinstance(h, _StderrHandler)), None)
    if handler is None:
        from flask.logging import default_handler

        handler = _StderrHandler()
        handler.addFilter(RequestContext())
        logger.removeHandler(default_handler)
        logger.addHandler(handler)
    handler.setFormatter(_FORMATS.get(fmt, _FORMATS["text"]))
    logger.setLevel(level)


def terminal_logging(app: Flask) -> None:
    """For a ``flask`` command: the app's logs in plain words on stderr from
    ``CLI_LOG_LEVEL`` up, so what the command prints is not buried in JSON lines."""
    if not app.testing:
        configure_logging("terminal", app.config["CLI_LOG_LEVEL"])


def init_app(app: Flask) -> None:
    """Register ``/metrics``, the request hooks and the engine gauges on ``app``."""
    if not app.testing:
        configure_logging(app.config["LOG_FORMAT"], app.config["LOG_LEVEL"])
    app.register_blueprint(bp)
    # First of all before-request hooks, so that a request another hook refuses (CSRF,
    # the rate limiter, a body over the size limit) is still timed and carries its id.
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_finish)
    before_render_template.connect(_before_render, app)
    template_rendered.connect(_after_render, app)
    engine_loaded.connect(on_engine_loaded, app)
    reload_failed.connect(on_reload_failed, app)
    events_written.connect(on_events_written)  # every recorder of this process
    write_failed.connect(on_event_write_failed)
