"""Wall-clock timing of the stages of a query's journey."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class Timer:
    """Collects wall-clock milliseconds per named stage."""

    def __init__(self) -> None:
        """Start with no stages timed."""
        self.stages: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the enclosed block and add it to stage ``name``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = (time.perf_counter() - start) * 1000
            self.stages[name] = round(self.stages.get(name, 0.0) + elapsed, 3)
