"""Restart a running server without a gap: ``python -m webapp.restart`` (``make restart``).

The one command an operator runs after a deploy (new code, ``instance/config.py``,
artifacts). It finds the gunicorn master from its pid file (``instance/gunicorn.pid``,
written by ``gunicorn.conf.py``), then:

* **preloaded master** (the default on CPU, ``webapp/workers.py``): sends ``SIGHUP``. The
  master rebuilds the app (code, settings, engine) while the old workers keep serving,
  forks fresh workers from it, which are ready at once, and retires the old ones
  gracefully. The command waits for that and reports how it went;
* **workers that load their own engine** (``GUNICORN_PRELOAD=0``, e.g. ruCLIP on CUDA):
  replaces the workers one at a time: one more worker (``SIGTTIN``), and once it is ready
  one old worker fewer (``SIGTTOU``, which retires the oldest), so every moment has the
  usual number of ready workers or one more.

It exits 0 when every worker runs the new version, 1 when the master refused it (the old
version keeps serving: the message says why) or it took too long, 2 when no server runs.
This module imports nothing heavy: it answers in a fraction of a second.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from flask import Config

#: file names in the instance folder: the master's pid, its state (written by the master
#: after each start or restart: ``webapp/workers.py``), one marker per ready worker
PIDFILE, STATE_FILE, READY_DIR = "gunicorn.pid", "gunicorn.json", "gunicorn-ready"
#: how often the command looks at the master's state and workers, in seconds
POLL_SECONDS = 0.2
#: ``GUNICORN_PRELOAD`` values that force preloading on or off ("auto": on unless CUDA)
_ON, _OFF = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}
#: set by ``gunicorn.conf.py`` for the processes it starts: :data:`PRELOADED` when the
#: master loads the app, :data:`PER_WORKER` when each worker does
MODE_VARIABLE, PRELOADED, PER_WORKER = "STEZHOK_GUNICORN", "preload", "per-worker"


def preload_wanted(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the gunicorn master should load the app before forking (``GUNICORN_PRELOAD``).

    ``auto`` (the default) preloads unless the engine may open a CUDA context: a CUDA
    context made in the master does not work in a forked child. Only ruCLIP runs on the
    GPU, so that is ``DEVICE=cuda…``, or ruCLIP configured with ``DEVICE`` unset on a
    machine with an NVIDIA device. ``webapp.workers.load_app`` refuses a preloaded master
    that initialised CUDA all the same (ruCLIP set in ``instance/config.py``, say).
    """
    choice = environ.get("GUNICORN_PRELOAD", "auto").strip().lower()
    if choice in _ON | _OFF:
        return choice in _ON
    device = environ.get("DEVICE", "").strip().lower()
    if device:
        return not device.startswith("cuda")
    if not environ.get("RUCLIP_MODEL_DIR"):
        return True
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in {"", "-1"}:
        return True
    return not glob.glob("/dev/nvidia[0-9]*")


def instance_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """The instance folder, as ``create_app`` finds it: ``INSTANCE_PATH``, else Flask's
    choice for this package (``instance/`` beside it in a checkout)."""
    if environ.get("INSTANCE_PATH"):
        return Path(environ["INSTANCE_PATH"])
    from flask.sansio.scaffold import find_package

    # the package's name, also when this module runs as ``python -m webapp.restart``
    prefix, package_path = find_package((__package__ or __name__).split(".")[0])
    if prefix is None:
        return Path(package_path) / "instance"
    return Path(prefix) / "var" / "webapp-instance"


def settings(environ: Mapping[str, str] = os.environ) -> Config:
    """The app's settings without the app: the defaults, ``instance/config.py``, then the
    environment, in ``create_app``'s order (its test config aside)."""
    from .config import defaults, from_environment

    instance = str(instance_dir(environ))
    config = Config(instance)
    config.from_mapping(defaults(instance))
    config.from_pyfile("config.py", silent=True)
    config.from_mapping(from_environment(config))
    return config


def pidfile_path(environ: Mapping[str, str] = os.environ) -> Path:
    """Where ``gunicorn.conf.py`` has the master write its pid."""
    return instance_dir(environ) / PIDFILE


def state_path(pidfile: Path) -> Path:
    """The master's state file beside its pid file."""
    return pidfile.with_name(STATE_FILE)


