"""Every command the README and docs/ show, run as typed, through a shell.

The commands are read from the Markdown itself (:func:`documented_commands`): each line of
a fenced ``bash`` block and each inline code span of prose that starts like a command
(``make …``, ``flask …``, ``.venv/bin/…``, ``python …``, ``gunicorn …``, ``curl …``,
``ssh …``, ``VAR=value …`` before any of them). Every one of them is either run by a
test below (:data:`COVERED`: the test's name) or excluded with its reason
(:data:`EXCLUDED`), so a command added to a doc fails here until it is run or excused.

How they run: ``bash -c "<the command as written>"`` in a scratch copy of the working tree
(what ``git ls-files`` lists, plus ``models/``), so nothing in the checkout changes. Its
``.venv`` is a link to the virtual environment running these tests; that environment's
``bin`` leads ``PATH`` (for ``flask``, ``gunicorn`` and ``python`` typed bare, as after
``source .venv/bin/activate``) and the scratch copy leads ``PYTHONPATH`` (the editable
install of a CI checkout points at that same code). The copy's install inputs
(``requirements*.txt``, ``pyproject.toml``) are dated 2000, so ``make`` finds the
environment installed and never reinstalls it under a running test session; each
``make`` command is first dry-run to prove it. No setting leaks in from the caller's
environment (``tests/scratch_checkout.py`` does all this). Where the real command is long,
an environment variable or an appended option shortens it, and each test's docstring says
which: mostly the 24-design catalogue of ``build/tiny`` (``DATA_DIR``/``EMBEDDINGS_DIR``), a
random-weight tiny ruCLIP instead of real weights, or fewer rounds. Servers are started on a
free port (``PORT``, ``FLASK_RUN_PORT``) and asked over HTTP; a command that names port
5000 is asked on the server's port instead.

Every test that runs a command is marked ``faults`` (real processes, tens of seconds):
``make test`` runs them, ``make test-fast`` skips them; the coverage check is fast.
"""

from __future__ import annotations

import inspect
import json
import re
import shutil
import time
from pathlib import Path

import pytest

from .scratch_checkout import Workspace, get, make_workspace
from .test_docs_figures import _latest, _report

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DOCS += [ROOT / "data" / "README.md", ROOT / "data" / "eval" / "README.md"]
#: a code span or a block line that is a command: optional VAR=value words, then a program
#: and at least one argument
COMMAND = re.compile(
    r"^(?:[A-Z][A-Z0-9_]*=\S*\s+)*"
    r"(?:make|flask|gunicorn|curl|ssh|python3?|export|\.venv/bin/[\w.-]+)\s+\S"
)


def documented_commands() -> dict[str, list[str]]:
    """Each command shown in the docs → where it is shown (``file:line``)."""
    found: dict[str, list[str]] = {}
    for doc in DOCS:
        in_block, shell = False, False
        for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{doc.relative_to(ROOT)}:{number}"
            if line.lstrip().startswith("```"):
                in_block = not in_block
                shell = in_block and line.strip("` ") in ("bash", "sh", "shell", "console")
                continue
            if in_block:
                command = re.sub(r"\s+#\s.*$", "", line).strip()
                if shell and command and not command.startswith("#"):
                    found.setdefault(re.sub(r"\s+", " ", command), []).append(where)
                continue
            for span in re.findall(r"`([^`\n]+)`", line):
                if COMMAND.match(span.strip()):
                    found.setdefault(re.sub(r"\s+", " ", span.strip()), []).append(where)
    return found


