"""Wiktionary sense markup → plain Russian text, register marks and a base word.

``wiki-ru-wordnet`` stores each sense as ``лемма~ru~лемма~ru~<markup>~<n>~<n>``, the
markup being the sense line of a Russian Wiktionary article: label templates
(``{{разг.|ru}}``, ``{{зоол.}}``), links (``[[лезвие|лезвий]]``), usage examples
(``{{пример|…}}``), equivalents (``{{=|мобильный телефон}}``) and derivation templates
that name a base word (``{{умласк.||заяц}}``, ``{{действие|ловить}}``). A label becomes
a mark (data, not text); an example or a citation is dropped; an equivalent or a
derivation template becomes its base word. Pure functions, no database, no Flask.
"""

from __future__ import annotations

import html
import re
from typing import NamedTuple

#: templates whose whole content is dropped: examples, citations, semantic lists, pictures
_DROPPED = frozenset(
    """пример Пример " библия Библия Даль семантика списки_семантических_связей lang fonts
    Нужен_перевод ? морфема илл СРНГ дат ^ comment библио антонимы ссылки_с_пометой
    без_ссылок отчество прист-СИ""".replace("_", " ").split()
)
#: templates that show their argument as text
_SHOWN = frozenset({"выдел", "nobr", "razr", "кавычки"})
#: templates that derive the sense from a base word (their first positional argument)
_DERIVED = frozenset(
    """умласк. умласк уменьш. ласк. ум.-ласк. женск. увелич. уничиж. унич. экспр. усилит.
    гипокор. сокр. сокращ аббр. действие свойство состояние соотн. наречие нареч. прич. деепр.
    дееприч. страд. однокр. многокр. совершить сравн. превосх. отвлеч. verb-dir verb-dir-n
    отн.""".split()
)
#: spellings of one mark folded into one ("{{п.}}" is Wiktionary's «переносное»)
_SAME_MARK = {
    "п.": "перен.",
    "умласк": "умласк.",
    "ум.-ласк.": "умласк.",
    "сокращ": "сокр.",
    "мн": "мн.",
    "воен.": "военн.",
    "бот.": "ботан.",
    "хим-элем": "хим.",
}
_OPEN = re.compile(r"\{\{|\[\[")
_BRACKET = re.compile(r"\{\{|\}\}|\[\[|\]\]")
_BRACKET_OR_BAR = re.compile(r"\{\{|\}\}|\[\[|\]\]|\|")
_LANGUAGE = re.compile(r"^(?:ru|en|la|ru-old|-|ry)$")
_NAMED = re.compile(r"^[^\[\]{}=|]+=")
_ENVELOPE = re.compile(r"^(?P<lemma>[^~]*)~ru~(?P=lemma)~ru~(?P<body>.*)~\d+~\d+\s*$", re.S)
_DROP_HTML = re.compile(r"<!--.*?-->|<ref[^>]*/>|<ref[^>]*>.*?</ref>|<[^>]+>", re.S)
_LABEL = re.compile(r"^[а-яёА-ЯЁ][а-яёА-ЯЁ.\- ]*\.$")
_SEGMENT = re.compile(r"[,;(:—]|\s-\s")
#: a lone adjective or participle before a comma starts a list of modifiers, not a base
_MODIFIER = re.compile(r"^\S+(?:ый|ий|ой|ая|яя|ое|ее|ые|ие|ийся|аяся)$")
_NOT_BASES = frozenset({"тот", "то", "та", "те", "что", "кто", "такой", "который", "один"})
_POINTER = re.compile(r"^(?:к|от|форма от|то же,? что(?: и)?|см\.)\s+", re.I)
#: marks of colloquial, affectionate or slang senses: their leading gloss is the base word
REGISTER = frozenset(
    """разг. жарг. прост. сленг детск. умласк. ласк. уменьш. фам. шутл. пренебр. унич. увелич.
    груб. вульг. мол. комп.жарг. интернет. обл. диал. неодобр. ирон. сниж. рег. местн.""".split()
)
#: a gloss this short (in words) is a synonym, not a description: its words are the base
SHORT_GLOSS = 3


class Cleaned(NamedTuple):
    """One sense as plain text, its labels (``разг.``, ``зоол.``…) and its base word."""

    text: str
    marks: tuple[str, ...]
    base: str | None


def sense_markup(field: str) -> str:
    """The sense markup inside a database ``definition`` field (the field itself when it
    has no ``лемма~ru~лемма~ru~…~n~n`` envelope); a trailing ``\\n#`` list stub is cut."""
    found = _ENVELOPE.match(field)
    body = found.group("body") if found else field
    return body.split("\n#", 1)[0]


def clean_definition(markup: str) -> Cleaned:
    """``(text, marks, base_word | None)`` of one sense (a database field or bare markup).

    The base word is what a colloquial, diminutive or derived word stands for: the
    argument of a derivation template (``{{умласк.||заяц}}`` → «заяц»), an equivalent
    (``{{=|мобильный телефон}}``), the word after «к»/«форма от», or a gloss of at most
    :data:`SHORT_GLOSS` words before the first comma («{{жарг.}} [[автомобиль]], в т. ч.
    такси» → «автомобиль»).
    """
    marks: list[str] = []
    bases: list[str] = []
    raw = html.unescape(_DROP_HTML.sub(" ", sense_markup(markup)))
    text = _tidy(_render(raw, marks, bases))
    labels = tuple(dict.fromkeys(marks))
    base = bases[0] if bases else _gloss_base(text, labels)
    return Cleaned(text or (base or ""), labels, base or None)