def ready_dir(pidfile: Path) -> Path:
    """The folder of ready-worker markers beside the pid file."""
    return pidfile.with_name(READY_DIR)


def read_state(pidfile: Path) -> dict[str, object]:
    """The master's last written state (``{}`` before it wrote one)."""
    try:
        state = json.loads(state_path(pidfile).read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def write_state(pidfile: Path, state: Mapping[str, object]) -> None:
    """Replace the state file in one rename, so a reader never sees half of it."""
    path = state_path(pidfile)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps(dict(state), ensure_ascii=False))
    temporary.replace(path)


def workers_of(master: int) -> set[int]:
    """The pids of ``master``'s child processes (its workers), empty when it is gone."""
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text()
    except OSError:
        return set()
    return {int(pid) for pid in children.split()}


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie does not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def ready_workers(pidfile: Path, master: int) -> set[int]:
    """``master``'s workers that have finished loading and serve (their marker exists)."""
    try:
        marked = {int(p.name) for p in ready_dir(pidfile).iterdir() if p.name.isdigit()}
    except OSError:
        return set()
    return marked & workers_of(master)


# --- what the master and its workers leave for the command -------------------------------
@dataclass(frozen=True)
class Memory:
    """A process's memory in MiB: resident, proportional, and its own (USS).

    ``own`` (Private_Clean + Private_Dirty of ``/proc/<pid>/smaps_rollup``) is what the
    process alone holds, what killing it would free. RSS also counts every page it shares
    with the master and its sibling workers, so RSS summed over workers overstates.
    """

    rss: float
    pss: float
    own: float


def memory(pid: int | str = "self") -> Memory | None:
    """``pid``'s memory now; ``None`` where ``/proc`` has no ``smaps_rollup``."""
    fields: dict[str, float] = {}
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        name, _, value = line.partition(":")
        if value.strip():
            fields[name] = int(value.split()[0]) / 1024
    return Memory(
        round(fields.get("Rss", 0.0), 1),
        round(fields.get("Pss", 0.0), 1),
        round(fields.get("Private_Clean", 0.0) + fields.get("Private_Dirty", 0.0), 1),
    )


def mark_ready(pidfile: Path) -> None:
    """In a worker that finished loading: leave the marker the restart command waits for."""
    folder = ready_dir(pidfile)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / str(os.getpid())).touch()


def unmark(pidfile: Path, pid: int) -> None:
    """Remove a worker's ready marker (it exited)."""
    (ready_dir(pidfile) / str(pid)).unlink(missing_ok=True)


def clear_marks(pidfile: Path) -> None:
    """Forget the markers of a previous run (at the master's start)."""
    for marker in glob.glob(str(ready_dir(pidfile) / "*")):
        Path(marker).unlink(missing_ok=True)


def record(server: Any, pidfile: Path, **fields: object) -> None:
    """Write the master's state (pid, mode, restart generation and outcome) for the
    restart command; each call is one more generation."""
    state = server_state(server)
    state["generation"] = int(state.get("generation", 0)) + 1
    write_state(
        pidfile,
        {
            "pid": os.getpid(),
            "preload": bool(server.cfg.preload_app),
            "generation": state["generation"],
            "at": time.time(),
            **fields,
        },
    )


def server_state(server: Any) -> dict[str, Any]:
    """What the master remembers across restarts, kept on gunicorn's arbiter: a plain
    dict, since a restart replaces this module."""
    state: dict[str, Any] | None = getattr(server, "stezhok_state", None)
    if state is None:
        state = {}
        server.stezhok_state = state
    return state


# --- the command ---------------------------------------------------------------------------
@dataclass
class Outcome:
    """How a restart went: ``ok``, the message for the operator, the workers before/after."""

    ok: bool
    message: str
    before: set[int]
    after: set[int]


class RestartError(RuntimeError):
    """No server to restart, or one that is not the gunicorn master this config starts."""


def find_master(pidfile: Path) -> int:
    """The live master's pid from ``pidfile``."""
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        raise RestartError(
            f"no server: {pidfile} is missing (start one with `make serve`)"
        ) from None
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        raise RestartError(f"no server: pid {pid} from {pidfile} is not running") from None
    if "gunicorn" not in command:
        raise RestartError(f"pid {pid} from {pidfile} is not a gunicorn master: {command[:120]}")
    return pid


