"""Measure the knowledge artifacts standalone (no fusion), as docs/knowledge.md reports them.

(a) the reverse dictionary (BM25 over each design's definitions) on descriptive queries,
    against the lexical BM25 over the designs' own words in the same run;
(b) the query side on colloquial and synonym words the catalogue does not use: is the
    first replacement a word of a relevant design? (morphology's diminutive rule, then
    Wiktionary's base words, its genus words, and ConceptNet's links), and the lexical
    nP@5 of the replacement; and how many nonsense queries get a replacement at all;
(c) colour: for queries with a colour word, the lexical ranking of the other words
    against the same candidates re-ranked by the colour of their pictures;
(d) what loading costs a worker: time and memory, against the thesaurus in the same run.

Run: ``python benchmarks/eval_knowledge.py [--blind3]`` (blind set 3 only when asked:
it is run once per change).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from webapp.catalog.colour_cache import load_colours  # noqa: E402
from webapp.catalog.colour_words import colour_match, query_colours  # noqa: E402
from webapp.catalog.definitions import Definitions, ReverseDictionary, design_words  # noqa: E402
from webapp.catalog.products import read_catalog  # noqa: E402
from webapp.evaluation.metrics import normalised_precision_at_k  # noqa: E402
from webapp.language.morphology import diminutive_bases  # noqa: E402
from webapp.language.text import analyse  # noqa: E402
from webapp.search.lexical import LexicalIndex  # noqa: E402
from webapp.search.settings import WordSettings  # noqa: E402

EVAL = ROOT / "data" / "eval"
ARTIFACT = ROOT / "data" / "rules" / "definitions.json"
COLLOQUIAL = [("blind2", "colloquial"), ("dev_meaning", "colloquial"), ("dev", "synonym"),
              ("heldout", "synonym")]  # fmt: skip


def queries(name: str, kind: str | None = None) -> list[dict]:
    """The queries of ``data/eval/<name>_queries.jsonl`` (of ``kind``, when given)."""
    lines = (EVAL / f"{name}_queries.jsonl").read_text("utf-8").splitlines()
    found = [json.loads(line) for line in lines if line.strip()]
    return [q for q in found if kind is None or q["kind"] == kind]


def top5(scores: np.ndarray, ids: Sequence[str]) -> list[str]:
    """The ids of the five best positive scores."""
    return [ids[i] for i in np.argsort(-scores, kind="stable")[:5] if scores[i] > 0]


def without_conceptnet(definitions: Definitions) -> Definitions:
    """The artifact as Wiktionary alone built it (ConceptNet rows are marked)."""
    words = {k: v for k, v in definitions.words.items() if "\tconceptnet " not in v[0]}
    return Definitions(definitions.designs, words)


def reverse_dictionary(sets: list[str], lexical: LexicalIndex, ids: list[str]) -> None:
    """(a): nP@5 on descriptive queries, definitions alone vs the designs' own words."""
    products = read_catalog(ROOT / "data" / "catalog.csv").products
    words = [design_words(analyse(p.title), [analyse(t) for t in p.tags], 2) for p in products]
    index = ReverseDictionary(Definitions.read(ARTIFACT), words, k1=1.2, b=0.75)
    print("(a) descriptive queries, nP@5 alone    definitions   lexical (same run)")
    for name in sets:
        found = [q for q in queries(name, "descriptive") if q["relevant"]]
        ours = [normalised_precision_at_k(top5(index.scores(analyse(q["query"])), ids),
                                          q["relevant"], 5) for q in found]  # fmt: skip
        base = [normalised_precision_at_k(top5(lexical.scores(analyse(q["query"])), ids),
                                          q["relevant"], 5) for q in found]  # fmt: skip
        print(f"    {name:<8} {len(found):>3} queries          {statistics.mean(ours):.3f}"
              f"         {statistics.mean(base):.3f}")  # fmt: skip


def query_side(
    sets: list[tuple[str, str]], nonsense_sets: list[str], lexical: LexicalIndex, ids: list[str]
) -> None:
    """(b): first replacement right / wrong / none, and its lexical nP@5."""
    products = read_catalog(ROOT / "data" / "catalog.csv").products
    names = {p.id: {*analyse(p.title), *(t for tag in p.tags for t in analyse(tag))}
             for p in products}  # fmt: skip
    full = Definitions.read(ARTIFACT)
    wiktionary = without_conceptnet(full)
    vocabulary = lexical.vocabulary
    sources: dict[str, Callable[[str], list[str]]] = {
        "morphology (diminutive rule)": lambda k: [
            b for b in diminutive_bases(k) if b in vocabulary
        ],
        "Wiktionary, base words": lambda k: list(wiktionary.query_side(k, genus=False)),
        "Wiktionary, base + genus": lambda k: list(wiktionary.query_side(k)),
        "+ ConceptNet, base words": lambda k: list(full.query_side(k, genus=False)),
        "+ ConceptNet, base + genus": lambda k: list(full.query_side(k)),
    }  # fmt: skip
    words = [q for name, kind in sets for q in queries(name, kind)]
    words = [q for q in words if not all(t in vocabulary for t in analyse(q["query"]))]
    print(f"(b) {len(words)} colloquial/synonym words the catalogue lacks: right/wrong/none, nP@5")
    for label, source in sources.items():
        verdicts: Counter[str] = Counter()
        scores = []
        for q in words:
            found = source(" ".join(analyse(q["query"])))
            relevant = set().union(*(names[i] for i in q["relevant"]))
            verdicts["none" if not found else "right" if found[0] in relevant else "wrong"] += 1
            hits = top5(lexical.scores(found), ids) if found else []
            scores.append(normalised_precision_at_k(hits, q["relevant"], 5))
        print(f"    {label:<30} {verdicts['right']:>3} / {verdicts['wrong']:>2} / "
              f"{verdicts['none']:>3}   nP@5 {statistics.mean(scores):.3f}")  # fmt: skip
    nonsense = [q for n in nonsense_sets for q in queries(n, "nonsense")]
    for label, source in list(sources.items())[1:]:
        hit = sum(any(t not in vocabulary and source(t) for t in analyse(q["query"]))
                  for q in nonsense)  # fmt: skip
        print(f"    nonsense queries with a replacement, {label:<28} {hit}/{len(nonsense)}")


