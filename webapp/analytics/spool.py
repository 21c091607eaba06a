"""A durable local spool: each recorded event is on disk before its answer leaves.

One process, one spool: ``<prefix>.lock`` (held with ``flock`` for the process's
life) and numbered segments ``<prefix>.<n>.jsonl``, one JSON line per event,
appended with a single ``write``. Once ``write`` returns, the kernel holds the
line: a worker killed at any moment after that leaves it on disk (``fsync``
additionally survives a power cut, at ~0.7 ms per event: docs/production.md).

The recorder seals the current segment at each flush and deletes it once its
events are committed to the database. The kernel drops a dead process's
``flock``, so any process that can lock a ``.lock`` file knows its owner is gone
and replays that spool (:meth:`Spool.orphans`). Replay may repeat events whose
batch had committed just before the kill: the events' unique keys make that
harmless.

Spools live in one folder per database (``spool_folder``), so an event is only ever
replayed into the database it was recorded for. The folder must be on a local disk
(``flock`` on a network filesystem is not reliable).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def spool_folder(base: Path, database: str) -> Path:
    """The spool folder under ``base`` for the database at URL ``database``."""
    return base / hashlib.sha256(database.encode()).hexdigest()[:16]


def encode(kind: str, row: dict[str, Any]) -> bytes:
    """One spool line: the event's kind and fields (times in ISO 8601)."""
    fields = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}
    return json.dumps({"kind": kind, **fields}, ensure_ascii=False).encode() + b"\n"


def decode(line: bytes) -> tuple[str, dict[str, Any]]:
    """The (kind, row) a spool line holds (ValueError for a torn or foreign line)."""
    fields = json.loads(line)
    if not isinstance(fields, dict) or "kind" not in fields or "uid" not in fields:
        raise ValueError("not an event")
    kind = str(fields.pop("kind"))
    fields["at"] = datetime.fromisoformat(fields["at"])
    return kind, fields


@dataclass
class Segment:
    """The segment being appended to, and how much of it is known to be on disk."""

    path: Path
    fd: int
    written: int = 0
    synced: int = 0
    closed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


#: what :meth:`Spool.append` hands back: the segment and its length after the line
Ticket = tuple[Segment, int]


@dataclass
class Orphan:
    """A dead process's spool, locked by this process until :meth:`done`."""

    lock_path: Path
    fd: int
    segments: list[Path]

    def events(self, path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
        """The events of one segment; a torn last line (a write the kill interrupted,
        so never acknowledged) is skipped."""
        for number, line in enumerate(path.read_bytes().split(b"\n"), 1):
            if not line.strip():
                continue
            try:
                yield decode(line)
            except (ValueError, KeyError, TypeError):
                log.warning("spool %s line %d is not an event; skipped", path.name, number)

    def done(self) -> None:
        """Every segment replayed: remove them and the lock (the lock last)."""
        for path in self.segments:
            path.unlink(missing_ok=True)
        self.lock_path.unlink(missing_ok=True)
        self.release()

    def release(self) -> None:
        """Give the spool back (after a failed replay: another process will retry)."""
        os.close(self.fd)


class Spool:
    """This process's append-only event log in ``folder`` (created on first use)."""

    def __init__(self, folder: Path, *, fsync: bool = False) -> None:
        """Spool into ``folder``; with ``fsync`` each event is also flushed to the disk."""
        self.folder = folder
        self.fsync = fsync
        self._prefix = ""
        self._lock_fd: int | None = None
        self._number = 0
        self._current: Segment | None = None
        self._sealed: list[Path] = []

    def append(self, line: bytes) -> Ticket:
        """Write ``line`` (the caller serialises appends); returns what :meth:`sync` takes."""
        segment = self._current or self._open_segment()
        view = memoryview(line)
        while view:
            view = view[os.write(segment.fd, view) :]
        segment.written += len(line)
        return segment, segment.written

    def sync(self, ticket: Ticket) -> None:
        """With ``fsync``: make sure the line behind ``ticket`` is on disk. Threads that
        wait here together share one ``fdatasync`` (group commit)."""
        segment, upto = ticket
        if not self.fsync:
            return
        with segment.lock:
            if segment.closed or segment.synced >= upto:
                return
            written = segment.written
            os.fdatasync(segment.fd)
            segment.synced = written

    def seal(self) -> list[Path]:
        """Close the current segment; later appends start a new one. Returns the sealed
        segments not yet committed (the caller serialises with :meth:`append`)."""
        segment, self._current = self._current, None
        if segment is not None:
            with segment.lock:
                if self.fsync and segment.synced < segment.written:
                    os.fdatasync(segment.fd)
                os.close(segment.fd)
                segment.closed = True
            self._sealed.append(segment.path)
        return list(self._sealed)

    def committed(self, paths: list[Path]) -> None:
        """The events of ``paths`` (sealed segments) are in the database: delete them."""
        for path in paths:
            path.unlink(missing_ok=True)
        self._sealed = [p for p in self._sealed if p not in paths]

    def close(self) -> None:
        """End of the process: drop the lock file when nothing is left to replay."""
        self.seal()
        if self._lock_fd is None:
            return
        if not self._sealed:
            Path(self.folder / f"{self._prefix}.lock").unlink(missing_ok=True)
        os.close(self._lock_fd)
        self._lock_fd = None
        with contextlib.suppress(OSError):
            self.folder.rmdir()  # only when empty

    def forget(self) -> None:
        """In a forked child: the parent's files stay the parent's; start afresh."""
        for fd in [self._lock_fd, self._current.fd if self._current else None]:
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._prefix, self._lock_fd, self._current, self._sealed = "", None, None, []

    def orphans(self) -> Iterator[Orphan]:
        """Spools of processes that are gone, each locked for the caller to replay."""
        if not self.folder.is_dir():
            return
        for lock_path in sorted(self.folder.glob("*.lock")):
            prefix = lock_path.name.removesuffix(".lock")
            if prefix == self._prefix:
                continue
            try:
                fd = os.open(lock_path, os.O_RDWR)
            except FileNotFoundError:
                continue  # replayed meanwhile by another process
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                alive = os.fstat(fd).st_ino != os.stat(lock_path).st_ino
            except (BlockingIOError, FileNotFoundError):
                alive = True  # its owner runs, or it was replayed meanwhile
            if alive:
                os.close(fd)
                continue
            segments = sorted(self.folder.glob(f"{prefix}.*.jsonl"))
            yield Orphan(lock_path, fd, segments)

    def _open_segment(self) -> Segment:
        """A new segment file (and, the first time, this process's lock)."""
        if self._lock_fd is None:
            self._take_lock()
        self._number += 1
        path = self.folder / f"{self._prefix}.{self._number:06d}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        if self.fsync:
            _sync_folder(self.folder)
        self._current = Segment(path, fd)
        return self._current

    def _take_lock(self) -> None:
        """Create and lock ``<prefix>.lock``: locked under a temporary name first, so no
        other process ever sees it unlocked and takes this live spool for a dead one."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._prefix = f"{os.getpid()}-{secrets.token_hex(4)}"
        temporary = self.folder / f"{self._prefix}.lock.new"
        fd = os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(temporary, self.folder / f"{self._prefix}.lock")
        if self.fsync:
            _sync_folder(self.folder)
        self._lock_fd = fd


def _sync_folder(folder: Path) -> None:
    """Make a new file's name durable (fsync of its directory)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