# -- what runs each command -----------------------------------------------------------------
#: documented command → the test below that runs it
COVERED: dict[str, str] = {
    "make run": "test_make_run_serves_the_demo",
    "flask --app wsgi run": "test_make_run_serves_the_demo",
    "make test": "test_make_test_and_test_fast_run_pytest",
    "make test-fast": "test_make_test_and_test_fast_run_pytest",
    "make lint": "test_make_lint_passes",
    "make browser": "test_make_browser_finds_chromium",
    ".venv/bin/flask --app webapp embed": "test_embed_index_search_on_a_tiny_catalogue",
    ".venv/bin/flask --app webapp index": "test_embed_index_search_on_a_tiny_catalogue",
    "flask --app webapp index": "test_embed_index_search_on_a_tiny_catalogue",
    "flask --app webapp embed && flask --app webapp index": (
        "test_embed_index_search_on_a_tiny_catalogue"
    ),
    "flask --app webapp search": "test_search_prints_its_table_and_nothing_else",
    '.venv/bin/flask --app webapp search "петух" -k 5': (
        "test_search_prints_its_table_and_nothing_else"
    ),
    ".venv/bin/flask --app webapp evaluate": "test_evaluate_reproduces_the_dev_report",
    "flask --app webapp evaluate": "test_evaluate_reproduces_the_dev_report",
    ".venv/bin/flask --app webapp evaluate-recs": "test_evaluate_recs_prints_and_plots",
    "flask --app webapp evaluate-recs": "test_evaluate_recs_prints_and_plots",
    "flask --app webapp evaluate-recs --plot docs/recommendations.png": (
        "test_evaluate_recs_prints_and_plots"
    ),
    ".venv/bin/flask --app webapp make-ruclip-model --preset tiny": (
        "test_make_ruclip_model_writes_a_tiny_model"
    ),
    "flask --app webapp make-ruclip-model --preset tiny|base-384": (
        "test_make_ruclip_model_writes_a_tiny_model"
    ),
    ".venv/bin/flask --app webapp export-image-model": "test_export_image_model",
    "flask --app webapp export-image-model": "test_export_image_model",
    ".venv/bin/flask --app webapp export-text-model": "test_real_ruclip_weights_walkthrough",
    "flask --app webapp export-text-model": "test_real_ruclip_weights_walkthrough",
    "export RUCLIP_MODEL_DIR=/srv/models/ruclip-vit-base-patch32-384": (
        "test_real_ruclip_weights_walkthrough"
    ),
    ".venv/bin/flask --app webapp train-heads": "test_train_heads_and_make_train",
    "flask --app webapp train-heads": "test_train_heads_and_make_train",
    "make train": "test_train_heads_and_make_train",
    "make serve": "test_make_serve_reload_and_metrics",
    "make reload": "test_make_serve_reload_and_metrics",
    "make restart": "test_make_serve_reload_and_metrics",
    "python -m webapp.restart": "test_make_serve_reload_and_metrics",
    "curl -s localhost:5000/metrics": "test_make_serve_reload_and_metrics",
    "gunicorn -c gunicorn.conf.py wsgi:app": "test_gunicorn_as_typed_serves",
    "flask --app webapp embed": "test_embed_of_the_demo_reuses_every_committed_vector",
    "make embeddings": "test_embed_of_the_demo_reuses_every_committed_vector",
    "flask --app webapp reload": "test_embed_of_the_demo_reuses_every_committed_vector",
    "VECTOR_BACKEND=milvus VECTOR_BACKEND_URI=build/milvus.db .venv/bin/flask --app webapp "
    "index": "test_milvus_lite_index_then_serve",
    "VECTOR_BACKEND=milvus VECTOR_BACKEND_URI=build/milvus.db make run": (
        "test_milvus_lite_index_then_serve"
    ),
    "flask --app webapp build-thesaurus": "test_build_thesaurus_rebuilds_the_committed_one",
    "flask --app webapp build-definitions": "test_build_definitions_rebuilds_the_committed_one",
    "python benchmarks/eval_knowledge.py": "test_eval_knowledge",
    "make bench": "test_make_bench_quick",
    "make bench BENCH_ARGS=--quick": "test_make_bench_quick",
    ".venv/bin/python benchmarks/bench_search.py": "test_make_bench_quick",
    "make bench-floor": "test_make_bench_floor",
    ".venv/bin/python benchmarks/bench_pictures.py": "test_bench_pictures",
    "PYTHONPATH=. .venv/bin/python benchmarks/bench_image.py --sample 0 --grid "
    "docs/images_neighbours.png": "test_bench_image",
    "PYTHONPATH=. .venv/bin/python benchmarks/floor_tradeoff.py": "test_floor_tradeoff",
    "python benchmarks/eval_xmodal.py": "test_eval_xmodal",
    "flask --app webapp prune-events": "test_prune_events",
    ".venv/bin/python benchmarks/bench_analytics.py": "test_bench_analytics",
    "PYTHONPATH=. .venv/bin/python benchmarks/bench_rules_reload.py": "test_bench_rules_reload",
}
#: documented command → why no test runs it
EXCLUDED: dict[str, str] = {
    "ssh -L 8888:localhost:5000 you@server": (
        "needs a remote host and an SSH server; what it relies on (site-relative URLs, every "
        "asset served by the app) is tested by test_pages and test_browser"
    ),
    ".venv/bin/flask --app webapp build-demo-catalog": (
        "downloads emojibase-data and Twemoji from the npm registry; its committed output is "
        "checked by test_demo_catalog"
    ),
    "flask --app webapp build-demo-catalog": "the same command (npm downloads)",
    "python -m webapp.demo.catalog": "the same build (npm downloads)",
    "make bench-scale": (
        "encodes a million-design corpus first (about an hour on 2 cores) and needs ~10 GB"
    ),
    "make load": (
        "it is `pytest tests/test_load.py`, which `make test` runs in full (marker load)"
    ),
    "python benchmarks/knowledge_ablation.py": (
        "runs every judged query of six sets four times, once per variant (≈ 5 min on 2 "
        "cores); each variant is a RANKING override, which test_settings shows changes the "
        "ranking, and the metric is flask evaluate's"
    ),
    "make postgres": (
        "installs and starts a Debian service as root; .ci/run runs it before every CI run"
    ),
    "make services": (
        "installs Debian packages as root (redis-server, wrk, qemu-user); .ci/run runs it "
        "before every CI run, and REQUIRE_SERVICES=1 fails the tests that need them"
    ),
    "PYTHONPATH=. python benchmarks/bench_int8.py": (
        "needs the full-size ruCLIP shape embedded over the catalogue (≈ 40 min) and replays "
        "408 queries under qemu (≈ 45 min); the property it measures is tested by "
        "test_ruclip_onnx (7-bit weights, emulated AVX2 replay)"
    ),
    "make test-isa": (
        "reruns the nine numeric test files twice with forced kernels (≈ 9 min on 2 cores); "
        "make test runs the same tests natively and replays the int8 graph under emulated AVX2"
    ),
    "make test-isa-qemu": "the same tests in one process under qemu (≈ 49 min on 2 cores)",
    "make bench-boot": (
        "boots the demo many times, in fresh processes and in two gunicorn servers that get "
        "workers killed and restarted (≈ 5 min on 2 cores); what it measures is asserted by "
        "test_restarts (no failed request or long silence, a replaced worker's own memory)"
    ),
}


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The scratch copy, its environment and its tiny catalogue."""
    return make_workspace(tmp_path_factory.mktemp("checkout"))


#: the tiny catalogue, its caches in a folder of their own
TINY = {"DATA_DIR": "build/tiny", "EMBEDDINGS_DIR": "build/tiny-embeddings"}


@pytest.fixture(scope="module")
def tiny_ruclip(ws: Workspace) -> tuple[Path, str]:
    """A random-weight tiny ruCLIP folder made by the documented command, and its output."""
    output = ws.run(".venv/bin/flask --app webapp make-ruclip-model --preset tiny")
    return ws.root / "build" / "models" / "tiny", output


def few_dev_queries(ws: Workspace) -> None:
    """``build/few_queries.jsonl``: the development set's first 12 queries."""
    lines = (ws.root / "data" / "eval" / "dev_queries.jsonl").read_text("utf-8").splitlines()
    few = ws.root / "build" / "few_queries.jsonl"
    few.write_text("\n".join(lines[:12]) + "\n", encoding="utf-8")


