"""Whether a catalogue of a given size needs the ``index`` build step before it is served."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..catalog import artifacts
from .choice import IndexChoiceError, choose_index


def needs_index_build(cfg: Mapping[str, Any], items: int) -> bool:
    """True when serving ``items`` designs needs the ``index`` step (not an exact index,
    or a catalogue too large for its artifacts to be built in memory at start)."""
    if items > artifacts.IN_MEMORY_MAX_ITEMS or cfg["LEXICAL_BACKEND"] == "milvus":
        return True
    try:
        exact = choose_index(cfg["INDEX_TYPE"], items, 1, cfg["INDEX_PARAMS"]).exact
    except IndexChoiceError:
        return True  # the step will say what is wrong with the setting
    return cfg["VECTOR_BACKEND"] == "milvus" or not exact
