"""Spelling distance for typo correction: how far a correction is from the typed word.

The closest vocabulary word itself is found by the catalogue's spelling pool
(``catalog/spelling.py``: ``quick_ratio`` for the whole vocabulary at once from a
word × letter count matrix, then :func:`difflib.get_close_matches` over the few that
pass), built once by ``flask --app webapp index`` and mapped.
"""

from __future__ import annotations


def edits(a: str, b: str) -> int:
    """Levenshtein distance with adjacent transpositions (optimal string alignment)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            cost = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, previous2[j - 2] + 1)
            current.append(cost)
        previous2, previous = previous, current
    return previous[-1]
