"""Wiktionary's definitions, as the search reads them: a decoder of words the catalogue
does not use, and a reverse dictionary over the catalogue's own words.

The artifact (``data/rules/definitions.json``, written by ``flask build-definitions``)
holds two tables keyed by lemma (ё folded to е, like every search term):

* ``designs``: each catalogue word's literal senses as ``text⇥marks⇥base⇥terms``;
  a design's document is the terms of its title and tag words' senses, so «животное с
  ветвистыми рогами» finds the deer through «олень — парнокопытное … с ветвистыми рогами»;
* ``words``: each query word the catalogue lacks, with its senses that lead to the
  catalogue as ``text⇥marks⇥base⇥catalogue terms`` («зайка» → «заяц»).

Nothing here imports the search or Flask: the search imports this module.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .columns import StringColumn
from .lexicon import TermIndex

FORMAT = "stezhok/definitions"
VERSION = 1
BUILD_HINT = "flask --app webapp build-definitions"
#: one sense as stored: its four fields joined by tabs (one string: a small, fast load)
Row = str | Sequence[str]
#: joins a design's defined word keys in the mapped column (keys are lemmas and spaces)
WORD_SEPARATOR = "\t"


class DefinitionsError(RuntimeError):
    """The artifact is missing, foreign or from another version; the message says what to run."""


@dataclass(frozen=True)
class Sense:
    """One sense of a word: its cleaned text, register marks, base key and terms."""

    word: str
    text: str
    marks: tuple[str, ...]
    base: tuple[str, ...]
    terms: tuple[str, ...]


class Definitions:
    """The artifact in memory: senses by lemma key, for design words and query words."""

    def __init__(
        self,
        designs: dict[str, list[Row]],
        words: dict[str, list[Row]],
        path: Path | None = None,
    ):
        """Wrap the two tables of the artifact (see the module docstring), read from
        ``path`` (None: made in memory)."""
        self.designs = designs
        self.words = words
        #: the file it was read from (the catalogue's artifacts record its identity)
        self.path = path

    @classmethod
    def read(cls, path: Path) -> Definitions:
        """Load and check the artifact at ``path``."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DefinitionsError(f"{path}: cannot read ({exc}); run `{BUILD_HINT}`") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise DefinitionsError(f"{path}: not a definitions artifact; run `{BUILD_HINT}`")
        if data.get("version") != VERSION:
            raise DefinitionsError(f"{path}: version {data.get('version')!r}; run `{BUILD_HINT}`")
        return cls(data["designs"], data["words"], path)

    def senses(self, key: str) -> list[Sense]:
        """Senses of a design word (first) or a query word, ``[]`` when it has none."""
        rows = self.designs.get(key) or self.words.get(key) or []
        return [_sense(key, row) for row in rows]

    def query_side(self, word: str, *, genus: bool = True) -> tuple[str, ...]:
        """Catalogue lemmas that stand for ``word``, a query lemma the catalogue does not use.

        Base words come first («тачка» → «автомобиль», «зайка» → «заяц»), in the order of
        the senses, then (with ``genus``) the genus that heads a definition («барбос» —
        «дворовая собака» → «собака»); ``()`` for a catalogue word or a word without an
        entry. Base words alone are the safer half: on the evaluation sets they decode
        fewer colloquial words but almost no off-topic ones (docs/knowledge.md).
        """
        senses = [_sense(word, row) for row in self.words.get(word, ())]
        direct = [t for s in senses for t in s.base]
        described = [t for s in senses if genus and not s.base for t in s.terms]
        return tuple(dict.fromkeys([*direct, *described]))


def _sense(word: str, row: Row) -> Sense:
    """A stored ``text⇥marks⇥base⇥terms`` row (or its four fields) as a :class:`Sense`."""
    text, marks, base, terms = row.split("\t") if isinstance(row, str) else row
    return Sense(word, text, tuple(marks.split()), tuple(base.split()), tuple(terms.split()))


@dataclass(frozen=True)
class DefinitionMatch:
    """Why a design matched: the word of the design and the sense whose terms matched."""

    word: str
    text: str
    matched: tuple[str, ...]


