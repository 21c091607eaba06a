"""Why a design was chosen: one typed :class:`Explanation` for every kind of result.

A ranked list keeps every signal's evidence as arrays (``search/fusion.py``); an
explanation is built only for the designs a page shows: which signals found the design
and how strongly, which of the query's words its text contains, which words a concept
rule added (and which rule), what a photo seems to show, and for recommendations where
the suggestion came from. The shopper's page renders it in plain Russian (one template
macro); the API and staff pages get :meth:`Explanation.to_json`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..catalog.definitions import ReverseDictionary
from ..catalog.rules import Expansion
from .fusion import Fused
from .lexical import LexicalIndex
from .signals import SignalKind
from .signals.knowledge import Palette
from .terms import QueryTerms


@dataclass(frozen=True)
class SignalEvidence:
    """One signal's support for a design."""

    kind: SignalKind
    name: str
    raw: float
    calibrated: float
    rank: int  # 1-based, in that signal's own list


@dataclass(frozen=True)
class RuleUse:
    """A concept rule whose added words a design's text contains."""

    phrase: str  # what the shopper typed that the rule knows («23 февраля»)
    source: str  # thesaurus | occasion | staff
    words: tuple[str, ...]  # the added words this design contains


@dataclass(frozen=True)
class Explanation:
    """Why one design is in a result."""

    evidence: tuple[SignalEvidence, ...] = ()
    #: the query's own words (in any accepted form) the design's text contains
    words: tuple[str, ...] = ()
    #: words concept rules added that the design's text contains
    meaning: tuple[str, ...] = ()
    rules: tuple[RuleUse, ...] = ()
    #: query words the catalogue does not use, decoded by their definitions, whose base
    #: words the design contains: («тачка», «автомобиль»)
    decoded: tuple[tuple[str, str], ...] = ()
    #: the design's word and the dictionary sense the query's words matched
    definition: tuple[str, str] | None = None
    #: the query's colour words the design's picture shows
    colours: tuple[str, ...] = ()
    #: what the shopper's photo seems to show (classifier class names), best first
    labels: tuple[str, ...] = ()
    #: for recommendations: ``rec`` (near the taste), ``explore`` or ``also`` (co-visited)
    source: str = ""
    #: (id, title) of the design this one resembles (an opened one, for recommendations)
    like: tuple[str, str] | None = None

    def has(self, kind: SignalKind) -> bool:
        """Whether a signal of ``kind`` found this design."""
        return any(e.kind is kind for e in self.evidence)

    def of(self, kind: SignalKind) -> SignalEvidence | None:
        """The strongest evidence of ``kind``, if any."""
        found = [e for e in self.evidence if e.kind is kind]
        return max(found, key=lambda e: e.calibrated) if found else None

    def to_json(self) -> dict[str, Any]:
        """The structured form the API returns as ``why``."""
        why: dict[str, Any] = {
            "signals": {
                e.name: {
                    "score": round(e.raw, 4),
                    "calibrated": round(e.calibrated, 3),
                    "rank": e.rank,
                }
                for e in sorted(self.evidence, key=lambda e: e.name)
            },
            "terms": list(self.words),
        }
        if self.meaning:
            why["meaning"] = list(self.meaning)
        if self.rules:
            why["rules"] = [
                {"phrase": r.phrase, "source": r.source, "words": list(r.words)} for r in self.rules
            ]
        if self.decoded:
            why["decoded"] = {word: base for word, base in self.decoded}
        if self.definition:
            why["definition"] = {"word": self.definition[0], "text": self.definition[1]}
        if self.colours:
            why["colours"] = list(self.colours)
        if self.labels:
            why["labels"] = list(self.labels)
        if self.source:
            why["source"] = self.source
        if self.like:
            why["like"] = {"id": self.like[0], "title": self.like[1]}
        return why


