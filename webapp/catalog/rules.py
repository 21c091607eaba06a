"""Meaning beyond the words: concept rules that add related catalogue words to a query.

A rule maps a query phrase to words the catalogue uses: «масленица → блины, солнце»,
«грызун → мышь, хомяк». Rules come from three places, weakest first: the general
thesaurus built offline from Russian Wiktionary (``flask build-thesaurus``), the
occasions calendar (``data/rules/occasions.tsv``) and rules staff add at
``/staff/synonyms``; a later source replaces an earlier one's rule for the same
phrase. Phrases and words are compared as lemmas, so «грызуны» finds «грызун».
The added words always count below what the shopper typed (see ranking.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..language.morphology import STOPWORDS, lemmatise
from ..language.text import WORD, normalise

MAX_PHRASE_WORDS = 4
MAX_RULE_WORDS = 30
#: where a rule came from, as the «почему» line shows it
SOURCES = {"thesaurus": "тезаурус", "occasion": "праздники и события", "staff": "правило магазина"}


class RuleError(ValueError):
    """A concept rule that cannot be used; the message says why, in Russian, and ``field``
    names the part at fault: ``"phrase"`` or ``"words"`` (None: neither)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class RuleLimits:
    """What a rule typed by staff may hold (the settings ``RULE_MAX_CHARS`` and
    ``RULE_MAX_WORDS``); the shipped rule files are checked by :func:`make_rule` alone."""

    #: characters in the phrase and in each word (or phrase) the rule adds
    max_chars: int = 60
    #: words (comma-separated entries) one rule adds; the largest shipped occasion rule
    #: has 13, and staff may open any shipped rule in the form to replace it
    max_words: int = 15


#: what a staff phrase and each added word may be made of, besides letters and digits
ALLOWED_MARKS = frozenset(" -'’")


def check_staff_rule(phrase: str, words: str, limits: RuleLimits) -> dict[str, str]:
    """What is wrong with a rule as staff typed it, per field (``phrase``, ``words``), in
    Russian; empty when its length and characters are fine (its meaning is
    :func:`make_rule`'s to check). Only letters, digits, spaces, hyphens and apostrophes
    are allowed (commas separate the words), so no markup or control character is stored."""
    errors: dict[str, str] = {}
    problem = _entry_problem(phrase, limits.max_chars, "Фраза")
    if problem:
        errors["phrase"] = problem
    entries = [w for w in words.split(",") if w.strip()]
    if len(entries) > limits.max_words:
        errors["words"] = (
            f"Не больше {limits.max_words} слов в одном правиле (сейчас {len(entries)})."
        )
    for entry in entries:
        problem = _entry_problem(entry, limits.max_chars, f"«{_quote(entry)}»")
        if problem:
            errors.setdefault("words", problem)
            break
    return errors


def _entry_problem(text: str, max_chars: int, name: str) -> str | None:
    """Why ``text`` (a phrase or one added word) cannot be stored, if it cannot."""
    text = text.strip()
    if len(text) > max_chars:
        return f"{name}: длиннее {max_chars} символов ({len(text)})."
    bad = next((ch for ch in text if not (ch.isalnum() or ch in ALLOWED_MARKS)), None)
    if bad is not None:
        shown = f"«{bad}»" if bad.isprintable() and not bad.isspace() else f"U+{ord(bad):04X}"
        return f"{name}: символ {shown} нельзя — только буквы, цифры, пробел, дефис и апостроф."
    return None


def _quote(text: str, length: int = 20) -> str:
    """``text`` shortened for a message, with only its printable characters."""
    text = "".join(ch for ch in text.strip() if ch.isprintable())
    return text if len(text) <= length else text[: length - 1] + "…"


@dataclass(frozen=True)
class Rule:
    """One concept rule: a query phrase (lemma key) and the words it adds."""

    phrase: str
    key: tuple[str, ...]
    words: tuple[str, ...]
    source: str = "staff"


@dataclass(frozen=True)
class Expansion:
    """The words one rule added to a query, and which query words triggered it."""

    phrase: str
    words: tuple[str, ...]
    source: str
    triggers: tuple[str, ...]


