"""What evaluation compares the product against, through the engine's public surface.

:func:`plain_search` is the source documents' pipeline: the raw query into the text
space, nearest neighbours, no understanding, lexical signal or relevance floor.
:func:`query_cosines` gives the mean-cosine column of the reports.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..search.engine import SearchEngine


def plain_search(engine: SearchEngine, query: str, k: int) -> list[str]:
    """The plain baseline: raw query → the first text space's top-``k`` ids."""
    encoder = engine.space(engine.text_space).encoder
    assert encoder is not None, f"{engine.text_space} takes no text queries"
    rows, _ = engine.nearest(encoder.encode_query(query), k, space=engine.text_space)
    return [engine.products[r].id for r in rows.tolist()]


def query_cosines(engine: SearchEngine, query: str, ids: Sequence[str]) -> list[float]:
    """Cosine of the understood query with each known item of ``ids`` in the text space."""
    encoder = engine.space(engine.text_space).encoder
    assert encoder is not None, f"{engine.text_space} takes no text queries"
    vector = encoder.encode_query(engine.understand(query).text)
    return [float(v) for v in engine.item_vectors(ids, engine.text_space) @ vector]
