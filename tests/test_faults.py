"""Faults under a real gunicorn on loopback: a worker killed mid-load, caches replaced and
reloaded while serving, corrupt or missing caches at start-up, missing image files."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from webapp import create_app
from webapp.lifecycle import warm_up

from .conftest import ROOT, database_url
from .helpers import write_rolled_cache
from .serving import get, gunicorn, hammer, result_ids, search_path, server_env

QUERIES = [
    "петух",
    "котёнок в шляпе",
    "новогодний узор",
    "цветок",
    "машина",
    "🐓",
    "gtne[",
    "пасхальный кролик",
    "что-нибудь военное для мальчика",
    "сердце",
]
PATHS = [search_path(q, k=10) for q in QUERIES]

pytestmark = pytest.mark.faults


def _metric_sum(text: str, name: str, **labels: str) -> float:
    """The sum of every sample of ``name`` whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _write_caches(dst: Path, spaces: list[str], shift: int) -> None:
    """The demo caches of ``spaces`` in ``dst``, rows rolled by ``shift``; all written first
    to temporary names, then each renamed into place (as ``flask embed`` does)."""
    for space in spaces:
        write_rolled_cache(ROOT / "embeddings" / f"{space}.pkl", dst, shift)


def _touch(stamp: Path) -> None:
    """What ``flask --app webapp reload`` does: change the stamp's modification time."""
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.touch()
    os.utime(stamp, ns=(time.time_ns(), time.time_ns()))


def test_killing_a_worker_mid_load_only_fails_requests_in_flight(tmp_path: Path) -> None:
    env = server_env(tmp_path, database_url(tmp_path))
    with gunicorn(tmp_path, env) as server:
        before = server.worker_pids()
        assert len(before) == 2
        with hammer(server, PATHS, threads=4, max_seconds=60) as traffic:
            time.sleep(3)
            os.kill(before[0], signal.SIGKILL)
            time.sleep(6)
        after = server.worker_pids()
        metrics = get(server, "/metrics")[1].decode()
    assert traffic.ok > 100
    # each of the 4 clients had at most one request in flight on the killed worker
    assert len(traffic.errors) <= 4, traffic.errors
    assert all(status in {0, 200} for status in traffic.statuses), traffic.errors  # never 5xx
    assert len(after) == 2 and before[0] not in after  # the master replaced it
    # multiprocess metrics: every worker's answers are counted, the dead one's included
    counted = _metric_sum(metrics, "http_requests_total", endpoint="api.search", status="200")
    assert traffic.ok <= counted <= traffic.ok + len(traffic.errors)


@pytest.mark.parametrize("preload", ["1", "0"], ids=["preloaded", "per-worker"])
def test_replacing_caches_and_reloading_while_serving_never_shows_a_half_loaded_index(
    tmp_path: Path, preload: str
) -> None:
    caches, stamp = tmp_path / "embeddings", tmp_path / "reload.stamp"
    spaces = ["text-use", "text-e5"]  # two spaces: a half-swapped engine would rank differently
    _write_caches(caches, spaces, 0)
    env = server_env(
        tmp_path,
        database_url(tmp_path),
        EMBEDDINGS_DIR=str(caches),
        TEXT_ENCODER="use,e5",
        IMAGE_ENCODER="",
        RELOAD_STAMP=str(stamp),
        RELOAD_POLL_SECONDS="0.3",
        GUNICORN_PRELOAD=preload,
    )
    with gunicorn(tmp_path, env) as server:
        master_maps = Path(f"/proc/{server.process.pid}/maps").read_text()
        worker_maps = Path(f"/proc/{server.worker_pids()[0]}/maps").read_text()
        answers_a = _stable_answers(server)

        _write_caches(caches, spaces, 11)
        _touch(stamp)
        answers_b = _stable_answers(server, differing_from=answers_a)
        allowed = {p: {answers_a[p], answers_b[p]} for p in PATHS}

        with hammer(server, PATHS, threads=4, max_seconds=600) as traffic:
            for shift, expected in [(0, answers_a), (11, answers_b)] * 2:
                _write_caches(caches, spaces, shift)  # replace every file, then ask for a reload
                _touch(stamp)
                final = _stable_answers(server, wanted=expected)  # both workers swapped

        # a corrupt set of caches and a reload: both workers keep serving what they had
        for space in spaces:
            (caches / f"{space}.pkl").write_bytes(b"garbage")
        _touch(stamp)
        rebuilders = 1 if preload == "1" else 2  # the master, or each worker
        deadline = time.monotonic() + 60
        while (
            server.output().count("reload failed, still serving") < rebuilders
            and time.monotonic() < deadline
        ):
            time.sleep(0.2)
        still = [get(server, p) for p in PATHS]
        ready = get(server, "/readyz")[0]
        metrics = get(server, "/metrics")[1].decode()
        log = server.output()

    if preload == "1":  # the master loads models and indexes once; workers share them
        assert "faiss" in master_maps and "faiss" in worker_maps
    else:  # they (and so any CUDA context) load in the workers after the fork, never the master
        assert "faiss" in worker_maps and "faiss" not in master_maps and "torch" not in master_maps
    assert not traffic.errors, traffic.errors[:5]
    assert traffic.ok > 100
    torn = [(p, ids) for p, body in traffic.bodies if (ids := result_ids(body)) not in allowed[p]]
    assert not torn, torn[:3]
    changing = [p for p in PATHS if len(allowed[p]) == 2]
    assert (
        changing
        and {result_ids(b) for p, b in traffic.bodies if p == changing[0]} == allowed[changing[0]]
    )  # both versions were served during the traffic: reloads happened
    assert [status for status, _ in still] == [200] * len(PATHS) and ready == 200
    assert [result_ids(body) for _, body in still] == [final[p] for p in PATHS]
    assert _metric_sum(metrics, "search_engine_reloads_total", outcome="failed") >= 1
    assert log.count("reload failed, still serving the previous engine") == rebuilders


