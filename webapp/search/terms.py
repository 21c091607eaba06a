"""The query's words against the catalogue's: which words count for each query term.

Per query term: itself when the catalogue uses it, else the base nouns of a diminutive
(``ёлочки`` → ``ёлка``), else the base word its dictionary definition names («тачка» →
автомобиль), else the closest spelling of a shopper's word (``бабчка`` → ``бабочка``;
never a respelling of a word a rule knows). Beside them, the catalogue words
concept rules add (the thesaurus, the occasions calendar, the shop's own rules). The
result, :class:`QueryTerms`, is what the word signals search, what the floor measures a
design's coverage by, and what a result's explanation names.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..catalog.colour_words import ColourTerm, query_colours
from ..catalog.definitions import Definitions
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
    #: query words the catalogue does not use, with the base words their definitions name
    #: («тачка», («автомобиль»,)): the groups of those terms
    decoded: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: (group index, colour word) for each term that names a colour
    colours: tuple[tuple[int, ColourTerm], ...] = ()

    @property
    def expanded(self) -> Groups:
        """Per query term, its own words and the words rules add for it."""
        if not self.meaning:
            return self.groups
        return tuple(g + m for g, m in zip(self.groups, self.meaning, strict=True))

    @property
    def phrase(self) -> Groups:
        """Per query term, what a design must cover for the query's whole phrase to
        explain it: its own words (a colour word: its picture too) and the words curated
        rules add. The general thesaurus's words do not make a phrase: built by machine,
        they mislead where they count most («киса» is also a purse; measured on the dev
        sets, docs/ranking.md)."""
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

    def __init__(
        self,
        lexical: LexicalIndex,
        *,
        thesaurus_known_words: bool,
        definitions: Definitions | None = None,
        genus: bool = False,
    ) -> None:
        """Work over ``lexical``; ``thesaurus_known_words`` off keeps the general thesaurus
        from expanding words the catalogue itself uses (``RankingSettings.words``); with
        ``definitions``, a word the catalogue lacks counts as the base word its definition
        names (with ``genus``, also as the genus heading it: ``RankingSettings.knowledge``)."""
        self.lexical = lexical
        self.thesaurus_known_words = thesaurus_known_words
        self.definitions = definitions
        self.genus = genus

    def read(self, parsed: ParsedQuery) -> QueryTerms:
        """The query's term groups and the words rules add to them."""
        decoded: dict[str, tuple[str, ...]] = {}
        groups = self.groups(parsed, decoded)
        curated = self.meaning(parsed, groups, sources=CURATED)
        terms = list(dict.fromkeys(parsed.terms))  # one per group, in order
        colours = tuple((i, found[0]) for i, t in enumerate(terms) if (found := query_colours([t])))
        return QueryTerms(
            groups, self.meaning(parsed, groups), curated, tuple(decoded.items()), colours
        )

    def groups(
        self, parsed: ParsedQuery, decoded: dict[str, tuple[str, ...]] | None = None
    ) -> Groups:
        """Per query term, the words that count as it (see the module's docstring); the
        words decoded by their definitions are noted in ``decoded``."""
        vocabulary = self.lexical.vocabulary
        expansions = parsed.expansions
        explained = {t for concept in parsed.concepts for t in concept.triggers}
        groups = []
        for term in dict.fromkeys(parsed.terms):
            bases = tuple(b for b in expansions.get(term, ()) if b in vocabulary)
            if term in vocabulary or bases:
                groups.append((term,) if term in vocabulary else bases)
                continue
            meant = self.decode(term) if term not in explained else ()
            if meant:
                groups.append(meant)
                if decoded is not None:
                    decoded[term] = meant
                continue
            # a word a concept rule knows is a real word: never respell it into another
            corrected = None if term in explained else self.lexical.correct(term)
            groups.append((corrected,) if corrected else (term,))
        return tuple(groups)

    def decode(self, term: str) -> tuple[str, ...]:
        """The catalogue words a word the catalogue lacks stands for, by its definition
        (() without definitions, or when it has none that leads to the catalogue)."""
        if self.definitions is None:
            return ()
        vocabulary = self.lexical.vocabulary
        meant = self.definitions.query_side(term, genus=self.genus)
        return tuple(w for w in meant if w in vocabulary)

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

    def coverage(
        self,
        rows: np.ndarray,
        groups: Sequence[tuple[str, ...]],
        also: Mapping[int, np.ndarray] | None = None,
    ) -> np.ndarray:
        """Per row, the share of ``groups`` whose words its text contains (0–1, float32);
        ``also[i]``: further rows that cover group ``i`` (a colour word, by their picture)."""
        if not groups:
            return np.zeros(len(rows), np.float32)
        count = np.zeros(len(rows), np.int64)
        for i, group in enumerate(groups):
            # each word's sorted postings searched for the rows: no union of whole postings
            covered = self.lexical.lexicon.contains(rows, group).any(axis=1)
            if also and i in also:
                covered |= np.isin(rows, also[i])
            count += covered
        return (count / len(groups)).astype(np.float32)

    def unexplained(self, terms: QueryTerms, share: float) -> bool:
        """Whether more than ``share`` of the query's Russian words are unknown to the
        catalogue and to every rule (the shop does not sell that)."""
        vocabulary = self.lexical.vocabulary
        russian = [g for g in terms.expanded if is_cyrillic(g[0])]
        unknown = sum(not any(w in vocabulary for w in g) for g in russian)
        return bool(russian) and unknown > share * len(russian)
