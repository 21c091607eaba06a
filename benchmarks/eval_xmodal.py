"""Measure the cross-modal heads the way docs/training.md reports them.

(a) text→image retrieval among held-out (test-split) pictures, random vs trained heads;
(b) «the poorly described shop»: test-split designs lose title, tags and description
    («Дизайн №n»), the text space is re-embedded for that catalogue in a temp dir, and
    the dev queries run with and without the xmodal signal;
(c) each text-stripped design's plain word (its title) through the full product search;
(d) the dev set on the fully described catalogue for a grid of xmodal weights and floors.

Run: ``python benchmarks/eval_xmodal.py [--heads embeddings/heads-<id>.pt]`` (≈ 2 min).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import shutil
import tempfile
from pathlib import Path

import torch

from webapp import create_app
from webapp.catalog.embed import embed_catalog
from webapp.catalog.products import read_catalog
from webapp.encoders.heads import HeadConfig, find_heads, load_heads
from webapp.encoders.sentence import load_sentence_encoder
from webapp.encoders.spaces import configured_spaces
from webapp.evaluation import harness
from webapp.evaluation.queries import EvalQuery, load_queries
from webapp.lifecycle import warm_up
from webapp.search.results import SearchRequest
from webapp.search.settings import INF, RankingSettings
from webapp.search.signals import SignalKind
from webapp.training.data import Split, split_products
from webapp.training.heads import Heads
from webapp.training.retrieval import evaluate_heads

ROOT = Path(__file__).resolve().parent.parent

#: (label, xmodal weight, may xmodal open the floor?) — the grid of (b) and (d)
GRID = [
    ("without xmodal", None, False, 0.0),
    ("w=0.2 keep≥2.5 opens floor (default)", 0.2, True, 2.5),
    ("w=0.5 keep≥2.5", 0.5, False, 2.5),
    ("w=0.5 keep≥2.5 opens floor", 0.5, True, 2.5),
    ("w=1 keep≥3.5", 1.0, False, 3.5),
    ("w=1 keep≥2.5", 1.0, False, 2.5),
    ("w=1 keep≥2.5 opens floor", 1.0, True, 2.5),
    ("w=2 keep≥2.5", 2.0, False, 2.5),
    ("w=3 keep≥2.5", 3.0, False, 2.5),
]


def ranking(weight: float | None, opens: bool, keep: float) -> RankingSettings:
    """The default ranking with the xmodal signal at ``weight`` (None: ignored), keeping
    xmodal-only hits from z ``keep``, and (``opens``) letting it open the floor."""
    base = RankingSettings()
    xmodal = SignalKind.CROSS_MODAL
    opening = base.floor.open_kinds - {xmodal} | ({xmodal} if opens else set())
    return base.replace(
        **{
            "fusion.weights.projected": weight if weight is not None else 0.0,
            "floor.keep_z.projected": keep if weight is not None else INF,
            "floor.open_kinds": [k.value for k in opening],
        }
    )


def make_engine(data_dir: Path, embeddings: Path, heads: Path, tmp: Path):
    """An engine over ``data_dir`` whose caches are (re)built into ``embeddings``."""
    app = create_app(
        {
            "DATA_DIR": str(data_dir),
            "EMBEDDINGS_DIR": str(embeddings),
            "XMODAL_HEADS": str(heads.resolve()),
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp / 'eval.sqlite3'}",
            "RELOAD_POLL_SECONDS": 0,
            "LOG_FORMAT": "",
        }
    )
    with app.app_context():
        catalog = read_catalog(data_dir / app.config["CATALOG_CSV"])
        embed_catalog(configured_spaces(app.config), catalog, data_dir, embeddings, progress=False)
        return warm_up(app)


def dev_run(engine, queries: list[EvalQuery], config: RankingSettings) -> dict[str, float]:
    """nP@5, MRR@10 and the nonsense nothing-found rate of ``queries`` under ``config``."""
    engine = engine.with_ranking(config)
    report = harness.evaluate(
        queries,
        lambda q: [h.product.id for h in engine.search(SearchRequest(q, per_page=10)).shown],
    )
    agg = report.overall
    return {
        "nP@5": agg.means["nP@5"],
        "MRR@10": agg.means["MRR@10"],
        "nonsense": agg.nothing_found_rate or 0.0,
    }


def anonymise(src: Path, dst: Path, ids: set[str]) -> None:
    """Copy the catalogue CSV with ``ids``' words replaced by «Дизайн №n»; link the images."""
    dst.mkdir(parents=True, exist_ok=True)
    (dst / "images").symlink_to((src / "images").resolve())
    with open(src / "catalog.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for n, row in enumerate(r for r in rows if r["id"] in ids):
        row["title"] = row["description"] = f"Дизайн №{n + 1}"
        row["tags"] = ""
    with open(dst / "catalog.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def restamp(path: Path, catalog) -> None:
    """Mark an image cache as built for ``catalog`` (only words changed, not pictures;
    with IMAGE_ENCODER configured ``embed`` would reuse every vector the same way)."""
    from webapp.catalog.embedding_cache import read_cache, save_cache

    cache = read_cache(path)
    save_cache(dataclasses.replace(cache, catalog_fingerprint=catalog.fingerprint), path.parent)


def plain_word(engine, products, config: RankingSettings) -> dict[str, float]:
    """Share of text-stripped designs whose title puts them in the top 10 of the search."""
    engine = engine.with_ranking(config)
    found = single = single_found = 0
    for product in products:
        ids = [
            h.product.id
            for h in engine.search(SearchRequest(product.title.lower(), per_page=10)).hits
        ]
        hit = product.id in ids
        found += hit
        if len(product.title.split()) == 1:
            single += 1
            single_found += hit
    return {
        "all": found / len(products),
        "n": len(products),
        "one-word titles": single_found / max(single, 1),
        "n1": single,
    }


def main() -> None:
    """Run (a)–(d) and print them as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--heads", type=Path, default=find_heads(ROOT / "embeddings"))
    parser.add_argument("--queries", type=Path, default=ROOT / "data/eval/dev_queries.jsonl")
    args = parser.parse_args()
    trained = load_heads(args.heads)
    split = Split.from_dict(trained.meta["split"])
    catalog = read_catalog(ROOT / "data/catalog.csv")
    assert split == split_products(catalog.products, seed=split.seed), "split not reproducible"
    by_id = {p.id: p for p in catalog.products}
    test = [by_id[i] for i in split.test]
    from webapp.catalog.embedding_cache import read_cache

    image = read_cache(ROOT / "embeddings" / f"{trained.image_space}.pkl")
    rows = {pid: r for r, pid in enumerate(image.ids)}
    feats = image.vectors[[rows[p.id] for p in test]]
    use = load_sentence_encoder(trained.meta.get("text_encoder", "use"), threads=1)
    cfg = trained.heads.config
    torch.manual_seed(0)  # the untrained baseline heads
    out: dict[str, object] = {
        "heads": trained.heads_id,
        "split_seed": split.seed,
        "test_designs": len(test),
    }
    out["a_retrieval"] = {
        "random heads": evaluate_heads(
            Heads(HeadConfig(cfg.image_dim, cfg.text_dim, cfg.out_dim)).eval(), test, feats, use
        ),
        "trained heads": evaluate_heads(trained.heads, test, feats, use),
    }
    queries = load_queries(args.queries)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        full = tmp / "full-emb"
        full.mkdir()
        for name in ("text-use", trained.image_space):
            shutil.copy(ROOT / "embeddings" / f"{name}.pkl", full)
        engine = make_engine(ROOT / "data", full, args.heads, tmp)
        out["d_dev_full"] = {
            label: dev_run(engine, queries, ranking(w, o, k)) for label, w, o, k in GRID
        }
        anon_ids = set(split.test)
        anonymise(ROOT / "data", tmp / "anon", anon_ids)
        poor = tmp / "anon-emb"
        shutil.copytree(full, poor)
        restamp(poor / f"{trained.image_space}.pkl", read_catalog(tmp / "anon/catalog.csv"))
        engine = make_engine(tmp / "anon", poor, args.heads, tmp)
        anon_queries = [
            dataclasses.replace(q, relevant=tuple(r for r in q.relevant if r in anon_ids))
            for q in queries
            if anon_ids & set(q.relevant)
        ]
        out["b_poor_shop"] = {"dev queries touching anonymised designs": len(anon_queries)}
        for label, w, o, k in GRID:
            out["b_poor_shop"][label] = {
                "anonymised": dev_run(engine, anon_queries, ranking(w, o, k)),
                "all dev": dev_run(engine, queries, ranking(w, o, k)),
            }
        out["c_plain_word"] = {
            label: plain_word(engine, test, ranking(w, o, k)) for label, w, o, k in GRID
        }
    print(json.dumps(out, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