def restart(pidfile: Path, *, timeout: float = 300.0) -> Outcome:
    """Restart the master of ``pidfile`` without a gap and wait until it is done."""
    master = find_master(pidfile)
    state = read_state(pidfile)
    if state.get("preload", True):
        return _reload_preloaded(pidfile, master, state, timeout)
    return _replace_one_by_one(pidfile, master, timeout)


def _reload_preloaded(
    pidfile: Path, master: int, state: Mapping[str, object], timeout: float
) -> Outcome:
    """``SIGHUP``; wait for the master's new state, then for the old workers to leave."""
    before = workers_of(master)
    generation = state.get("generation", 0)
    os.kill(master, signal.SIGHUP)
    deadline = time.monotonic() + timeout
    while (now := read_state(pidfile)).get("generation", 0) == generation:
        if time.monotonic() > deadline or not alive(master):
            return Outcome(False, f"the master did not finish in {timeout:.0f} s", before, set())
        time.sleep(POLL_SECONDS)
    while workers_of(master) & before and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)  # the old workers finish their requests, then leave
    after = workers_of(master)
    if now.get("outcome") != "ok":
        return Outcome(
            False,
            f"restart refused, still serving the previous version: {now.get('error')}",
            before,
            after,
        )
    if after & before:
        return Outcome(False, f"old workers still running: {sorted(after & before)}", before, after)
    return Outcome(True, f"restarted in {now.get('seconds')} s", before, after)


def _replace_one_by_one(pidfile: Path, master: int, timeout: float) -> Outcome:
    """One new worker in (ready), one old worker out, until none of the old ones is left."""
    before = workers_of(master)
    deadline = time.monotonic() + timeout
    started = time.monotonic()
    for _ in range(len(before)):
        known = workers_of(master)
        os.kill(master, signal.SIGTTIN)
        while not (ready_workers(pidfile, master) - known):
            if time.monotonic() > deadline or not alive(master):
                os.kill(master, signal.SIGTTOU)  # back to the usual number: drops the oldest
                return Outcome(False, "a new worker did not get ready", before, workers_of(master))
            time.sleep(POLL_SECONDS)
        os.kill(master, signal.SIGTTOU)
        while len(workers_of(master)) > len(before) and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
    after = workers_of(master)
    ok = not (after & before)
    message = f"replaced {len(before)} workers in {time.monotonic() - started:.1f} s"
    return Outcome(
        ok, message if ok else f"old workers still running: {sorted(after & before)}", before, after
    )


# --- flask --app webapp reload ---------------------------------------------------------------
def request_reload(stamp: Path) -> None:
    """Touch ``stamp``: every running server rebuilds its engine from the files on disk."""
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.touch()
    os.utime(stamp, ns=(time.time_ns(), time.time_ns()))


#: ``--app`` values naming this project, whose stamp ``reload`` finds without the app
OWN_APPS = {"webapp", "wsgi"}


@click.command("reload")
@click.pass_context
def reload_command(ctx: click.Context) -> None:
    """Tell running servers to reload the catalogue, caches and models (touches RELOAD_STAMP)."""
    from flask.cli import ScriptInfo

    info = ctx.ensure_object(ScriptInfo)
    module = (info.app_import_path or "").split(":", 1)[0]
    if module in OWN_APPS:
        # Installed as a Flask plugin command (pyproject.toml), this runs without building
        # the app: that imported torch, pandas and the whole search core just to learn the
        # stamp's path (7.6 s idle, 25-34 s on busy cores).
        stamp = Path(settings()["RELOAD_STAMP"])
    else:
        stamp = Path(info.load_app().config["RELOAD_STAMP"])
    request_reload(stamp)
    click.echo(f"reload requested ({stamp}): the servers swap in a new engine once it is built")


def main(argv: list[str] | None = None) -> int:
    """``python -m webapp.restart [--pidfile PATH] [--timeout S]``."""
    parser = argparse.ArgumentParser(
        prog="python -m webapp.restart", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--pidfile", type=Path, default=None, help=f"default: {pidfile_path()}")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait at most")
    args = parser.parse_args(argv)
    try:
        outcome = restart(args.pidfile or pidfile_path(), timeout=args.timeout)
    except RestartError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(
        f"{outcome.message}; workers {', '.join(map(str, sorted(outcome.before)))} → "
        f"{', '.join(map(str, sorted(outcome.after))) or 'none'}",
        file=sys.stdout if outcome.ok else sys.stderr,
    )
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
