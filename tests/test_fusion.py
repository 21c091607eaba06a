"""Fusion, on hand-built signals where the words and the meaning disagree (no demo app)."""

from __future__ import annotations

import numpy as np
import pytest

from webapp.search.fusion import fuse
from webapp.search.settings import FusionSettings, RankingSettings
from webapp.search.signals import Signal, SignalKind
from webapp.search.signals.vectors import SpaceStats


def signal(kind: SignalKind, rows: list[int], calibrated: list[float], **kw) -> Signal:
    values = np.array(calibrated, np.float32)
    return Signal.of(kind, np.array(rows, np.int64), values, name=kw.pop("name", ""), **kw)


def settings(**weights: float) -> FusionSettings:
    base = RankingSettings().fusion
    return FusionSettings(
        weights={**base.weights, **{SignalKind(k): w for k, w in weights.items()}}
    )


# The query's meaning prefers row 1 then 2; BM25 only knows row 3, strongly.
SEMANTIC = signal(SignalKind.TEXT, [1, 2, 3], [5.0, 4.5, 3.0], name="text-use")
LEXICAL = signal(SignalKind.LEXICAL, [3], [1.0])


def test_weighted_fusion_lets_a_strong_exact_match_win() -> None:
    fused = fuse([SEMANTIC, LEXICAL], settings(lexical=2.5))
    assert fused.rows.tolist() == [3, 1, 2]  # 3.0 + 2.5 beats 5.0
    assert fused.scores[0] == 5.5
    assert fused.columns == ((SignalKind.TEXT, "text-use"), (SignalKind.LEXICAL, "lexical"))
    assert fused.calibrated[0].tolist() == [3.0, 1.0] and fused.ranks[0].tolist() == [3, 1]


def test_a_signal_that_did_not_propose_a_row_leaves_its_evidence_empty() -> None:
    fused = fuse([SEMANTIC, LEXICAL], settings(lexical=2.5))
    row1 = fused.rows.tolist().index(1)
    assert np.isnan(fused.calibrated[row1, 1]) and fused.ranks[row1, 1] == 0
    assert fused.has(SignalKind.LEXICAL).tolist() == [True, False, False]
    assert fused.best(SignalKind.LEXICAL).tolist() == [1.0, -np.inf, -np.inf]


def test_weighted_fusion_keeps_the_meaning_when_the_lexical_weight_is_small() -> None:
    assert fuse([SEMANTIC, LEXICAL], settings(lexical=1.0)).rows.tolist() == [1, 2, 3]


def test_each_kind_counts_by_its_weight_times_the_signals_own_scale() -> None:
    scaled = signal(SignalKind.LEXICAL, [3], [1.0], scale=0.5)
    fused = fuse([SEMANTIC, scaled], settings(lexical=4.0))
    assert fused.scores[fused.rows.tolist().index(3)] == 3.0 + 4.0 * 0.5


def test_rrf_uses_ranks_not_scores() -> None:
    rrf = FusionSettings(method="rrf", weights=RankingSettings().fusion.weights)
    fused = fuse([SEMANTIC, LEXICAL], rrf)
    # row 3: 2/63 + 1/61 > row 1: 1/61 > row 2: 1/62 (lexical weighs 2.0)
    assert fused.rows.tolist() == [3, 1, 2]
    assert fused.scores[0] == pytest.approx(1 / 63 + 2 / 61)


def test_ties_break_by_catalogue_row_for_a_stable_order() -> None:
    tied = signal(SignalKind.TEXT, [7, 4], [2.0, 2.0])
    assert fuse([tied], settings()).rows.tolist() == [4, 7]


def test_no_signals_fuse_to_an_empty_list() -> None:
    fused = fuse([], settings())
    assert len(fused) == 0 and fused.has(SignalKind.TEXT).tolist() == []


def test_every_kind_needs_a_weight() -> None:
    weights = dict(RankingSettings().fusion.weights)
    del weights[SignalKind.CATEGORY]
    with pytest.raises(ValueError, match="category"):
        RankingSettings(fusion=FusionSettings(weights=weights))


def test_twenty_thousand_candidates_are_fused_as_arrays() -> None:
    rng = np.random.default_rng(0)
    signals = [
        signal(
            SignalKind.TEXT, rng.permutation(40_000)[:20_000].tolist(), rng.random(20_000).tolist()
        ),
        signal(
            SignalKind.LEXICAL,
            rng.permutation(40_000)[:20_000].tolist(),
            rng.random(20_000).tolist(),
        ),
    ]
    fused = fuse(signals, settings())
    assert np.all(np.diff(fused.scores) <= 0)
    row = int(signals[1].rows[0])
    at = fused.rows.tolist().index(row)
    expected = 2.0 * float(signals[1].calibrated[0])
    if row in signals[0].rows:
        expected = float(signals[0].calibrated[signals[0].rows.tolist().index(row)]) + expected
    assert fused.scores[at] == pytest.approx(expected)


def test_closed_form_zscores_equal_the_brute_force_ones() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(500, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    query = vectors[0]
    cosines = vectors @ query
    brute = (cosines - cosines.mean()) / cosines.std()
    stats = SpaceStats.of(vectors, sample=32_768)
    np.testing.assert_allclose(stats.zscores(query, cosines), brute, atol=1e-4)
