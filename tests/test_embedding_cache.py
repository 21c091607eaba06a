"""The .pkl cache contract: restricted unpickling, stale and foreign caches refused."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from webapp.catalog.embedding_cache import (
    REBUILD_HINT,
    CacheError,
    EmbeddingCache,
    load_cache,
    read_cache,
    save_cache,
)


def sample(space: str = "text", model: str = "model-a", fingerprint: str = "fp1") -> EmbeddingCache:
    vectors = np.eye(3, 4, dtype=np.float32)
    return EmbeddingCache(
        space, model, "text", 4, ["a", "b", "c"], vectors, fingerprint, ["d1", "d2", "d3"]
    )


class FileCreator:
    """Unpickling this would create a file through os.system."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):  # noqa: ANN204 - the attack vector under test
        return (os.system, (f"touch {self.target}",))


def test_round_trip_keeps_every_manifest_field(tmp_path: Path) -> None:
    path = save_cache(sample(), tmp_path)
    loaded = load_cache(path, model="model-a", catalog_fingerprint="fp1")
    assert loaded.ids == ["a", "b", "c"] and loaded.dim == 4 and loaded.kind == "text"
    assert loaded.vectors.dtype == np.float32
    np.testing.assert_array_equal(loaded.vectors, sample().vectors)


def test_planted_pickle_is_refused_and_never_runs(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    path = tmp_path / "text.pkl"
    payload = sample().to_payload()
    payload["ids"] = [FileCreator(target), "b", "c"]
    path.write_bytes(pickle.dumps(payload))
    with pytest.raises(CacheError, match="refusing to load posix.system"):
        read_cache(path)
    assert not target.exists()


def test_plain_pickle_of_a_foreign_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "text.pkl"
    path.write_bytes(pickle.dumps({"format": "x", "data": Path("/etc")}))
    with pytest.raises(CacheError, match="refusing"):
        read_cache(path)


def test_stale_cache_is_refused_with_the_fixing_command(tmp_path: Path) -> None:
    path = save_cache(sample(fingerprint="old"), tmp_path)
    with pytest.raises(CacheError, match="stale") as excinfo:
        load_cache(path, model="model-a", catalog_fingerprint="new")
    assert REBUILD_HINT in str(excinfo.value)


def test_foreign_model_cache_is_refused(tmp_path: Path) -> None:
    path = save_cache(sample(model="model-a"), tmp_path)
    with pytest.raises(CacheError, match="model-a.*model-b") as excinfo:
        load_cache(path, model="model-b", catalog_fingerprint="fp1")
    assert REBUILD_HINT in str(excinfo.value)


def test_missing_and_corrupt_caches_name_the_command(tmp_path: Path) -> None:
    with pytest.raises(CacheError, match="missing.*flask --app webapp embed"):
        read_cache(tmp_path / "text.pkl")
    (tmp_path / "text.pkl").write_bytes(b"\x80\x05garbage")
    with pytest.raises(CacheError, match="corrupt.*flask --app webapp embed"):
        read_cache(tmp_path / "text.pkl")


def test_unnormalised_vectors_are_refused(tmp_path: Path) -> None:
    bad = sample()
    payload = bad.to_payload()
    payload["vectors"] = payload["vectors"] * 3
    (tmp_path / "text.pkl").write_bytes(pickle.dumps(payload))
    with pytest.raises(CacheError, match="L2-normalised"):
        read_cache(tmp_path / "text.pkl")


def test_server_refuses_to_start_on_a_stale_cache(tmp_path: Path, mini_app) -> None:
    from webapp.lifecycle import build_engine

    csv = Path(mini_app.config["DATA_DIR"]) / "catalog.csv"
    csv.write_text(csv.read_text(encoding="utf-8").replace("Танк", "Самолёт"), encoding="utf-8")
    with pytest.raises(CacheError, match=f"stale.*{REBUILD_HINT}"):
        build_engine(mini_app)
