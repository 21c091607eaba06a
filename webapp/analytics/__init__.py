"""Search analytics for staff: what shoppers ask, what finds nothing, what they open.

``events`` holds the raw tables, ``spool`` the per-process durable log events wait in,
``recorder`` the writer (:class:`Analytics`), ``writer`` the batch transaction,
``counters`` the pre-aggregated counts, ``reports`` what pages read from them, and
``retention`` the pruning of old raw events.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app

from ..tables import ProductView, RecImpression, SearchEvent
from .recorder import Analytics
from .reports import QueryStat
from .retention import prune_events_command

__all__ = [
    "Analytics",
    "ProductView",
    "QueryStat",
    "RecImpression",
    "SearchEvent",
    "get_analytics",
    "init_app",
]


def init_app(app: Flask) -> None:
    """Keep an analytics recorder on the app, writing to the catalogue's database."""
    cfg = app.config
    app.extensions["analytics"] = Analytics(
        app.extensions["store"].engine,
        flush_seconds=cfg["ANALYTICS_FLUSH_SECONDS"],
        covisit_window_s=cfg["COVISIT_WINDOW_SECONDS"],
        half_life_days=cfg["COVISIT_HALF_LIFE_DAYS"],
        spool_dir=Path(cfg["ANALYTICS_SPOOL_DIR"]) if cfg["ANALYTICS_SPOOL_DIR"] else None,
        spool_fsync=cfg["ANALYTICS_SPOOL_FSYNC"],
        replay_seconds=cfg["ANALYTICS_REPLAY_SECONDS"],
        retention_days=cfg["ANALYTICS_RETENTION_DAYS"],
    )
    app.cli.add_command(prune_events_command)


def get_analytics() -> Analytics:
    """The current app's analytics recorder."""
    analytics: Analytics = current_app.extensions["analytics"]
    return analytics
