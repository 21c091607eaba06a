"""``flask --app webapp train-heads``: train the cross-modal heads (or tune ruCLIP's).

Without ruCLIP weights it trains the heads over the offline encoders' cached
features, writes ``embeddings/heads-<id>.pt`` and the curve under ``docs/``, and
re-embeds the ``xmodal`` space with them. With ``RUCLIP_MODEL_DIR`` set it tunes
ruCLIP's own projections instead and writes a new model folder beside the old.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click
from flask import current_app
from flask.cli import with_appcontext

if TYPE_CHECKING:
    from ..training.train import TrainConfig

from ..catalog.embedding_cache import CacheError, cache_path, read_cache
from ..catalog.products import Catalog, read_catalog
from ..encoders.sentence import load_sentence_encoder

#: the split seed of the shipped heads: it keeps the rooster (1f413) among the
#: held-out designs, so the shipped test checks a design the heads never saw
DEFAULT_SEED = 4


@click.command("train-heads")
@click.option("--seed", default=DEFAULT_SEED, show_default=True, help="Split and init seed.")
@click.option(
    "--texts",
    type=click.Choice(["tags", "full"]),
    default="tags",
    show_default=True,
    help="Pair each picture with its title and every tag, or with «title. tags» only.",
)
@click.option("--out-dim", default=256, show_default=True)
@click.option("--hidden", default=0, show_default=True, help="MLP hidden width (0 = linear).")
@click.option("--max-epochs", default=200, show_default=True)
@click.option("--device", default="", help="torch device; default CUDA when present.")
@click.option(
    "--curve",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("docs/training-curve.png"),
    show_default=True,
)
@click.option(
    "--target",
    type=click.Choice(["auto", "heads", "ruclip"]),
    default="auto",
    show_default=True,
    help="auto: ruCLIP's projections when RUCLIP_MODEL_DIR is set.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="ruCLIP only: the new model folder (default: <model dir>-tuned-<id>).",
)
@with_appcontext
def train_heads_command(
    seed: int,
    texts: str,
    out_dim: int,
    hidden: int,
    max_epochs: int,
    device: str,
    curve: Path,
    target: str,
    out: Path | None,
) -> None:
    """Train projection heads with symmetric InfoNCE on the catalogue's picture–words pairs."""
    from ..training.train import TrainConfig

    cfg = current_app.config
    config = replace(
        TrainConfig(), seed=seed, texts=texts, out_dim=out_dim, hidden=hidden, max_epochs=max_epochs
    )
    catalog = read_catalog(Path(cfg["DATA_DIR"]) / cfg["CATALOG_CSV"])
    if target == "ruclip" or (target == "auto" and cfg.get("RUCLIP_MODEL_DIR")):
        from ..training.ruclip_finetune import finetune_ruclip

        folder = finetune_ruclip(
            Path(cfg["RUCLIP_MODEL_DIR"]),
            catalog,
            Path(cfg["DATA_DIR"]),
            config,
            out=out,
            device=device or None,
        )
        click.echo(
            f"tuned ruCLIP written to {folder}; set RUCLIP_MODEL_DIR={folder} "
            "and run `flask --app webapp embed`"
        )
        return
    _train_offline_heads(catalog, config, curve, device or None)


def _train_offline_heads(
    catalog: Catalog, config: TrainConfig, curve: Path, device: str | None
) -> None:
    """Heads over the offline image and text encoders; then re-embed ``xmodal``."""
    from ..catalog.embed import embed_catalog
    from ..encoders.projected import XMODAL, projected_spaces
    from ..training.data import build_pairs, split_products, subset
    from ..training.heads import save_heads
    from ..training.train import plot_curve, train_heads

    cfg = current_app.config
    embeddings = Path(cfg["EMBEDDINGS_DIR"])
    image_space = cfg["XMODAL_IMAGE_SPACE"]
    try:
        image_cache = read_cache(cache_path(embeddings, image_space))
    except CacheError as exc:
        raise click.ClickException(f"{exc} (the heads read the {image_space} features)") from None
    if image_cache.catalog_fingerprint != catalog.fingerprint:
        raise click.ClickException(
            f"{image_space} features are stale; run "
            "`flask --app webapp embed` with IMAGE_ENCODER set"
        )
    text_name = cfg["XMODAL_TEXT_ENCODER"]
    encoder = load_sentence_encoder(text_name, threads=cfg.get("TORCH_THREADS") or None)
    split = split_products(catalog.products, seed=config.seed)
    click.echo(
        f"split (seed {config.seed}): {len(split.train)} train, {len(split.val)} val, "
        f"{len(split.test)} test designs; encoding their texts…"
    )
    pairs = build_pairs(catalog.products, image_cache, encoder)
    result = train_heads(
        subset(pairs, split.train), subset(pairs, split.val), config, device=device
    )
    meta = {
        **result.summary(),
        "split": split.to_dict(),
        "text_encoder": text_name,
        "catalog_fingerprint": catalog.fingerprint,
    }
    path = save_heads(
        result.heads,
        embeddings,
        image_model=image_cache.model,
        text_model=encoder.model_id,
        image_space=image_space,
        meta=meta,
    )
    click.echo(
        f"heads: {path} (best epoch {result.best_epoch + 1}, val loss "
        f"{min(result.val_loss):.3f}, {result.seconds:.1f}s on {result.device})"
    )
    try:
        click.echo(f"curve: {plot_curve(result, curve)}")
    except ImportError:
        click.echo("matplotlib is missing: no curve drawn (make install-dev)", err=True)
    space_cfg = {**cfg, "XMODAL_HEADS": path.name}
    for stats in embed_catalog(
        projected_spaces(space_cfg, [encoder]),
        catalog,
        Path(cfg["DATA_DIR"]),
        embeddings,
        progress=False,
    ):
        click.echo(f"{XMODAL}: {stats.total} items → {stats.path}")


COMMANDS = (train_heads_command,)
