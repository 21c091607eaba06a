"""ruCLIP's image side: the processor's crop-and-normalise.

ruclip's processor uses ``RandomResizedCrop(scale=1, ratio=1)``, i.e. a centre square
crop (random only for near-square images, see :func:`square_box`) resized bilinearly.
:func:`preprocess` does that deterministically and yields the same tensors. Reading and
transparency are shared with every image model (:mod:`.transforms`): transparent PNGs
are composited on white *before* either path sees them (ruclip's own
``.convert('RGB')`` would show the hidden colour of transparent pixels, black for our
emoji): pass ``background=None`` for ruclip's behaviour.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .transforms import RGB, WHITE, to_rgb
from .transforms import load_rgb as _load_rgb

__all__ = ["WHITE", "load_rgb", "preprocess", "square_box", "to_rgb"]


def square_box(width: int, height: int) -> tuple[int, int, int, int]:
    """The crop box of ruclip's ``RandomResizedCrop(size, scale=(1, 1), ratio=(1, 1))``.

    Its random draw of a square of the image's full area never fits a
    non-square image, so torchvision falls back to the centre square of side
    ``min(width, height)``, which we take directly. (For images within about
    one pixel of square, torchvision may instead draw a ``round(sqrt(w*h))``
    square at a random offset: a one-pixel shift we deliberately do not copy.)
    """
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


def load_rgb(path: Path, background: RGB | None) -> Image.Image:
    """Open ``path`` upright as RGB, transparency on ``background``; EncoderError if unreadable."""
    return _load_rgb(path, background)


def preprocess(
    image: Image.Image, size: int, mean: torch.Tensor, std: torch.Tensor
) -> torch.Tensor:
    """The (3, size, size) float32 tensor: centre square, bilinear resize, (x - mean) / std."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    pixels = rgb.crop(square_box(*rgb.size)).resize((size, size), Image.Resampling.BILINEAR)
    tensor = torch.from_numpy(np.array(pixels, dtype=np.uint8)).permute(2, 0, 1)
    return tensor.float().div(255).sub_(mean).div_(std)
