"""gunicorn settings for Стежок: ``make serve``, or ``gunicorn -c gunicorn.conf.py wsgi:app``.

Every value can be overridden from the environment (names below) or on the
command line. Why these choices (measurements in docs/production.md):

* **Workers = CPU cores, each with a few threads (gthread).** A query costs a few ms
  of CPU, mostly in numpy/FAISS/the encoder, so one process per core uses the
  machine; the threads overlap the database round-trip and slow clients. More
  processes would only add memory: each worker holds its own models and index
  (~350 MB with the offline encoder, over 1 GB with ruCLIP).
* **No ``preload_app``.** ``wsgi.py`` loads models and index in each worker after
  the fork, so the master never imports torch or touches CUDA (a CUDA context
  does not survive ``fork``), and a worker that dies is replaced by a clean one.
* **A worker that cannot boot stops the server.** A corrupt or stale cache makes
  ``wsgi.py`` raise with the command that fixes it; gunicorn then exits
  ("Worker failed to boot") instead of respawning workers forever.
* **One math thread per request.** ``OMP_NUM_THREADS`` and friends default to 1 (below).
* **Metrics across workers.** ``PROMETHEUS_MULTIPROC_DIR`` is set here, before any
  worker starts, to a fresh folder; ``child_exit`` marks dead workers so their
  live gauges disappear.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile

_env = os.environ.get

bind = _env("GUNICORN_BIND") or f"{_env('HOST', '127.0.0.1')}:{_env('PORT', '5000')}"
workers = int(_env("WEB_CONCURRENCY") or os.cpu_count() or 2)
worker_class = "gthread"
threads = int(_env("GUNICORN_THREADS", "4"))
preload_app = False
# Boot (loading models) counts against ``timeout``: ruCLIP on a slow CPU needs tens of seconds.
timeout = int(_env("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(_env("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = int(_env("GUNICORN_KEEPALIVE", "5"))
# Recycling a worker reloads the models (~2 s of CPU); off unless a leak ever shows up.
max_requests = int(_env("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10
backlog = 256
limit_request_line = 8190  # a 200-character Cyrillic query is ~1.2 kB URL-encoded

accesslog = _env("GUNICORN_ACCESS_LOG", "-")  # stdout
errorlog = "-"  # stderr, together with the app's JSON logs
loglevel = _env("GUNICORN_LOG_LEVEL", "info")
access_log_format = (
    '%(h)s - - %(t)s "%(r)s" %(s)s %(B)s "%(f)s" "%(a)s" %(M)sms rid=%({x-request-id}o)s pid=%(p)s'
)
proc_name = "stezhok"
# gunicorn's control socket (gunicornc) is off unless a path is given: its default lives in
# $HOME, which two servers on one machine would fight over. Signals do the same jobs.
control_socket = _env("GUNICORN_CONTROL_SOCKET") or "gunicorn.ctl"
control_socket_disable = not _env("GUNICORN_CONTROL_SOCKET")

# One math thread per request thread. Parallelism comes from workers and threads; FAISS
# (OpenMP), numpy (OpenBLAS) and torch each spinning up per-call thread pools on top of them
# oversubscribe the cores: measured on 2 cores, uncached searches went from 10 to 290 req/s.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

# Set at import (in the master, before any fork) so every worker's prometheus_client
# starts in multiprocess mode. A HUP re-reads this file: the variable is then already set.
if not _env("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="stezhok-metrics-")
    os.environ["STEZHOK_OWNS_METRICS_DIR"] = "1"


def on_starting(server):  # noqa: ANN001 - gunicorn's hook signature
    """Start counting from zero: drop metric files a previous run left behind."""
    path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(path, exist_ok=True)
    for stale in glob.glob(os.path.join(path, "*.db")):
        os.remove(stale)


def child_exit(server, worker):  # noqa: ANN001
    """Forget a dead worker's live gauges (its counters stay in the totals)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):  # noqa: ANN001
    """Remove the metrics folder this config created."""
    if _env("STEZHOK_OWNS_METRICS_DIR"):
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
