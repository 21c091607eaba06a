"""Tune ruCLIP's own projections (``visual.proj``, ``text_projection``) with towers frozen.

The towers run once to give each design's features *before* projection (the
projection is linear without bias, so these normalised features lose nothing);
the two projection matrices and the temperature are then trained on them with
the same loop and loss as the offline heads. The result is a NEW model folder
beside the old one (never overwritten), loadable by ``CLIP.from_pretrained``,
with the run's parameters in ``training.json``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..catalog.embedding_cache import EmbeddingCache
from ..catalog.products import Catalog
from ..encoders.ruclip_encoder import RuCLIPEncoder
from ..encoders.ruclip_folder import MODEL_FILES
from .data import build_pairs, split_products, subset
from .loss import InfoNCELoss
from .train import TrainConfig, train_heads


class RuCLIPProjections(nn.Module):
    """ruCLIP's two projections as bias-free linear maps, plus its temperature."""

    def __init__(
        self, image_proj: torch.Tensor, text_proj: torch.Tensor, logit_scale: float
    ) -> None:
        """Start from the model's own (width × embed) projection matrices."""
        super().__init__()
        self.image = nn.Linear(*image_proj.shape, bias=False)
        self.text = nn.Linear(*text_proj.shape, bias=False)
        with torch.no_grad():
            self.image.weight.copy_(image_proj.T.float())
            self.text.weight.copy_(text_proj.T.float())
        self.loss = InfoNCELoss(logit_scale)


@dataclass(frozen=True)
class TowerFeatures:
    """Frozen tower outputs before projection, and the original projections."""

    encoder: RuCLIPEncoder
    image_proj: torch.Tensor
    text_proj: torch.Tensor
    logit_scale: float


def unprojected_encoder(model_dir: Path, device: str | None) -> TowerFeatures:
    """A ruCLIP encoder whose outputs are the towers' features before projection."""
    loaded = RuCLIPEncoder.load(model_dir, device=device)
    model = loaded.model.float()
    image_proj = model.visual.proj.detach().clone()
    text_proj = model.text_projection.detach().clone()
    model.visual.proj = None
    width = text_proj.shape[0]
    model.text_projection = nn.Parameter(
        torch.eye(width, device=text_proj.device), requires_grad=False
    )
    encoder = RuCLIPEncoder(
        model, loaded.processor, model_id=loaded.model_id + "/unprojected", device=loaded.device
    )
    return TowerFeatures(
        encoder, image_proj.cpu(), text_proj.cpu(), float(model.logit_scale.detach())
    )


def finetune_ruclip(
    model_dir: Path,
    catalog: Catalog,
    data_dir: Path,
    config: TrainConfig,
    *,
    out: Path | None = None,
    device: str | None = None,
    progress: bool = True,
) -> Path:
    """Train the projections on ``catalog``'s pairs and write a new model folder."""
    towers = unprojected_encoder(model_dir, device)
    products = catalog.products
    images = towers.encoder.encode_images([data_dir / p.image for p in products])
    features = EmbeddingCache(
        "ruclip-unprojected",
        towers.encoder.model_id,
        "image",
        images.shape[1],
        catalog.ids(),
        images,
        catalog.fingerprint,
        [""] * len(products),
    )
    pairs = build_pairs(products, features, towers.encoder)
    split = split_products(products, seed=config.seed)
    val = split.val if len(split.val) >= 2 else split.train  # a toy catalogue has no val
    heads = RuCLIPProjections(towers.image_proj, towers.text_proj, towers.logit_scale)
    result = train_heads(
        subset(pairs, split.train),
        subset(pairs, val),
        config,
        device=device,
        progress=progress,
        heads=heads,
    )
    return write_tuned_folder(
        model_dir,
        result.heads,
        out,
        {**result.summary(), "split": split.to_dict(), "base_model": str(model_dir)},
    )


def write_tuned_folder(
    model_dir: Path, heads: nn.Module, out: Path | None, summary: dict[str, object]
) -> Path:
    """Copy ``model_dir`` with the tuned projections into a new folder; return it."""
    state = torch.load(model_dir / "pytorch_model.bin", map_location="cpu", weights_only=True)
    state["visual.proj"] = heads.image.weight.detach().T.contiguous().to(state["visual.proj"].dtype)
    state["text_projection"] = (
        heads.text.weight.detach().T.contiguous().to(state["text_projection"].dtype)
    )
    state["logit_scale"] = (
        heads.loss.logit_scale.detach()
        .reshape(state["logit_scale"].shape)
        .to(state["logit_scale"].dtype)
    )
    digest = hashlib.sha1(
        state["visual.proj"].numpy().tobytes() + state["text_projection"].numpy().tobytes()
    ).hexdigest()[:10]
    target = out or model_dir.with_name(f"{model_dir.name}-tuned-{digest}")
    if target.exists():
        raise FileExistsError(f"{target} exists; tuned models never overwrite a folder")
    tmp = target.with_name(f".{target.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in MODEL_FILES[:2]:  # config.json, bpe.model
        shutil.copy2(model_dir / name, tmp / name)
    torch.save(state, tmp / "pytorch_model.bin")
    (tmp / "training.json").write_text(
        json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    tmp.rename(target)
    return target
