"""«С этим дизайном смотрят»: item-to-item co-visitation, decayed, blended with content.

Two designs opened in the same session within ``window`` seconds are a
co-visit. Counts are kept incrementally in the ``covisits`` table (both
directions, so a lookup is one primary-key range): each analytics flush pairs
its new views with the same sessions' earlier views and upserts the sums, so a
new co-view shows as soon as its flush commits, and nothing ever rescans the log.

Decay without a rewrite: a co-visit at time ``t`` adds ``2 ** ((t - EPOCH) / half_life)``.
Every stored weight shares the factor ``2 ** (-(now - EPOCH) / half_life)``, so the
order needs no decay at all and the decayed value is one multiplication at read time.
(With a 14-day half-life the float64 sums stay finite for ~27 years after EPOCH.)
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy import Engine, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..tables import CoVisit

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
DAY = 86400.0


def growth(at: datetime, half_life_days: float) -> float:
    """The weight one co-visit at ``at`` adds (grows by 2× each half-life after EPOCH)."""
    if at.tzinfo is None:  # SQLite gives naive datetimes back; they were stored as UTC
        at = at.replace(tzinfo=UTC)
    return float(2.0 ** ((at - EPOCH).total_seconds() / DAY / half_life_days))


def pair_weights(
    earlier: Iterable[Sequence[object]],
    new: Iterable[Mapping[str, object]],
    *,
    window_s: float,
    half_life_days: float,
    counts: Counter[tuple[str, str]] | None = None,
) -> Counter[tuple[str, str]]:
    """Co-visit weights (both directions) that the ``new`` view rows add.

    ``earlier``: (session_key, product_id, at) rows already stored; ``new``: the rows
    being flushed (dicts with those keys). Each new view pairs once with every other
    design its session opened in the ``window_s`` seconds before it. ``counts``, when
    given, receives the undecayed number of co-visits per pair.
    """
    by_session: dict[str, list[tuple[datetime, str, bool]]] = defaultdict(list)
    for key, pid, at in earlier:
        by_session[str(key)].append((_aware(at), str(pid), False))
    for row in new:
        if row.get("session_key"):
            by_session[str(row["session_key"])].append(
                (_aware(row["at"]), str(row["product_id"]), True)
            )
    weights: Counter[tuple[str, str]] = Counter()
    for views in by_session.values():
        views.sort(key=lambda v: v[0])
        for i, (at, pid, is_new) in enumerate(views):
            if not is_new:
                continue
            before = {p for t, p, _ in views[:i] if (at - t).total_seconds() <= window_s}
            w = growth(at, half_life_days)
            for other in before - {pid}:
                weights[(pid, other)] += w
                weights[(other, pid)] += w
                if counts is not None:
                    counts[(pid, other)] += 1
                    counts[(other, pid)] += 1
    return weights


def _aware(at: object) -> datetime:
    """A UTC-aware datetime from a stored or buffered timestamp."""
    assert isinstance(at, datetime)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def add(
    session: Session,
    weights: Counter[tuple[str, str]],
    counts: Counter[tuple[str, str]] | None = None,
) -> None:
    """Upsert ``weights`` (and ``counts``, default 1 each) into the covisits table, inside
    the caller's transaction: one statement compiled once, executed for many rows."""
    rows = [
        {"a": a, "b": b, "weight": w, "count": (counts or {}).get((a, b), 1)}
        for (a, b), w in sorted(weights.items())
    ]
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    conn = session.connection()
    if dialect in ("sqlite", "postgresql"):
        ins = (sqlite if dialect == "sqlite" else postgresql).insert(CoVisit)
        upsert = ins.on_conflict_do_update(
            index_elements=["a", "b"],
            set_={
                "weight": CoVisit.weight + ins.excluded.weight,
                "count": CoVisit.count + ins.excluded.count,
            },
        )
        conn.execute(upsert, rows)
        return
    for row in rows:  # any other database: update, else insert
        done = conn.execute(
            update(CoVisit)
            .where(CoVisit.a == row["a"], CoVisit.b == row["b"])
            .values(weight=CoVisit.weight + row["weight"], count=CoVisit.count + row["count"])
        )
        if not done.rowcount:
            conn.execute(CoVisit.__table__.insert(), [row])


def decay_now(half_life_days: float, now: datetime | None = None) -> float:
    """The factor that turns stored weights into today's decayed co-visit counts."""
    return 1.0 / growth(now or datetime.now(UTC), half_life_days)


def related(engine: Engine, product_id: str, k: int) -> list[tuple[str, float]]:
    """The ``k`` designs most co-visited with ``product_id``: (id, stored weight), best first."""
    stmt = (
        select(CoVisit.b, CoVisit.weight)
        .where(CoVisit.a == product_id)
        .order_by(CoVisit.weight.desc(), CoVisit.b)
        .limit(k)
    )
    with Session(engine) as session:
        return [(b, float(w)) for b, w in session.execute(stmt)]


def top_pairs(engine: Engine, limit: int = 20) -> list[tuple[str, str, float, int]]:
    """The most co-visited pairs, each once (a < b): (a, b, stored weight, count)."""
    stmt = (
        select(CoVisit.a, CoVisit.b, CoVisit.weight, CoVisit.count)
        .where(CoVisit.a < CoVisit.b)
        .order_by(CoVisit.weight.desc(), CoVisit.a, CoVisit.b)
        .limit(limit)
    )
    with Session(engine) as session:
        return [(a, b, float(w), int(c)) for a, b, w, c in session.execute(stmt)]


def pair_count(engine: Engine) -> int:
    """How many (directed) co-visit pairs are stored."""
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(CoVisit)) or 0)


def prior_share(decayed: float, prior: float) -> float:
    """How much co-visits count beside content similarity: λ = n / (n + ``prior``) for
    ``decayed`` co-visits n, so a design with few co-visits leans on content and one with
    none is pure content."""
    return decayed / (decayed + prior) if decayed > 0 else 0.0
