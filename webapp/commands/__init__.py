"""``flask --app webapp …`` commands, one module per concern, each a thin shell that parses
options and calls the core: :mod:`.catalogue` (demo catalogue, embeddings, thesaurus,
definitions), :mod:`.models` (ONNX exports, ruCLIP folders), :mod:`.index` (vector indexes
and the catalogue's mapped artifacts), :mod:`.training` (the cross-modal heads),
:mod:`.evaluation` (quality and recommendation reports) and :mod:`.search` (a terminal
search). The `reload` command belongs to the service and is registered by
:mod:`webapp.lifecycle`.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import click
from flask import Flask

from ..observability import terminal_logging
from . import catalogue, evaluation, index, models, search, training

COMMANDS: tuple[click.Command, ...] = (
    *catalogue.COMMANDS,
    *models.COMMANDS,
    *index.COMMANDS,
    *training.COMMANDS,
    *evaluation.COMMANDS,
    *search.COMMANDS,
)


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
