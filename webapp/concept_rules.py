"""The shop's own concept rules (``/staff/synonyms``), stored in the catalogue's database,
and the loading of every rule source for the engine.

Sources, weakest first: the thesaurus artifact, the occasions calendar file, then the
staff rules here (a staff rule for a phrase replaces the default one). Saving a rule
touches ``RULES_STAMP``; each worker notices it on its next request (at most every
``RULES_POLL_SECONDS``) and swaps in the new rule table alone: its engine, models and
indexes stay as they are, and the shipped rule files are read again only when they changed.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from flask import Flask, current_app
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session
from werkzeug.local import LocalProxy

from .catalog.rules import (
    Concepts,
    Rule,
    RuleError,
    RuleLimits,
    check_staff_rule,
    make_rule,
    read_rules_tsv,
    read_thesaurus,
)
from .tables import Base, ConceptRule

log = logging.getLogger(__name__)


class RuleStore:
    """Staff rules in the database: list, save (validated), delete."""

    def __init__(self, engine: Engine, limits: RuleLimits | None = None) -> None:
        """Use ``engine``'s database (the table is created if needed); a rule saved must
        keep within ``limits``."""
        self.engine = engine
        self.limits = limits or RuleLimits()
        Base.metadata.create_all(engine, tables=[ConceptRule.__table__])

    def problems(self, phrase: str, words: str) -> dict[str, str]:
        """What is wrong with a rule as typed, per field (``phrase``, ``words``), in
        Russian; empty when it can be saved."""
        errors = check_staff_rule(phrase, words, self.limits)
        if not errors:
            try:
                make_rule(phrase, words)
            except RuleError as exc:
                errors[exc.field or "phrase"] = str(exc)
        return errors

    def all(self) -> list[Rule]:
        """Every stored rule, by phrase."""
        with Session(self.engine) as session:
            rows = session.scalars(select(ConceptRule).order_by(ConceptRule.phrase)).all()
            return [make_rule(r.phrase, r.words) for r in rows]

    def save(self, phrase: str, words: str) -> Rule:
        """Validate and store a rule (replacing the one for the same phrase);
        :class:`~webapp.catalog.rules.RuleError` when it is bad, and nothing is stored."""
        errors = self.problems(phrase, words)
        if errors:
            at, message = next(iter(errors.items()))
            raise RuleError(message, at)
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
    """The shipped rules: thesaurus artifact and occasions calendar (either may be off),
    read again only when either file changed."""
    cfg = app.config
    thesaurus = Path(cfg["THESAURUS_PATH"]) if cfg["THESAURUS_PATH"] else None
    occasions = Path(cfg["OCCASIONS_PATH"]) if cfg["OCCASIONS_PATH"] else None
    key = (_identity(thesaurus), _identity(occasions))
    state = _state(app)
    if state.defaults is not None and state.defaults[0] == key:
        return state.defaults[1]
    general = read_thesaurus(thesaurus) if thesaurus and thesaurus.exists() else []
    if thesaurus and not thesaurus.exists():
        log.warning("no thesaurus at %s: run `flask --app webapp build-thesaurus`", thesaurus)
    calendar = read_rules_tsv(occasions) if occasions and occasions.exists() else []
    state.defaults = (key, (general, calendar))
    return general, calendar


def load_concepts(app: Flask) -> Concepts:
    """Every rule source merged: thesaurus < occasions < staff."""
    state = _state(app)
    state.seen = _mtime(Path(app.config["RULES_STAMP"]))  # read before the rules it covers
    general, calendar = default_rules(app)
    return Concepts(general, calendar, get_rule_store(app).all())


def request_rules_reload(app: Flask) -> None:
    """Tell every worker that the staff rules changed (touches ``RULES_STAMP``), and apply
    them in this one at once."""
    stamp = Path(app.config["RULES_STAMP"])
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.touch()
    os.utime(stamp, ns=(time.time_ns(), time.time_ns()))
    apply_rules(app)


def apply_rules(app: Flask) -> bool:
    """Swap the current rule table into ``app``'s loaded engine (nothing else is rebuilt);
    False when no engine is loaded yet (it reads the rules when it loads)."""
    engine = app.extensions.get("search")
    if engine is None:
        return False
    started = time.perf_counter()
    engine.use_concepts(load_concepts(app))
    log.info("concept rules reloaded in %.0f ms", (time.perf_counter() - started) * 1000)
    return True


def refresh_rules() -> None:
    """Before a request: apply the staff rules again if another worker saved one since
    (``RULES_STAMP`` changed). The stamp is looked at at most every ``RULES_POLL_SECONDS``
    (0: on every request), by one thread at a time; the others go on meanwhile."""
    app = cast("LocalProxy[Flask]", current_app)._get_current_object()
    state = _state(app)
    now = time.monotonic()
    if now - state.checked < float(app.config["RULES_POLL_SECONDS"]):
        return
    state.checked = now
    if _mtime(Path(app.config["RULES_STAMP"])) == state.seen:
        return
    if not state.lock.acquire(blocking=False):
        return
    try:
        apply_rules(app)
    finally:
        state.lock.release()


@dataclass
class _RulesState:
    """Per app: when the stamp was last looked at, which stamp the rules in use follow,
    and the shipped rules with the identity of the files they were read from."""

    checked: float = float("-inf")
    seen: int = 0
    defaults: tuple[object, tuple[list[Rule], list[Rule]]] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def _state(app: Flask) -> _RulesState:
    """``app``'s :class:`_RulesState`."""
    state: _RulesState | None = app.extensions.get("concept_rules_state")
    if state is None:
        state = app.extensions.setdefault("concept_rules_state", _RulesState())
    return state


def _mtime(path: Path) -> int:
    """``path``'s modification time in ns, 0 when it does not exist."""
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


def _identity(path: Path | None) -> tuple[str, int, int] | None:
    """A file's path, size and modification time (None: off or missing)."""
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    return (str(path), st.st_size, st.st_mtime_ns)


def get_rule_store(app: Flask) -> RuleStore:
    """The app's staff rule store, created on first use over the catalogue's database."""
    store: RuleStore | None = app.extensions.get("concept_rules")
    if store is None:
        limits = RuleLimits(int(app.config["RULE_MAX_CHARS"]), int(app.config["RULE_MAX_WORDS"]))
        store = RuleStore(app.extensions["store"].engine, limits)
        app.extensions["concept_rules"] = store
    return store


def init_app(app: Flask) -> None:
    """Keep each worker's rules current: look at ``RULES_STAMP`` before requests."""
    app.before_request(refresh_rules)
