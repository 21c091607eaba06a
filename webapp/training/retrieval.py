"""Text→image retrieval on held-out designs, the way CLIP papers report it.

Each query is a held-out design's title or one of its tags; the answer is that
design's picture among all held-out pictures. Reported: R@1/5/10, MRR and the
median rank, for any pair of encoders (e.g. random heads before, trained after).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from ..catalog.products import Product
from ..encoders.base import TextEncoder, l2_normalise
from .heads import Heads


def retrieval_queries(products: Sequence[Product]) -> list[tuple[str, int]]:
    """(query, answer row) pairs: each design's title and each of its tags, deduplicated."""
    queries = []
    for row, product in enumerate(products):
        for text in dict.fromkeys([product.title.lower(), *product.tags]):
            queries.append((text, row))
    return queries


def retrieval_metrics(
    text_vectors: np.ndarray, image_vectors: np.ndarray, answers: Sequence[int]
) -> dict[str, float]:
    """R@1/5/10, MRR and median rank of ``answers`` when ranking images by cosine."""
    sims = l2_normalise(text_vectors) @ l2_normalise(image_vectors).T
    truth = sims[np.arange(len(answers)), np.asarray(answers)]
    ranks = (sims > truth[:, None]).sum(axis=1) + 1
    return {
        "R@1": float((ranks <= 1).mean()),
        "R@5": float((ranks <= 5).mean()),
        "R@10": float((ranks <= 10).mean()),
        "MRR": float((1.0 / ranks).mean()),
        "median_rank": float(np.median(ranks)),
        "queries": float(len(ranks)),
        "pictures": float(len(image_vectors)),
    }


def head_projector(head: torch.nn.Module) -> Callable[[np.ndarray], np.ndarray]:
    """A numpy function applying ``head`` (in eval mode, no gradients)."""

    def project(features: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return head(torch.from_numpy(np.asarray(features, np.float32))).numpy()

    return project


def evaluate_heads(
    heads: Heads, products: Sequence[Product], image_features: np.ndarray, text_encoder: TextEncoder
) -> dict[str, float]:
    """Retrieval of ``products``' pictures by their words through ``heads``."""
    queries = retrieval_queries(products)
    texts = text_encoder.encode_texts([q for q, _ in queries])
    return retrieval_metrics(
        head_projector(heads.text)(texts),
        head_projector(heads.image)(image_features),
        [a for _, a in queries],
    )
