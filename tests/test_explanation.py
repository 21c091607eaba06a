"""Why a design was chosen (``search/explanation.py``): built from fused evidence for the
designs a page shows, typed, and serialised for the API (no demo app)."""

from __future__ import annotations

import numpy as np

from webapp.search.explanation import Explanation, Ranking, WordContext
from webapp.search.fusion import fuse
from webapp.search.signals import Signal, SignalKind
from webapp.search.signals.words import bm25

from .stage_fixtures import SETTINGS, lexical, reader, understanding

INDEX = lexical()
READER = reader(INDEX)


def word_ranking(query: str) -> Ranking:
    parsed = understanding().parse(query)
    terms = READER.read(parsed)
    own = bm25(SignalKind.LEXICAL, INDEX, READER, terms.own_words, terms.groups, 10)
    added = [t for g in terms.meaning for t in g]
    meaning = bm25(SignalKind.MEANING, INDEX, READER, added, terms.expanded, 10)
    fused = fuse(own + meaning, SETTINGS.fusion)
    return Ranking(fused, WordContext(INDEX, terms, parsed.concepts))


def test_a_word_match_names_the_query_words_the_design_contains() -> None:
    ranking = word_ranking("кот в шляпе")
    top = ranking.explain(0)
    assert top.words == ("кот", "шляпа") and top.meaning == () and top.rules == ()
    assert top.has(SignalKind.LEXICAL) and not top.has(SignalKind.TEXT)
    lexical = top.of(SignalKind.LEXICAL)
    assert lexical is not None and lexical.rank == 1 and lexical.calibrated == 1.0


def test_a_rule_match_names_the_rule_and_the_words_it_added() -> None:
    ranking = word_ranking("масленица")
    rows = ranking.rows.tolist()
    pancakes = ranking.explain(rows.index(4))
    assert pancakes.meaning == ("блин",)  # lemmas, as the index holds them
    assert [(r.phrase, r.source, r.words) for r in pancakes.rules] == [
        ("масленица", "occasion", ("блин",))
    ]


def test_the_json_form_keeps_every_signal_by_name_with_raw_calibrated_and_rank() -> None:
    why = word_ranking("масленица").explain(0).to_json()
    assert set(why) == {"signals", "terms", "meaning", "rules"}
    assert set(why["signals"]) <= {"lexical", "meaning"}
    for evidence in why["signals"].values():
        assert set(evidence) == {"score", "calibrated", "rank"}


def test_recommendations_carry_their_source_and_the_design_they_resemble() -> None:
    rows = np.array([3, 1])
    fused = fuse([Signal.of(SignalKind.TASTE, rows, np.array([0.9, 0.8]))], SETTINGS.fusion)
    extra = (Explanation(source="rec", like=("p0", "Петух")), Explanation(source="explore"))
    ranking = Ranking(fused, extra=extra)
    first, second = ranking.explain(0), ranking.explain(1)
    assert first.like == ("p0", "Петух") and first.has(SignalKind.TASTE)
    assert second.source == "explore" and second.like is None
    assert first.to_json()["like"] == {"id": "p0", "title": "Петух"}


def test_a_photo_explanation_carries_what_the_photo_seems_to_show() -> None:
    look = Signal.of(SignalKind.LOOK, np.array([2]), np.array([0.4]), np.array([3.1]))
    ranking = Ranking(fuse([look], SETTINGS.fusion), labels=("tabby cat",))
    assert ranking.explain(0).labels == ("tabby cat",)
    assert ranking.explain(0).to_json()["labels"] == ["tabby cat"]
