"""The lemma terms of a design's texts, field by field: what every word index is built from."""

from __future__ import annotations

from dataclasses import dataclass

from ..language.text import analyse
from .products import Product


@dataclass(frozen=True)
class DesignLemmas:
    """A design's lemma terms by field (stop words dropped, order and repeats kept)."""

    title: tuple[str, ...]
    tags: tuple[str, ...]
    #: the subcategory and the description
    rest: tuple[str, ...]

    @property
    def shopper_words(self) -> tuple[str, ...]:
        """The words shoppers call the design by: its title's and tags'."""
        return self.title + self.tags


def design_lemmas(product: Product) -> DesignLemmas:
    """``product``'s lemma terms, field by field."""
    return DesignLemmas(
        analyse(product.title),
        analyse(" ; ".join(product.tags)),
        analyse(f"{product.subcategory} {product.description}"),
    )
