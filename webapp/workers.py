"""The site's processes under gunicorn: load once, fork ready workers, restart without a gap.

``gunicorn.conf.py`` calls the functions here from its hooks; docs/production.md
(«Processes, boot and memory», «Restarts») has the measurements behind them.

**Preloading** (``preload_app``; the default on CPU: :func:`preload_wanted`). The master
imports the app and builds the engine once: libraries, models, indexes, catalogue, every
step timed and its memory measured (:class:`BootSteps`). It then forks the workers. A
worker is ready as soon as it is forked, and every page nobody writes (the libraries'
code and relocations, model weights, index vectors, the catalogue) stays shared between
the master and all workers, copy-on-write: a worker's own memory is what it changes
after the fork. :func:`after_fork` redoes what a fork does not carry over.

**Restarts** (:func:`reload_in_master`). ``SIGHUP`` (``python -m webapp.restart``) makes
the master rebuild the whole app, code and settings included, while the old workers keep
serving; gunicorn then forks fresh workers from the new app and retires the old ones
gracefully, so there is never a moment without a ready worker. ``flask --app webapp
reload`` touches a stamp that asks the master for the same with the code unchanged
(:func:`watch_stamp`). A rebuild that fails (broken code, a corrupt cache) is logged and
the previous app keeps serving; the restart command reports it.

**CUDA** cannot cross ``fork``. When ruCLIP may run on a GPU the master loads nothing and
each worker builds its own engine after the fork, as before; ``python -m webapp.restart``
then replaces the workers one at a time (``webapp/restart.py``).
"""

from __future__ import annotations

import atexit
import gc
import importlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from flask import Flask

from .lifecycle import engine_loaded, reload, reload_failed, warm_up, watch_reloads, worker_forked
from .restart import MODE_VARIABLE, PRELOADED, memory, record, server_state

log = logging.getLogger(__name__)

#: why the master is asked to rebuild, when it is not an operator's ``SIGHUP``
STAMP_REASON = "stamp"


# --- measuring a boot ----------------------------------------------------------------------
class BootSteps:
    """Wall-clock milliseconds and own-memory growth (MiB) of each step of a start-up."""

    def __init__(self) -> None:
        """Start the clock."""
        self.started = time.perf_counter()
        self.steps: dict[str, tuple[float, float | None]] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time the enclosed block as step ``name`` and note how much own memory it added."""
        before, start = memory(), time.perf_counter()
        try:
            yield
        finally:
            after = memory()
            grew = round(after.own - before.own, 1) if before and after else None
            self.steps[name] = (round((time.perf_counter() - start) * 1000, 1), grew)

    def add(self, timings: Mapping[str, float]) -> None:
        """Steps timed elsewhere (``engine.load_ms``), without their memory."""
        self.steps.update({name: (round(ms, 1), None) for name, ms in timings.items()})

    @property
    def seconds(self) -> float:
        """Seconds since the start."""
        return round(time.perf_counter() - self.started, 2)

    def describe(self) -> str:
        """One line for the log: each step's seconds (and MiB), then the totals."""
        parts = [
            f"{name} {ms / 1000:.2f}s" + (f" +{mb:.0f}MiB" if mb is not None else "")
            for name, (ms, mb) in self.steps.items()
        ]
        now = memory()
        total = f"ready in {self.seconds:.1f}s"
        if now is not None:
            total += f", own memory {now.own:.0f} MiB (RSS {now.rss:.0f})"
        return f"{total}: {', '.join(parts)}"


# --- loading -------------------------------------------------------------------------------
def load_app() -> Flask:
    """The app with its engine loaded and primed, the boot logged by step (``wsgi.py``).

    Under gunicorn the hooks start the reload watcher (the master's or each worker's);
    any other server (``flask --app wsgi run``) gets its own watcher here.
    """
    from . import create_app

    steps = BootSteps()
    collectors = _collectors()
    with steps.step("create_app"):
        app = create_app()
    with steps.step("engine"):
        engine = warm_up(app)
    steps.add({f"engine.{name}": ms for name, ms in engine.load_ms.items()})
    app.extensions["boot"] = steps
    # the metrics this load registered, unregistered before a code reload registers them anew
    app.extensions["collectors"] = _collectors() - collectors
    mode = os.environ.get(MODE_VARIABLE, "")
    if mode == PRELOADED and _cuda_initialised():
        raise RuntimeError(
            "CUDA was initialised while preloading the app in the gunicorn master, and a "
            "CUDA context does not survive fork: set GUNICORN_PRELOAD=0 (or DEVICE=cpu)"
        )
    log.info("boot (pid %d): %s", os.getpid(), steps.describe())
    if not mode:  # not under gunicorn.conf.py, whose hooks start the watcher
        watch_reloads(app)
    return app


