"""The process model's small parts, without a server: when the master preloads, what
``flask --app webapp reload`` needs (the settings, not the app), what the restart command
says with no server, and how a process's own memory is read."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from webapp import create_app
from webapp.restart import main, memory, preload_wanted, reload_command, settings

from .conftest import ROOT


@pytest.mark.parametrize(
    ("environ", "preload"),
    [
        ({}, True),  # the offline encoders run on the CPU: preload
        ({"GUNICORN_PRELOAD": "0"}, False),
        ({"GUNICORN_PRELOAD": "1", "DEVICE": "cuda"}, True),  # the operator's choice wins
        ({"DEVICE": "cuda:1"}, False),  # a CUDA context cannot cross fork
        ({"DEVICE": "cpu", "RUCLIP_MODEL_DIR": "/models/ruclip"}, True),
        ({"RUCLIP_MODEL_DIR": "/models/ruclip", "CUDA_VISIBLE_DEVICES": ""}, True),
    ],
)
def test_the_master_preloads_unless_cuda_may_be_used(environ: dict, preload: bool) -> None:
    assert preload_wanted(environ) is preload


def test_settings_without_the_app_are_the_apps(tmp_path: Path, monkeypatch) -> None:
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text(f"RELOAD_STAMP = {str(tmp_path / 'x.stamp')!r}\n")
    monkeypatch.setenv("INSTANCE_PATH", str(instance))
    monkeypatch.setenv("RELOAD_POLL_SECONDS", "0.5")
    app = create_app()
    found = settings()
    for key in ("RELOAD_STAMP", "RELOAD_POLL_SECONDS", "DATABASE_URL", "EMBEDDINGS_DIR"):
        assert found[key] == app.config[key], key
    assert found["RELOAD_STAMP"] == str(tmp_path / "x.stamp")


RELOAD_AS_PLUGIN = """
import sys
from flask.cli import FlaskGroup
from webapp.restart import reload_command
cli = FlaskGroup()
cli._loaded_plugin_commands = True  # as Flask registers the entry point of pyproject.toml
cli.add_command(reload_command, "reload")
try:
    cli.main(["--app", "webapp", "reload"], prog_name="flask")
except SystemExit as exit:
    assert not exit.code, exit.code
heavy = [m for m in ("webapp.lifecycle", "webapp.search.engine", "torch", "pandas")
         if m in sys.modules]
print("heavy:", heavy)
"""


def test_reload_touches_the_stamp_without_building_the_app(tmp_path: Path) -> None:
    """As Flask's plugin command, ``flask --app webapp reload`` reads the settings only:
    building the app imported torch, pandas and the search core (7.6 s idle) to touch
    one file."""
    out = subprocess.run(
        [sys.executable, "-c", RELOAD_AS_PLUGIN],
        cwd=ROOT,
        env={**os.environ, "INSTANCE_PATH": str(tmp_path), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "reload requested" in out and "heavy: []" in out
    assert (tmp_path / "reload.stamp").exists()


def test_reload_is_declared_as_a_flask_plugin_command() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    target = project["project"]["entry-points"]["flask.commands"]["reload"]
    module, attribute = target.split(":")
    assert getattr(sys.modules[module], attribute) is reload_command


def test_reload_of_another_app_uses_that_apps_stamp(tmp_path: Path, monkeypatch) -> None:
    """Only this project's own ``--app`` skips building the app."""
    from flask.cli import ScriptInfo

    stamp = tmp_path / "other.stamp"
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    info = ScriptInfo(
        app_import_path="someone_else",
        create_app=lambda: create_app({"RELOAD_STAMP": str(stamp)}),
    )
    result = reload_command.make_context("reload", [], obj=info)
    with result:
        reload_command.invoke(result)
    assert stamp.exists()


def test_the_restart_command_without_a_server_says_so(tmp_path: Path, capsys) -> None:
    assert main(["--pidfile", str(tmp_path / "gunicorn.pid")]) == 2
    assert "no server" in capsys.readouterr().err


def test_own_memory_is_part_of_what_is_resident() -> None:
    mine = memory()
    assert mine is not None and 0 < mine.own <= mine.pss <= mine.rss
    assert memory(2**22 + 12345) is None  # no such process


def test_lazy_commands_are_the_modules_own(tmp_path: Path) -> None:
    """The commands registered by name before their (heavy) module is imported are exactly
    that module's commands, and run as themselves."""
    import importlib

    from webapp.commands import LAZY

    for module, names in LAZY.items():
        assert names == tuple(c.name for c in importlib.import_module(module).COMMANDS)
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"})
    result = app.test_cli_runner().invoke(args=["export-text-model", "--help"])
    assert result.exit_code == 0 and "--precision" in result.output


def test_the_restart_command_finds_the_pid_file_where_the_app_keeps_its_instance(
    tmp_path: Path,
) -> None:
    """Run as ``python -m webapp.restart`` (``__name__`` is then ``__main__``), it looks in
    the instance folder of the app (``instance/`` of the checkout), as gunicorn.conf.py."""
    env = {k: v for k, v in os.environ.items() if k != "INSTANCE_PATH"}
    out = subprocess.run(
        [sys.executable, "-m", "webapp.restart", "--help"],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT), "COLUMNS": "300"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"})
    expected = Path(app.instance_path) / "gunicorn.pid"
    assert f"default: {expected}" in " ".join(out.split())
