"""Tests for the evaluation harness (webapp/evaluation.py, its report) and the dev query set."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from webapp.evaluation import metrics
from webapp.evaluation.harness import evaluate
from webapp.evaluation.queries import EvalQuery, load_queries
from webapp.evaluation.report import write_report

ROOT = Path(__file__).resolve().parents[1]
DEV_QUERIES = ROOT / "data" / "eval" / "dev_queries.jsonl"
CATALOG = ROOT / "data" / "catalog.csv"
KINDS = (
    "single_word",
    "descriptive",
    "synonym",
    "morphology",
    "english",
    "emoji",
    "wrong_layout",
    "case_punct",
    "nonsense",
)

# Shared example: relevant = {a, b, c, d} (4 items); ranked = a x b y c
#   position: 1=a(hit) 2=x 3=b(hit) 4=y 5=c(hit)
RANKED = ["a", "x", "b", "y", "c"]
RELEVANT = {"a", "b", "c", "d"}


# --------------------------------------------------------------------------- metrics


def test_precision_at_k_hand_computed() -> None:
    # P@1 = hits{a} / 1 = 1.0
    assert metrics.precision_at_k(RANKED, RELEVANT, 1) == 1.0
    # P@3 = hits{a, b} / 3 = 2/3
    assert metrics.precision_at_k(RANKED, RELEVANT, 3) == pytest.approx(2 / 3)
    # P@5 = hits{a, b, c} / 5 = 0.6
    assert metrics.precision_at_k(RANKED, RELEVANT, 5) == pytest.approx(0.6)
    # P@10: the list has only 5 items, the 5 missing positions count as misses: 3 / 10 = 0.3
    assert metrics.precision_at_k(RANKED, RELEVANT, 10) == pytest.approx(0.3)


def test_precision_counts_a_duplicated_id_once() -> None:
    # ranked = a a, relevant = {a}: one distinct hit in the top 2 -> P@2 = 1/2
    assert metrics.precision_at_k(["a", "a"], {"a"}, 2) == 0.5


def test_recall_at_k_hand_computed() -> None:
    # R@1 = 1 hit / 4 relevant = 0.25; R@5 = 3 / 4 = 0.75 (d is never returned)
    assert metrics.recall_at_k(RANKED, RELEVANT, 1) == 0.25
    assert metrics.recall_at_k(RANKED, RELEVANT, 5) == 0.75


def test_f1_at_k_hand_computed() -> None:
    # P@5 = 0.6, R@5 = 0.75 -> F1 = 2 * 0.6 * 0.75 / (0.6 + 0.75) = 0.9 / 1.35 = 2/3
    assert metrics.f1_at_k(RANKED, RELEVANT, 5) == pytest.approx(2 / 3)
    # P@1 = 1, R@1 = 0.25 -> F1 = 2 * 0.25 / 1.25 = 0.4
    assert metrics.f1_at_k(RANKED, RELEVANT, 1) == pytest.approx(0.4)
    # no hits: P = R = 0 -> F1 is 0, not a division by zero
    assert metrics.f1_at_k(["x", "y"], RELEVANT, 2) == 0.0


def test_normalised_precision_at_k_hand_computed() -> None:
    # nP@5 = 3 hits / min(5, 4) = 3/4
    assert metrics.normalised_precision_at_k(RANKED, RELEVANT, 5) == 0.75
    # nP@1 = 1 / min(1, 4) = 1
    assert metrics.normalised_precision_at_k(RANKED, RELEVANT, 1) == 1.0
    # a single relevant item found at rank 3: P@5 = 1/5 but nP@5 = 1 / min(5, 1) = 1
    assert metrics.precision_at_k(["x", "y", "b"], {"b"}, 5) == pytest.approx(0.2)
    assert metrics.normalised_precision_at_k(["x", "y", "b"], {"b"}, 5) == 1.0


def test_reciprocal_rank_and_first_relevant_rank() -> None:
    # first relevant is at rank 1 -> RR = 1
    assert metrics.reciprocal_rank(RANKED, RELEVANT) == 1.0
    # x y b, relevant {b}: rank 3 -> RR = 1/3
    assert metrics.first_relevant_rank(["x", "y", "b"], {"b"}) == 3
    assert metrics.reciprocal_rank(["x", "y", "b"], {"b"}) == pytest.approx(1 / 3)
    # cut-off k=2 stops before rank 3 -> RR = 0
    assert metrics.reciprocal_rank(["x", "y", "b"], {"b"}, k=2) == 0.0
    # relevant item at rank 11 is outside MRR@10 but still has a first relevant rank
    eleven = [f"n{i}" for i in range(10)] + ["b"]
    assert metrics.reciprocal_rank(eleven, {"b"}) == 0.0
    assert metrics.first_relevant_rank(eleven, {"b"}) == 11
    # nothing returned
    assert metrics.first_relevant_rank([], {"b"}) is None
    assert metrics.reciprocal_rank([], {"b"}) == 0.0


def test_metrics_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="k must be >= 1"):
        metrics.precision_at_k(RANKED, RELEVANT, 0)
    for metric in (metrics.recall_at_k, metrics.f1_at_k, metrics.normalised_precision_at_k):
        with pytest.raises(ValueError, match="empty relevant set"):
            metric(RANKED, set(), 5)


def test_nothing_found_rate() -> None:
    # 2 of 4 result lists are empty -> 0.5; no lists -> None (nothing to score)
    assert metrics.nothing_found_rate([[], ["a"], [], ["b", "c"]]) == 0.5
    assert metrics.nothing_found_rate([]) is None


# --------------------------------------------------------------------------- evaluate


def _fixture_queries() -> list[EvalQuery]:
    return [
        EvalQuery("кот", "single_word", ("c1", "c2")),
        EvalQuery("котики", "morphology", ("c1",)),
        EvalQuery("dog", "english", ("d1",)),
        EvalQuery("ывапролд", "nonsense", ()),
        EvalQuery("qwzx", "nonsense", ()),
    ]


FAKE_RESULTS = {
    "кот": ["c1", "x", "c2"],  # ranks 1 and 3 relevant
    "котики": ["x", "y", "c1"],  # rank 3 relevant
    "dog": ["x"],  # nothing relevant
    "ывапролд": [],  # correctly nothing found
    "qwzx": ["x"],  # wrongly returns something
}


def test_evaluate_on_a_fake_search_function() -> None:
    calls: list[str] = []

    def search(query: str) -> list[str]:
        calls.append(query)
        return FAKE_RESULTS[query]

    report = evaluate(_fixture_queries(), search, ks=(1, 5))
    assert calls == [q.query for q in _fixture_queries()]  # one call per query
    by_query = {r.query.query: r for r in report.rows}
    # кот: P@1 = 1, P@5 = 2/5, R@5 = 2/2, nP@5 = 2/min(5,2) = 1, RR = 1
    assert by_query["кот"].scores["P@5"] == pytest.approx(0.4)
    assert by_query["кот"].scores["nP@5"] == 1.0
    # котики: P@1 = 0, RR = 1/3, first rank 3
    assert by_query["котики"].first_rank == 3
    assert by_query["котики"].scores["MRR@10"] == pytest.approx(1 / 3)
    # dog: not found
    assert by_query["dog"].first_rank is None
    overall = report.overall
    assert (overall.n_queries, overall.n_scored, overall.n_nonsense) == (5, 3, 2)
    # P@1 = (1 + 0 + 0) / 3; nP@5 = (1 + 1 + 0) / 3; MRR = (1 + 1/3 + 0) / 3 = 4/9
    assert overall.means["P@1"] == pytest.approx(1 / 3)
    assert overall.means["nP@5"] == pytest.approx(2 / 3)
    assert overall.means["MRR@10"] == pytest.approx(4 / 9)
    # first relevant ranks found: [1, 3] -> median 2; one scored query not found
    assert overall.median_first_rank == 2
    assert overall.n_not_found == 1
    assert overall.mean_cosine is None  # no cosine_fn given
    assert set(report.per_kind) == {"single_word", "morphology", "english", "nonsense"}
    assert report.per_kind["single_word"].means["MRR@10"] == 1.0
    assert report.per_kind["english"].median_first_rank is None


def test_nonsense_queries_are_scored_only_by_nothing_found_rate() -> None:
    report = evaluate(_fixture_queries(), FAKE_RESULTS.__getitem__, ks=(1, 5))
    nonsense = report.per_kind["nonsense"]
    # 1 of 2 nonsense queries returned an empty list
    assert nonsense.nothing_found_rate == 0.5
    assert report.overall.nothing_found_rate == 0.5
    assert nonsense.means == {} and nonsense.n_scored == 0
    assert all(r.scores == {} for r in report.rows if r.query.is_nonsense)
    # averages ignore nonsense: a perfect nonsense answer does not raise P@1
    only_scored = evaluate(_fixture_queries()[:3], FAKE_RESULTS.__getitem__, ks=(1, 5))
    assert only_scored.overall.means == report.overall.means
    assert only_scored.overall.nothing_found_rate is None


def test_evaluate_mean_cosine_of_relevant_pairs() -> None:
    seen: list[tuple[str, tuple[str, ...]]] = []

    def cosine(query: str, ids: tuple[str, ...]) -> list[float]:
        seen.append((query, tuple(ids)))
        return [0.5 if i == "c1" else 0.25 for i in ids]

    report = evaluate(_fixture_queries(), FAKE_RESULTS.__getitem__, cosine_fn=cosine)
    # pairs: кот (c1 .5, c2 .25), котики (c1 .5), dog (d1 .25) -> 1.5 / 4 = 0.375
    assert report.overall.mean_cosine == pytest.approx(0.375)
    assert report.rows[0].mean_cosine == pytest.approx(0.375)
    assert report.per_kind["english"].mean_cosine == pytest.approx(0.25)
    assert [q for q, _ in seen] == ["кот", "котики", "dog"]  # never asked for nonsense queries


def test_evaluate_rejects_bad_search_output() -> None:
    with pytest.raises(TypeError, match="list of string ids"):
        evaluate(_fixture_queries(), lambda q: "c1")
    with pytest.raises(ValueError, match="returned 1 values for 2 ids"):
        evaluate(_fixture_queries(), FAKE_RESULTS.__getitem__, cosine_fn=lambda q, ids: [0.1])


# --------------------------------------------------------------------------- load_queries


def _write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_load_queries_reads_valid_lines(tmp_path: Path) -> None:
    path = _write_lines(
        tmp_path / "q.jsonl",
        [
            json.dumps(
                {"query": "кот", "kind": "single_word", "relevant": ["1f431"], "note": "n"},
                ensure_ascii=False,
            ),
            "",
            json.dumps({"query": "qwzx", "kind": "nonsense", "relevant": []}),
        ],
    )
    queries = load_queries(path)
    assert queries == [
        EvalQuery("кот", "single_word", ("1f431",), "n"),
        EvalQuery("qwzx", "nonsense", ()),
    ]
    assert queries[1].is_nonsense and not queries[0].is_nonsense


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ('{"query": "кот", "kind": "x", "relevant": [', "invalid JSON"),
        ('["кот"]', "expected a JSON object"),
        ('{"query": "", "kind": "x", "relevant": []}', "'query' must be a non-empty string"),
        ('{"query": "кот", "relevant": []}', "'kind' must be a non-empty string"),
        ('{"query": "кот", "kind": "x"}', "'relevant' must be a list"),
        ('{"query": "кот", "kind": "x", "relevant": [1]}', "must be a non-empty string"),
        ('{"query": "кот", "kind": "x", "relevant": ["a", "a"]}', "duplicate id"),
        ('{"query": "кот", "kind": "x", "relevant": [], "extra": 1}', "unknown key"),
        ('{"query": "кот", "kind": "x", "relevant": [], "note": 5}', "'note' must be a string"),
    ],
)
def test_load_queries_names_the_bad_line(tmp_path: Path, bad_line: str, message: str) -> None:
    good = json.dumps(
        {"query": "кот", "kind": "single_word", "relevant": ["1f431"]}, ensure_ascii=False
    )
    path = _write_lines(tmp_path / "q.jsonl", [good, "", bad_line, good])
    with pytest.raises(ValueError, match=rf"q\.jsonl:3: .*{re.escape(message)}"):
        load_queries(path)


def test_load_queries_rejects_an_empty_file(tmp_path: Path) -> None:
    path = _write_lines(tmp_path / "q.jsonl", ["", "  "])
    with pytest.raises(ValueError, match="no queries"):
        load_queries(path)


# --------------------------------------------------------------------------- write_report


def test_write_report_writes_markdown_and_a_valid_png(tmp_path: Path) -> None:
    from matplotlib.image import imread

    queries = [
        *_fixture_queries(),
        EvalQuery("`krf", "wrong_layout", ("t1",)),
        EvalQuery("  кот | ", "case_punct", ("c1",)),
    ]
    results = {**FAKE_RESULTS, "`krf": ["t1"], "  кот | ": []}
    system = evaluate(queries, results.__getitem__)
    baseline = evaluate(queries, lambda q: [])
    md_path, png_path = write_report(system, tmp_path / "out", title="Dev set", baseline=baseline)

    assert md_path == tmp_path / "out" / "report.md" and png_path == tmp_path / "out" / "report.png"
    text = md_path.read_text(encoding="utf-8")
    headings = ("# Dev set", "## Overall", "## Per kind", "## Baseline vs system", "## Per query")
    for heading in headings:
        assert heading in text
    assert "c1, x, c2" in text  # top-3 of «кот»
    assert "(nothing found)" in text
    assert "`` `krf ``" in text  # a backtick inside a query survives as a code span
    assert r"кот \|" in text  # pipes are escaped inside table cells
    assert "+1.000" in text  # MRR of «кот» per kind went from 0 to 1
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = imread(png_path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100


def test_write_report_without_baseline(tmp_path: Path) -> None:
    report = evaluate(_fixture_queries(), FAKE_RESULTS.__getitem__)
    md_path, png_path = write_report(report, tmp_path, title="Solo")
    assert "Baseline vs system" not in md_path.read_text(encoding="utf-8")
    assert png_path.stat().st_size > 1000


# --------------------------------------------------------------------------- the dev query set


def test_dev_query_set_covers_every_kind() -> None:
    queries = load_queries(DEV_QUERIES)
    counts = Counter(q.kind for q in queries)
    assert len(queries) >= 80
    assert set(counts) == set(KINDS), counts
    for kind in KINDS:
        assert counts[kind] >= 6, f"{kind}: only {counts[kind]} queries"
    assert counts["nonsense"] >= 8
    for q in queries:
        assert q.is_nonsense == (q.kind == "nonsense"), q
    assert len({(q.query, q.kind) for q in queries}) == len(queries), "duplicate queries"
    cyrillic = re.compile("[\u0400-\u04ff]")
    assert all(not cyrillic.search(q.query) for q in queries if q.kind == "wrong_layout")


def test_every_relevant_id_exists_in_the_catalogue() -> None:
    assert CATALOG.is_file(), f"{CATALOG} is missing: build the demo catalogue first"
    with CATALOG.open(encoding="utf-8", newline="") as fh:
        catalogue_ids = {row["id"] for row in csv.DictReader(fh)}
    missing = sorted(
        (q.query, item)
        for q in load_queries(DEV_QUERIES)
        for item in q.relevant
        if item not in catalogue_ids
    )
    assert not missing, f"relevant ids not in {CATALOG.name}: {missing}"