def lead(text: str) -> str:
    """The leading segment of a definition, up to its first comma, semicolon, colon,
    bracket or dash: the genus a definition starts with («дворовая собака»)."""
    return _SEGMENT.split(_POINTER.sub("", text), 1)[0].strip(" .")


def _gloss_base(text: str, marks: tuple[str, ...]) -> str | None:
    """The leading word group of a gloss when it names what the word stands for: after
    «к»/«форма от», a whole gloss of at most :data:`SHORT_GLOSS` words, or the first
    segment of a colloquial sense («{{жарг.}} автомобиль, в т. ч. такси»)."""
    head = _POINTER.sub("", text)
    first = lead(text)
    if not first or len(first.split()) > SHORT_GLOSS:
        return None
    pointed = head != text
    synonym = len(text.split()) <= SHORT_GLOSS
    if first.lower() in _NOT_BASES or (first != head and _MODIFIER.search(first)):
        return None  # «тот, кто…», «простоватый, прямолинейный… человек»: no word to stand for
    return first if pointed or synonym or REGISTER.intersection(marks) else None


def _render(text: str, marks: list[str], bases: list[str]) -> str:
    """``text`` with its templates and links replaced (recursively) by what they show."""
    out: list[str] = []
    i = 0
    while (found := _OPEN.search(text, i)) is not None:
        start = found.start()
        out.append(text[i:start])
        end = _closing(text, start)
        inner = text[start + 2 : end - 2]
        if found.group() == "[[":
            out.append(_link(inner, marks, bases))
        elif inner.split("|", 1)[0].strip() in _DROPPED:
            out.append(" ")  # examples and citations: not parsed at all
        else:
            out.append(_template(_split(inner), marks, bases))
        i = end
    out.append(text[i:])
    return "".join(out)


def _closing(text: str, start: int) -> int:
    """The index just after the ``}}``/``]]`` that closes the bracket pair at ``start``
    (past the text's end when it is never closed)."""
    depth = 0
    for bracket in _BRACKET.finditer(text, start):
        depth += 1 if bracket.group() in ("{{", "[[") else -1
        if depth == 0:
            return bracket.end()
    return len(text) + 2


def _split(inner: str) -> list[str]:
    """A template's parts, split at the ``|`` that are not inside nested brackets."""
    parts, depth, last = [], 0, 0
    for mark in _BRACKET_OR_BAR.finditer(inner):
        token = mark.group()
        if token == "|":
            if depth == 0:
                parts.append(inner[last : mark.start()])
                last = mark.end()
        else:
            depth += 1 if token in ("{{", "[[") else -1
    parts.append(inner[last:])
    return parts


def _template(parts: list[str], marks: list[str], bases: list[str]) -> str:
    """What one template shows; labels go to ``marks``, base words to ``bases``."""
    name = parts[0].strip()
    args = [a.strip() for a in parts[1:] if not _NAMED.match(a)]
    words = [a for a in args if a and not _LANGUAGE.match(a)]
    if name in ("-", "--"):
        return " — "
    if name in ("итп", "итд"):
        return " и т. п."
    if name == "значение":  # a whole sense as a form: definition, marks, lists
        fields = dict(_field(a) for a in parts[1:] if _NAMED.match(a))
        marks += re.findall(r"[а-яё][а-яё.\-]*\.", fields.get("пометы", ""))
        return _render(fields.get("определение", ""), marks, bases)
    if name in _SHOWN:
        return _render(words[-1], marks, bases) if words else ""
    if name == "помета":
        label = _tidy(_render(words[0], marks, bases)) if words else ""
        marks += [m.strip() for m in label.split(",") if _LABEL.match(m.strip())]
        return " "
    if name == "=":
        shown = [_tidy(_render(w, [], [])) for w in words[:2]]
        bases += shown[:1]
        return " — ".join(shown)
    if name == "хим-элем":
        marks.append("хим.")
        return _render(words[2], marks, bases) if len(words) > 2 else " "
    if name in _DERIVED or _LABEL.match(name) or name in ("мат", "сленг"):
        marks.append(_SAME_MARK.get(name, name))
    if name in _DERIVED and words:
        shown = [_tidy(_render(w, [], [])) for w in words[:2]]
        bases.append(shown[0])
        return " — ".join(shown) if name in ("сокр.", "сокращ", "аббр.") else shown[0]
    return " "


def _field(part: str) -> tuple[str, str]:
    """A named template argument as (name, value), both stripped."""
    name, _, value = part.partition("=")
    return name.strip(), value.strip()


def _link(inner: str, marks: list[str], bases: list[str]) -> str:
    """What a ``[[target|label]]`` link shows: its label, else its target."""
    parts = _split(inner)
    target = parts[0].strip()
    if target.lower().startswith(("файл:", "file:", "изображение:", "категория:")):
        return " "
    return _render(parts[-1], marks, bases)


def _tidy(text: str) -> str:
    """Collapse spaces, drop markup leftovers (quotes, sense numbers, empty brackets)."""
    text = text.replace("\u0301", "").replace("\u0300", "").replace("||", "; ")
    text = re.sub(r"'{2,}|\||\{\{|\}\}|\[\[|\]\]", " ", text)
    text = re.sub(r"\[\d+(?:[,–-]\s*\d+)*\]", " ", text)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\(\s*[,;.]?\s*\)", " ", text)
    text = re.sub(r"\s+([,.;:)])", r"\1", text)
    text = re.sub(r"\(\s+", "(", text)
    text = re.sub(r"\s+", " ", text)
    return text.strip(" ,;:—-")
