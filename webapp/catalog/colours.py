"""What colours a design's picture shows: the share of its pixels per Russian colour name.

Pixels are compared in CIELAB (sRGB → linear light → XYZ under D65 → L*a*b*, written
here with numpy), where distance follows perception. Only the motif counts:

* transparent pixels (the background of an emoji) and the half-transparent fringe that
  antialiasing leaves on its outline are skipped (alpha below :data:`OPAQUE`);
* an opaque picture's flat background (one colour around nearly all the border) is skipped;
* antialiased seams between two colour regions are skipped: a pixel counts only where it
  matches a horizontal and a vertical neighbour (a seam pixel differs across the seam).

A counted pixel takes the name of its nearest palette centre (:data:`CENTRES`), after
grey, black and white are told apart by chroma and lightness. «Голубой» and «синий» are
one hue in English and two colours in Russian: sky blue (Twemoji's #55ACEE) is голубой
here, though CLDR names the emoji blue square «синий»; :mod:`.colour_words` lets each
stand in for the other at a lower weight.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ..encoders.transforms import decode

#: the colour names, in the order every share vector uses
NAMES = (
    "красный",
    "оранжевый",
    "желтый",
    "зеленый",
    "голубой",
    "синий",
    "фиолетовый",
    "розовый",
    "коричневый",
    "черный",
    "белый",
    "серый",
)
#: chromatic palette centres (sRGB): generic ones and the flat colours Twemoji uses most
CENTRES: dict[str, tuple[str, ...]] = {
    "красный": ("FF0000", "DD2E44", "BE1931", "A0041E", "C62828", "8B0000"),
    "оранжевый": ("FF8C00", "F4900C", "FFAC33", "FA743E", "EF9645", "E65100", "FA8072"),
    "желтый": ("FFFF00", "FFCC4D", "FFDC5D", "FFD983", "FDCB58", "FFE8B6", "F9E547"),
    # teal and turquoise (the Statue of Liberty's patina) read as green in Russian
    "зеленый": ("00A000", "77B255", "5C913B", "3E721D", "A6D388", "006400", "157569", "3FC9B9"),
    "голубой": ("55ACEE", "88C9F9", "5DADEC", "BBDDF5", "87CEEB", "00BFFF"),
    "синий": ("3B88C3", "226699", "4289C1", "1C6399", "0000CD", "1E3A8A", "000080"),
    "фиолетовый": ("9266CC", "744EAA", "AA8DD8", "800080", "8A2BE2", "553788"),
    "розовый": ("F4ABBA", "EA596E", "FF69B4", "FFC0CB", "E75480", "DB7093"),
    "коричневый": ("C1694F", "662113", "D99E82", "664500", "8B4513", "A0522D", "D2B48C"),
}
#: below this chroma (C*ab) a pixel is achromatic: black, grey or white by lightness
GREY_CHROMA = 10.0
#: achromatic lightness bounds: darker is black, lighter is white
BLACK_L, WHITE_L = 30.0, 88.0
#: pixels at least this opaque are the motif; lower alpha is background or outline fringe
OPAQUE = 250
#: two neighbouring pixels closer than this (ΔE*ab) are one flat colour region
FLAT_DELTA = 6.0
#: an opaque picture has a background when one colour holds this share of its border
BORDER_SHARE = 0.9
#: an opaque picture's border colour is its background unless it covers more than this
MAX_BACKGROUND = 0.95
#: a picture is scaled down (nearest neighbour: no new colours) to at most this side
MAX_SIDE = 256

_D65 = np.array([0.95047, 1.0, 1.08883])
_SRGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65, 2°) of sRGB colours given as 0–255 values in the last axis."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _SRGB_TO_XYZ.T / _D65
    delta = 6.0 / 29.0
    f = np.where(xyz > delta**3, np.cbrt(xyz), xyz / (3 * delta**2) + 4.0 / 29.0)
    lightness = 116.0 * f[..., 1] - 16.0
    a = 500.0 * (f[..., 0] - f[..., 1])
    b = 200.0 * (f[..., 1] - f[..., 2])
    return np.stack([lightness, a, b], axis=-1)


def _centres() -> tuple[np.ndarray, np.ndarray]:
    """The chromatic centres in Lab, and the index into :data:`NAMES` of each."""
    hexes = [(NAMES.index(n), h) for n, codes in CENTRES.items() for h in codes]
    rgb = np.array([[int(h[i : i + 2], 16) for i in (0, 2, 4)] for _, h in hexes])
    return srgb_to_lab(rgb), np.array([i for i, _ in hexes])


_CENTRE_LAB, _CENTRE_NAME = _centres()


def name_colours(lab: np.ndarray) -> np.ndarray:
    """The index into :data:`NAMES` of each Lab colour (shape ``(n, 3)`` → ``(n,)``)."""
    lab = np.asarray(lab, dtype=np.float64).reshape(-1, 3)
    distance = ((lab[:, None, :] - _CENTRE_LAB[None, :, :]) ** 2).sum(-1)
    names = _CENTRE_NAME[distance.argmin(1)]
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    grey = np.where(
        lab[:, 0] < BLACK_L,
        NAMES.index("черный"),
        np.where(lab[:, 0] > WHITE_L, NAMES.index("белый"), NAMES.index("серый")),
    )
    return np.where(chroma < GREY_CHROMA, grey, names)


def colour_shares(source: Path | str | bytes | Image.Image) -> dict[str, float]:
    """The share of the motif's pixels per colour name (shares sum to 1; {} when the
    picture has no motif pixels), largest first."""
    image = decode(source)
    if max(image.size) > MAX_SIDE:
        image = image.copy()
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.NEAREST)
    rgba = np.asarray(image.convert("RGBA"))
    # flat art has few distinct colours: convert and name each once
    codes = rgba[..., :3].astype(np.int32) @ np.array([65536, 256, 1], np.int32)
    distinct, inverse = np.unique(codes, return_inverse=True)
    palette = srgb_to_lab(np.stack([distinct >> 16, (distinct >> 8) & 255, distinct & 255], -1))
    lab = palette[inverse.reshape(codes.shape)]
    motif = rgba[..., 3] >= OPAQUE
    if motif.all():
        background = _flat_background(lab)
        if background.mean() < MAX_BACKGROUND:  # else the picture is all one colour: a motif
            motif &= ~background
    counted = motif & _flat(lab)
    if counted.sum() < 0.3 * motif.sum():  # a gradient or a photo: no flat regions to trust
        counted = motif
    if not counted.any():
        return {}
    names = name_colours(palette)[inverse.reshape(codes.shape)[counted]]
    counts = np.bincount(names, minlength=len(NAMES))
    shares = counts / counts.sum()
    order = np.argsort(-shares, kind="stable")
    return {NAMES[i]: float(shares[i]) for i in order if shares[i] > 0}


def _flat(lab: np.ndarray) -> np.ndarray:
    """Pixels that match (ΔE < :data:`FLAT_DELTA`) a horizontal and a vertical neighbour."""

    def near(axis: int) -> np.ndarray:
        """Whether each pixel matches its neighbour before or after it along ``axis``."""
        step = np.linalg.norm(np.diff(lab, axis=axis), axis=-1) < FLAT_DELTA
        pad = [(0, 0), (0, 0)]
        pad[axis] = (1, 0)
        before = np.pad(step, pad)
        pad[axis] = (0, 1)
        return before | np.pad(step, pad)

    return near(0) & near(1)


def _flat_background(lab: np.ndarray) -> np.ndarray:
    """Pixels of an opaque picture's background: the colour of nearly all its border."""
    border = np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]])
    colour = np.median(border, axis=0)
    if np.mean(np.linalg.norm(border - colour, axis=-1) < FLAT_DELTA) < BORDER_SHARE:
        return np.zeros(lab.shape[:2], bool)
    return np.linalg.norm(lab - colour, axis=-1) < FLAT_DELTA
