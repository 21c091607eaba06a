"""Events are never lost and never counted twice; pages read counters, not the raw log.

A recorded event is in the process's spool before the answer leaves; a process killed
before its flush leaves the spool behind, and the next recorder on that database
replays it. Replays repeat nothing (unique keys), counters grow by new rows only, and
old raw events are pruned without changing a figure.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    case,
    func,
    insert,
    inspect,
    select,
)
from sqlalchemy.orm import Session

from webapp import create_app
from webapp.analytics import Analytics, SearchEvent, reports, retention, writer
from webapp.catalog.store import CatalogStore
from webapp.tables import QueryDay, QueryTotal

from .conftest import ROOT, database_url

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _engine(tmp: Path) -> Engine:
    return CatalogStore(database_url(tmp)).engine


def _stored(engine: Engine) -> list[tuple[str, int]]:
    """(query, total) of every stored search event, sorted."""
    with Session(engine) as session:
        return sorted(session.execute(select(SearchEvent.query, SearchEvent.total)).tuples())


def _recount(engine: Engine) -> dict[str, tuple[int, int]]:
    """Searches and zero-result searches per query, counted from the raw log."""
    zero = func.sum(case((SearchEvent.total == 0, 1), else_=0))
    with Session(engine) as session:
        rows = session.execute(
            select(SearchEvent.query, func.count(), zero).group_by(SearchEvent.query)
        )
        return {q: (int(n), int(z)) for q, n, z in rows}


def _counted(engine: Engine) -> dict[str, tuple[int, int]]:
    """The same figures as the counters hold them."""
    with Session(engine) as session:
        rows = session.execute(
            select(QueryTotal.query, QueryTotal.searches, QueryTotal.zero_results).where(
                QueryTotal.searches > 0
            )
        )
        return {q: (int(n), int(z)) for q, n, z in rows}


def _killed_after_recording(url: str, spool: Path, script: str) -> None:
    """Run ``script`` in a fresh Python with ``recorder`` (flushing only after an hour)
    recording into ``url`` and spooling into ``spool``; it ends by SIGKILLing itself."""
    code = (
        textwrap.dedent(
            f"""
        import os, shutil, signal
        from pathlib import Path
        from sqlalchemy import create_engine
        from webapp.analytics import Analytics
        recorder = Analytics(create_engine({url!r}), flush_seconds=3600,
                             spool_dir=Path({str(spool)!r}))
        """
        )
        + textwrap.dedent(script)
        + "\nos.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-3000:]


def test_events_of_a_killed_process_are_replayed_by_the_next_recorder(tmp_path: Path) -> None:
    url, spool = database_url(tmp_path), tmp_path / "spool"
    _killed_after_recording(
        url,
        spool,
        """
        for n in range(50):
            recorder.record_search(f"кот {n % 5}", n % 2, 3.0, request_id=f"r{n}")
        recorder.record_view("1f431", "кот 1", session_key="k", source="rec")
        recorder.record_shown({"rec": 4, "explore": 2})
        """,
    )
    engine = CatalogStore(url).engine
    assert _stored(engine) == []  # nothing reached the database before the kill
    assert list(spool.rglob("*.jsonl"))  # but everything is on disk
    recorder = Analytics(engine, flush_seconds=60, spool_dir=spool)  # replays at start
    assert len(_stored(engine)) == 50
    assert _counted(engine) == _recount(engine) == {f"кот {k}": (10, 5) for k in range(5)}
    stats = {s.query: s for s in recorder.query_stats()}
    assert stats["кот 1"].clicks == 1
    assert dict((s, (n, c)) for s, n, c in recorder.rec_stats()) == {
        "explore": (2, 0),
        "rec": (4, 1),
    }
    assert not list(spool.rglob("*.jsonl")) and not list(spool.rglob("*.lock"))
    with Session(engine) as session:
        ids = set(session.scalars(select(SearchEvent.request_id)))
    assert ids == {f"r{n}" for n in range(50)}


def test_a_spool_replayed_after_its_batch_committed_counts_each_event_once(
    tmp_path: Path,
) -> None:
    """The kill lands between a batch's commit and the deletion of its spooled copy."""
    url, spool = database_url(tmp_path), tmp_path / "spool"
    _killed_after_recording(
        url,
        spool,
        """
        for n in range(30):
            recorder.record_search("петух" if n % 3 else "ыыыщщ", 0 if n % 3 == 0 else 4, 2.0)
        recorder.record_view("1f413", "петух", session_key="k1")
        recorder.record_view("1f414", "петух", session_key="k1")
        kept = Path(str(recorder.spool.folder) + ".copy")
        shutil.copytree(recorder.spool.folder, kept)
        assert recorder.flush() == 32
        shutil.rmtree(recorder.spool.folder)
        kept.rename(recorder.spool.folder)  # as if the flush had committed, then died
        """,
    )
    engine = CatalogStore(url).engine
    assert len(_stored(engine)) == 30
    Analytics(engine, flush_seconds=60, spool_dir=spool)
    assert len(_stored(engine)) == 30
    assert _counted(engine) == _recount(engine) == {"петух": (20, 0), "ыыыщщ": (10, 10)}
    with Session(engine) as session:
        clicks = session.scalar(select(QueryTotal.clicks).where(QueryTotal.query == "петух"))
    assert clicks == 2
    from webapp.search import covisit

    assert {(a, b): n for a, b, _, n in covisit.top_pairs(engine)} == {("1f413", "1f414"): 1}


