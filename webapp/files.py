"""Writing artifacts safely: a reader sees the old file or the new one, never half of one.

Every build step (embedding caches, trained heads, the ONNX export, the demo
catalogue, the thesaurus) writes through :func:`replacing`: a temporary file beside
the target, renamed over it once complete, and removed if anything fails.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(target: Path) -> Iterator[Path]:
    """A temporary path beside ``target``; when the block ends it atomically replaces
    ``target`` (world-readable: servers may run as another user), on error it is removed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` through :func:`replacing`."""
    with replacing(target) as tmp:
        tmp.write_bytes(data)