def _stable_answers(
    server,
    differing_from: dict[str, tuple[str, ...]] | None = None,
    wanted: dict[str, tuple[str, ...]] | None = None,
    timeout: float = 180,  # a rebuild under load, on shared cores
) -> dict[str, tuple[str, ...]]:
    """Each query's ranked ids once both workers agree (several rounds in a row), and
    they differ from ``differing_from`` or equal ``wanted`` when given."""
    deadline = time.monotonic() + timeout
    streak, last = 0, None
    while time.monotonic() < deadline:
        answers = {}
        for path in PATHS:
            status, body = get(server, path)
            assert status == 200, body[:300]
            answers[path] = result_ids(body)
        fresh = (differing_from is None or answers != differing_from) and (
            wanted is None or answers == wanted
        )
        streak = streak + 1 if answers == last and fresh else 0
        last = answers
        if streak >= 3:
            return answers
        time.sleep(0.2)
    raise AssertionError("workers never agreed on one engine")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("corrupt", "is corrupt"),
        ("missing", "is missing; build it with"),
    ],
)
def test_a_broken_cache_stops_gunicorn_with_the_fix_instead_of_a_crash_loop(
    tmp_path: Path, damage: str, message: str
) -> None:
    caches = tmp_path / "embeddings"
    _write_caches(caches, ["image-efficientnet-lite0", "text-use"], 0)  # the default spaces
    if damage == "corrupt":
        (caches / "text-use.pkl").write_bytes(b"\x80\x05garbage")
    else:
        (caches / "text-use.pkl").unlink()
    env = server_env(tmp_path, database_url(tmp_path), EMBEDDINGS_DIR=str(caches))
    with gunicorn(tmp_path, env, wait_ready=False) as server:
        try:
            code = server.process.wait(timeout=60)
        except Exception:  # still running after a minute: that is the crash loop
            pytest.fail(f"gunicorn kept running:\n{server.output()[-3000:]}")
        log = server.output()
    assert code != 0
    assert message in log and "flask --app webapp embed" in log
    # the preloading master fails before any fork; without preloading the workers do
    assert "Booting worker" not in log or "Worker failed to boot" in log
    assert log.count("Booting worker") <= 2  # no respawning


def test_a_missing_image_file_is_a_404_for_that_image_and_nothing_else(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    shutil.copy(ROOT / "data" / "catalog.csv", data / "catalog.csv")
    shutil.copy(ROOT / "data" / "images" / "1f98b.png", data / "images" / "1f98b.png")
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url(tmp_path),
            "DATA_DIR": str(data),
            "RATELIMIT_ENABLED": False,
        }
    )
    warm_up(app)
    client = app.test_client()
    assert client.get("/media/images/1f413.png").status_code == 404
    assert client.get("/api/products/1f413").json["image_url"] == "/media/images/1f413.png"
    assert client.get("/product/1f413").status_code == 200
    assert client.get("/search?q=петух").status_code == 200
    present = client.get("/media/images/1f98b.png")
    assert present.status_code == 200 and present.mimetype == "image/png"
    present.close()
    assert json.loads(client.get("/readyz").data)["status"] == "ready"
