"""The query's words against the catalogue's: which words count for each query term.

Per query term: itself when the catalogue uses it, else the base nouns of a diminutive
(``ёлочки`` → ``ёлка``), else the closest spelling of a shopper's word (``бабчка`` →
``бабочка``; never a respelling of a word a rule knows). Beside them, the catalogue words
concept rules add (the thesaurus, the occasions calendar, the shop's own rules). The
result, :class:`QueryTerms`, is what the word signals search, what the floor measures a
design's coverage by, and what a result's explanation names.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from ..language.text import is_cyrillic
from .lexical import LexicalIndex
from .query import ParsedQuery

Groups = tuple[tuple[str, ...], ...]
#: rule sources the shop curates (the general thesaurus is built by machine, and noisier)
CURATED = frozenset({"occasion", "staff"})


@dataclass(frozen=True)
class QueryTerms:
    """A query's words as the catalogue knows them."""

    #: per query term, the catalogue words that count as it
    groups: Groups
    #: per query term, the words concept rules add for it (empty: no rule added any)
    meaning: Groups = ()
    #: …the words the shop's own curated rules (the occasions calendar, staff rules) add
    curated: Groups = ()

    @property
    def expanded(self) -> Groups:
        """Per query term, its own words and the words rules add for it."""
        if not self.meaning:
            return self.groups
        return tuple(g + m for g, m in zip(self.groups, self.meaning, strict=True))

    @property
    def phrase(self) -> Groups:
        """Per query term, its own words and the words curated rules add: what a design
        must cover for the query's whole phrase to explain it."""
        if not self.curated:
            return self.groups
        return tuple(g + c for g, c in zip(self.groups, self.curated, strict=True))

    @property
    def own_words(self) -> list[str]:
        """Every word that counts as one of the query's own terms."""
        return [t for g in self.groups for t in g]

    @property
    def added_words(self) -> list[str]:
        """Every word a rule added, once, in order."""
        return list(dict.fromkeys(t for g in self.meaning for t in g))


class TermReader:
    """Reads a parsed query's terms against one catalogue's lexical index."""

    def __init__(self, lexical: LexicalIndex, *, thesaurus_known_words: bool) -> None:
        """Work over ``lexical``; ``thesaurus_known_words`` off keeps the general thesaurus
        from expanding words the catalogue itself uses (``RankingSettings.words``)."""
        self.lexical = lexical
        self.thesaurus_known_words = thesaurus_known_words

    def read(self, parsed: ParsedQuery) -> QueryTerms:
        """The query's term groups and the words rules add to them."""
        groups = self.groups(parsed)
        curated = self.meaning(parsed, groups, sources=CURATED)
        return QueryTerms(groups, self.meaning(parsed, groups), curated)

    def groups(self, parsed: ParsedQuery) -> Groups:
        """Per query term, the words that count as it (see the module's docstring)."""
        vocabulary = self.lexical.vocabulary
        expansions = parsed.expansions
        explained = {t for concept in parsed.concepts for t in concept.triggers}
        groups = []
        for term in dict.fromkeys(parsed.terms):
            bases = tuple(b for b in expansions.get(term, ()) if b in vocabulary)
            if term in vocabulary or bases:
                groups.append((term,) if term in vocabulary else bases)
                continue
            # a word a concept rule knows is a real word: never respell it into another
            corrected = None if term in explained else self.lexical.correct(term)
            groups.append((corrected,) if corrected else (term,))
        return tuple(groups)

    def meaning(
        self, parsed: ParsedQuery, groups: Groups, sources: Collection[str] | None = None
    ) -> Groups:
        """Per query term, the catalogue words concept rules (of ``sources``; all by
        default) add for it (() when none)."""
        concepts = [c for c in parsed.concepts if sources is None or c.source in sources]
        if not concepts:
            return ()
        vocabulary = self.lexical.vocabulary
        terms = list(dict.fromkeys(parsed.terms))
        added: list[list[str]] = [[] for _ in terms]
        for expansion in concepts:
            if expansion.source == "thesaurus" and not self.thesaurus_known_words:
                if all(t in vocabulary for t in expansion.triggers):
                    continue
            words = [w for w in expansion.words if w in vocabulary]
            for i, term in enumerate(terms):
                if term in expansion.triggers:
                    added[i] += [w for w in words if w not in groups[i]]
        result = tuple(tuple(dict.fromkeys(a)) for a in added)
        return result if any(result) else ()

    def coverage(self, rows: np.ndarray, groups: Sequence[tuple[str, ...]]) -> np.ndarray:
        """Per row, the share of ``groups`` whose words its text contains (0–1, float32)."""
        if not groups:
            return np.zeros(len(rows), np.float32)
        count = np.zeros(len(rows), np.int64)
        for group in groups:
            count += np.isin(rows, self.lexical.rows_with(group))
        return (count / len(groups)).astype(np.float32)

    def unexplained(self, terms: QueryTerms, share: float) -> bool:
        """Whether more than ``share`` of the query's Russian words are unknown to the
        catalogue and to every rule (the shop does not sell that)."""
        vocabulary = self.lexical.vocabulary
        russian = [g for g in terms.expanded if is_cyrillic(g[0])]
        unknown = sum(not any(w in vocabulary for w in g) for g in russian)
        return bool(russian) and unknown > share * len(russian)