class ReverseDictionary:
    """BM25 over each design's definitions: descriptive queries meet the senses of the
    words in a design's title and tags.

    Built by ``flask --app webapp index`` beside the lexicon (its postings in the same
    form, :class:`~.lexicon.TermIndex`) and mapped by every worker; a small catalogue
    builds it in memory at start."""

    def __init__(
        self,
        definitions: Definitions,
        design_words: Sequence[Sequence[tuple[str, int]]],
        *,
        k1: float,
        b: float,
    ) -> None:
        """``design_words[row]``: row's word keys with their weights (:func:`design_words`);
        ``k1`` and ``b`` are BM25's (``RankingSettings.knowledge``)."""
        senses: dict[str, list[tuple[str, ...]]] = {}  # a key's senses' terms, parsed once

        def documents() -> Iterator[list[str]]:
            """Each row's document: its words' senses' terms, each repeated by weight."""
            for keys in design_words:
                document: list[str] = []
                for key, weight in keys:
                    found = senses.get(key)
                    if found is None:
                        found = senses[key] = [s.terms for s in _design_senses(definitions, key)]
                    for terms in found:
                        document += terms * weight
                yield document

        words = StringColumn.of(
            WORD_SEPARATOR.join(k for k, _ in keys if k in definitions.designs)
            for keys in design_words
        )
        self._assemble(definitions, words, TermIndex.build(documents(), k1=k1, b=b))

    def _assemble(self, definitions: Definitions, words: StringColumn, index: TermIndex) -> None:
        """Serve ``index`` (BM25 over the rows' senses), explaining by ``definitions`` and
        ``words`` (per row, its defined word keys joined by :data:`WORD_SEPARATOR`)."""
        self.definitions = definitions
        self.index = index
        self.size = index.size
        self._words = words

    def words(self, row: int) -> tuple[str, ...]:
        """Row ``row``'s defined words (their senses are looked up again only to explain)."""
        joined = self._words[int(row)]
        return tuple(joined.split(WORD_SEPARATOR)) if joined else ()

    def save(self, folder: Path) -> list[Path]:
        """Write the index and each row's words into ``folder``; return the files written."""
        return self.index.save_arrays(folder, "reverse") + self._words.save(folder, "reverse.words")

    @classmethod
    def load(cls, folder: Path, definitions: Definitions, size: int) -> ReverseDictionary:
        """The reverse dictionary saved in ``folder`` over ``size`` rows, mapped, explaining
        by ``definitions`` (the artifact it was built from)."""
        found = cls.__new__(cls)
        index = TermIndex(size, *TermIndex.load_arrays(folder, "reverse"))
        found._assemble(definitions, StringColumn.load(folder, "reverse.words"), index)
        return found

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        """BM25 score of each row's definitions for the query ``terms``."""
        return self.index.scores(terms)

    def explain(self, row: int, terms: Sequence[str]) -> DefinitionMatch | None:
        """The sense of row ``row`` that shares the most query terms with ``terms``."""
        best: DefinitionMatch | None = None
        for sense in (s for k in self.words(row) for s in _design_senses(self.definitions, k)):
            matched = tuple(t for t in dict.fromkeys(terms) if t in sense.terms)
            if matched and (best is None or len(matched) > len(best.matched)):
                best = DefinitionMatch(sense.word, sense.text, matched)
        return best


def _design_senses(definitions: Definitions, key: str) -> list[Sense]:
    """The senses of a catalogue word that have terms (none for a query word)."""
    senses = (_sense(key, row) for row in definitions.designs.get(key, ()))
    return [s for s in senses if s.terms]


def design_words(
    title: Sequence[str], tags: Sequence[Sequence[str]], title_weight: int
) -> list[tuple[str, int]]:
    """A design's word keys with their weights, from its title's and tags' lemmas: the
    title (as a phrase and word by word) counts ``title_weight`` times, each tag once;
    a key is listed once, at its highest weight."""
    keys = [(" ".join(title), title_weight), *((t, title_weight) for t in title)]
    keys += [(" ".join(tag), 1) for tag in tags] + [(t, 1) for tag in tags for t in tag]
    found: dict[str, int] = {}
    for key, weight in keys:
        if key and key not in found:
            found[key] = weight
    return list(found.items())