def test_a_forked_child_spools_apart_from_its_parent(tmp_path: Path) -> None:
    """gunicorn with ``preload_app`` forks workers from a process that made the app."""
    engine = _engine(tmp_path)
    recorder = Analytics(engine, flush_seconds=3600, spool_dir=tmp_path / "spool")
    recorder.record_search("родитель", 3, 1.0)
    pid = os.fork()
    if pid == 0:  # the child: record, then die without a flush
        try:
            recorder.record_search("ребёнок", 3, 1.0)
        finally:
            os.kill(os.getpid(), signal.SIGKILL)
    os.waitpid(pid, 0)
    assert recorder.flush() == 1  # the parent's own event, once
    assert recorder.replay() == 1  # the child's, from its own spool
    assert _stored(engine) == [("ребёнок", 3), ("родитель", 3)]


def test_writing_a_batch_twice_changes_nothing(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    Analytics(engine)
    rows = [
        {"uid": uuid.uuid4().hex, "at": T0, "query": q, "total": t, "took_ms": 1.0}
        for q, t in [("а", 1), ("а", 0), ("б", 2)]
    ]
    views = [{"uid": uuid.uuid4().hex, "at": T0, "product_id": "x", "query": "а"}]
    for expected in (4, 0):
        with Session(engine) as session, session.begin():
            new = writer.write(
                session,
                {"search": rows + rows[:1], "view": views},  # a repeat inside the batch too
                covisit_window_s=60,
                half_life_days=14,
            )
        assert new == expected
    stats = {s.query: s for s in reports.query_stats(engine)}
    assert (stats["а"].searches, stats["а"].zero_results, stats["а"].clicks) == (2, 1, 1)
    assert _counted(engine) == _recount(engine)


def test_each_event_is_durable_with_fsync_too(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    recorder = Analytics(engine, flush_seconds=3600, spool_dir=tmp_path / "s", spool_fsync=True)
    for n in range(5):
        recorder.record_search(f"q{n}", 1, 1.0)
    segments = list((tmp_path / "s").rglob("*.jsonl"))
    assert len(segments) == 1 and segments[0].read_bytes().count(b"\n") == 5
    assert recorder.flush() == 5 and not list((tmp_path / "s").rglob("*.jsonl"))


def test_spools_of_other_databases_are_left_alone(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    for name in "ab":
        (tmp_path / name).mkdir()
    url = database_url(tmp_path / "a")
    _killed_after_recording(url, spool, 'recorder.record_search("чужой", 1, 1.0)')
    other = _engine(tmp_path / "b")
    Analytics(other, spool_dir=spool)
    assert _stored(other) == [] and list(spool.rglob("*.jsonl"))
    Analytics(CatalogStore(url).engine, spool_dir=spool)
    assert not list(spool.rglob("*.jsonl"))


def test_counters_follow_the_raw_log_and_the_pages_read_them(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    recorder = Analytics(engine, flush_seconds=60)
    for query, total, times in [("петух", 3, 5), ("кот", 2, 3), ("ъъъ", 0, 4), ("ёлка", 0, 1)]:
        for _ in range(times):
            recorder.record_search(query, total, 1.0)
    recorder.record_search("ёлка", 7, 1.0)  # found nothing once, something once
    recorder.record_view("1f413", "петух", source="also")
    recorder.record_shown({"also": 3})
    recorder.flush()
    assert _counted(engine) == _recount(engine)
    assert [s.query for s in recorder.query_stats()] == ["петух", "ъъъ", "кот", "ёлка"]
    assert [s.query for s in recorder.query_stats(zero_only=True)] == ["ъъъ", "ёлка"]
    assert recorder.popular(3) == ["петух", "кот", "ёлка"]  # «часто ищут»: found something
    assert recorder.rec_stats() == [("also", 3, 1)]
    recent = reports.with_recent(engine, recorder.query_stats(limit=2))
    assert [(s.query, s.recent) for s in recent] == [("петух", 5), ("ъъъ", 4)]


def test_rows_older_than_the_counters_are_counted_once_on_upgrade(tmp_path: Path) -> None:
    """A database an older version wrote: raw events without keys, no counters."""
    url = database_url(tmp_path)
    old = MetaData()
    table = Table(
        "search_events",
        old,
        Column("id", Integer, primary_key=True),
        Column("at", DateTime(timezone=True), index=True),
        Column("query", String(200), index=True),
        Column("total", Integer),
        Column("took_ms", Float),
    )
    from sqlalchemy import create_engine

    engine = create_engine(url)
    old.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(table),
            [{"at": T0, "query": "сова", "total": t, "took_ms": 1.0} for t in (0, 2, 2)],
        )
    for _ in range(2):  # two workers starting one after the other: counted once
        recorder = Analytics(CatalogStore(url).engine, flush_seconds=60)
    indexes = {i["name"] for i in inspect(recorder.engine).get_indexes("search_events")}
    assert "ix_search_events_uid" in indexes and "ix_search_events_query" not in indexes
    recorder.record_search("сова", 2, 1.0)
    recorder.flush()
    [stat] = recorder.query_stats()
    assert (stat.query, stat.searches, stat.zero_results) == ("сова", 4, 1)
    with Session(recorder.engine) as session:
        day = session.get(QueryDay, {"query": "сова", "day": T0.date()})
    assert day is not None and day.searches == 3


def test_pruning_old_events_keeps_every_figure(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    recorder = Analytics(engine)
    now = datetime.now(UTC)
    rows = [
        {"uid": uuid.uuid4().hex, "at": now - timedelta(days=age), "query": "кот", "total": 1}
        for age in (200, 120, 91, 10, 0)
    ]
    with Session(engine) as session, session.begin():
        writer.write(
            session,
            {"search": [{**r, "took_ms": 1.0} for r in rows]},
            covisit_window_s=60,
            half_life_days=14,
        )
    before = recorder.query_stats()
    assert retention.prune(engine, 90) == {
        "search_events": 3,
        "product_views": 0,
        "rec_impressions": 0,
    }
    assert len(_stored(engine)) == 2 and recorder.query_stats() == before
    assert before[0].searches == 5


def test_prune_events_command(tmp_path: Path) -> None:
    app = create_app({"TESTING": True, "DATABASE_URL": database_url(tmp_path)})
    recorder: Analytics = app.extensions["analytics"]
    with Session(recorder.engine) as session, session.begin():
        writer.write(
            session,
            {
                "search": [
                    {"uid": uuid.uuid4().hex, "at": T0, "query": "сова", "total": 1, "took_ms": 1}
                ]
            },
            covisit_window_s=60,
            half_life_days=14,
        )
    result = app.test_cli_runner().invoke(args=["prune-events", "--days", "1"])
    assert result.exit_code == 0, result.output
    assert "deleted 1 from search_events" in result.output
    assert _stored(recorder.engine) == [] and recorder.query_stats()[0].searches == 1


def test_a_database_that_refuses_a_batch_gets_it_on_the_next_flush(tmp_path: Path) -> None:
    from prometheus_client import REGISTRY
    from sqlalchemy import text

    from webapp import observability  # noqa: F401  (its counters listen to every recorder)

    def failures() -> float:
        return REGISTRY.get_sample_value("analytics_write_failures_total") or 0.0

    engine = _engine(tmp_path)
    recorder = Analytics(engine, flush_seconds=3600, spool_dir=tmp_path / "spool")
    recorder.record_search("сова", 2, 1.0)
    before = failures()
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE query_totals"))  # the batch's transaction fails
    assert recorder.flush() == 0 and failures() == before + 1
    assert _stored(engine) == [] and list((tmp_path / "spool").rglob("*.jsonl"))
    recorder.record_search("сова", 0, 1.0)
    writer.prepare(engine)  # the database is back
    assert recorder.flush() == 2
    assert _stored(engine) == [("сова", 0), ("сова", 2)]
    assert not list((tmp_path / "spool").rglob("*.jsonl"))
