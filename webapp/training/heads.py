"""The heads being trained, and how a trained pair is written as ``heads-<id>.pt``.

The file format and the served heads live in ``encoders/heads.py`` (serving reads them
without importing the trainer); here the heads carry the loss's learned temperature
while they train, and :func:`save_heads` writes them in that format.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..encoders.heads import FORMAT, VERSION, HeadConfig, ProjectionHeads, state_id
from ..files import replacing
from .loss import InfoNCELoss


class Heads(ProjectionHeads):
    """The image head, the text head and the loss's learned temperature."""

    def __init__(self, config: HeadConfig) -> None:
        """Fresh (randomly initialised) heads of ``config``'s shapes."""
        super().__init__(config)
        self.loss = InfoNCELoss()


def heads_id(heads: nn.Module) -> str:
    """A short content digest of the weights: a retrained head gets a new id."""
    return state_id(heads.state_dict())


def save_heads(
    heads: ProjectionHeads,
    directory: Path,
    *,
    image_model: str,
    text_model: str,
    image_space: str,
    meta: dict[str, Any],
) -> Path:
    """Write ``heads-<id>.pt`` atomically into ``directory``; return its path."""
    state = {k: v.detach().cpu() for k, v in heads.state_dict().items()}
    hid = state_id(state)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "id": hid,
        "config": asdict(heads.config),
        "state": state,
        "image_model": image_model,
        "text_model": text_model,
        "image_space": image_space,
        "meta": meta,
    }
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"heads-{hid}.pt"
    with replacing(target) as tmp, tmp.open("wb") as handle:
        torch.save(payload, handle)
    return target
