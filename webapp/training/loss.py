"""The symmetric InfoNCE (CLIP) loss with a learned temperature."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

#: CLIP's initial temperature 0.07, stored as log(1/T)
INITIAL_LOGIT_SCALE = math.log(1 / 0.07)
#: CLIP clamps the scale at 100 so the softmax cannot collapse onto one pair
MAX_LOGIT_SCALE = math.log(100.0)


class InfoNCELoss(nn.Module):
    """Cross-entropy of image→text and text→image similarity logits, averaged.

    Row ``i`` of both batches is a positive pair; every other row in the batch is a
    negative. The logits are cosine similarities times ``exp(logit_scale)``, a
    learned parameter (clamped to ≤ 100). Inputs need not be normalised.
    """

    def __init__(self, logit_scale: float = INITIAL_LOGIT_SCALE) -> None:
        """Start from the temperature ``exp(-logit_scale)``."""
        super().__init__()
        self.logit_scale = nn.Parameter(torch.tensor(float(logit_scale)))

    def scale(self) -> torch.Tensor:
        """The multiplier applied to cosine similarities, clamped."""
        return self.logit_scale.clamp(max=MAX_LOGIT_SCALE).exp()

    def logits(self, image: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """The (n, n) image×text logits of one batch."""
        image = F.normalize(image.float(), dim=-1)
        text = F.normalize(text.float(), dim=-1)
        return self.scale() * image @ text.T

    def forward(self, image: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """Mean of the two cross-entropies for a batch of aligned pairs."""
        logits = self.logits(image, text)
        labels = torch.arange(len(logits), device=logits.device)
        return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
