"""Liveness and readiness probes."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from ..index.base import IndexUnavailable
from ..lifecycle import is_ready

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """The process is alive and answering."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """200 once the models and indexes are loaded and every index can serve, 503 else."""
    app = current_app
    if not is_ready(app):
        return jsonify(status="loading"), 503
    engine = app.extensions["search"]
    try:
        engine.check()
    except IndexUnavailable as exc:
        app.logger.error("not ready: %s", exc)
        return jsonify(status="unavailable", error=str(exc)), 503
    described = engine.describe()
    return jsonify(
        status="ready",
        products=described["products"],
        spaces={name: s["model"] for name, s in described["spaces"].items()},
    )
