"""Training pairs from the catalogue and cached frozen features, and the split.

Every design gives one picture and several texts: «title. tags» (the canonical
text, used for validation), and with ``texts="tags"`` also its title and each tag
on its own, so a plain word learns to point at a picture. The split is by
*group*: designs that are variants of one motif (the same base codepoint, the id
before the first ``-``, or the same title stem) always fall on one side, so a
held-out design is never a recoloured copy of a training one.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..catalog.embedding_cache import EmbeddingCache
from ..catalog.products import Product
from ..encoders.base import TextEncoder

TEXT_MODES = ("full", "tags")


@dataclass(frozen=True)
class Split:
    """A seeded partition of product ids into train, validation and test."""

    seed: int
    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        """Builtins only, so it can ride in a ``weights_only`` checkpoint."""
        return {
            "seed": self.seed,
            "train": list(self.train),
            "val": list(self.val),
            "test": list(self.test),
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Split:
        """Inverse of :meth:`to_dict`."""
        return cls(int(data["seed"]), *(tuple(data[k]) for k in ("train", "val", "test")))


@dataclass(frozen=True)
class PairSet:
    """Frozen features of some designs: one picture row per design, many text rows."""

    ids: tuple[str, ...]
    images: np.ndarray  # (n, d_image)
    texts: np.ndarray  # (m, d_text)
    owner: np.ndarray  # (m,) index into ``ids`` of each text row
    canonical: np.ndarray  # (n,) the row in ``texts`` of each design's «title. tags»

    def sample_texts(self, rng: np.random.Generator) -> np.ndarray:
        """One text row per design, drawn uniformly among its texts (an epoch's pairing)."""
        keys = rng.random(len(self.owner))
        order = np.lexsort((keys, self.owner))  # by owner, random within an owner
        first = np.ones(len(order), bool)
        first[1:] = self.owner[order[1:]] != self.owner[order[:-1]]
        return order[first]


def base_code(product_id: str) -> str:
    """The base codepoint: the id before its first ``-`` (``1f46e-200d-2642``: ``1f46e``)."""
    return product_id.split("-", 1)[0]


def title_stem(title: str) -> str:
    """The title before any ``:`` qualifier, lowercased (``Мужчина: тон кожи`` → ``мужчина``)."""
    return title.split(":", 1)[0].strip().lower().replace("ё", "е")


def variant_groups(products: Sequence[Product]) -> list[list[int]]:
    """Rows of ``products`` joined when they share a base codepoint or a title stem."""
    parent = list(range(len(products)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_seen: dict[str, int] = {}
    for row, product in enumerate(products):
        for key in (f"id:{base_code(product.id)}", f"title:{title_stem(product.title)}"):
            other = first_seen.setdefault(key, row)
            parent[find(row)] = find(other)
    groups: dict[int, list[int]] = {}
    for row in range(len(products)):
        groups.setdefault(find(row), []).append(row)
    return list(groups.values())


def split_products(
    products: Sequence[Product], *, seed: int, val: float = 0.1, test: float = 0.1
) -> Split:
    """Shuffle the variant groups with ``seed`` and fill test, then val, then train."""
    groups = sorted(variant_groups(products), key=lambda g: products[g[0]].id)
    random.Random(seed).shuffle(groups)
    sides: dict[str, list[str]] = {"test": [], "val": [], "train": []}
    quota = {"test": test * len(products), "val": val * len(products)}
    for group in groups:
        side = next((s for s in ("test", "val") if len(sides[s]) < quota[s]), "train")
        sides[side] += [products[r].id for r in group]
    return Split(seed, *(tuple(sorted(sides[s])) for s in ("train", "val", "test")))


def product_texts(product: Product, mode: str = "full") -> list[str]:
    """The texts paired with a design's picture; the first is the canonical one."""
    canonical = f"{product.title}. {', '.join(product.tags)}" if product.tags else product.title
    if mode == "full":
        return [canonical]
    if mode != "tags":
        raise ValueError(f"unknown text mode {mode!r}; choose one of {TEXT_MODES}")
    return list(dict.fromkeys([canonical, product.title.lower(), *product.tags]))


def build_pairs(
    products: Sequence[Product], image_cache: EmbeddingCache, text_encoder: TextEncoder
) -> PairSet:
    """Pair each product's cached picture features with all its encoded texts (the
    canonical one first; training decides whether to sample the others)."""
    row_of = {pid: i for i, pid in enumerate(image_cache.ids)}
    missing = [p.id for p in products if p.id not in row_of]
    if missing:
        raise ValueError(
            f"{len(missing)} designs have no picture features (e.g. {missing[0]}); "
            "run `flask --app webapp embed`"
        )
    texts, owner, canonical = [], [], []
    for index, product in enumerate(products):
        canonical.append(len(texts))
        for text in product_texts(product, "tags"):
            texts.append(text)
            owner.append(index)
    images = image_cache.vectors[[row_of[p.id] for p in products]]
    return PairSet(
        tuple(p.id for p in products),
        images,
        text_encoder.encode_texts(texts),
        np.asarray(owner, np.int64),
        np.asarray(canonical, np.int64),
    )


def subset(pairs: PairSet, ids: Sequence[str]) -> PairSet:
    """The pairs of the designs ``ids`` only."""
    keep = {pid: i for i, pid in enumerate(pairs.ids)}
    rows = [keep[pid] for pid in ids]
    new_index = {old: new for new, old in enumerate(rows)}
    text_rows = [t for t, o in enumerate(pairs.owner.tolist()) if o in new_index]
    remap = {old: new for new, old in enumerate(text_rows)}
    return PairSet(
        tuple(ids),
        pairs.images[rows],
        pairs.texts[text_rows],
        np.asarray([new_index[int(pairs.owner[t])] for t in text_rows], np.int64),
        np.asarray([remap[int(pairs.canonical[r])] for r in rows], np.int64),
    )
