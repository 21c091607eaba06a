"""A scratch copy of the working tree for running documented commands as typed
(tests/test_documented_commands.py): the copy, its environment, a shell to run a command in
it, a server started and stopped in it, and a 24-design catalogue.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from webapp.config import RENAMED, defaults

ROOT = Path(__file__).resolve().parent.parent
#: the designs of the tiny catalogue: the rooster and its kin, a few others, then the
#: first rows of the demo catalogue
TINY_IDS = ("1f413", "1f414", "1f408", "1f431", "1f384", "1f382", "1f339", "1f697", "1f436")
TINY_FIRST_ROWS = 15
#: where a command runs make
MAKE = re.compile(r"(?:^|\s)make\s")


@dataclass
class Workspace:
    """A scratch copy of the working tree and the environment its commands run in."""

    root: Path
    env: dict[str, str]
    last_log: str = ""  # what the last server printed

    def run(self, command: str, *, env: dict[str, str] | None = None, timeout: float = 600) -> str:
        """Run ``command`` through ``bash -c`` here; its stdout and stderr together, as a
        terminal shows them. A non-zero exit fails the test with the output."""
        if MAKE.search(command):
            self.check_make_installs_nothing(command, env)
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=self.root,
            env={**self.env, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, f"`{command}` exited {done.returncode}:\n{done.stdout}"
        return done.stdout

    def check_make_installs_nothing(self, command: str, env: dict[str, str] | None) -> None:
        """``make``'s dry run of ``command`` holds no install step (the environment is the
        one running these tests, and stays as it is)."""
        target = command[MAKE.search(command).start() :].strip()
        dry = subprocess.run(
            ["bash", "-c", MAKE.sub(" make -n ", f" {target}", count=1)],
            cwd=self.root,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            check=False,
        )
        assert "pip install" not in dry.stdout and " -m venv" not in dry.stdout, (
            f"`{target}` would install into the virtual environment: run `make install-dev` "
            f"first\n{dry.stdout}"
        )

    @contextmanager
    def serve(
        self, command: str, *, env: dict[str, str] | None = None, ready_s: float = 300
    ) -> Iterator[str]:
        """Start ``command`` (a server) on a free port; yield its base URL once ``/readyz``
        answers 200; stop its whole process group after."""
        port = free_port()
        if MAKE.search(command):
            self.check_make_installs_nothing(command, env)
        log = self.root / "build" / f"server-{port}.log"
        log.parent.mkdir(exist_ok=True)
        with log.open("w") as out:
            process = subprocess.Popen(
                ["bash", "-c", command],
                cwd=self.root,
                env={**self.env, "PORT": str(port), "FLASK_RUN_PORT": str(port), **(env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + ready_s
            while get(f"{base}/readyz")[0] != 200:
                assert process.poll() is None, f"`{command}` stopped:\n{log.read_text()}"
                assert time.monotonic() < deadline, f"`{command}` not ready:\n{log.read_text()}"
                time.sleep(1)
            yield base
        finally:
            stop(process)
        self.last_log = log.read_text()


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(url: str) -> tuple[int, str]:
    """Status and body of a GET (0 and the error when nothing answers)."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")
    except OSError as exc:
        return 0, str(exc)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, SIGKILL it if it lingers, and reap the shell."""
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue


def _copy_tree(target: Path) -> None:
    """The working tree as git sees it (tracked and untracked, not ignored) into ``target``,
    with ``models/``'s exports, every file's time kept."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (n.decode() for n in listed)):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / "models").mkdir(exist_ok=True)
    for export in (ROOT / "models").glob("*.onnx"):
        shutil.copy2(export, target / "models" / export.name)  # a link is followed
        os.utime(target / "models" / export.name)  # newer than the environment's stamps


def _environment(root: Path) -> dict[str, str]:
    """The caller's environment without any setting of the app, with the scratch copy's
    ``.venv/bin`` first on ``PATH`` and the copy first on ``PYTHONPATH``."""
    settings = set(defaults(str(root / "instance"))) | set(RENAMED) | {"INSTANCE_PATH"}
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in settings
        and not key.startswith(("FLASK_", "PYTEST_", "GUNICORN_", "PROMETHEUS_"))
        and key not in ("HOST", "PORT", "WEB_CONCURRENCY", "VIRTUAL_ENV", "PYTHONPATH")
    }
    env["PATH"] = f"{root / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(root)
    return env


def tiny_catalogue(root: Path) -> Path:
    """``build/tiny``: 24 designs of the demo (the rooster among them) with their pictures."""
    with open(root / "data" / "catalog.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    keep = [r for r in rows if r["id"] in TINY_IDS]
    keep += [r for r in rows[:TINY_FIRST_ROWS] if r["id"] not in TINY_IDS]
    tiny = root / "build" / "tiny"
    tiny.mkdir(parents=True)
    with open(tiny / "catalog.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(keep)
    for row in keep:
        (tiny / row["image"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / "data" / row["image"], tiny / row["image"])
    return tiny


def make_workspace(root: Path) -> Workspace:
    """The working tree copied into ``root`` (empty), its ``.venv`` a link to the running
    environment, its install inputs dated 2000 (``make`` sees that environment installed),
    and its tiny catalogue in ``build/tiny``."""
    _copy_tree(root)
    (root / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    for name in ("requirements.txt", "requirements-dev.txt", "pyproject.toml"):
        os.utime(root / name, (946684800, 946684800))  # 2000-01-01
    tiny_catalogue(root)
    return Workspace(root, _environment(root))
