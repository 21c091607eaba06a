"""The cross-modal space ``xmodal``: words and pictures through trained heads.

Items are the image head applied to an image space's cached features; queries
are the text head applied to the sentence encoder's vector of the query. Both
are L2-normalised, so the space plugs into FAISS, z-score calibration and fusion
like any other. The space's ``model_id`` carries the heads' id, so vectors of a
retrained head are never mixed with old ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..catalog.embedding_cache import TRAIN_HINT
from .base import EncoderError, TextEncoder, l2_normalise
from .heads import HeadsFile, find_heads, load_heads
from .sentence import load_sentence_encoder
from .space import Space

XMODAL = "xmodal"


class ProjectedTextEncoder:
    """A frozen text encoder followed by a trained text head (a :class:`TextEncoder`)."""

    def __init__(self, base: TextEncoder, heads: HeadsFile) -> None:
        """Project ``base``'s vectors with ``heads.heads.text``."""
        if base.model_id != heads.text_model:
            raise EncoderError(
                f"heads {heads.heads_id} were trained on {heads.text_model!r}, "
                f"not {base.model_id!r}; run `{TRAIN_HINT}`"
            )
        self.base = base
        self.heads = heads
        self.model_id = f"heads-{heads.heads_id}/{base.model_id}"
        self.dim = heads.heads.config.out_dim
        #: the image space whose cache the items are projected from, and its model
        self.image_space = heads.image_space
        self.image_model = heads.image_model

    def _apply(self, head: torch.nn.Module, features: np.ndarray) -> np.ndarray:
        """``head`` over a feature matrix, normalised."""
        with torch.no_grad():
            out = head(torch.from_numpy(np.array(features, np.float32)))  # a writable copy
        return l2_normalise(out.numpy())

    def encode_texts(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """Texts into the shared space (an (n, dim) unit-norm matrix)."""
        return self._apply(
            self.heads.heads.text, self.base.encode_texts(texts, batch_size=batch_size)
        )

    def encode_query(self, query: str) -> np.ndarray:
        """One query into the shared space."""
        return self.project_query(self.base.encode_query(query))

    def project_query(self, vector: np.ndarray) -> np.ndarray:
        """The base encoder's vector of a query, projected into the shared space (the search
        core reuses the base vector it already has instead of encoding the query twice)."""
        return self._apply(self.heads.heads.text, vector[None])[0]

    def project_images(self, features: np.ndarray) -> np.ndarray:
        """Picture features of :attr:`image_space` into the shared space."""
        return self._apply(self.heads.heads.image, features)


def resolve_heads(config: Mapping[str, Any]) -> Path | None:
    """The heads file ``XMODAL_HEADS`` names: a path (relative to EMBEDDINGS_DIR), ``auto``
    (the newest ``heads-*.pt`` there, if any) or empty (no cross-modal space)."""
    setting = str(config.get("XMODAL_HEADS") or "").strip()
    directory = Path(config["EMBEDDINGS_DIR"])
    if not setting:
        return None
    if setting == "auto":
        return find_heads(directory)
    return directory / setting


def projected_spaces(
    config: Mapping[str, Any], text_encoders: Sequence[TextEncoder], threads: int | None = None
) -> list[Space]:
    """The ``xmodal`` space when heads are configured (reusing an already loaded text
    encoder of the model the heads expect); else nothing."""
    path = resolve_heads(config)
    if path is None:
        return []
    heads = load_heads(path)
    base = next((e for e in text_encoders if e.model_id == heads.text_model), None)
    if base is None:
        base = load_sentence_encoder(str(heads.meta.get("text_encoder", "use")), threads=threads)
    encoder = ProjectedTextEncoder(base, heads)
    return [Space(XMODAL, "projected", encoder, parts=(heads.image_space,))]
