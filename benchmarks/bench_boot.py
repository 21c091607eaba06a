"""Benchmark: where a worker's start-up goes, and what preloading saves per worker.

Run ``make bench-boot`` or ``.venv/bin/python benchmarks/bench_boot.py [--rounds N]``
(about 5 minutes on 2 cores).

1. **By step.** A fresh process boots the way a worker that loads its own engine does
   (``wsgi.py`` without preloading), ``--rounds`` times: each big library's import, the
   app factory, then every step of ``build_engine`` (catalogue, store, indexes,
   concepts, knowledge, engine) and the priming query. Each step's wall time and the
   own memory (USS: ``Private_Clean + Private_Dirty`` of ``/proc/self/smaps_rollup``)
   it added; medians.
2. **Two process models, same run.** The real ``gunicorn -c gunicorn.conf.py`` on the
   demo with 2 workers, once with ``GUNICORN_PRELOAD=0`` (each worker loads its own
   engine: the model before this change) and once preloaded (the master loads, workers
   are forked). For each: the cold start, a SIGKILLed worker's replacement until it is
   ready (``--kills`` times), each worker's own memory, PSS and RSS when ready and after
   searches, the master's, and ``python -m webapp.restart`` under light traffic (its
   duration, failed requests, the longest silence). Medians, and the ratios
   before/after.
3. ``flask --app webapp reload`` (touches the reload stamp), ``--rounds`` times.

Own memory is what a process alone holds (what killing it frees); RSS also counts the
pages shared with the master and the other workers, so RSS summed over workers overstates.
A library's code counts as the importer's own while no other process maps the same files:
the step table's import figures depend on what else runs on the machine.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from webapp.restart import memory, ready_workers, workers_of  # noqa: E402

BIN = Path(sys.executable).parent
QUERIES = ("петух", "котёнок в шляпе", "новогодний узор", "цветок", "машина", "сердце", "🚀")

# --- 1. by step ----------------------------------------------------------------------------
STEPS_SCRIPT = r"""
import json, os, sys, time
for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TORCH_THREADS"):
    os.environ.setdefault(v, "1")
from webapp.restart import memory
steps = {}
def step(name, work):
    before, start = memory().own, time.perf_counter()
    value = work()
    steps[name] = [(time.perf_counter() - start) * 1000, memory().own - before]
    return value
step("python", lambda: None)
for lib in sys.argv[2].split(","):  # the big libraries a worker's boot imports, first
    step("import " + lib, lambda: __import__(lib))
import webapp.search.timing as timing
from contextlib import contextmanager
plain = timing.Timer.stage
BUILD = ("catalogue", "store", "indexes", "concepts", "knowledge", "engine")
@contextmanager
def measured(self, name):
    if name not in BUILD:  # a search's own stages (the priming query)
        with plain(self, name):
            yield
        return
    before = memory().own
    with plain(self, name):
        yield
    steps.setdefault("engine." + name, [0.0, 0.0])[1] += memory().own - before
timing.Timer.stage = measured
def factory():
    from webapp import create_app
    return create_app({"DATABASE_URL": sys.argv[1], "RELOAD_POLL_SECONDS": 0})
app = step("create_app (imports webapp)", factory)
from webapp.lifecycle import warm_up
before = memory().own
engine = warm_up(app)
grown = memory().own - before
for name, ms in engine.load_ms.items():
    steps.setdefault("engine." + name, [0.0, 0.0])[0] = ms
