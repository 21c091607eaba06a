"""Rankings of the demo on every query × filter case, as JSON, to compare two trees.

A change to how the search core reads the catalogue (the mapped product table and
lexicon instead of objects built per worker) must not move a single result. This
prints, for every evaluation query (every ``data/eval/*_queries.jsonl``) under no
filter, a category and a price band: the total, and each ranked id with its score and
explanation. Run it in both trees and compare the files::

    PYTHONPATH=$PWD python benchmarks/scale_parity.py > before.json   # in one tree
    PYTHONPATH=$PWD python benchmarks/scale_parity.py > after.json    # in the other
    cmp before.json after.json
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILTERS = (
    {},
    {"category": "Животные и природа"},
    {"price_min": 500, "price_max": 900},
)


def cases() -> list[str]:
    """Every distinct evaluation query, in file order."""
    from webapp.evaluation.queries import load_queries

    queries: list[str] = []
    for path in sorted((ROOT / "data" / "eval").glob("*_queries.jsonl")):
        if not path.name.startswith("photo"):  # pictures, not words
            queries += [q.query for q in load_queries(path)]
    return list(dict.fromkeys(queries))


def main() -> None:
    """Print every case's ranking as one JSON document."""
    from webapp import create_app
    from webapp.catalog.facets import Filters
    from webapp.lifecycle import warm_up
    from webapp.search.results import SearchRequest

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "TESTING": True,
                "DATABASE_URL": f"sqlite:///{tmp}/p.sqlite3",
                "RATELIMIT_ENABLED": False,
            }
        )
        engine = warm_up(app)
        out = []
        for query in cases():
            for filters in FILTERS:
                result = engine.search(
                    SearchRequest(query, filters=Filters(**filters), per_page=500)
                )
                out.append(
                    {
                        "query": query,
                        "filters": filters,
                        "total": result.total,
                        "hits": [[h.product.id, h.score, h.why] for h in result.hits],
                        "suggestions": result.suggestions,
                    }
                )
    json.dump(out, sys.stdout, ensure_ascii=False, indent=0, default=str)
    print(f"{len(out)} cases", file=sys.stderr)


if __name__ == "__main__":
    main()