# -- the coverage check (fast) --------------------------------------------------------------
def test_every_documented_command_is_run_or_excused() -> None:
    documented = documented_commands()
    assert len(documented) > 40, "the extractor finds the docs' commands"
    unhandled = {c: w for c, w in documented.items() if c not in COVERED and c not in EXCLUDED}
    assert unhandled == {}, "documented commands that no test runs and no reason excuses"
    stale = sorted(c for c in [*COVERED, *EXCLUDED] if c not in documented)
    assert stale == [], "commands no doc shows any more"
    for command, test in COVERED.items():
        function = globals().get(test)
        assert callable(function), f"{command}: no test named {test}"
        # adjacent string literals joined, as Python joins them
        source = re.sub(r"\"\s*\n\s*\"", "", inspect.getsource(function))
        assert command in re.sub(r"\s+", " ", source), f"{test} does not run `{command}`"


# -- the two commands, lint, browser --------------------------------------------------------
@pytest.mark.faults
def test_make_run_serves_the_demo(ws: Workspace) -> None:
    """``make run`` as typed, and what it runs, on a free port (``PORT``,
    ``FLASK_RUN_PORT``)."""
    for command in ("make run", "flask --app wsgi run"):
        with ws.serve(command) as base:
            status, page = get(f"{base}/search?q=%D0%BF%D0%B5%D1%82%D1%83%D1%85")
            assert status == 200 and "Петух" in page


