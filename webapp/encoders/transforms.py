"""Image preprocessing shared by every image model: decode, orient, RGB, square, tensor.

One module, so that every tower reads pictures the same way (after immich's
``models/transforms.py``): :func:`decode` accepts a path or raw bytes and applies the
EXIF orientation; :func:`to_rgb` turns any mode (CMYK, palette with transparency, LA,
16-bit, 1-bit) into RGB with transparent pixels composited on white (a plain
``.convert('RGB')`` shows their hidden colour, black for our emoji); :func:`pad_to_square`
keeps motifs that touch the edges whole; :func:`crop_to_content` trims a flat
background from a shopper's picture. :func:`to_batch` applies a model's own
:class:`PreprocessConfig`, so callers never scatter sizes and means around.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageOps

from .base import EncoderError

WHITE = (255, 255, 255)
RGB = tuple[int, int, int]
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}


@dataclass(frozen=True)
class PreprocessConfig:
    """How a model wants its pixels: square side, per-channel mean/std on the 0–255 scale."""

    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    background: RGB = WHITE
    resample: Image.Resampling = Image.Resampling.BILINEAR


def decode(source: Path | str | bytes | Image.Image) -> Image.Image:
    """Open a path, bytes or image, fully loaded and turned upright by its EXIF orientation.

    Raises EncoderError (never an OSError) when the data is not a readable picture or
    is a decompression bomb.
    """
    try:
        if isinstance(source, Image.Image):
            image = source
        else:
            stream = io.BytesIO(source) if isinstance(source, bytes) else source
            with Image.open(stream) as opened:
                opened.load()
                image = opened.copy()  # in memory, with its info (transparency, EXIF)
        return ImageOps.exif_transpose(image) or image
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        name = f"{len(source)} bytes" if isinstance(source, bytes) else str(source)
        raise EncoderError(f"cannot read image {name}: {exc}") from exc


def to_rgb(image: Image.Image, background: RGB | None = WHITE) -> Image.Image:
    """``image`` as 8-bit RGB; with a ``background``, transparency is composited onto it.

    ``background=None`` is the plain ``.convert('RGB')`` (what ruclip itself does).
    """
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16/32-bit grey: scale to 8 bits
        pixels = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or pixels.max() > 255 else 255.0
        image = Image.fromarray(np.clip(pixels / top * 255, 0, 255).astype(np.uint8))
    has_alpha = image.mode in _ALPHA_MODES or "transparency" in image.info
    if background is None or not has_alpha:
        return image if image.mode == "RGB" else image.convert("RGB")
    canvas = Image.new("RGBA", image.size, (*background, 255))
    canvas.alpha_composite(image.convert("RGBA"))
    return canvas.convert("RGB")


def load_rgb(source: Path | str | bytes, background: RGB | None = WHITE) -> Image.Image:
    """:func:`decode` then :func:`to_rgb`: the upright RGB picture of a file or bytes."""
    return to_rgb(decode(source), background)


def pad_to_square(image: Image.Image, fill: RGB = WHITE) -> Image.Image:
    """Centre an RGB ``image`` on a ``fill`` square of side max(width, height)."""
    width, height = image.size
    if width == height:
        return image
    side = max(width, height)
    canvas = Image.new("RGB", (side, side), fill)
    canvas.paste(image, ((side - width) // 2, (side - height) // 2))
    return canvas


def crop_to_content(
    image: Image.Image, *, tolerance: int = 24, margin: float = 0.04
) -> Image.Image:
    """Crop an RGB picture to what differs from a flat background, keeping a small margin.

    The background colour is the median of the border pixels; it counts as flat when
    at least 90 % of the border is within ``tolerance`` of it. Otherwise (a photo, a
    busy pattern) the picture is returned unchanged, as it is when nothing stands out.
    """
    rgb = image.convert("RGB")
    pixels = np.asarray(rgb, dtype=np.int16)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    colour = np.median(border, axis=0)
    if np.mean(np.abs(border - colour).max(axis=1) <= tolerance) < 0.9:
        return image
    flat = Image.new("RGB", rgb.size, tuple(int(c) for c in colour))
    mask = ImageChops.difference(rgb, flat).point(lambda v: 255 if v > tolerance else 0)
    found = mask.getbbox()  # any band beyond the tolerance, in C
    if found is None:
        return image
    left, top, right, bottom = found
    pad = round(margin * max(right - left, bottom - top))
    return image.crop(
        (
            max(0, left - pad),
            max(0, top - pad),
            min(rgb.width, right + pad),
            min(rgb.height, bottom + pad),
        )
    )


def query_picture(image: Image.Image, background: RGB = WHITE) -> Image.Image:
    """A shopper's picture made ready for any image tower: RGB on ``background``, cropped
    to its content when its background is flat (a design on a sheet, a screenshot)."""
    return crop_to_content(to_rgb(image, background))


def flat_colour_share(image: Image.Image, *, side: int = 64, colours: int = 8) -> float:
    """The share of pixels in the ``colours`` most common colours (4 bits a channel).

    Flat art (an emoji, a clip-art motif, a design sheet) is nearly all a few colours
    (median 0.90 on the demo); a photograph's light and texture spread it (mostly
    0.2–0.8 on real photos), so this tells them apart cheaply.
    """
    small = np.asarray(image.convert("RGB").resize((side, side), Image.Resampling.BILINEAR))
    codes = (small.reshape(-1, 3) >> 4).astype(np.int32) @ np.array([256, 16, 1], np.int32)
    counts = np.sort(np.bincount(codes))[::-1]
    return float(counts[:colours].sum() / counts.sum())


def prepare(image: Image.Image, config: PreprocessConfig) -> np.ndarray:
    """One decoded picture as a (3, size, size) float32 array: RGB on the background,
    padded to a square, resized and normalised as ``config`` says."""
    square = pad_to_square(to_rgb(image, config.background), config.background)
    resized = square.resize((config.size, config.size), config.resample)
    pixels = np.asarray(resized, dtype=np.float32)
    mean, std = np.asarray(config.mean, np.float32), np.asarray(config.std, np.float32)
    return ((pixels - mean) / std).transpose(2, 0, 1)


def to_batch(images: Sequence[Image.Image], config: PreprocessConfig) -> np.ndarray:
    """Pictures as one contiguous (n, 3, size, size) float32 batch."""
    if not images:
        return np.zeros((0, 3, config.size, config.size), np.float32)
    return np.ascontiguousarray(np.stack([prepare(image, config) for image in images]))
