"""Cross-modal heads: the loss, the split, the heads file, the xmodal space, ruCLIP tuning.

Real parts throughout: the USE encoder, the EfficientNet-Lite0 picture features of the
demo catalogue, real FAISS through the engine, generated (tiny) ruCLIP folders.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import math
import shutil
import warnings
from pathlib import Path, PurePosixPath

import numpy as np
import pytest
import torch

from webapp import create_app
from webapp.catalog.embed import embed_catalog
from webapp.catalog.embedding_cache import (
    CacheError,
    cache_path,
    load_cache,
    read_cache,
    save_cache,
)
from webapp.catalog.products import read_catalog
from webapp.encoders.heads import find_heads, load_heads
from webapp.encoders.sentence import load_sentence_encoder
from webapp.encoders.spaces import configured_spaces
from webapp.lifecycle import warm_up
from webapp.search.signals import SignalKind
from webapp.training.data import base_code, build_pairs, split_products, subset, title_stem
from webapp.training.heads import save_heads
from webapp.training.loss import InfoNCELoss
from webapp.training.train import TrainConfig, train_heads

from .conftest import database_url
from .ruclip_fixtures import make_catalog, make_model

ROOT = Path(__file__).resolve().parent.parent
IMAGE_SPACE = "image-efficientnet-lite0"


@pytest.fixture(scope="module")
def catalog():
    """The demo catalogue."""
    return read_catalog(ROOT / "data" / "catalog.csv")


@pytest.fixture(scope="module")
def use():
    """The offline text encoder the heads are trained on."""
    return load_sentence_encoder("use", threads=1)


def test_infonce_matches_a_hand_computed_three_by_three_example():
    image = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])
    text = torch.tensor([[2.0, 0, 0], [0, 1.0, 1.0], [0, 0, 3.0]])  # normalised inside
    loss = InfoNCELoss(logit_scale=math.log(2.0))  # logits = 2 × cosine
    r = 1 / math.sqrt(2)
    sims = [[1, 0, 0], [0, r, 0], [0, r, 1]]  # cosine(image i, text j)

    def ce(row: list[float], label: int) -> float:
        return -2 * row[label] + math.log(sum(math.exp(2 * s) for s in row))

    by_image = sum(ce(sims[i], i) for i in range(3)) / 3
    by_text = sum(ce([sims[i][j] for i in range(3)], j) for j in range(3)) / 3
    assert float(loss(image, text).detach()) == pytest.approx((by_image + by_text) / 2, abs=1e-6)


def test_infonce_temperature_is_learned_and_clamped():
    loss = InfoNCELoss(logit_scale=10.0)
    assert float(loss.scale().detach()) == pytest.approx(100.0)
    a = torch.randn(4, 3)
    loss(a, a + 0.1 * torch.randn(4, 3)).backward()
    assert loss.logit_scale.grad is not None


def test_split_keeps_variants_of_one_motif_on_one_side_and_is_reproducible(catalog):
    split = split_products(catalog.products, seed=4)
    assert split == split_products(catalog.products, seed=4)
    assert split != split_products(catalog.products, seed=5)
    side = {pid: name for name in ("train", "val", "test") for pid in getattr(split, name)}
    assert len(side) == len(catalog.products)
    by_base: dict[str, set[str]] = {}
    by_stem: dict[str, set[str]] = {}
    for p in catalog.products:
        by_base.setdefault(base_code(p.id), set()).add(side[p.id])
        by_stem.setdefault(title_stem(p.title), set()).add(side[p.id])
    assert all(len(s) == 1 for s in by_base.values())
    assert all(len(s) == 1 for s in by_stem.values())
    # e.g. the police officer and the policeman/policewoman variants
    assert len({side[p.id] for p in catalog.products if base_code(p.id) == "1f46e"}) == 1
    assert 0.08 < len(split.test) / len(catalog.products) < 0.2


def _small_pairs(catalog, use, n: int = 90):
    """Real picture features and USE texts of the first ``n`` designs (seconds to build)."""
    image = read_cache(cache_path(ROOT / "embeddings", IMAGE_SPACE))
    products = catalog.products[:n]
    return build_pairs(products, image, use), image


def test_heads_train_in_seconds_and_round_trip_through_their_file(catalog, use, tmp_path):
    pairs, image = _small_pairs(catalog, use)
    ids = pairs.ids
    result = train_heads(
        subset(pairs, ids[:70]),
        subset(pairs, ids[70:]),
        TrainConfig(max_epochs=15, out_dim=32),
        progress=False,
    )
    assert result.train_loss[-1] < result.train_loss[0]
    assert result.seconds < 20
    path = save_heads(
        result.heads,
        tmp_path,
        image_model=image.model,
        text_model=use.model_id,
        image_space=IMAGE_SPACE,
        meta={**result.summary(), "text_encoder": "use"},
    )
    assert find_heads(tmp_path) == path
    loaded = load_heads(path)
    assert path.name == f"heads-{loaded.heads_id}.pt"
    x = torch.from_numpy(pairs.images[:5])
    assert torch.equal(loaded.heads.image(x), result.heads.image(x))
    assert loaded.meta["val_loss"] == result.val_loss
    assert loaded.text_model == use.model_id and loaded.image_model == image.model


def test_a_heads_file_that_is_not_tensors_and_builtins_is_refused(tmp_path):
    from webapp.encoders.heads import HeadsError

    bad = tmp_path / "heads-bad.pt"
    torch.save({"format": "embroidery-search/heads", "path": PurePosixPath("/etc")}, bad)
    with pytest.raises(HeadsError, match="train-heads"):
        load_heads(bad)


def _copy_embeddings(tmp: Path) -> Path:
    """The shipped text, picture and cross-modal caches and heads in a scratch dir."""
    out = tmp / "embeddings"
    out.mkdir()
    heads = find_heads(ROOT / "embeddings")
    for path in (
        heads,
        *(cache_path(ROOT / "embeddings", n) for n in ("text-use", IMAGE_SPACE, "xmodal")),
    ):
        shutil.copy(path, out)
    return out


def test_a_retrained_head_refuses_the_old_xmodal_cache_and_names_the_fix(catalog, use, tmp_path):
    embeddings = _copy_embeddings(tmp_path)
    shipped = load_heads(find_heads(embeddings))
    torch.manual_seed(1)
    shipped.heads.image.weight.data += 0.01 * torch.randn_like(shipped.heads.image.weight)
    retrained = save_heads(
        shipped.heads,
        embeddings,
        image_model=shipped.image_model,
        text_model=shipped.text_model,
        image_space=shipped.image_space,
        meta=shipped.meta,
    )
    config = {
        "TEXT_ENCODER": "use",
        "EMBEDDINGS_DIR": str(embeddings),
        "XMODAL_HEADS": retrained.name,
    }
    (space,) = [s for s in configured_spaces(config) if s.name == "xmodal"]
    with pytest.raises(CacheError, match="flask --app webapp embed"):
        load_cache(
            cache_path(embeddings, "xmodal"),
            model=space.model_id,
            catalog_fingerprint=catalog.fingerprint,
        )
    embed_catalog([space], catalog, ROOT / "data", embeddings, progress=False)
    assert load_cache(
        cache_path(embeddings, "xmodal"),
        model=space.model_id,
        catalog_fingerprint=catalog.fingerprint,
    ).model.startswith(f"heads-{load_heads(retrained).heads_id}/")


def test_heads_trained_on_other_picture_features_are_refused_with_train_heads(catalog, tmp_path):
    embeddings = _copy_embeddings(tmp_path)
    image = read_cache(cache_path(embeddings, IMAGE_SPACE))
    save_cache(dataclasses.replace(image, model="efficientnet-lite0/other"), embeddings)
    config = {"TEXT_ENCODER": "use", "EMBEDDINGS_DIR": str(embeddings), "XMODAL_HEADS": "auto"}
    spaces = [s for s in configured_spaces(config) if s.name == "xmodal"]
    with pytest.raises(CacheError, match="flask --app webapp train-heads"):
        embed_catalog(spaces, catalog, ROOT / "data", embeddings, progress=False)


def _anonymise(tmp: Path, ids: set[str]) -> Path:
    """The demo catalogue with ``ids``' title, tags and description replaced."""
    data = tmp / "data"
    data.mkdir()
    (data / "images").symlink_to(ROOT / "data" / "images")
    with open(ROOT / "data" / "catalog.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for n, row in enumerate(r for r in rows if r["id"] in ids):
        row["title"] = row["description"] = f"Дизайн №{n + 1}"
        row["tags"] = ""
    with open(data / "catalog.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return data


#: where the stripped rooster must rank for «петух»: on the first results page (24 designs).
#: The shipped heads put it at 18 (docs/training.md): the chicken, chicks and other birds,
#: described and matching the word, rightly come first.
ROOSTER_MAX_RANK = 32


def test_an_anonymised_rooster_is_found_by_its_word_through_the_shipped_heads(tmp_path):
    """The rooster is a held-out design of the shipped heads; stripped of every word (its
    category stays), it is still among the first candidates for «петух», through xmodal
    alone (with no words, it is not a confident result: the answer's end is measured in
    test_ranking; here the signal's reach is)."""
    heads = load_heads(find_heads(ROOT / "embeddings"))
    assert "1f413" in heads.meta["split"]["test"]
    data = _anonymise(tmp_path, {"1f413"})
    embeddings = _copy_embeddings(tmp_path)
    renamed = read_catalog(data / "catalog.csv")
    image = read_cache(cache_path(embeddings, IMAGE_SPACE))  # pictures unchanged: re-stamp
    save_cache(dataclasses.replace(image, catalog_fingerprint=renamed.fingerprint), embeddings)
    app = create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(data),
            "EMBEDDINGS_DIR": str(embeddings),
            "DATABASE_URL": database_url(tmp_path),
            "RELOAD_POLL_SECONDS": 0,
        }
    )
    with app.app_context():
        embed_catalog(configured_spaces(app.config), renamed, data, embeddings, progress=False)
    engine = warm_up(app)
    parsed = engine.understand("петух")
    found = engine.ranker.candidates(parsed).fused
    ranked = [engine.products[r].id for r in found.rows[:ROOSTER_MAX_RANK]]
    assert "1f413" in ranked, ranked
    at = ranked.index("1f413")
    assert found.has(SignalKind.CROSS_MODAL)[at] and not found.has(SignalKind.LEXICAL)[at]
    assert engine.products[int(found.rows[at])].title.startswith("Дизайн №")
    without = engine.with_ranking(engine.settings.replace(**{"fusion.weights.projected": 0.0}))
    rows = without.ranker.candidates(parsed).fused.rows[:ROOSTER_MAX_RANK]
    assert "1f413" not in [engine.products[r].id for r in rows]