@pytest.mark.faults
def test_make_test_and_test_fast_run_pytest(ws: Workspace) -> None:
    """``make test`` and ``make test-fast`` as typed, each given one quick test file
    (``PYTEST_ARGS``): the whole suite is what runs this test."""
    quick = {"PYTEST_ARGS": "-q -p no:cacheprovider tests/test_docs.py"}
    for command in ("make test", "make test-fast"):
        output = ws.run(command, env=quick)
        assert re.search(r"\d+ passed", output) and "failed" not in output, output


@pytest.mark.faults
def test_make_lint_passes(ws: Workspace) -> None:
    output = ws.run("make lint")
    assert "All checks passed!" in output and "already formatted" in output


@pytest.mark.faults
def test_make_browser_finds_chromium(ws: Workspace) -> None:
    ws.run("make browser")
    assert shutil.which("chromium"), "make browser leaves Chromium installed"


# -- the command line -----------------------------------------------------------------------
@pytest.mark.faults
def test_embed_index_search_on_a_tiny_catalogue(ws: Workspace) -> None:
    """The build steps as typed, on the 24-design catalogue (``DATA_DIR``/``EMBEDDINGS_DIR``)."""
    output = ws.run(".venv/bin/flask --app webapp embed", env=TINY)
    assert "text-use: 24 items, 24 encoded, 0 reused" in output
    assert "image-efficientnet-lite0: 24 items, 24 encoded" in output
    output = ws.run(".venv/bin/flask --app webapp index", env=TINY)
    assert "text-use: Flat over 24 items" in output
    output = ws.run("flask --app webapp index", env=TINY)
    assert "text-use: Flat over 24 items" in output
    output = ws.run("flask --app webapp embed && flask --app webapp index", env=TINY)
    assert "text-use: 24 items, 0 encoded, 24 reused" in output and "Flat over 24" in output


@pytest.mark.faults
def test_search_prints_its_table_and_nothing_else(ws: Workspace) -> None:
    """On the demo catalogue; stdout and stderr together, as a terminal shows them."""
    output = ws.run('.venv/bin/flask --app webapp search "петух" -k 5')
    lines = output.splitlines()
    assert re.match(r"\s+1\s+1f413\s+[\d.]+\s+\d+ ₽\s+Петух$", lines[0]), output
    rows = [line for line in lines if re.match(r"\s+\d+\s+\S+\s+[\d.]+\s+\d+ ₽ ", line)]
    headings = [line for line in lines if line.strip() == "может подойти:"]
    assert len(rows) == 5 and len(headings) <= 1, output  # -k counts both sections
    assert re.match(r"total \d+( \(\+\d+ может подойти\))?, [\d.]+ ms$", lines[-1]), output
    assert len(lines) == len(rows) + len(headings) + 1, output  # nothing else: no log line