def colours(sets: list[str], lexical: LexicalIndex, ids: list[str]) -> None:
    """(c): colour queries, lexical alone vs the same candidates ordered by colour."""
    catalog = read_catalog(ROOT / "data" / "catalog.csv")
    cache = load_colours(ROOT / "embeddings", catalog.fingerprint)
    shares = [cache.of(r) for r in range(len(ids))]
    print("(c) colour queries          lexical   lexical ∧ colour   relevant showing the colour")
    for name in sets:
        for q in queries(name):
            terms = query_colours(analyse(q["query"]))
            if not terms or not q["relevant"]:
                continue
            rest = [t for t in analyse(q["query"]) if t not in {c.word for c in terms}]
            words = lexical.scores(rest)
            colour = np.array([np.prod([colour_match(s, t) for t in terms]) for s in shares])
            both = np.where(words > 0, colour + 1e-3 * words / (words.max() or 1), 0.0)
            if not words.any():  # only a colour, or words no design has: the colour alone
                both = colour
            rows = [ids.index(r) for r in q["relevant"]]
            shown = sum(colour[r] >= 0.1 for r in rows)
            plain = normalised_precision_at_k(top5(words, ids), q["relevant"], 5)
            coloured = normalised_precision_at_k(top5(both, ids), q["relevant"], 5)
            print(f"    {name:<7} {q['query']:<30} {plain:.2f}      {coloured:.2f}"
                  f"               {shown}/{len(rows)}")  # fmt: skip


def load_cost() -> None:
    """(d): seconds to load each artifact (median of 5 loads) and the memory it holds."""

    def measure(load: Callable[[], object]) -> tuple[float, float]:
        """Median seconds of five loads, and the memory (MB) the loaded object holds."""
        tracemalloc.start()
        kept = load()
        held = tracemalloc.get_traced_memory()[0] / 2**20
        tracemalloc.stop()
        times = []
        for _ in range(5):
            start = time.perf_counter()
            load()
            times.append(time.perf_counter() - start)
        del kept
        return statistics.median(times), held

    catalog = read_catalog(ROOT / "data" / "catalog.csv")
    words = [
        design_words(analyse(p.title), [analyse(t) for t in p.tags], 2) for p in catalog.products
    ]
    thesaurus = measure(lambda: json.loads((ROOT / "data/rules/thesaurus.json").read_text("utf-8")))
    read = measure(lambda: Definitions.read(ARTIFACT))
    definitions = Definitions.read(ARTIFACT)
    index = measure(lambda: ReverseDictionary(definitions, words, k1=1.2, b=0.75))
    palette = measure(lambda: load_colours(ROOT / "embeddings", catalog.fingerprint))
    print("(d) load (median of 5)        seconds   × thesaurus   memory held (tracemalloc)")
    for label, (seconds, grown) in [("thesaurus.json (baseline)", thesaurus),
                                    ("definitions.json", read), ("reverse dictionary", index),
                                    ("colours.json", palette)]:  # fmt: skip
        print(
            f"    {label:<26} {seconds:>7.3f}   {seconds / thesaurus[0]:>9.2f}   {grown:>8.1f} MB"
        )


def main() -> None:
    """Run (a)–(d) and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--blind3", action="store_true", help="also blind set 3 (run once)")
    args = parser.parse_args()
    catalog = read_catalog(ROOT / "data" / "catalog.csv")
    lexical, ids = LexicalIndex(catalog.products, WordSettings()), catalog.ids()
    sets = ["dev", "blind2", "heldout"] + (["blind3"] if args.blind3 else [])
    reverse_dictionary(sets, lexical, ids)
    colloquial = COLLOQUIAL + ([("blind3", "colloquial")] if args.blind3 else [])
    nonsense = ["dev_nonsense", "dev_meaning", *sets]
    query_side(colloquial, nonsense, lexical, ids)
    colours(sets, lexical, ids)
    load_cost()


if __name__ == "__main__":
    main()
