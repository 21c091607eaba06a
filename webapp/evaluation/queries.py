"""The evaluation query set: JSON Lines of queries with their judged relevant ids.

Format and relevance rules: ``data/eval/README.md``. A bad line is refused with
a ``ValueError`` naming the file and line number.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

QUERY_KEYS = frozenset({"query", "kind", "relevant", "note"})


@dataclass(frozen=True)
class EvalQuery:
    """One evaluation query: its text, kind, judged relevant ids and an optional note."""

    query: str
    kind: str
    relevant: tuple[str, ...]
    note: str = ""

    @property
    def is_nonsense(self) -> bool:
        """True when no catalogue item is relevant: the right answer is "nothing found"."""
        return not self.relevant


def _parse_query_line(text: str, where: str) -> EvalQuery:
    """Parse one JSONL line into an EvalQuery; raise ValueError prefixed with ``where``."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - QUERY_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}")
    query, kind = obj.get("query"), obj.get("kind")
    if not isinstance(query, str) or not query:
        raise ValueError(f"{where}: 'query' must be a non-empty string")
    if not isinstance(kind, str) or not kind.strip():
        raise ValueError(f"{where}: 'kind' must be a non-empty string")
    relevant = _parse_relevant(obj.get("relevant"), where)
    return EvalQuery(query, kind.strip(), relevant, _parse_note(obj, where))


def _parse_relevant(value: object, where: str) -> tuple[str, ...]:
    """Validate the 'relevant' field: a list of distinct non-empty id strings."""
    if not isinstance(value, list):
        raise ValueError(f"{where}: 'relevant' must be a list of ids ([] for nonsense queries)")
    if not all(isinstance(item, str) and item.strip() for item in value):
        raise ValueError(f"{where}: every id in 'relevant' must be a non-empty string")
    ids = tuple(item.strip() for item in value)
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"{where}: duplicate id(s) in 'relevant': {', '.join(duplicates)}")
    return ids


def _parse_note(obj: dict[str, object], where: str) -> str:
    """Return the optional 'note' field, which must be a string when present."""
    note = obj.get("note", "")
    if not isinstance(note, str):
        raise ValueError(f"{where}: 'note' must be a string")
    return note


def load_queries(path: str | Path) -> list[EvalQuery]:
    """Read a JSONL query set; blank lines are skipped, bad lines raise ValueError.

    The error message names the file and the line number.
    """
    path = Path(path)
    queries: list[EvalQuery] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if line.strip():
                queries.append(_parse_query_line(line, f"{path}:{lineno}"))
    if not queries:
        raise ValueError(f"{path}: no queries found")
    return queries
