"""Emoji as words: a design's emoji id, its Russian name, and finding emoji in a text."""

from __future__ import annotations

from collections.abc import Iterable

# Skin tones, hair components, the variation selector and ZWJ do not change a motif.
_EMOJI_MODIFIERS = {0xFE0F, 0xFE0E, *range(0x1F3FB, 0x1F400)}
_MAX_EMOJI_LEN = 12  # the longest emoji sequence, in code points without modifiers


def emoji_key(sequence: str) -> str:
    """An emoji sequence with skin tones and variation selectors removed."""
    return "".join(ch for ch in sequence if ord(ch) not in _EMOJI_MODIFIERS)


def emoji_table(items: Iterable[tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """Build the emoji lookup from (hexcode id, Russian title) pairs of the catalogue."""
    table: dict[str, tuple[str, str]] = {}
    for pid, title in items:
        try:
            sequence = "".join(chr(int(part, 16)) for part in pid.split("-"))
        except ValueError:
            continue  # not an emoji-coded id: nothing to map
        key = emoji_key(sequence)
        if key and key not in table:
            table[key] = (pid, title.lower())
    return table


def replace_emoji(text: str, table: dict[str, tuple[str, str]]) -> tuple[str, list[str], list[str]]:
    """Cut known emoji out of ``text``; return the rest, their names and their ids."""
    key = emoji_key(text)
    rest, names, ids = [], [], []
    i = 0
    while i < len(key):
        for size in range(min(_MAX_EMOJI_LEN, len(key) - i), 0, -1):
            hit = table.get(key[i : i + size])
            if hit and not key[i : i + size].isalnum():
                ids.append(hit[0])
                names.append(hit[1])
                rest.append(" ")
                i += size
                break
        else:
            rest.append(key[i])
            i += 1
    return "".join(rest), names, ids
