"""Fusion on a small fixture where lexical and semantic signals disagree."""

from __future__ import annotations

import numpy as np

from webapp.search.fusion import Signal, SpaceStats, reciprocal_rank_fusion, weighted_fusion


def signal(name: str, rows: list[int], calibrated: list[float]) -> Signal:
    return Signal(
        name, np.array(rows), np.array(calibrated, np.float32), np.array(calibrated, np.float32)
    )


# Semantic search prefers row 1 then 2; BM25 only knows row 3, strongly.
SEMANTIC = signal("text-use", [1, 2, 3], [5.0, 4.5, 3.0])
LEXICAL = signal("lexical", [3], [1.0])


def test_weighted_fusion_lets_a_strong_exact_match_win() -> None:
    ranked = weighted_fusion([SEMANTIC, LEXICAL], {"lexical": 2.5})
    assert [f.row for f in ranked] == [3, 1, 2]  # 3.0 + 2.5 beats 5.0
    assert ranked[0].evidence == {"text-use": (3.0, 3.0, 3), "lexical": (1.0, 1.0, 1)}


def test_weighted_fusion_keeps_semantics_when_the_lexical_weight_is_small() -> None:
    ranked = weighted_fusion([SEMANTIC, LEXICAL], {"lexical": 1.0})
    assert [f.row for f in ranked] == [1, 2, 3]


def test_rrf_uses_ranks_not_scores() -> None:
    ranked = reciprocal_rank_fusion([SEMANTIC, LEXICAL], {})
    # row 3: 1/63 + 1/61 > row 1: 1/61 > row 2: 1/62
    assert [f.row for f in ranked] == [3, 1, 2]
    assert np.isclose(ranked[0].score, 1 / 63 + 1 / 61)


def test_ties_break_by_catalogue_row_for_a_stable_order() -> None:
    tied = signal("text-use", [7, 4], [2.0, 2.0])
    assert [f.row for f in weighted_fusion([tied], {})] == [4, 7]


def test_closed_form_zscores_equal_the_brute_force_ones() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(500, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    query = vectors[0]
    cosines = vectors @ query
    brute = (cosines - cosines.mean()) / cosines.std()
    np.testing.assert_allclose(SpaceStats.of(vectors).zscores(query, cosines), brute, atol=1e-4)
