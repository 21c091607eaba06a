"""The training loop: heads over precomputed frozen features.

Adam, ReduceLROnPlateau and early stopping on the validation loss (the weights of
the best epoch are kept), CUDA with mixed precision when present, a tqdm bar. The
whole run's parameters and validation curve are returned so they can be written
next to the weights, and :func:`plot_curve` draws them.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ..encoders.heads import HeadConfig
from .data import PairSet
from .heads import Heads


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one run (chosen by measurement, docs/training.md)."""

    out_dim: int = 256
    hidden: int = 0
    dropout: float = 0.0
    lr: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 256
    max_epochs: int = 200
    patience: int = 12  # epochs without a better validation loss before stopping
    plateau_patience: int = 4  # epochs before the learning rate is halved
    texts: str = "tags"  # "full": «title. tags» only; "tags": also the title and each tag
    seed: int = 0


@dataclass
class TrainResult:
    """The best heads and how the run went."""

    heads: nn.Module
    config: TrainConfig
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int = 0
    seconds: float = 0.0
    device: str = "cpu"

    def summary(self) -> dict[str, object]:
        """Builtins describing the run (written into the heads file)."""
        return {
            "train": asdict(self.config),
            "train_loss": self.train_loss,
            "val_loss": self.val_loss,
            "best_epoch": self.best_epoch,
            "seconds": round(self.seconds, 2),
            "device": self.device,
        }


def pick_device(device: str | None = None) -> torch.device:
    """CUDA when available (or asked for), else the CPU."""
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def train_heads(
    train: PairSet,
    val: PairSet,
    config: TrainConfig | None = None,
    *,
    device: str | None = None,
    progress: bool = True,
    heads: nn.Module | None = None,
) -> TrainResult:
    """Fit heads on ``train``; stop when ``val``'s canonical pairs stop improving.

    ``heads`` (any module with ``image``, ``text`` and ``loss``) is trained in place;
    by default fresh :class:`Heads` of ``config``'s shape.
    """
    config = config or TrainConfig()
    torch.manual_seed(config.seed)
    target = pick_device(device)
    if heads is None:
        heads = Heads(
            HeadConfig(
                train.images.shape[1],
                train.texts.shape[1],
                config.out_dim,
                config.hidden,
                config.dropout,
            )
        )
    heads = heads.to(target)
    optimiser = torch.optim.Adam(heads.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimiser, factor=0.5, patience=config.plateau_patience
    )
    amp = target.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    images = torch.from_numpy(train.images).to(target)
    texts = torch.from_numpy(train.texts).to(target)
    rng = np.random.default_rng(config.seed)
    result = TrainResult(heads, config, device=str(target))
    best, best_state, started = float("inf"), None, time.perf_counter()
    bar = tqdm(range(config.max_epochs), desc="train heads", unit="epoch", disable=not progress)
    for epoch in bar:
        heads.train()
        text_rows = torch.from_numpy(
            train.canonical if config.texts == "full" else train.sample_texts(rng)
        ).to(target)
        order = torch.from_numpy(rng.permutation(len(train.ids))).to(target)
        losses = []
        for start in range(0, len(order), config.batch_size):
            batch = order[start : start + config.batch_size]
            if len(batch) < 2:
                continue
            with torch.autocast(target.type, enabled=amp):
                loss = heads.loss(heads.image(images[batch]), heads.text(texts[text_rows[batch]]))
            optimiser.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimiser)
            scaler.update()
            losses.append(float(loss.detach()))
        result.train_loss.append(float(np.mean(losses)))
        result.val_loss.append(validation_loss(heads, val, target))
        plateau.step(result.val_loss[-1])
        bar.set_postfix(train=f"{result.train_loss[-1]:.3f}", val=f"{result.val_loss[-1]:.3f}")
        if result.val_loss[-1] < best - 1e-4:
            best, result.best_epoch = result.val_loss[-1], epoch
            best_state = copy.deepcopy(heads.state_dict())
        elif epoch - result.best_epoch >= config.patience:
            break
    bar.close()
    if best_state is not None:
        heads.load_state_dict(best_state)
    result.heads = heads.cpu().eval().requires_grad_(False)
    result.seconds = time.perf_counter() - started
    return result


@torch.no_grad()
def validation_loss(heads: nn.Module, pairs: PairSet, device: torch.device) -> float:
    """InfoNCE of every held-out design's picture against every one's «title. tags»."""
    heads.eval()
    images = heads.image(torch.from_numpy(pairs.images).to(device))
    texts = heads.text(torch.from_numpy(pairs.texts[pairs.canonical]).to(device))
    return float(heads.loss(images, texts))


def plot_curve(result: TrainResult, path: Path, *, title: str = "projection heads") -> Path:
    """Draw the train and validation loss per epoch (best epoch marked) into a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=110)
    epochs = range(1, len(result.val_loss) + 1)
    ax.plot(epochs, result.train_loss, label="train (sampled texts)")
    ax.plot(epochs, result.val_loss, label="validation («title. tags»)")
    ax.axvline(result.best_epoch + 1, color="grey", linestyle=":", label="kept epoch")
    ax.set_xlabel("epoch")
    ax.set_ylabel("symmetric InfoNCE")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
