"""ImageNet's class names in Russian, for telling a shopper what their photo seems to show.

``data/imagenet_classes_ru.txt`` holds a Russian name for each ImageNet-1k class, in the
classifier's order (written for this project from the English names beside it). A class
without one is never shown to a shopper.
"""

from __future__ import annotations

import functools
from pathlib import Path

DATA = Path(__file__).parent / "data"


def _names(filename: str) -> tuple[str, ...]:
    """The non-comment lines of a class-name file ((): the file is missing)."""
    path = DATA / filename
    if not path.exists():
        return ()
    lines = path.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


@functools.cache
def russian_names() -> dict[str, str]:
    """English class name → its Russian name (empty when there is no translation)."""
    english, russian = _names("imagenet_classes.txt"), _names("imagenet_classes_ru.txt")
    if len(english) != len(russian):
        return {}
    return dict(zip(english, russian, strict=True))


def in_russian(english: str) -> str | None:
    """The Russian name of an ImageNet class (by its English name), or None."""
    return russian_names().get(english)
