"""The shop's own concept rules (``/staff/synonyms``), stored in the catalogue's database,
and the loading of every rule source for the engine.

Sources, weakest first: the thesaurus artifact, the occasions calendar file, then the
staff rules here (a staff rule for a phrase replaces the default one). Saving a rule
touches ``RELOAD_STAMP``, so every worker rebuilds its engine with the new rules.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask
from sqlalchemy import DateTime, Engine, String, Text, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from .catalog.rules import Concepts, Rule, make_rule, read_rules_tsv, read_thesaurus
from .catalog.store import Base

log = logging.getLogger(__name__)


class ConceptRule(Base):
    """One staff rule: a query phrase and the catalogue words it adds (comma-separated)."""

    __tablename__ = "concept_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    phrase: Mapped[str] = mapped_column(String(200), unique=True)
    words: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(UTC)
    )


class RuleStore:
    """Staff rules in the database: list, save (validated), delete."""

    def __init__(self, engine: Engine) -> None:
        """Use ``engine``'s database (the table is created if needed)."""
        self.engine = engine
        Base.metadata.create_all(engine, tables=[ConceptRule.__table__])

    def all(self) -> list[Rule]:
        """Every stored rule, by phrase."""
        with Session(self.engine) as session:
            rows = session.scalars(select(ConceptRule).order_by(ConceptRule.phrase)).all()
            return [make_rule(r.phrase, r.words) for r in rows]

    def save(self, phrase: str, words: str) -> Rule:
        """Validate and store a rule (replacing the one for the same phrase);
        :class:`~webapp.catalog.rules.RuleError` when it is bad."""
        rule = make_rule(phrase, words)
        with Session(self.engine) as session, session.begin():
            row = session.scalars(select(ConceptRule).where(ConceptRule.phrase == rule.phrase))
            existing = row.first()
            if existing is None:
                session.add(ConceptRule(phrase=rule.phrase, words=", ".join(rule.words)))
            else:
                existing.words = ", ".join(rule.words)
                existing.updated_at = datetime.now(UTC)
        return rule

    def delete(self, phrase: str) -> bool:
        """Remove the rule for ``phrase``; False when there was none."""
        with Session(self.engine) as session, session.begin():
            result = session.execute(delete(ConceptRule).where(ConceptRule.phrase == phrase))
            return bool(getattr(result, "rowcount", 0))  # a CursorResult for a DELETE


def default_rules(app: Flask) -> tuple[list[Rule], list[Rule]]:
    """The shipped rules: thesaurus artifact and occasions calendar (either may be off)."""
    cfg = app.config
    thesaurus = Path(cfg["THESAURUS_PATH"]) if cfg["THESAURUS_PATH"] else None
    occasions = Path(cfg["OCCASIONS_PATH"]) if cfg["OCCASIONS_PATH"] else None
    general = read_thesaurus(thesaurus) if thesaurus and thesaurus.exists() else []
    if thesaurus and not thesaurus.exists():
        log.warning("no thesaurus at %s: run `flask --app webapp build-thesaurus`", thesaurus)
    calendar = read_rules_tsv(occasions) if occasions and occasions.exists() else []
    return general, calendar


def load_concepts(app: Flask) -> Concepts:
    """Every rule source merged: thesaurus < occasions < staff."""
    general, calendar = default_rules(app)
    return Concepts(general, calendar, get_rule_store(app).all())


def request_reload(app: Flask) -> None:
    """Ask every worker to rebuild its engine (the same stamp ``flask reload`` touches)."""
    stamp = Path(app.config["RELOAD_STAMP"])
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.touch()
    os.utime(stamp, ns=(time.time_ns(), time.time_ns()))


def get_rule_store(app: Flask) -> RuleStore:
    """The app's staff rule store, created on first use over the catalogue's database."""
    store: RuleStore | None = app.extensions.get("concept_rules")
    if store is None:
        store = RuleStore(app.extensions["store"].engine)
        app.extensions["concept_rules"] = store
    return store