def _cuda_initialised() -> bool:
    """Whether this process opened a CUDA context (without importing torch for it)."""
    torch = sys.modules.get("torch")
    return bool(torch is not None and torch.cuda.is_initialized())


def _collectors() -> set[Any]:
    """The collectors in prometheus_client's default registry."""
    from prometheus_client import REGISTRY

    return set(REGISTRY._collector_to_names)  # noqa: SLF001 - no public listing exists


# --- in a freshly forked worker ------------------------------------------------------------
def after_fork(app: Flask) -> None:
    """What a worker forked from a preloaded master must redo before serving.

    The master's database connections are not the worker's to use or close: the pool is
    replaced without closing them (SQLAlchemy's ``dispose(close=False)``). Metrics are
    files per process, so the engine's gauges are published again by this process. The
    analytics spools that dead workers left are replayed now, in the background, as a
    worker that loads its own app does at start (a SIGKILLed worker's replacement).
    Thread pools and watcher threads do not cross ``fork``; the code that owns one makes
    it anew on first use (``search/cache.py``, the rate-limit sweeper, the analytics
    writer). :data:`~webapp.lifecycle.worker_forked` tells anyone else.
    """
    store = app.extensions.get("store")
    if store is not None:
        store.engine.dispose(close=False)
    engine = app.extensions.get("search")
    if engine is not None:
        engine_loaded.send(app, engine=engine)
    replay = getattr(app.extensions.get("analytics"), "replay", None)
    if replay is not None:  # a worker that died (SIGKILL) left its spool: replay it now
        threading.Thread(target=_replay, args=(replay,), name="spool-replay", daemon=True).start()
    worker_forked.send(app)


def _replay(replay: Callable[[], object]) -> None:
    """Replay dead workers' analytics spools, as a worker that loads its own app does at
    start; a failure is logged and left to the writer's periodic replay."""
    try:
        replay()
    except Exception as exc:  # a background thread: nobody to raise to
        log.warning("spool replay at worker start failed: %s", exc)


def exit_quietly() -> None:
    """End a worker forked from a preloaded master (gunicorn's ``worker_exit`` hook): run
    the ``atexit`` handlers and flush the logs, then leave with the same exit status but
    without Python's finalisation and the libraries' C++ destructors.

    Those destructors tear down objects made in the master: ONNX Runtime's thread pools
    then wait on condition variables whose waiters were the master's threads, which do
    not exist in the worker, and the exit hung until gunicorn killed it (or aborted with
    ``std::system_error``)."""
    error = sys.exc_info()[1]
    code = error.code if isinstance(error, SystemExit) else int(error is not None)
    atexit._run_exitfuncs()  # noqa: SLF001 - what normal interpreter exit runs first
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code if isinstance(code, int) else int(bool(code)))


def before_fork(app: Flask) -> None:
    """In the master, just before forking a worker: no open connection to inherit, and
    every object so far kept out of the garbage collector's passes (``gc.freeze``), whose
    reference bookkeeping would otherwise copy the shared pages into each worker."""
    store = app.extensions.get("store")
    if store is not None:
        store.engine.dispose()
    gc.freeze()


# --- restarts in the master ----------------------------------------------------------------
def watch_stamp(server: Any, app: Flask) -> threading.Thread | None:
    """In the preloaded master: turn a change of ``RELOAD_STAMP`` into a rebuild.

    The thread only looks at the stamp's modification time and signals the master
    (``SIGHUP``, reason :data:`STAMP_REASON`): the rebuild itself runs in the master's
    main loop, never beside a fork.
    """
    interval = float(app.config["RELOAD_POLL_SECONDS"])
    if interval <= 0:
        return None
    stamp = Path(app.config["RELOAD_STAMP"])
    state = server_state(server)

    def loop() -> None:
        seen = _mtime(stamp)
        while True:
            time.sleep(interval)
            current = _mtime(stamp)
            if current != seen:
                seen = current
                state["reason"] = STAMP_REASON
                os.kill(os.getpid(), signal.SIGHUP)

    thread = threading.Thread(target=loop, name="reload-stamp-watcher", daemon=True)
    thread.start()
    return thread