@pytest.mark.faults
def test_evaluate_reproduces_the_dev_report(ws: Workspace) -> None:
    """As typed: the development set, system and baseline, into ``reports/eval/``; the bare
    ``flask`` form on its first 12 queries (``--queries`` appended)."""
    few_dev_queries(ws)
    output = ws.run("flask --app webapp evaluate" + " --queries build/few_queries.jsonl")
    assert "report: reports/eval/report.md, reports/eval/report.png" in output
    output = ws.run(".venv/bin/flask --app webapp evaluate")
    assert "report: reports/eval/report.md, reports/eval/report.png" in output
    found = re.search(r"system: nP@5 ([\d.]+)\s+MRR@10 ([\d.]+)", output)
    assert found, output
    documented = _report(_latest()["dev"])
    # the docs' figure, within what another CPU's kernels may move it
    assert abs(float(found.group(1)) - documented["np5"]) <= 0.02, output
    assert abs(float(found.group(2)) - documented["mrr"]) <= 0.02, output
    assert (ws.root / "reports" / "eval" / "report.md").exists()


@pytest.mark.faults
def test_evaluate_recs_prints_and_plots(ws: Workspace) -> None:
    """As typed, on the demo's simulated sessions."""
    for command in (
        ".venv/bin/flask --app webapp evaluate-recs",
        "flask --app webapp evaluate-recs",
    ):
        assert "| hybrid · text |" in ws.run(command)
    plot = ws.root / "docs" / "recommendations.png"
    plot.unlink()
    output = ws.run("flask --app webapp evaluate-recs --plot docs/recommendations.png")
    assert "plot: docs/recommendations.png" in output and plot.stat().st_size > 10_000


@pytest.mark.faults
def test_make_ruclip_model_writes_a_tiny_model(tiny_ruclip: tuple[Path, str]) -> None:
    """``.venv/bin/flask --app webapp make-ruclip-model --preset tiny`` (the fixture runs it);
    ``flask --app webapp make-ruclip-model --preset tiny|base-384`` offers both, and
    base-384 is 600 MB of random weights."""
    folder, output = tiny_ruclip
    assert f"random weights; use it with RUCLIP_MODEL_DIR={folder}" in output
    assert {p.name for p in folder.iterdir()} >= {"config.json", "bpe.model", "pytorch_model.bin"}


@pytest.mark.faults
def test_export_image_model(ws: Workspace) -> None:
    for command in (
        ".venv/bin/flask --app webapp export-image-model",
        "flask --app webapp export-image-model",
    ):
        output = ws.run(command)
        assert re.search(
            r"models/efficientnet-lite0\.onnx: [\d.]+ MiB, efficientnet-lite0/", output
        )


@pytest.mark.faults
def test_train_heads_and_make_train(ws: Workspace) -> None:
    """As typed, on the tiny catalogue (its picture features from the tiny embed), 5 epochs
    each (``--max-epochs 5`` appended, ``TRAIN_ARGS`` for make)."""
    ws.run(".venv/bin/flask --app webapp embed", env=TINY)
    five = {**TINY, "TRAIN_ARGS": "--max-epochs 5"}
    for command in (
        ".venv/bin/flask --app webapp train-heads" + " --max-epochs 5",
        "flask --app webapp train-heads" + " --max-epochs 5",
        "make train",
    ):
        output = ws.run(command, env=five)
        assert re.search(r"heads: \S+heads-\w+\.pt \(best epoch \d+", output), output
        assert "xmodal: 24 items" in output


