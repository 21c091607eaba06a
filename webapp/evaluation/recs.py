"""Offline evaluation of recommendations on simulated shopper sessions.

The shop has no real click log yet, so sessions are **simulated**: each follows
one theme (a subcategory, or a tag shared by 6–60 designs), opens 3–8 designs,
each from the theme with probability ``1 - noise`` and a random catalogue design
otherwise. The last in-theme design is held out; a method sees the rest and
ranks 12 designs. Co-visitation is learnt from a separate set of simulated
training sessions, through the same ``covisit.pair_weights`` the site uses.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from ..search import covisit, taste
from ..search.engine import SearchEngine
from ..search.recommend import blend_covisits
from ..search.signals import SignalKind

K = 12
Session = tuple[list[str], str]  # (opened designs, held-out design)
Method = Callable[[list[str]], list[str]]


@dataclass
class Result:
    """One method's scores over the test sessions."""

    hit_rate: float
    mrr: float
    coverage: float
    diversity: float


def themes(engine: SearchEngine) -> list[list[str]]:
    """Theme id lists: subcategories and tags with 6–60 designs."""
    groups: dict[str, list[str]] = defaultdict(list)
    for p in engine.products:
        if p.subcategory:
            groups["sub:" + p.subcategory].append(p.id)
        for tag in p.tags:
            groups["tag:" + tag].append(p.id)
    return [ids for _, ids in sorted(groups.items()) if 6 <= len(ids) <= 60]


def simulate(
    engine: SearchEngine, n: int, rng: np.random.Generator, noise: float = 0.15
) -> list[Session]:
    """``n`` sessions, each following one theme with some noise (see the module doc)."""
    pool, everything = themes(engine), [p.id for p in engine.products]
    sessions: list[Session] = []
    while len(sessions) < n:
        theme = pool[rng.integers(len(pool))]
        length = int(rng.integers(3, 9))
        inside = list(rng.choice(theme, size=min(length, len(theme)), replace=False))
        opened = [
            str(everything[rng.integers(len(everything))]) if rng.random() < noise else str(pid)
            for pid in inside[:-1]
        ]
        sessions.append((list(dict.fromkeys(opened)), str(inside[-1])))
    return [(h, t) for h, t in sessions if h and t not in h]


def covisits(sessions: Sequence[Session]) -> dict[str, Counter[str]]:
    """Co-visit counts learnt from training sessions (all their designs, a minute apart)."""
    start = datetime(2026, 3, 1, tzinfo=UTC)
    rows = [
        {"session_key": str(s), "product_id": pid, "at": start + timedelta(minutes=i)}
        for s, (history, target) in enumerate(sessions)
        for i, pid in enumerate([*history, target])
    ]
    weights = covisit.pair_weights([], rows, window_s=3600, half_life_days=1e9)
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for (a, b), w in weights.items():
        table[a][b] += w
    return table


def content_method(engine: SearchEngine, space: str, mode: str, alpha: float = 0.3) -> Method:
    """Nearest unseen designs to the mean/EMA profile in ``space``."""

    def rank(history: list[str]) -> list[str]:
        vector = taste.profile(engine.item_vectors(history, space), mode, alpha)
        rows, _ = engine.nearest(vector, K, space=space, exclude=history)
        return [engine.products[r].id for r in rows]

    return rank


def _co_scores(table: dict[str, Counter[str]], history: list[str]) -> Counter[str]:
    """Recency-weighted co-visit score of every candidate (newest design weighs most)."""
    scores: Counter[str] = Counter()
    for i, pid in enumerate(history):
        for other, w in table.get(pid, {}).items():
            scores[other] += w * 0.7 ** (len(history) - 1 - i)
    for pid in history:
        scores.pop(pid, None)
    return scores


def covisit_method(table: dict[str, Counter[str]]) -> Method:
    """Designs most co-visited with the history (nothing when it has no co-visits)."""
    return lambda history: [pid for pid, _ in _co_scores(table, history).most_common(K)]


def hybrid_method(
    engine: SearchEngine, space: str, table: dict[str, Counter[str]], prior: float = 3.0
) -> Method:
    """λ·co-visits + (1-λ)·EMA cosine, λ = n/(n+prior): the site's blend, per session."""

    tuned = engine.with_ranking(engine.settings.replace(**{"recommend.covisit_prior": prior}))

    def rank(history: list[str]) -> list[str]:
        vector = taste.profile(tuned.item_vectors(history, space), "ema")
        rows, _ = tuned.nearest(vector, 4 * K, space=space, exclude=history)
        co = _co_scores(table, history).most_common(3 * K)
        ranking = blend_covisits(
            tuned, vector, space, co, rows, decay=1.0, kind=SignalKind.TASTE, k=K
        )
        return [tuned.products[r].id for r in ranking.rows.tolist()]

    return rank


def score(engine: SearchEngine, method: Method, sessions: Sequence[Session]) -> Result:
    """HitRate@12, MRR@12, catalogue coverage and intra-list diversity of ``method``."""
    sub = {p.id: p.subcategory for p in engine.products}
    hits, rr, shown, diverse = 0, 0.0, set(), []
    for history, target in sessions:
        ranked = method(history)[:K]
        shown.update(ranked)
        if target in ranked:
            hits += 1
            rr += 1 / (ranked.index(target) + 1)
        pairs = [(a, b) for i, a in enumerate(ranked) for b in ranked[i + 1 :]]
        if pairs:
            diverse.append(sum(sub[a] != sub[b] for a, b in pairs) / len(pairs))
    n = len(sessions)
    return Result(
        hits / n, rr / n, len(shown) / len(engine.products), float(np.mean(diverse or [0]))
    )


def evaluate(
    engine: SearchEngine, *, test: int = 600, train: int = 3000, seed: int = 7
) -> dict[str, Result]:
    """Every method on the same simulated sessions, by name."""
    rng = np.random.default_rng(seed)
    table = covisits(simulate(engine, train, rng))
    sessions = simulate(engine, test, rng)
    spaces = {"text": engine.text_space, "image": engine.picture_space}
    methods: dict[str, Method] = {}
    for label, space in spaces.items():
        if space:
            methods[f"mean · {label}"] = content_method(engine, space, "mean")
            methods[f"EMA · {label}"] = content_method(engine, space, "ema")
    methods["co-visits only"] = covisit_method(table)
    for label, space in spaces.items():
        if space:
            methods[f"hybrid · {label}"] = hybrid_method(engine, space, table)
    return {name: score(engine, m, sessions) for name, m in methods.items()}


def table(results: dict[str, Result]) -> str:
    """The results as a Markdown table."""
    lines = [
        "| method | HitRate@12 | MRR@12 | coverage | diversity |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r.hit_rate:.3f} | {r.mrr:.3f} | {r.coverage:.3f} | {r.diversity:.3f} |"
        )
    return "\n".join(lines)


def plot(results: dict[str, Result], path: str) -> None:
    """Bar chart of HitRate@12 and MRR@12 per method, written to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.bar(x - 0.2, [results[n].hit_rate for n in names], 0.4, label="HitRate@12")
    ax.bar(x + 0.2, [results[n].mrr for n in names], 0.4, label="MRR@12")
    ax.set_xticks(x, names, rotation=20, ha="right")
    ax.set_title("Recommendations on simulated sessions (held-out last design)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
