"""Search analytics for staff: what shoppers ask, what finds nothing, what they open.

``events`` holds the tables, ``recorder`` the buffered writer (:class:`Analytics`),
``reports`` what the staff pages read.
"""

from __future__ import annotations

from flask import Flask, current_app

from .events import ProductView, RecImpression, SearchEvent
from .recorder import Analytics
from .reports import QueryStat

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
    app.extensions["analytics"] = Analytics(
        app.extensions["store"].engine,
        flush_seconds=app.config["ANALYTICS_FLUSH_SECONDS"],
        covisit_window_s=app.config["COVISIT_WINDOW_SECONDS"],
        half_life_days=app.config["COVISIT_HALF_LIFE_DAYS"],
    )


def get_analytics() -> Analytics:
    """The current app's analytics recorder."""
    analytics: Analytics = current_app.extensions["analytics"]
    return analytics
