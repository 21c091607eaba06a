"""The relevance floor on hand-built fused lists: when a query is answered, what it keeps
(no demo app: the floor reads only fused evidence and what it is told about the query)."""

from __future__ import annotations

import dataclasses

import numpy as np

from webapp.search.confidence import WordEvidence
from webapp.search.floor import QueryEvidence, RelevanceFloor
from webapp.search.fusion import fuse
from webapp.search.settings import ConfidenceSettings, RankingSettings
from webapp.search.signals import Signal, SignalKind

SETTINGS = RankingSettings()
FLOOR = RelevanceFloor(SETTINGS.floor, SETTINGS.confidence)


def signal(kind: SignalKind, rows: list[int], calibrated: list[float]) -> Signal:
    return Signal.of(kind, np.array(rows, np.int64), np.array(calibrated, np.float32))


def judge(*signals: Signal, coverage: dict[int, float] | None = None, **kw):
    fused = fuse(signals, SETTINGS.fusion)
    cov = np.array([(coverage or {}).get(r, 0.0) for r in fused.rows.tolist()], np.float32)
    unexplained = kw.pop("unexplained", False)
    return FLOOR.judge(fused, QueryEvidence(cov, unexplained), **kw).fused.rows.tolist()


def test_weak_vector_evidence_alone_answers_nothing() -> None:
    assert judge(signal(SignalKind.TEXT, [1, 2], [4.9, 4.0])) == []


def test_one_strong_vector_hit_opens_the_gate_and_keeps_what_reaches_the_keep_threshold() -> None:
    kept = judge(signal(SignalKind.TEXT, [1, 2, 3], [5.2, 3.6, 3.4]))
    assert kept == [1, 2]  # 3.4 < 3.5 σ


def test_an_unexplained_query_needs_stronger_vector_evidence() -> None:
    strong = signal(SignalKind.TEXT, [1], [5.5])
    assert judge(strong) == [1]
    assert judge(strong, unexplained=True) == []
    assert judge(signal(SignalKind.TEXT, [1], [6.1]), unexplained=True) == [1]


def test_a_lexical_match_covering_enough_of_the_query_is_certain() -> None:
    words = signal(SignalKind.LEXICAL, [7, 8], [0.9, 0.3])
    assert judge(words, coverage={7: 1.0, 8: 0.5}) == [7, 8]
    assert judge(words, coverage={7: 0.4, 8: 0.3}) == []


def test_an_emoji_and_a_named_category_are_certain() -> None:
    assert judge(signal(SignalKind.EMOJI, [5], [1.0])) == [5]
    assert judge(signal(SignalKind.CATEGORY, [4, 6], [0.5, 0.4])) == [4]


def test_the_cross_modal_space_keeps_at_its_own_lower_threshold() -> None:
    kept = judge(
        signal(SignalKind.TEXT, [1], [5.5]), signal(SignalKind.CROSS_MODAL, [2, 3], [2.6, 2.4])
    )
    assert kept == [1, 2]


def test_kinds_that_cannot_open_the_gate_do_not_answer_alone() -> None:
    assert judge(signal(SignalKind.IMAGE, [1], [9.0])) == []
    assert judge(signal(SignalKind.MEANING_VECTOR, [1], [9.0])) == []


def test_look_alikes_are_always_answered_and_ended_by_the_limit() -> None:
    look = signal(SignalKind.LOOK, [1, 2, 3, 4], [1.0, 0.5, -1.0, -2.0])
    assert judge(look, limit=3) == [1, 2, 3]


def test_a_filtered_view_of_an_answered_query_skips_the_gate() -> None:
    weak = signal(SignalKind.TEXT, [2], [3.7])
    assert judge(weak) == [] and judge(weak, gate=False) == [2]


def test_thresholds_come_from_the_settings() -> None:
    looser = RelevanceFloor(
        SETTINGS.replace(**{"floor.min_query_z": 4.0}).floor, SETTINGS.confidence
    )
    fused = fuse([signal(SignalKind.TEXT, [1], [4.5])], SETTINGS.fusion)
    assert len(looser.judge(fused, QueryEvidence()).fused) == 1
    assert len(FLOOR.judge(fused, QueryEvidence()).fused) == 0


# --- where a word query's answer ends: confidence ----------------------------------------
#: a toy confidence model: the share of the query's words a design's own text covers
TOY = ConfidenceSettings(
    first={"bias": -3.0, "own": 6.0}, second={"bias": -3.0, "own": 6.0}, keep=0.5, maybe=0.1
)


def answer(own: list[float], phrase: list[bool] | None = None, **settings):
    """The answer for lexical candidates rows 0… with these own-word coverages."""
    rows = list(range(len(own)))
    fused = fuse([signal(SignalKind.LEXICAL, rows, [1.0] * len(rows))], SETTINGS.fusion)
    cov = np.ones(len(own), np.float32)  # every one certain to the z thresholds
    words = WordEvidence(np.array(own), cov, phrase=None if phrase is None else np.array(phrase))
    floor = RelevanceFloor(SETTINGS.floor, dataclasses.replace(TOY, **settings))
    judged = floor.judge(fused, QueryEvidence(cov, words=words))
    return judged.fused.rows.tolist(), judged.sure


def test_confident_designs_are_the_answer_and_weaker_kept_ones_follow_apart() -> None:
    # confidence σ(6·own − 3): 0.95, 0.5, 0.18, 0.05 — the last is below «maybe»
    assert answer([1.0, 0.5, 0.25, 0.0]) == ([0, 1, 2], 2)


def test_an_answer_ends_far_below_its_best_design() -> None:
    assert answer([1.0, 0.5, 0.25], relative=0.6) == ([0, 1, 2], 1)


def test_when_the_whole_phrase_explains_some_designs_they_alone_are_confident() -> None:
    rows, sure = answer([1.0, 1.0, 0.6], phrase=[False, True, True])
    assert sure == 2 and rows == [1, 2, 0]