@pytest.mark.faults
def test_real_ruclip_weights_walkthrough(ws: Workspace, tiny_ruclip: tuple[Path, str]) -> None:
    """The README's «Using real ruCLIP weights» block as one script, its model folder the
    tiny random-weight one (no real weights exist here) and its catalogue the tiny one;
    its last line, ``make run``, is then served and asked."""
    folder, _ = tiny_ruclip
    script = "\n".join(
        (
            "set -e",
            "export RUCLIP_MODEL_DIR=/srv/models/ruclip-vit-base-patch32-384".replace(
                "/srv/models/ruclip-vit-base-patch32-384", str(folder)
            ),
            ".venv/bin/flask --app webapp embed",
            ".venv/bin/flask --app webapp index",
            ".venv/bin/flask --app webapp export-text-model",
            "flask --app webapp export-text-model",
        )
    )
    output = ws.run(script, env=TINY)
    assert "ruclip-image: 24 items, 24 encoded" in output
    assert "ruclip-combined: Flat over 24 items" in output
    assert re.search(r"models/ruclip-text-int8\.onnx: [\d.]+ MiB, ruclip/", output)
    with ws.serve("make run", env={**TINY, "RUCLIP_MODEL_DIR": str(folder)}) as base:
        spaces = json.loads(get(f"{base}/readyz")[1])["spaces"]
        assert {"ruclip-image", "ruclip-combined", "text-use"} <= set(spaces)
        assert "Петух" in get(f"{base}/search?q=%D0%BF%D0%B5%D1%82%D1%83%D1%85")[1]
    assert "queries: onnxruntime int8" in ws.last_log  # the export is used


@pytest.mark.faults
def test_build_thesaurus_rebuilds_the_committed_one(ws: Workspace) -> None:
    """As typed, written beside the committed artifact (``THESAURUS_PATH``)."""
    output = ws.run(
        "flask --app webapp build-thesaurus", env={"THESAURUS_PATH": "build/thesaurus.json"}
    )
    built = json.loads((ws.root / "build" / "thesaurus.json").read_text(encoding="utf-8"))
    committed = json.loads(
        (ws.root / "data" / "rules" / "thesaurus.json").read_text(encoding="utf-8")
    )
    assert f"{len(committed['entries'])} thesaurus entries → build/thesaurus.json" in output
    assert built["entries"] == committed["entries"]


@pytest.mark.faults
def test_build_definitions_rebuilds_the_committed_one(ws: Workspace) -> None:
    """As typed, written beside the committed artifact (``DEFINITIONS_PATH``): the same
    senses and decoded words."""
    ws.run(
        "flask --app webapp build-definitions",
        env={"DEFINITIONS_PATH": "build/definitions.json"},
    )
    built = json.loads((ws.root / "build" / "definitions.json").read_text(encoding="utf-8"))
    committed = json.loads(
        (ws.root / "data" / "rules" / "definitions.json").read_text(encoding="utf-8")
    )
    assert built["designs"] == committed["designs"] and built["words"] == committed["words"]


def test_eval_knowledge(ws: Workspace) -> None:
    """The knowledge artifacts measured standalone, as docs/knowledge.md runs it."""
    output = ws.run("python benchmarks/eval_knowledge.py")
    assert "definitions.json" in output and "reverse dictionary" in output


# -- serving in production ------------------------------------------------------------------
@pytest.mark.faults
def test_make_serve_reload_and_metrics(ws: Workspace) -> None:
    """The README's «Running in production» block: ``make serve`` (one worker:
    ``WEB_CONCURRENCY=1``), then ``make reload`` swaps a new engine in, ``curl`` on the
    metrics at the server's port instead of 5000, then ``make restart`` (and the command it
    runs) replaces the worker."""
    with ws.serve("make serve", env={"WEB_CONCURRENCY": "1"}) as base:
        assert (ws.root / "instance" / "secret_key").stat().st_size >= 64
        assert "reload requested" in ws.run("make reload")
        deadline = time.monotonic() + 180
        while 'search_engine_reloads_total{outcome="ok"} 1.0' not in get(f"{base}/metrics")[1]:
            assert time.monotonic() < deadline, "make reload: no worker reloaded"
            time.sleep(2)
        port = base.rsplit(":", 1)[1]
        output = ws.run("curl -s localhost:5000/metrics".replace("5000", port))
        assert 'search_engine_reloads_total{outcome="ok"} 1.0' in output
        assert "http_requests_total" in output
        assert get(f"{base}/healthz")[0] == 200
        for command in ("make restart", "python -m webapp.restart"):
            assert "restarted in" in ws.run(command)
            assert get(f"{base}/healthz")[0] == 200


