"""Snapshot of every ranking the demo gives, to prove a refactor changes none of them.

Runs each query of the evaluation files (dev, meaning, nonsense, held-out, blind sets)
with no filter, a category filter and a price band, every photo of the photo set as a
search by picture, «похожие» of a sample of designs and recommendations for a few
simulated sessions, through the demo engine, and writes one JSON file: per case the
total, and for the first page-and-a-half of results the ids, scores and why.

    python benchmarks/ranking_snapshot.py build/snap-before.json
    python benchmarks/ranking_snapshot.py build/snap-after.json --compare build/snap-before.json
    python benchmarks/ranking_snapshot.py build/snap-mapped.json --mapped \
        --compare build/snap-before.json

``--mapped`` serves the catalogue from artifacts ``flask --app webapp index`` wrote (into a
copy of ``embeddings/``) and memory-mapped, instead of building them in memory as the
demo does at start: the same rankings either way.

``--compare`` prints how many cases differ by ids, by scores and by why, and the first
few differences; exit status 1 when ids or scores differ.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from webapp import create_app
from webapp.catalog import artifacts
from webapp.catalog.definitions import Definitions
from webapp.catalog.facets import NO_FILTERS, Filters
from webapp.catalog.products import read_catalog
from webapp.lifecycle import warm_up
from webapp.search.lexical import text_analysis
from webapp.search.recommend import also_viewed, recommend
from webapp.search.results import Hit, SearchRequest, SearchResult
from webapp.search.settings import RankingSettings
from webapp.search.signals.picture import PictureQuery

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT / "data" / "eval"
QUERY_FILES = (
    "dev_queries.jsonl",
    "dev_meaning_queries.jsonl",
    "dev_nonsense_queries.jsonl",
    "heldout_queries.jsonl",
    "blind2_queries.jsonl",
    "blind3_queries.jsonl",
)
DEPTH = 36  # results recorded per case (a page and a half)


def _hits(hits: list[Hit]) -> list[list[Any]]:
    """Ids, scores and why of ``hits``, JSON-ready."""
    return [[h.product.id, h.score, h.why] for h in hits]


def _result(result: SearchResult) -> dict[str, Any]:
    """What a case records of a search result."""
    return {"total": result.total, "hits": _hits(result.hits)}


def mapped_config(folder: Path) -> dict[str, Any]:
    """Settings that serve the demo from mapped artifacts written into ``folder`` (a copy
    of ``embeddings/`` with the catalogue's artifacts beside it, as `index` writes them)."""
    shutil.copytree(ROOT / "embeddings", folder)
    settings = RankingSettings()
    definitions = Definitions.read(ROOT / "data" / "rules" / "definitions.json")
    csv = ROOT / "data" / "catalog.csv"
    text = text_analysis(settings.words, settings.knowledge)
    artifacts.write(folder, csv, artifacts.build(read_catalog(csv), text, definitions))
    return {"EMBEDDINGS_DIR": str(folder), "CATALOG_BUILD_AT_START": 0}


def snapshot(mapped: bool = False) -> dict[str, Any]:
    """Every case's outcome, keyed by a readable case name (``mapped``: the catalogue
    served from artifacts written beforehand, not built in memory at start)."""
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "TESTING": True,
                "DATABASE_URL": f"sqlite:///{tmp}/snap.sqlite3",
                "RATELIMIT_ENABLED": False,
                "LOG_FORMAT": "",
                **(mapped_config(Path(tmp) / "embeddings") if mapped else {}),
            }
        )
        engine = warm_up(app)
        if mapped and not isinstance(engine.products.prices.base, np.memmap):
            raise SystemExit("--mapped: the product table is not memory-mapped")
        cases: dict[str, Any] = {}
        categories = [name for name, _ in engine.categories()]
        filters = {
            "none": NO_FILTERS,
            "category": None,  # the category of the first judged design (or the first one)
            "price": Filters(price_min=300, price_max=900),
        }
        for name in QUERY_FILES:
            for line in (EVAL / name).read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                item = json.loads(line)
                relevant = [p for p in engine.lookup(item["relevant"])]
                category = relevant[0].category if relevant else categories[0]
                for label, chosen in filters.items():
                    chosen = chosen or Filters(category=category)
                    request = SearchRequest(item["query"], chosen, per_page=DEPTH)
                    cases[f"{name}|{item['query']}|{label}"] = _result(engine.search(request))
        for line in (EVAL / "photo_queries.jsonl").read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            photo = json.loads(line)["photo"]
            query = engine.picture_query(photo, lambda p=photo: Image.open(EVAL / p))
            for page in (1, 2):
                request = SearchRequest("", page=page, per_page=DEPTH)
                cases[f"photo|{photo}|{page}"] = _result(engine.search_by_picture(query, request))
        sample = [p.id for p in engine.products[:: max(1, len(engine.products) // 40)]]
        for pid in sample:
            cases[f"similar|{pid}"] = {"hits": _hits(engine.neighbours(pid, 12))}
            cases[f"similar-text|{pid}"] = {
                "hits": _hits(engine.neighbours(pid, 12, space=engine.text_space))
            }
            vector = engine.item_vectors([pid], engine.picture_space)[0]
            like = engine.search_by_picture(
                PictureQuery(vector), SearchRequest("", per_page=DEPTH), exclude=[pid]
            )
            cases[f"like|{pid}"] = _result(like)
            db = app.extensions["store"].engine
            cases[f"also|{pid}"] = {"hits": _hits(also_viewed(engine, db, pid, 6))}
        for i in range(0, len(sample) - 3, 4):
            history = sample[i : i + 3]
            cases[f"recommend|{','.join(history)}"] = {
                "hits": _hits(recommend(engine, history, 6, session_key=f"s{i}"))
            }
        return cases


def compare(after: dict[str, Any], before: dict[str, Any]) -> int:
    """Print the differences between two snapshots; 1 when ids or scores differ."""
    ids = scores = whys = 0
    shown = 0
    for case in sorted(set(before) | set(after)):
        a, b = after.get(case), before.get(case)
        if a is None or b is None:
            print(f"only in {'before' if a is None else 'after'}: {case}")
            ids += 1
            continue
        same_ids = a.get("total") == b.get("total") and [h[0] for h in a["hits"]] == [
            h[0] for h in b["hits"]
        ]
        same_scores = [h[1] for h in a["hits"]] == [h[1] for h in b["hits"]]
        same_why = [h[2] for h in a["hits"]] == [h[2] for h in b["hits"]]
        ids += not same_ids
        scores += same_ids and not same_scores
        whys += same_ids and same_scores and not same_why
        if (not same_ids or not same_scores) and shown < 10:
            shown += 1
            print(f"differs: {case}")
            print(f"  before {b.get('total')}: {[h[0] for h in b['hits']][:12]}")
            print(f"  after  {a.get('total')}: {[h[0] for h in a['hits']][:12]}")
    print(
        f"{len(after)} cases: {ids} differ in ids or totals, {scores} only in scores, "
        f"{whys} only in why"
    )
    return 1 if ids or scores else 0


def main() -> int:
    """Write a snapshot; with ``--compare``, also compare it with an earlier one."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--compare", type=Path, default=None)
    parser.add_argument("--mapped", action="store_true", help="Serve mapped artifacts.")
    args = parser.parse_args()
    cases = snapshot(args.mapped)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(cases, ensure_ascii=False, sort_keys=True), encoding="utf-8")
    print(f"{len(cases)} cases → {args.out}")
    if args.compare:
        before = json.loads(args.compare.read_text(encoding="utf-8"))
        return compare(cases, before)
    return 0


if __name__ == "__main__":
    sys.exit(main())
