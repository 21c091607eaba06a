"""Retention: raw events older than ``ANALYTICS_RETENTION_DAYS`` are deleted.

Nothing is lost to the pages: every event was added to the counters (``counters.py``)
in the transaction that stored it, and rows older than the counters were counted when
the counters were created. The covisit table keeps its decayed weights. Each server's
flusher prunes once a day; ``flask --app webapp prune-events`` does it on demand
(from cron, say). Deletion goes in short transactions by the ``at`` index, so writers
are never held up for long.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import Engine, delete, select

from .events import TABLES, now

#: rows deleted per transaction
CHUNK = 5000


def prune(engine: Engine, days: float, *, at: datetime | None = None) -> dict[str, int]:
    """Delete raw events older than ``days`` days before ``at`` (now); rows deleted by table."""
    cutoff = (at or now()) - timedelta(days=days)
    deleted: dict[str, int] = {}
    for model in TABLES.values():
        table = model.__table__
        deleted[table.name] = 0
        while True:
            oldest = select(table.c.id).where(table.c.at < cutoff).order_by(table.c.at).limit(CHUNK)
            with engine.begin() as conn:
                done = conn.execute(delete(table).where(table.c.id.in_(oldest))).rowcount
            deleted[table.name] += done
            if done < CHUNK:
                break
    return deleted


@click.command("prune-events")
@click.option(
    "--days",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Keep this many days of raw events (default: ANALYTICS_RETENTION_DAYS).",
)
@with_appcontext
def prune_events_command(days: float | None) -> None:
    """Delete raw analytics events past their retention (the counters keep their counts)."""
    days = days or float(current_app.config["ANALYTICS_RETENTION_DAYS"])
    if days <= 0:
        click.echo("ANALYTICS_RETENTION_DAYS is 0: raw events are kept; nothing pruned")
        return
    current_app.extensions["analytics"].flush()
    deleted = prune(current_app.extensions["analytics"].engine, days)
    click.echo(
        f"kept {days:g} days of raw events; deleted "
        + ", ".join(f"{n:,} from {name}" for name, n in deleted.items())
    )
