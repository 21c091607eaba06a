"""Semantic catalogue search for a machine-embroidery shop.

``create_app`` reads like a table of contents: configuration, then each
service is wired through its ``init_app``, then the blueprints.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create and configure the Flask application."""
    # Imported here so that ``import webapp.search`` and friends stay free of the web layer.
    from . import analytics, commands, concept_rules, config, lifecycle, observability, security
    from .catalog import store
    from .web import api, errors, health, links, openapi, pages, shopper, staff

    app = Flask(
        __name__,
        instance_relative_config=True,
        instance_path=os.environ.get("INSTANCE_PATH") or None,
        template_folder="../templates",
        static_folder="../static",
    )
    app.config.from_mapping(config.defaults(app.instance_path))
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_mapping(config.from_environment(app.config))
    if test_config is not None:
        app.config.from_mapping(test_config)
    os.makedirs(app.instance_path, exist_ok=True)

    security.init_app(app)
    observability.init_app(app)
    store.init_app(app)
    analytics.init_app(app)
    lifecycle.init_app(app)
    concept_rules.init_app(app)
    commands.init_app(app)
    links.init_app(app)
    for blueprint in (pages.bp, shopper.bp, api.bp, openapi.bp, health.bp, staff.bp):
        app.register_blueprint(blueprint)
    errors.init_app(app)
    return app