staged = sum(v[1] for k, v in steps.items() if k.startswith("engine.") and k != "engine.prime")
steps["engine.prime"][1] = grown - staged
end = memory()
print(json.dumps({"steps": steps, "own": end.own, "rss": end.rss}))
"""


#: libraries big enough to be a step of their own, if a boot imports them at all
LIBRARIES = ("numpy", "faiss", "onnxruntime", "torch", "pandas", "sqlalchemy")
PROBE = r"""
import sys
from webapp import create_app
from webapp.lifecycle import warm_up
warm_up(create_app({"DATABASE_URL": sys.argv[1], "RELOAD_POLL_SECONDS": 0}))
print(",".join(lib for lib in sys.argv[2].split(",") if lib in sys.modules))
"""


def boot_steps(rounds: int, workdir: Path) -> dict[str, Any]:
    """Medians over ``rounds`` fresh processes of each step's ms and added own MiB."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"}
    probe = [sys.executable, "-c", PROBE, f"sqlite:///{workdir / 'probe.sqlite3'}"]
    imported = (
        subprocess.run(
            [*probe, ",".join(LIBRARIES)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    runs = []
    for n in range(rounds):
        database = f"sqlite:///{workdir / f'steps-{n}.sqlite3'}"
        out = subprocess.run(
            [sys.executable, "-c", STEPS_SCRIPT, database, imported],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    names = list(runs[0]["steps"])
    return {
        "steps": {
            name: [statistics.median(r["steps"][name][i] for r in runs) for i in (0, 1)]
            for name in names
        },
        "own": statistics.median(r["own"] for r in runs),
        "rss": statistics.median(r["rss"] for r in runs),
    }


# --- 2. gunicorn ---------------------------------------------------------------------------
def free_port() -> int:
    """A TCP port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(port: int, path: str, timeout: float = 30) -> int:
    """One GET; its status, 0 when the connection failed."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return 0
    finally:
        conn.close()


def search(query: str) -> str:
    """``/api/search`` for ``query``."""
    return "/api/search?" + urllib.parse.urlencode({"q": query})


def wait(condition, timeout: float) -> float:  # noqa: ANN001 - a callable
    """Seconds until ``condition()`` holds (polled every 20 ms); raises past ``timeout``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise TimeoutError("not in time")
        time.sleep(0.02)
    return time.monotonic() - start


def workers_memory(master: int) -> list[dict[str, float]]:
    """Each worker's memory (MiB)."""
    found = [memory(pid) for pid in sorted(workers_of(master))]
    return [{"own": m.own, "pss": m.pss, "rss": m.rss} for m in found if m is not None]


def traffic(port: int, seconds: float, threads: int = 2) -> dict[str, float]:
    """Searches from ``threads`` clients for ``seconds``: answers, failures, longest silence."""
    answered: list[float] = []
    failed = [0]
    stop = time.monotonic() + seconds
    lock = threading.Lock()

    def client(offset: int) -> None:
        i = offset
        while time.monotonic() < stop:
            status = get(port, search(f"{QUERIES[i % len(QUERIES)]} {i % 40}"))
            i += threads
            with lock:
                if status == 200:
                    answered.append(time.monotonic())
                else:
                    failed[0] += 1

    started = time.monotonic()
    pool = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    edges = [started, *sorted(answered), time.monotonic()]
    silence = max(b - a for a, b in zip(edges, edges[1:], strict=False))
    return {"answers": len(answered), "failed": failed[0], "silence_s": round(silence, 2)}


def serve(preload: str, kills: int, workdir: Path) -> dict[str, Any]:
    """One gunicorn on the demo in one process model, measured."""
    port = free_port()
    instance = workdir / f"instance-{preload}"
    pidfile = instance / "gunicorn.pid"
    env = {
        **os.environ,
        "APP_ENV": "production",
        "SECRET_KEY": "bench-" + "k" * 40,
        "DATABASE_URL": f"sqlite:///{workdir / f'serve-{preload}.sqlite3'}",
        "INSTANCE_PATH": str(instance),
        "RATELIMIT_ENABLED": "0",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_PRELOAD": preload,
        "GUNICORN_ACCESS_LOG": "/dev/null",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = (workdir / f"gunicorn-{preload}.log").open("wb")
    started = time.monotonic()
    server = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "-c",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    result: dict[str, Any] = {}
    try:
        master = server.pid
        wait(lambda: len(ready_workers(pidfile, master)) == 2 or server.poll() is not None, 300)
        if server.poll() is not None:
            raise TimeoutError("gunicorn exited")
        result["cold_start_s"] = round(time.monotonic() - started, 1)
        result["ready"] = workers_memory(master)
        traffic(port, 10)
        result["after_traffic"] = workers_memory(master)
        result["master"] = memory(master).__dict__
        replaced = []
        for _ in range(kills):
            victim = min(workers_of(master))
            known = workers_of(master)
            os.kill(victim, signal.SIGKILL)
            replaced.append(wait(lambda k=known: ready_workers(pidfile, master) - k, 300))
            wait(lambda: len(ready_workers(pidfile, master)) == 2, 300)
        result["replacement_ready_s"] = [round(s, 2) for s in replaced]
        result["replaced"] = workers_memory(master)
        outcome: dict[str, Any] = {}
        restart_started = time.monotonic()

        def restart() -> None:
            done = subprocess.run(
                [sys.executable, "-m", "webapp.restart"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            outcome["code"], outcome["s"] = done.returncode, time.monotonic() - restart_started

        command = threading.Thread(target=restart)
        command.start()
        load = traffic(port, 1)  # warm the clients up, then the whole restart
        while command.is_alive():
            load = {
                k: load[k] + v if k != "silence_s" else max(load[k], v)
                for k, v in traffic(port, 2).items()
            }
        command.join()
        result["restart"] = {"exit": outcome["code"], "s": round(outcome["s"], 1), **load}
    except TimeoutError:
        tail = (workdir / f"gunicorn-{preload}.log").read_text(errors="replace")[-3000:]
        message = f"GUNICORN_PRELOAD={preload}: not in time; its log ends:\n{tail}"
        raise RuntimeError(message) from None
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()
    return result


# --- 3. reload -----------------------------------------------------------------------------
#: ``flask --app webapp reload`` as Flask runs it once the package's entry point is
#: installed (``make install`` after pyproject.toml changed): the plugin command first
AS_PLUGIN = r"""
from flask.cli import FlaskGroup
from webapp.restart import reload_command
cli = FlaskGroup()
cli._loaded_plugin_commands = True
cli.add_command(reload_command, "reload")
cli.main(["--app", "webapp", "reload"], prog_name="flask")
"""


def plugin_installed() -> bool:
    """Whether this environment has the ``reload`` entry point (else Flask builds the app)."""
    from importlib.metadata import entry_points

    return any(ep.name == "reload" for ep in entry_points(group="flask.commands"))


def reload_times(rounds: int, workdir: Path) -> dict[str, list[float]]:
    """Wall seconds of ``flask --app webapp reload`` as installed, and as the plugin
    command, ``rounds`` times each."""
    env = {**os.environ, "INSTANCE_PATH": str(workdir / "reload"), "PYTHONPATH": str(ROOT)}
    commands = {
        "flask --app webapp reload": [str(BIN / "flask"), "--app", "webapp", "reload"],
        "the same as a plugin command": [sys.executable, "-c", AS_PLUGIN],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(rounds):
        for name, command in commands.items():
            start = time.monotonic()
            subprocess.run(command, cwd=ROOT, env=env, capture_output=True, check=True)
            times[name].append(time.monotonic() - start)
    return times


# --- report --------------------------------------------------------------------------------
def own(rows: list[dict[str, float]], field: str = "own") -> float:
    """The median worker's ``field``."""
    return statistics.median(r[field] for r in rows)


def number(value: float) -> str:
    """A figure as the tables print it: two decimals below 10, one above."""
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def report(
    steps: dict[str, Any], runs: dict[str, dict[str, Any]], reload_s: dict[str, list[float]]
) -> None:
    """Print the tables."""
    print("\n## A worker that loads its own engine, by step (medians)\n")
    print("| step | ms | own MiB added |\n| --- | ---: | ---: |")
    for name, (ms, mb) in steps["steps"].items():
        print(f"| {name} | {ms:.0f} | {mb:+.0f} |")
    total = sum(ms for ms, _ in steps["steps"].values())
    print(f"| **total** | **{total:.0f}** | own {steps['own']:.0f}, RSS {steps['rss']:.0f} |")
    before, after = runs["0"], runs["1"]
    rows = [
        ("cold start, s", before["cold_start_s"], after["cold_start_s"]),
        (
            "worker replaced after SIGKILL → ready, s (median)",
            statistics.median(before["replacement_ready_s"]),
            statistics.median(after["replacement_ready_s"]),
        ),
        ("worker own memory when ready, MiB", own(before["ready"]), own(after["ready"])),
        (
            "worker own memory after 10 s of searches, MiB",
            own(before["after_traffic"]),
            own(after["after_traffic"]),
        ),
        ("replaced worker own memory, MiB", own(before["replaced"]), own(after["replaced"])),
        (
            "worker PSS after searches, MiB",
            own(before["after_traffic"], "pss"),
            own(after["after_traffic"], "pss"),
        ),
        (
            "worker RSS after searches, MiB",
            own(before["after_traffic"], "rss"),
            own(after["after_traffic"], "rss"),
        ),
        ("master RSS, MiB", before["master"]["rss"], after["master"]["rss"]),
        ("restart (make restart), s", before["restart"]["s"], after["restart"]["s"]),
        ("restart: failed requests", before["restart"]["failed"], after["restart"]["failed"]),
        (
            "restart: longest silence, s",
            before["restart"]["silence_s"],
            after["restart"]["silence_s"],
        ),
    ]
    print("\n## gunicorn, 2 workers: each loads its own engine vs forked from the master\n")
    print("| | per-worker load | preloaded | before / after |\n| --- | ---: | ---: | ---: |")
    for label, a, b in rows:
        ratio = f"{a / b:.1f}×" if b else "—"
        print(f"| {label} | {number(a)} | {number(b)} | {ratio} |")
    print(
        f"\nreplacements (s): per-worker {before['replacement_ready_s']}, "
        f"preloaded {after['replacement_ready_s']}"
    )
    print(
        f"restart exit codes: per-worker {before['restart']['exit']}, "
        f"preloaded {after['restart']['exit']}"
    )
    how = "the plugin command" if plugin_installed() else "through the app: no entry point here"
    print(f"\nreload ({how}):")
    for name, times in reload_s.items():
        listed = ", ".join(f"{s:.2f}" for s in times)
        print(f"- {name}: median {statistics.median(times):.2f} s ({listed})")


def main(argv: list[str] | None = None) -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="fresh boots for the step table")
    parser.add_argument("--kills", type=int, default=3, help="SIGKILLed workers per model")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-boot-") as tmp:
        workdir = Path(tmp)
        steps = boot_steps(args.rounds, workdir)
        runs = {preload: serve(preload, args.kills, workdir) for preload in ("0", "1")}
        reload_s = reload_times(args.rounds, workdir)
    print(json.dumps({"steps": steps, "runs": runs, "reload_s": reload_s}), file=sys.stderr)
    report(steps, runs, reload_s)


if __name__ == "__main__":
    main()
