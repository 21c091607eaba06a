"""Recording analytics: each event spooled to disk, then written in batches by a thread.

Recording costs a request one ``write`` to the process's spool (``spool.py``) and
never a database round-trip. Every ``flush_seconds`` a background thread writes the
batch in one transaction (``writer.py``: new events, their counters, co-visits),
then deletes the spooled copy. The same thread replays, every ``replay_seconds``,
the spools of processes that died, and prunes raw events past their retention once
a day (``retention.py``). At exit the rest is flushed; what a killed process leaves
is replayed by the next process that starts or sweeps.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

from blinker import Namespace
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ..tables import QUERY_COLUMN
from . import reports, retention, writer
from .events import TABLES, new_uid, now
from .spool import Orphan, Spool, Ticket, encode, spool_folder

log = logging.getLogger(__name__)
Row = dict[str, object]
#: events replayed per transaction
REPLAY_BATCH = 5000
DAY_S = 86400.0
_signals = Namespace()
#: sent with ``count=`` and ``how=`` ("flush", or "replay" of a dead process's spool)
#: after new events were committed
events_written = _signals.signal("analytics-events-written")
#: sent with ``error=`` when the database refused a batch (kept for the next try)
write_failed = _signals.signal("analytics-write-failed")


class Analytics:
    """Spools events, flushes them to the database in batches, reads the counters."""

    def __init__(
        self,
        engine: Engine,
        *,
        flush_seconds: float = 2.0,
        covisit_window_s: float = 1800.0,
        half_life_days: float = 14.0,
        spool_dir: Path | None = None,
        spool_fsync: bool = False,
        replay_seconds: float = 30.0,
        retention_days: float = 0.0,
    ) -> None:
        """Record into ``engine``'s database (tables are created or upgraded if needed).

        ``spool_dir``: where events wait on disk for their batch (None: in memory only,
        lost if the process is killed); ``spool_fsync``: also flush each to the disk;
        ``replay_seconds``: how often dead processes' spools are looked for;
        ``retention_days``: raw events older than this are pruned daily (0: kept).
        Views of one session within ``covisit_window_s`` count as co-visits.
        """
        self.engine = engine
        writer.prepare(engine)
        self.flush_seconds = flush_seconds
        self.covisit_window_s, self.half_life_days = covisit_window_s, half_life_days
        self.replay_seconds, self.retention_days = replay_seconds, retention_days
        base = spool_dir and spool_folder(spool_dir, engine.url.render_as_string())
        self.spool = Spool(base, fsync=spool_fsync) if base else None
        self._reset()
        self._next_prune = 0.0  # the flusher's first round prunes, then once a day
        self._spool_failed = False
        _LIVE.add(self)
        atexit.register(self.close)
        self._safely(self.replay)  # what processes that died before this one left behind

    def _reset(self) -> None:
        """Fresh buffers, locks and no thread (at start, and in a forked child)."""
        self._pending: dict[str, list[Row]] = {kind: [] for kind in TABLES}
        self._retry: dict[str, list[Row]] = {kind: [] for kind in TABLES}
        self._lock = threading.Lock()  # the buffers and the spool's current segment
        self._flush_lock = threading.Lock()  # one flush (or replay) at a time
        self._thread: threading.Thread | None = None
        self._next_replay = time.monotonic() + self.replay_seconds

    def record_search(
        self, query: str, total: int, took_ms: float, *, request_id: str | None = None
    ) -> None:
        """Remember one answered search (``request_id``: its answer's X-Request-ID)."""
        self._record(
            "search",
            {
                "query": query[:QUERY_COLUMN],
                "total": total,
                "took_ms": took_ms,
                "request_id": request_id and request_id[:64],
            },
        )

    def record_view(
        self,
        product_id: str,
        query: str | None,
        *,
        session_key: str | None = None,
        source: str | None = None,
    ) -> None:
        """Remember one product card opened (``query``: the search it came from,
        ``source``: the recommendation row it was clicked in)."""
        self._record(
            "view",
            {
                "product_id": product_id[:64],
                "query": (query or None) and query[:QUERY_COLUMN],
                "session_key": session_key and session_key[:32],
                "source": source and source[:16],
            },
        )

    def record_shown(self, counts: dict[str, int]) -> None:
        """Remember how many recommended cards of each source a page showed."""
        for source, shown in counts.items():
            if shown:
                self._record("shown", {"source": source[:16], "shown": shown})

    def _record(self, kind: str, fields: Row) -> None:
        """Give the event its key and time, spool it, buffer it, wake the writer."""
        row = {"uid": new_uid(), "at": now(), **fields}
        line = encode(kind, row) if self.spool else b""
        ticket = None
        with self._lock:
            if self.spool:
                ticket = self._spool_append(line)
            self._pending[kind].append(row)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="analytics", daemon=True)
                self._thread.start()
        if ticket is not None and self.spool:
            self.spool.sync(ticket)

    def _spool_append(self, line: bytes) -> Ticket | None:
        """Append to the spool; a disk that refuses is logged (once until it recovers)
        and the event stays in memory only: the shopper's answer never fails for it."""
        assert self.spool is not None
        try:
            ticket = self.spool.append(line)
        except OSError as exc:
            if not self._spool_failed:
                log.error("analytics spool %s refuses writes: %s", self.spool.folder, exc)
            self._spool_failed = True
            return None
        self._spool_failed = False
        return ticket

    def _run(self) -> None:
        """Background loop: flush every ``flush_seconds`` while there is work; replay
        dead processes' spools and prune old events on their own schedules."""
        stop = threading.Event()
        while not stop.wait(self.flush_seconds):
            written = self.flush()
            clock = time.monotonic()
            if self.spool and clock >= self._next_replay:
                self._next_replay = clock + self.replay_seconds
                self.replay()
            if self.retention_days > 0 and clock >= self._next_prune:
                self._next_prune = clock + DAY_S
                self._safely(lambda: retention.prune(self.engine, self.retention_days))
            with self._lock:
                idle = not any(self._pending.values()) and not any(self._retry.values())
            if not written and idle:
                return

    def flush(self) -> int:
        """Write buffered events now; return how many new events were stored. A database
        error is logged and the batch kept (in memory and in the spool) for the next try."""
        with self._flush_lock:
            with self._lock:
                batch = {kind: self._retry[kind] + self._pending[kind] for kind in TABLES}
                self._pending = {kind: [] for kind in TABLES}
                self._retry = {kind: [] for kind in TABLES}
                sealed = self.spool.seal() if self.spool else []
            if not any(batch.values()):
                if sealed and self.spool:  # nothing left in them (a retry already wrote)
                    self.spool.committed(sealed)
                return 0
            try:
                written = self._write(batch)
            except SQLAlchemyError as exc:
                log.warning("analytics batch not written, kept for the next try: %s", exc)
                write_failed.send(self, error=exc)
                with self._lock:
                    for kind in TABLES:
                        self._retry[kind] = batch[kind] + self._retry[kind]
                return 0
            if self.spool:
                self.spool.committed(sealed)
            events_written.send(self, count=written, how="flush")
            return written

    def _write(self, batch: dict[str, list[Row]]) -> int:
        """One transaction: ``batch``'s new events, counters and co-visits."""
        with Session(self.engine) as session, session.begin():
            return writer.write(
                session,
                batch,
                covisit_window_s=self.covisit_window_s,
                half_life_days=self.half_life_days,
            )

    def replay(self) -> int:
        """Write the spools of processes that are gone into the database, then delete
        them; return how many of their events were new. Errors are logged: the spool
        stays for the next sweep."""
        if self.spool is None:
            return 0
        replayed = 0
        with self._flush_lock:
            for orphan in self.spool.orphans():
                try:
                    new = sum(self._write(batch) for batch in _batches(orphan))
                except (SQLAlchemyError, OSError) as exc:
                    log.warning("spool %s not replayed yet: %s", orphan.lock_path.name, exc)
                    write_failed.send(self, error=exc)
                    orphan.release()
                    continue
                orphan.done()
                events_written.send(self, count=new, how="replay")
                replayed += new
                log.info("replayed spool %s: %d new events", orphan.lock_path.name, new)
        return replayed

    def close(self) -> None:
        """Flush what is left and let go of the spool (at exit)."""
        self._safely(self.flush)
        if self.spool:
            self.spool.close()

    def _safely(self, job: Callable[[], object]) -> None:
        """Run a background job; log instead of raising."""
        try:
            job()
        except Exception as exc:  # a background thread or atexit: nobody to raise to
            log.warning("analytics %s failed: %s", getattr(job, "__name__", "job"), exc)

    def _forked(self) -> None:
        """In a child process (gunicorn with ``preload_app``): the parent keeps its
        buffers and spool; the child records into its own."""
        self._reset()
        if self.spool:
            self.spool.forget()

    def rec_stats(self) -> list[tuple[str, int, int]]:
        """Recommended cards shown and clicked, per source: (source, shown, clicks)."""
        return reports.rec_stats(self.engine)

    def query_stats(self, *, limit: int = 20, zero_only: bool = False) -> list[reports.QueryStat]:
        """The most frequent queries (or only those that found nothing), with click counts."""
        return reports.query_stats(self.engine, limit=limit, zero_only=zero_only)

    def popular(self, limit: int = 5) -> list[str]:
        """«Часто ищут»: the most asked queries that found something."""
        return reports.popular(self.engine, limit=limit)


def _batches(orphan: Orphan) -> Iterator[dict[str, list[Row]]]:
    """A dead process's spooled events, by kind, ``REPLAY_BATCH`` at a time."""
    batch: dict[str, list[Row]] = {kind: [] for kind in TABLES}
    size = 0
    for path in orphan.segments:
        for kind, row in orphan.events(path):
            if kind not in batch:
                continue
            batch[kind].append(row)
            size += 1
            if size >= REPLAY_BATCH:
                yield batch
                batch, size = {k: [] for k in TABLES}, 0
    if size:
        yield batch


#: recorders of this process, reset in a forked child
_LIVE: weakref.WeakSet[Analytics] = weakref.WeakSet()


def _after_fork() -> None:
    """Give every recorder a fresh start in a forked child."""
    for recorder in list(_LIVE):
        recorder._forked()


os.register_at_fork(after_in_child=_after_fork)