@dataclass(frozen=True)
class WordContext:
    """What explaining a word query's results needs: its terms, rules, the index, and the
    reverse dictionary and palette its knowledge signals read."""

    lexical: LexicalIndex
    terms: QueryTerms
    concepts: tuple[Expansion, ...] = ()
    reverse: ReverseDictionary | None = None
    palette: Palette | None = None
    #: the palette share at which a design shows a colour word (``KnowledgeSettings``)
    colour_match: float = 1.0


@dataclass(frozen=True)
class Ranking:
    """A ranked answer: the kept candidates (best first) and how to explain each."""

    fused: Fused
    words: WordContext | None = None
    labels: tuple[str, ...] = ()
    #: per position, extra facts (source, like) recommendations attach
    extra: tuple[Explanation, ...] = field(default=())
    #: how many of the first designs are confident results (None: all of them); the rest
    #: are shown apart, under «Может подойти»
    sure: int | None = None
    #: explanations built so far, by position (a ranked answer is kept in the ranker's
    #: cache, so a page asked for again is not explained again)
    _explained: dict[int, Explanation] = field(default_factory=dict, compare=False, repr=False)

    def __len__(self) -> int:
        """How many designs the answer has, confident or not."""
        return len(self.fused)

    @property
    def confident(self) -> int:
        """How many of the first designs are confident results."""
        return len(self.fused) if self.sure is None else self.sure

    @property
    def rows(self) -> Any:
        """The answer's catalogue rows, best first."""
        return self.fused.rows

    def explain(self, i: int) -> Explanation:
        """Why the design at position ``i`` is in the answer (built once per position)."""
        found = self._explained.get(i)
        if found is None:
            found = self._explained[i] = self._explain(i)
        return found

    def _explain(self, i: int) -> Explanation:
        """Why the design at position ``i`` is in the answer, from the evidence."""
        fused = self.fused
        evidence = tuple(
            SignalEvidence(
                kind,
                name,
                float(fused.raw[i, j]),
                float(fused.calibrated[i, j]),
                int(fused.ranks[i, j]),
            )
            for j, (kind, name) in enumerate(fused.columns)
            if fused.ranks[i, j] > 0
        )
        explanation = Explanation(evidence, labels=self.labels)
        if self.words is not None:
            explanation = _with_words(explanation, self.words, int(fused.rows[i]))
        if self.extra:
            extra = self.extra[i]
            explanation = replace(explanation, source=extra.source, like=extra.like)
        return explanation


def _with_words(explanation: Explanation, context: WordContext, row: int) -> Explanation:
    """``explanation`` with the query words and rule words the design at ``row`` contains."""
    added = set(context.terms.added_words)
    own = [t for g in context.terms.expanded for t in g if t not in added]
    extra = sorted(added)
    words = meaning = ()
    if explanation.has(SignalKind.LEXICAL):
        words = tuple(context.lexical.matched(row, own))
    if explanation.has(SignalKind.MEANING):
        meaning = tuple(context.lexical.matched(row, extra))
    decoded = tuple(
        (word, base) for word, bases in context.terms.decoded for base in bases[:1] if base in words
    )
    definition = None
    if explanation.has(SignalKind.DEFINITION) and context.reverse is not None:
        found = context.reverse.explain(row, context.terms.own_words)
        definition = (found.word, found.text) if found else None
    colours: tuple[str, ...] = ()
    if context.palette is not None and context.terms.colours:
        colours = tuple(
            term.word
            for _, term in context.terms.colours
            if context.palette.match_row(row, term) >= context.colour_match
        )
    return replace(
        explanation,
        words=words,
        meaning=meaning,
        rules=_rules(context, meaning),
        decoded=decoded,
        definition=definition,
        colours=colours,
    )


def _rules(context: WordContext, meaning: Sequence[str]) -> tuple[RuleUse, ...]:
    """The rules whose added words include some of ``meaning``."""
    found = set(meaning)
    uses = []
    for expansion in context.concepts:
        words = tuple(w for w in expansion.words if w in found)
        if words:
            uses.append(RuleUse(expansion.phrase, expansion.source, words))
    return tuple(uses)