def _digest(folder: Path) -> str:
    """Content digest of a model folder's files."""
    return hashlib.sha1(
        b"".join((folder / n).read_bytes() for n in sorted(p.name for p in folder.iterdir()))
    ).hexdigest()


def test_ruclip_projections_are_tuned_into_a_new_folder(tmp_path):
    from ruclip.model import CLIP

    from webapp.encoders.ruclip_encoder import RuCLIPEncoder
    from webapp.training.ruclip_finetune import finetune_ruclip

    model_dir = make_model(tmp_path / "tiny")
    before = _digest(model_dir)
    make_catalog(tmp_path / "data")
    catalog = read_catalog(tmp_path / "data" / "catalog.csv")
    tuned = finetune_ruclip(
        model_dir,
        catalog,
        tmp_path / "data",
        TrainConfig(max_epochs=30, lr=1e-2),
        device="cpu",
        progress=False,
    )
    assert tuned != model_dir and _digest(model_dir) == before  # never overwritten
    run = json.loads((tuned / "training.json").read_text(encoding="utf-8"))
    assert min(run["train_loss"]) < run["train_loss"][0]
    with warnings.catch_warnings():  # ruclip's loader leaves config.json open
        warnings.simplefilter("ignore", ResourceWarning)
        assert isinstance(CLIP.from_pretrained(str(tuned)), CLIP)
    old, new = (RuCLIPEncoder.load(d, device="cpu") for d in (model_dir, tuned))
    assert old.model_id != new.model_id
    texts = [p.title for p in catalog.products]
    assert not np.allclose(old.encode_texts(texts), new.encode_texts(texts), atol=1e-4)
    with pytest.raises(FileExistsError):
        finetune_ruclip(
            model_dir,
            catalog,
            tmp_path / "data",
            TrainConfig(max_epochs=30, lr=1e-2),
            out=tuned,
            device="cpu",
            progress=False,
        )


def test_the_xmodal_query_reuses_the_text_vector_the_engine_already_has(use):
    """A query is encoded once per model: the projected space projects the cached USE
    vector (one miss for USE, one for xmodal, none encoded twice) and gets what a fresh
    ``encode_query`` gets."""
    from webapp.encoders.projected import ProjectedTextEncoder
    from webapp.search.cache import QueryVectorCache

    projected = ProjectedTextEncoder(use, load_heads(find_heads(ROOT / "embeddings")))
    cache = QueryVectorCache()
    cache.encode(use, "петух на заборе")
    vector = cache.encode(projected, "петух на заборе")
    assert cache.info()["hits"] == 1 and cache.info()["misses"] == 2
    assert np.abs(vector - projected.encode_query("петух на заборе")).max() <= 1e-6
