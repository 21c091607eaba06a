"""«Почему»: a result's typed explanation in the plain Russian a shopper reads.

Shoppers see why a design is there in their own words («совпало слово «петух»», «по
смыслу: «23 февраля» → медаль, каска», «похоже по картинке», «часто смотрят вместе с
«Петух»», «на фото, похоже, кошка»); never a signal's name, a score or an English label.
The API and staff pages keep the structured form (``Explanation.to_json``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..catalog.products import Product
from ..search.explanation import Explanation
from ..search.signals import SignalKind

#: a dictionary sense is quoted up to this many characters
QUOTE = 90


def quoted(words: Sequence[str]) -> str:
    """«a», «b» and «c»: words in Russian quotes, listed."""
    return ", ".join(f"«{w}»" for w in words)


def reasons(
    explanation: Explanation | None,
    product: Product,
    label: Callable[[str], str | None] = lambda _: None,
    strong_z: float = float("inf"),
) -> list[str]:
    """The lines of a result's «почему», in plain Russian (none for a plain listing).

    ``label`` names a classifier class in Russian (None: it has no Russian name, and is
    not shown); a text vector's evidence is worth a line of its own from ``strong_z`` (the
    z at which the floor keeps a design on that evidence alone)."""
    if explanation is None:
        return []
    e = explanation
    lines: list[str] = []
    if e.source == "explore":
        return ["новое для вас: не похоже на то, что вы уже смотрели"]
    if e.source == "rec" and e.like:
        lines.append(f"похоже на «{e.like[1]}», который вы смотрели")
    if e.source == "also" and e.like:
        lines.append(f"часто смотрят вместе с «{e.like[1]}»")
    if e.has(SignalKind.EMOJI):
        lines.append("это тот самый значок из запроса")
    decoded = {base for _, base in e.decoded}
    for word, base in e.decoded:
        lines.append(f"«{word}» — это «{base}»")
    own = [w for w in e.words if w not in decoded]
    if own:
        lines.append(("совпало слово " if len(own) == 1 else "совпали слова ") + quoted(own))
    for rule in e.rules:
        lines.append(f"по смыслу: «{rule.phrase}» → {', '.join(rule.words)}")
    if e.meaning and not e.rules:
        lines.append("по смыслу: " + ", ".join(e.meaning))
    if e.definition:
        word, text = e.definition
        text = text if len(text) <= QUOTE else text[: QUOTE - 1].rstrip() + "…"
        lines.append(f"по определению слова «{word}»: «{text}»")
    if e.colours:
        lines.append("цвет на картинке: " + ", ".join(e.colours))
    if e.has(SignalKind.CATEGORY):
        lines.append(f"из раздела «{product.subcategory or product.category}»")
    lines += _likeness(e, bool(lines), label, strong_z)
    return lines


def _likeness(
    e: Explanation, explained: bool, label: Callable[[str], str | None], strong_z: float
) -> list[str]:
    """The lines a design's likeness gives: to a picture, to the query's meaning."""
    lines = []
    if e.has(SignalKind.LOOK):
        lines.append("похоже по картинке")
    shown = [name for name in (label(x) for x in e.labels) if name]
    if e.has(SignalKind.PHOTO_WORDS) and shown:
        lines.append("на фото, похоже, " + " или ".join(shown))
    if e.has(SignalKind.CONTENT) and not e.source:
        lines.append("похоже по описанию")
    if not explained and not lines:
        text = e.of(SignalKind.TEXT)
        cross = e.of(SignalKind.CROSS_MODAL)
        if text is not None and text.calibrated >= strong_z:
            lines.append("похоже по смыслу описания")
        if cross is not None:
            lines.append("по картинке подходит к словам запроса")
        if not lines and (text is not None or e.has(SignalKind.MEANING_VECTOR)):
            lines.append("близко по смыслу")
    return lines
