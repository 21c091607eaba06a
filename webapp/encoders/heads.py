"""The projection heads' file format, ``embeddings/heads-<id>.pt``, and the heads as served.

A head maps a frozen encoder's features into the shared space: a linear map by default,
or a small MLP. The file holds only tensors and builtins (state dicts, the config, the
feature models' identities, the split, the validation curve), so it loads back with
``torch.load(weights_only=True)`` and cannot run code. Serving reads it here; the trainer
(``training/``) writes it with this module's format, so serving never imports the trainer.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..catalog.embedding_cache import TRAIN_HINT

FORMAT = "embroidery-search/heads"
VERSION = 1


class HeadsError(RuntimeError):
    """A heads file is missing, foreign, corrupt or trained on other features."""


@dataclass(frozen=True)
class HeadConfig:
    """Shapes of the two heads."""

    image_dim: int
    text_dim: int
    out_dim: int = 256
    hidden: int = 0  # 0 = linear heads; otherwise one hidden layer of this width
    dropout: float = 0.0


def make_head(in_dim: int, config: HeadConfig) -> nn.Module:
    """A linear head, or Linear–GELU–Dropout–Linear when ``config.hidden`` is set."""
    if not config.hidden:
        return nn.Linear(in_dim, config.out_dim)
    return nn.Sequential(
        nn.Linear(in_dim, config.hidden),
        nn.GELU(),
        nn.Dropout(config.dropout),
        nn.Linear(config.hidden, config.out_dim),
    )


class ProjectionHeads(nn.Module):
    """The image head and the text head."""

    def __init__(self, config: HeadConfig) -> None:
        """Fresh (randomly initialised) heads of ``config``'s shapes."""
        super().__init__()
        self.config = config
        self.image = make_head(config.image_dim, config)
        self.text = make_head(config.text_dim, config)


@dataclass(frozen=True)
class HeadsFile:
    """Trained heads with what they were trained on."""

    heads_id: str
    heads: ProjectionHeads
    #: ``model_id`` of the image features / of the text encoder the heads expect
    image_model: str
    text_model: str
    #: the image space whose cache holds the features the image head reads
    image_space: str
    meta: dict[str, Any]


def state_id(state: Mapping[str, torch.Tensor]) -> str:
    """A short content digest of a state dict: retrained weights get a new id."""
    digest = hashlib.sha1()
    for name, tensor in sorted(state.items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:10]


def load_heads(path: Path) -> HeadsFile:
    """Read a heads file (tensors and builtins only) and rebuild the heads in eval mode
    (the trainer's own state, such as the loss's temperature, is checked, not loaded)."""
    if not path.is_file():
        raise HeadsError(f"{path} is missing; train heads with `{TRAIN_HINT}`")
    try:
        payload = torch.load(io.BytesIO(path.read_bytes()), map_location="cpu", weights_only=True)
    except Exception as exc:  # an unsafe or truncated file is refused, not run
        raise HeadsError(
            f"{path} is not a readable heads file ({exc.__class__.__name__}); run `{TRAIN_HINT}`"
        ) from None
    if (
        not isinstance(payload, dict)
        or payload.get("format") != FORMAT
        or payload.get("version") != VERSION
    ):
        raise HeadsError(f"{path} is not a version-{VERSION} heads file; run `{TRAIN_HINT}`")
    state = payload["state"]
    if state_id(state) != payload["id"]:
        raise HeadsError(f"{path}: weights do not match their id; run `{TRAIN_HINT}`")
    heads = ProjectionHeads(HeadConfig(**payload["config"]))
    heads.load_state_dict({k: v for k, v in state.items() if k.split(".")[0] in ("image", "text")})
    heads.eval().requires_grad_(False)
    return HeadsFile(
        payload["id"],
        heads,
        payload["image_model"],
        payload["text_model"],
        payload["image_space"],
        dict(payload["meta"]),
    )


def find_heads(directory: Path) -> Path | None:
    """The newest ``heads-*.pt`` in ``directory`` by modification time, or None."""
    found = sorted(directory.glob("heads-*.pt"), key=lambda p: (p.stat().st_mtime_ns, p.name))
    return found[-1] if found else None