@pytest.mark.faults
def test_gunicorn_as_typed_serves(ws: Workspace) -> None:
    """``gunicorn -c gunicorn.conf.py wsgi:app`` with the venv's ``bin`` on ``PATH``, one
    worker (``WEB_CONCURRENCY=1``)."""
    with ws.serve("gunicorn -c gunicorn.conf.py wsgi:app", env={"WEB_CONCURRENCY": "1"}) as base:
        status, body = get(f"{base}/api/search?q=%D0%BF%D0%B5%D1%82%D1%83%D1%85")
        assert status == 200 and json.loads(body)["results"][0]["id"] == "1f413"


@pytest.mark.faults
def test_embed_of_the_demo_reuses_every_committed_vector(ws: Workspace) -> None:
    """docs/production.md's hot-reload steps on the demo: the committed caches are current,
    so ``embed`` (and ``make embeddings``) encode nothing; ``reload`` touches the stamp."""
    for command in ("flask --app webapp embed", "make embeddings"):
        output = ws.run(command)
        assert "text-use: 1601 items, 0 encoded, 1601 reused" in output, output
        assert "image-efficientnet-lite0: 1601 items, 0 encoded, 1601 reused" in output
    assert "reload requested" in ws.run("flask --app webapp reload")
    assert (ws.root / "instance" / "reload.stamp").exists()


@pytest.mark.faults
def test_milvus_lite_index_then_serve(ws: Workspace) -> None:
    """The README's two Milvus Lite lines as typed: the demo's vectors synced into
    ``build/milvus.db``, then ``make run`` serving from it."""
    output = ws.run(
        "VECTOR_BACKEND=milvus VECTOR_BACKEND_URI=build/milvus.db "
        ".venv/bin/flask --app webapp index"
    )
    assert "space_text_use: 1601 upserted" in output, output
    with ws.serve("VECTOR_BACKEND=milvus VECTOR_BACKEND_URI=build/milvus.db make run") as base:
        status, body = get(f"{base}/api/search?q=%D0%BF%D0%B5%D1%82%D1%83%D1%85")
        assert status == 200 and json.loads(body)["results"][0]["id"] == "1f413"


@pytest.mark.faults
def test_the_old_milvus_uri_name_still_works_as_typed(ws: Workspace) -> None:
    """``MILVUS_URI=<file>`` (pymilvus's own variable) crashed pymilvus's import; it now
    works, with a warning, as the old name of ``VECTOR_BACKEND_URI``."""
    old = "VECTOR_BACKEND=milvus MILVUS_URI=build/old-milvus.db"
    output = ws.run(f"{old} .venv/bin/flask --app webapp index")
    assert "the setting MILVUS_URI is deprecated: use VECTOR_BACKEND_URI" in output
    assert "space_text_use: 1601 upserted" in output
    output = ws.run(f'{old} .venv/bin/flask --app webapp search "петух" -k 3')
    assert re.search(r"^\s+1\s+1f413 .*Петух$", output, re.M), output


@pytest.mark.faults
def test_prune_events(ws: Workspace) -> None:
    """Raw analytics events past their retention deleted, as cron would run it."""
    output = ws.run("flask --app webapp prune-events")
    assert "kept 90 days of raw events; deleted 0 from search_events" in output, output


