"""The word signals: the query's words against the catalogue's, through BM25.

Which words count for each query term (itself, a diminutive's base, a close
spelling, never a respelling of a word a rule knows), which words concept rules add
(the thesaurus, the occasions calendar, the shop's own rules), one calibrated BM25
signal for each (the added words weigh less, by their fusion weight), and which
matched words each hit shows in its «почему».
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .fusion import Fused, Signal
from .lexical import LexicalIndex
from .query import ParsedQuery

Groups = Sequence[tuple[str, ...]]


class WordSignals:
    """BM25 signals over one catalogue's lexical index."""

    def __init__(self, lexical: LexicalIndex) -> None:
        """Work over ``lexical`` (the catalogue's BM25 index and vocabulary)."""
        self.lexical = lexical

    def term_groups(self, parsed: ParsedQuery) -> list[tuple[str, ...]]:
        """Per query term, the words that count as it: itself when the catalogue uses it,
        else the base nouns of a diminutive (``ёлочки`` → ``ёлка``), else the closest
        spelling (``бабчка`` → ``бабочка``)."""
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
        return groups

    def meaning_groups(
        self, parsed: ParsedQuery, groups: Groups, *, thesaurus_known_words: bool
    ) -> list[tuple[str, ...]]:
        """Per query term, the catalogue words concept rules add for it (empty: no rule).

        With ``thesaurus_known_words`` off, the general thesaurus only speaks for terms
        the catalogue does not use itself.
        """
        if not parsed.concepts:
            return []
        vocabulary = self.lexical.vocabulary
        terms = list(dict.fromkeys(parsed.terms))
        added: list[list[str]] = [[] for _ in terms]
        for expansion in parsed.concepts:
            if expansion.source == "thesaurus" and not thesaurus_known_words:
                if all(t in vocabulary for t in expansion.triggers):
                    continue
            words = [w for w in expansion.words if w in vocabulary]
            for i, term in enumerate(terms):
                if term in expansion.triggers:
                    added[i] += [w for w in words if w not in groups[i]]
        result = [tuple(dict.fromkeys(a)) for a in added]
        return result if any(result) else []

    def bm25(
        self,
        name: str,
        words: Sequence[str],
        groups: Groups,
        k: int,
        mask: np.ndarray | None = None,
    ) -> list[Signal]:
        """BM25 candidates for ``words`` (at most ``k``, among the rows ``mask`` keeps),
        calibrated as coverage of the query's term ``groups`` × share of the best score
        in the whole catalogue; empty when nothing matches."""
        if not words:
            return []
        scores = self.lexical.scores(words)
        top = float(scores.max()) if len(scores) else 0.0
        if top <= 0:
            return []
        kept = scores if mask is None else np.where(mask, scores, 0.0)
        matching = np.flatnonzero(kept > 0)  # BM25 is sparse: rank only the rows that match
        rows = matching[top_rows(kept[matching], k)]
        coverage = np.array([self.coverage(r, groups) for r in rows.tolist()], np.float32)
        return [Signal(name, rows, scores[rows], coverage * scores[rows] / top)]

    def coverage(self, row: int, groups: Groups) -> float:
        """Share of query terms that row ``row`` contains (in any accepted form)."""
        if not groups:
            return 0.0
        document = self.lexical.doc_terms[row]
        return sum(not document.isdisjoint(g) for g in groups) / len(groups)

    def attach_terms(
        self,
        fused: list[Fused],
        groups: Groups,
        meaning: Groups = (),
    ) -> list[Fused]:
        """Record on each lexical candidate the query words (in any accepted form) it contains,
        and on each «meaning» candidate the added words it contains."""
        added = {t for group in meaning for t in group}
        words = [t for group in groups for t in group if t not in added]
        extra = sorted(added)
        matched = self.lexical.matched
        return [
            Fused(
                f.row,
                f.score,
                f.evidence,
                terms=tuple(matched(f.row, words)) if "lexical" in f.evidence else (),
                meaning=tuple(matched(f.row, extra)) if "meaning" in f.evidence else (),
            )
            if "lexical" in f.evidence or "meaning" in f.evidence
            else f
            for f in fused
        ]


def top_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """Rows of the ``k`` highest ``scores``, best first, ties in row order: what a stable
    descending sort gives, in time linear in the catalogue (a partition, then a sort of k)."""
    n = len(scores)
    if k >= n:
        return np.argsort(-scores, kind="stable")
    threshold = np.partition(scores, n - k)[n - k]
    above = np.flatnonzero(scores > threshold)
    ties = np.flatnonzero(scores == threshold)[: k - len(above)]
    rows = np.concatenate([above, ties])
    return rows[np.argsort(-scores[rows], kind="stable")]