def reload_in_master(server: Any, pidfile: Path, *, nice: int = 0) -> bool:
    """Rebuild the app in the master (gunicorn's ``on_reload`` hook, on ``SIGHUP``).

    An operator's ``SIGHUP`` re-imports the project's code (``webapp`` and the WSGI
    module; the libraries stay loaded) and builds a new app from the current settings
    and artifacts; a stamp reload rebuilds the engine of the current app. On success
    gunicorn then forks the new workers from it; on failure the previous app stays and
    the new workers are forked from that. The outcome goes to the log, the metrics and
    the state file that ``python -m webapp.restart`` waits for. Returns whether it worked.

    The rebuild runs in a thread ``nice`` steps below the workers (the main thread waits
    for it, so nothing forks meanwhile): on busy cores the old workers keep answering at
    their usual speed while the new app is built in what CPU they leave.
    """
    state = server_state(server)
    reason = state.pop("reason", "signal")
    started = time.perf_counter()
    gc.unfreeze()  # the previous app's objects may be collected once it is replaced
    old = server.app.wsgi()

    def rebuild() -> None:
        if reason == STAMP_REASON:
            engine = reload(old)
            log.info("engine reloaded: %d products", len(engine.products))
        else:
            _reimport(server)
            new = server.app.wsgi()
            engine_loaded.send(new, engine=new.extensions["search"], reloaded=True)
            _retire(old)

    try:
        _run_below(nice, rebuild)
    except Exception as exc:  # keep serving the previous app, whatever went wrong
        log.error("reload failed, still serving the previous engine: %s", exc)
        reload_failed.send(old, error=exc)
        record(server, pidfile, outcome="failed", error=f"{type(exc).__name__}: {exc}")
        return False
    finally:
        gc.collect()
    seconds = round(time.perf_counter() - started, 1)
    log.info("%s reload done in %.1f s: forking fresh workers", reason, seconds)
    record(server, pidfile, outcome="ok", seconds=seconds, reason=reason)
    return True


def _run_below(nice: int, work: Callable[[], None]) -> None:
    """Run ``work`` in a thread ``nice`` steps lower in CPU priority (Linux sets the nice
    value per thread) and wait for it; its exception is raised here."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            if nice > 0:
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
            work()
        except BaseException as exc:  # handed to the waiting thread
            failure.append(exc)

    thread = threading.Thread(target=run, name="rebuild")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def _reimport(server: Any) -> None:
    """Import the project's modules afresh and load the WSGI app from them; on any error
    put the previous modules, metrics and log handlers back and re-raise."""
    from prometheus_client import REGISTRY

    module = str(server.app.app_uri).split(":", 1)[0]
    old_app = server.app.wsgi()
    old_modules = _project_modules(module)
    old_collectors = set(old_app.extensions.get("collectors", ()))
    for collector in old_collectors:
        REGISTRY.unregister(collector)
    others = _collectors()
    old_handlers = _detach_handlers(old_modules)
    for name in old_modules:
        del sys.modules[name]
    importlib.invalidate_caches()
    try:
        new_app = server.app.load()
    except BaseException:
        failed = _project_modules(module)
        for name in failed:
            del sys.modules[name]
        sys.modules.update(old_modules)
        for collector in _collectors() - others:
            REGISTRY.unregister(collector)
        for collector in old_collectors:
            REGISTRY.register(collector)
        _detach_handlers(failed)
        for logger, handler in old_handlers:
            logger.addHandler(handler)
        raise
    server.app.callable = new_app


def _project_modules(wsgi_module: str) -> dict[str, ModuleType]:
    """The loaded modules of this project: ``webapp`` and its sub-modules, the WSGI module."""
    return {
        name: module
        for name, module in list(sys.modules.items())
        if name in {"webapp", wsgi_module} or name.startswith("webapp.")
    }


def _detach_handlers(modules: Mapping[str, ModuleType]) -> list[tuple[logging.Logger, Any]]:
    """Remove (and return) the log handlers whose class is defined in ``modules``: a new
    generation of the code adds its own."""
    loggers = [logging.getLogger()] + [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    removed = []
    for logger in loggers:
        for handler in list(logger.handlers):
            cls = type(handler)
            if getattr(modules.get(cls.__module__), cls.__name__, None) is cls:
                logger.removeHandler(handler)
                removed.append((logger, handler))
    return removed


def _retire(app: Flask) -> None:
    """Let go of a replaced app's resources in the master (its database pool)."""
    store = app.extensions.get("store")
    if store is not None:
        store.engine.dispose()


def _mtime(path: Path) -> int:
    """``path``'s modification time in ns, 0 when it does not exist."""
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0