# -- benchmarks -----------------------------------------------------------------------------
@pytest.mark.faults
def test_make_bench_quick(ws: Workspace, tiny_ruclip: tuple[Path, str]) -> None:
    """``make bench BENCH_ARGS=--quick`` (which runs ``.venv/bin/python
    benchmarks/bench_search.py``; plain ``make bench`` is the same with more queries and
    configurations), with a 150-design catalogue, 5 queries, one configuration and the
    tiny ruCLIP added to ``BENCH_ARGS``: the real one encodes 25,000 designs with base-384
    for 40 minutes."""
    folder, _ = tiny_ruclip
    quick = (
        f"--quick --items 150 --queries 5 --configs ort-int8:1 --model-dir {folder} "
        "--workdir build/bench-quick"
    )
    output = ws.run("make bench BENCH_ARGS=--quick".replace("--quick", f"'{quick}'"), timeout=900)
    assert re.search(r"ort-int8:1 .*\d", output), output
    assert ".venv/bin/python benchmarks/bench_search.py" in output  # make's echo


@pytest.mark.faults
def test_make_bench_floor(ws: Workspace) -> None:
    """``make bench-floor`` with 20 rounds a case (``BENCH_FLOOR_ARGS``) instead of 300."""
    output = ws.run("make bench-floor", env={"BENCH_FLOOR_ARGS": "--rounds 20"})
    assert "/healthz" in output and "/api/search" in output, output


@pytest.mark.faults
def test_bench_pictures(ws: Workspace) -> None:
    """One speed round and 10 transformed designs (``--rounds 1 --sample 10`` appended)."""
    output = ws.run(".venv/bin/python benchmarks/bench_pictures.py" + " --rounds 1 --sample 10")
    assert "38" in output and "ms" in output, output


@pytest.mark.faults
def test_bench_image(ws: Workspace) -> None:
    """5 perturbed designs instead of every one (``--sample 5`` for ``--sample 0``); the
    neighbour grid is still drawn, into the scratch copy's docs/."""
    grid = ws.root / "docs" / "images_neighbours.png"
    grid.unlink()
    command = (
        "PYTHONPATH=. .venv/bin/python benchmarks/bench_image.py --sample 0 --grid "
        "docs/images_neighbours.png"
    )
    output = ws.run(command.replace("--sample 0", "--sample 5"))
    assert grid.stat().st_size > 10_000 and "ms" in output, output


@pytest.mark.faults
def test_bench_rules_reload(ws: Workspace) -> None:
    """One full reload instead of three (``--repeats 1`` appended)."""
    output = ws.run(
        "PYTHONPATH=. .venv/bin/python benchmarks/bench_rules_reload.py" + " --repeats 1"
    )
    assert "rules only" in output and "less than a full reload" in output, output


@pytest.mark.faults
def test_floor_tradeoff(ws: Workspace) -> None:
    """On the tiny catalogue (``DATA_DIR``/``EMBEDDINGS_DIR``): the sweep, its table and
    its chart (into the scratch copy's docs/eval/)."""
    ws.run(".venv/bin/flask --app webapp embed", env=TINY)
    chart = ws.root / "docs" / "eval" / "floor-tradeoff.png"
    chart.unlink()
    output = ws.run("PYTHONPATH=. .venv/bin/python benchmarks/floor_tradeoff.py", env=TINY)
    assert "min_query_z" in output and chart.exists(), output


@pytest.mark.faults
def test_eval_xmodal(ws: Workspace) -> None:
    """On the demo and its committed heads, the development set's first 12 queries
    (``--queries`` appended)."""
    few_dev_queries(ws)
    output = ws.run("python benchmarks/eval_xmodal.py" + " --queries build/few_queries.jsonl")
    assert "nP@5" in output, output


@pytest.mark.faults
def test_bench_analytics(ws: Workspace) -> None:
    """20,000 logged searches instead of 1,000,000 and 20 requests a size
    (``--events 20000 --rounds 20`` appended)."""
    command = ".venv/bin/python benchmarks/bench_analytics.py"
    output = ws.run(command + " --events 20000 --rounds 20")
    assert "spool, write()" in output and "the page (counters)" in output, output
