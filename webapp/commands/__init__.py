"""``flask --app webapp …`` commands, one module per concern, each a thin shell that parses
options and calls the core: :mod:`.catalogue` (demo catalogue, embeddings, thesaurus,
definitions), :mod:`.models` (ONNX exports, ruCLIP folders), :mod:`.index` (vector indexes
and the catalogue's mapped artifacts), :mod:`.training` (the cross-modal heads),
:mod:`.evaluation` (quality and recommendation reports) and :mod:`.search` (a terminal
search). The `reload` command belongs to the service and is registered by
:mod:`webapp.lifecycle` (and by :mod:`webapp.restart` as a Flask plugin command).
"""

from __future__ import annotations

import copy
import functools
import importlib
from collections.abc import Callable
from typing import Any

import click
from flask import Flask

from ..observability import terminal_logging
from . import catalogue, evaluation, index, search, training

COMMANDS: tuple[click.Command, ...] = (
    *catalogue.COMMANDS,
    *index.COMMANDS,
    *training.COMMANDS,
    *evaluation.COMMANDS,
    *search.COMMANDS,
)
#: modules imported only when one of their commands runs (or ``--help`` lists them), by
#: the names of their commands: :mod:`.models` imports torch (≈ 4 s, ≈ 0.7 GB), which
#: every other command, ``reload`` through the app included, paid first
LAZY: dict[str, tuple[str, ...]] = {
    f"{__name__}.models": ("export-image-model", "export-text-model", "make-ruclip-model"),
}


class LazyCommand(click.Command):
    """A command known by name whose module is imported when it is run or described.

    ``make_context`` hands over to the real command, so parsing, ``--help`` and the
    callback are the real command's own; ``prepare`` (the terminal logs) is applied to it
    once it is loaded.
    """

    def __init__(
        self, name: str, module: str, prepare: Callable[[click.Command], click.Command]
    ) -> None:
        """The command ``name`` from ``module``'s ``COMMANDS``."""
        super().__init__(name)
        self._module, self._prepare = module, prepare
        self._real: click.Command | None = None

    def real(self) -> click.Command:
        """The command itself, imported on first use."""
        if self._real is None:
            commands = importlib.import_module(self._module).COMMANDS
            self._real = self._prepare(next(c for c in commands if c.name == self.name))
        return self._real

    def make_context(self, info_name, args, parent=None, **extra):  # type: ignore[no-untyped-def]
        """The real command's context: it parses the arguments, and it is what runs."""
        return self.real().make_context(info_name, args, parent=parent, **extra)

    def get_short_help_str(self, limit: int = 45) -> str:
        """The real command's one-line help (``flask --help``)."""
        return self.real().get_short_help_str(limit)

    def get_help(self, ctx: click.Context) -> str:
        """The real command's help."""
        return self.real().get_help(ctx)

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        """The real command's parameters (shell completion)."""
        return self.real().get_params(ctx)


def with_terminal_logs(app: Flask, command: click.Command) -> click.Command:
    """A copy of ``command`` that first turns ``app``'s logs to the terminal's form
    (:func:`~webapp.observability.terminal_logging`); a server's stay JSON."""
    inner = command.callback
    if inner is None:
        return command

    def callback(*args: Any, **kwargs: Any) -> Any:
        terminal_logging(app)
        return inner(*args, **kwargs)

    wrapped = copy.copy(command)
    wrapped.callback = functools.update_wrapper(callback, inner)
    return wrapped


def init_app(app: Flask) -> None:
    """Register every command on ``app``, each logging for a terminal (the services'
    ``init_app`` ran first: ``reload`` is registered by ``lifecycle``)."""
    for command in COMMANDS:
        app.cli.add_command(command)
    for name, command in list(app.cli.commands.items()):
        app.cli.commands[name] = with_terminal_logs(app, command)
    for module, names in LAZY.items():
        for name in names:
            app.cli.add_command(
                LazyCommand(name, module, functools.partial(with_terminal_logs, app)), name
            )