def phrase_key(text: str) -> tuple[str, ...]:
    """The lemmas of ``text`` that a phrase is matched on: stop words dropped, digits kept
    («8 марта» → ``("8", "март")``)."""
    lemmas = lemmatise(WORD.findall(normalise(text)))
    return tuple(t for t in lemmas if t not in STOPWORDS and (len(t) > 1 or t.isdigit()))


def make_rule(phrase: str, words: str | Iterable[str], source: str = "staff") -> Rule:
    """Validate and build a rule; :class:`RuleError` says what is wrong with it."""
    phrase = " ".join(phrase.split())
    key = phrase_key(phrase)
    if not key:
        raise RuleError("Фраза пуста: нужно хотя бы одно значимое слово.", "phrase")
    if len(key) > MAX_PHRASE_WORDS:
        raise RuleError(f"Фраза длиннее {MAX_PHRASE_WORDS} слов.", "phrase")
    items = words.split(",") if isinstance(words, str) else list(words)
    cleaned = [" ".join(w.split()).lower() for w in items]
    cleaned = [w for w in dict.fromkeys(cleaned) if w]
    if not cleaned:
        raise RuleError("Нужно хотя бы одно слово, которое правило добавляет.", "words")
    if len(cleaned) > MAX_RULE_WORDS:
        raise RuleError(f"Не больше {MAX_RULE_WORDS} слов в одном правиле.", "words")
    if any(not phrase_key(w) for w in cleaned):
        raise RuleError(
            "Каждое добавляемое слово должно содержать буквы (не только предлоги).", "words"
        )
    if all(phrase_key(w) == key for w in cleaned):
        raise RuleError("Правило ничего не добавляет: слова совпадают с фразой.", "words")
    if source not in SOURCES:
        raise RuleError(f"Неизвестный источник правила: {source!r}.")
    return Rule(phrase, key, tuple(cleaned), source)


def read_rules_tsv(path: Path, source: str = "occasion") -> list[Rule]:
    """Rules from a TSV file: ``phrase<TAB>word, word, …``; ``#`` starts a comment.

    A bad line is an error naming its line number, so a broken file never ships.
    """
    rules = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            raise RuleError(f"{path.name}, строка {number}: нужно «фраза<TAB>слова через запятую»")
        try:
            rules.append(make_rule(parts[0], parts[1], source))
        except RuleError as exc:
            raise RuleError(f"{path.name}, строка {number}: {exc}") from None
    return rules


def read_thesaurus(path: Path) -> list[Rule]:
    """Rules from the artifact ``flask build-thesaurus`` writes (``{"entries": {…}}``)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return [
        Rule(phrase, tuple(phrase.split()), tuple(words), "thesaurus")
        for phrase, words in data["entries"].items()
    ]


class Concepts:
    """The merged rule table; :meth:`match` is a dictionary lookup per query n-gram."""

    def __init__(self, *sources: Iterable[Rule]) -> None:
        """Merge ``sources`` in order: a later rule for the same phrase replaces an earlier."""
        table: dict[tuple[str, ...], Rule] = {}
        for rules in sources:
            for rule in rules:
                table[rule.key] = rule
        self.rules: Mapping[tuple[str, ...], Rule] = table
        self._terms: dict[tuple[str, ...], tuple[str, ...]] = {}

    def __len__(self) -> int:
        """How many phrases have a rule."""
        return len(self.rules)

    def match(self, lemmas: Sequence[str]) -> tuple[Expansion, ...]:
        """Rules whose phrase occurs in ``lemmas`` (longest first, no overlaps)."""
        key = tuple(t for t in lemmas if t not in STOPWORDS and (len(t) > 1 or t.isdigit()))
        found, i = [], 0
        while i < len(key):
            for size in range(min(MAX_PHRASE_WORDS, len(key) - i), 0, -1):
                rule = self.rules.get(key[i : i + size])
                if rule is not None:
                    found.append(
                        Expansion(rule.phrase, self.terms(rule), rule.source, key[i : i + size])
                    )
                    i += size
                    break
            else:
                i += 1
        return tuple(found)

    def terms(self, rule: Rule) -> tuple[str, ...]:
        """The lemma terms of a rule's words (computed once per rule)."""
        if rule.key not in self._terms:
            words = [t for w in rule.words for t in phrase_key(w)]
            self._terms[rule.key] = tuple(t for t in dict.fromkeys(words) if t not in rule.key)
        return self._terms[rule.key]
