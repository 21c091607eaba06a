"""Build the definitions artifact, offline, from Russian Wiktionary's sense lines.

The ``synsets`` table of ``wiki-ru-wordnet`` 1.0.3 (MIT code, Russian Wiktionary data
CC BY-SA 3.0) holds one definition per sense, 115,435 of them. Two kinds of word are
kept, so the server reads a small JSON file and never the 154 MB database:

* **design words**: lemmas (and title or tag phrases) of the catalogue; their literal
  senses (no figurative, pejorative or obscene ones, at most :data:`MAX_SENSES`) with
  every content lemma, the documents of a reverse dictionary;
* **query words**: lemmas the catalogue does not use whose sense leads to it, through a
  base word («зайка» → «заяц», «мобила» → «мобильный телефон», one more hop for
  «пивасик» → «пивас» → «пиво») or through catalogue words in the definition. A sense
  that leads nowhere in the catalogue is dropped: the catalogue chooses the sense.

Lemmas come from :func:`webapp.language.text.analyse`, as both sides of search make
them, so the artifact's keys and terms are the catalogue's terms.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Callable, Container, Iterable, Sequence
from pathlib import Path

from ..files import write_atomic
from ..language.text import analyse, is_cyrillic
from .conceptnet import CREDIT as CONCEPTNET_CREDIT
from .conceptnet import conceptnet_words
from .definitions import FORMAT, VERSION
from .products import Product
from .wikitext import Cleaned, clean_definition, lead

Lemmas = Callable[[str], tuple[str, ...]]

CREDIT = "Russian Wiktionary via wiki-ru-wordnet 1.0.3 (data CC BY-SA 3.0, code MIT)"
LICENCE = "CC BY-SA 3.0 (Викисловарь, участники проекта)"
#: BY-SA 3.0 §4(b) lets an adaptation be shared under a later version with the same elements
LICENCE_WITH_CONCEPTNET = (
    "CC BY-SA 4.0 (Викисловарь, участники проекта, CC BY-SA 3.0; ConceptNet 5.7, CC BY-SA 4.0)"
)
#: senses kept per design word, in Wiktionary's order (the first is the main one)
MAX_SENSES = 4
#: catalogue words a query word's definition may add
MAX_QUERY_TERMS = 8
#: a catalogue word in more than this share of the designs says nothing about a motif
MAX_DOCUMENT_SHARE = 0.05
#: query phrases of up to this many words get an entry («день рождения», not sayings)
MAX_QUERY_PHRASE = 3
#: words of kind that head a definition before its real genus («вид кепки»)
GENERIC = frozenset(
    """вид разновидность род сорт тип семейство название часть форма группа место время число
    отношение отсутствие совокупность способ состояние свойство действие процесс результат
    единица""".split()
)
#: function words that pass the ending test for nouns
FUNCTION = frozenset("один два три себя очень много несколько весь сам мало также".split())
_NOT_NOUN = re.compile(r"(?:ый|ий|ой|ть|ти|чь|ться|тись)$")
#: a query word's sense text is kept to its leading segment, at most this long
MAX_TEXT = 100
#: marks of senses a picture never shows literally
FIGURATIVE = frozenset("перен. ирон. пренебр. презр. унич. бранн. груб. неодобр. эвф.".split())
#: marks of senses the shop never offers, on either side
OBSCENE = frozenset("мат обсц. вульг. бранн.".split())
_OLD_SPELLING = re.compile(r"[ѣіѳѵ]|ъ$")


def read_senses(database: Path) -> dict[str, list[str]]:
    """Database lemma → its senses' ``definition`` fields, in the article's order."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = connection.execute("SELECT lemma, definition FROM synsets ORDER BY rowid")
        senses: dict[str, list[str]] = defaultdict(list)
        for lemma, field in rows:
            senses[str(lemma)].append(str(field))
    finally:
        connection.close()
    return senses


def catalogue_words(
    products: Sequence[Product], lemmas: Lemmas
) -> tuple[Counter[str], set[str], set[str]]:
    """How many designs use each lemma, the lemmas of titles and tags (what shoppers call
    designs) and the phrase keys of titles and tags."""
    frequency: Counter[str] = Counter()
    shopper: set[str] = set()
    phrases: set[str] = set()
    for product in products:
        names = [lemmas(text) for text in (product.title, *product.tags)]
        rest = [lemmas(text) for text in (product.subcategory, product.description)]
        frequency.update({t for key in (*names, *rest) for t in key})
        shopper.update(t for key in names for t in key)
        phrases.update(" ".join(key) for key in names if len(key) > 1)
    return frequency, shopper, phrases


def build_definitions(
    products: Sequence[Product],
    database: Path,
    lemmas: Lemmas = analyse,
    links: Iterable[tuple[str, str, str]] = (),
) -> dict[str, object]:
    """The artifact: credit, licence, sizes, design words and query words; ``links``
    (ConceptNet's, :func:`.conceptnet.read_links`) decode query words Wiktionary does not."""
    frequency, shopper, phrases = catalogue_words(products, lemmas)
    limit = max(2, int(MAX_DOCUMENT_SHARE * len(products)))
    useful = {t for t in shopper if frequency[t] <= limit}
    designs: dict[str, list[list[str]]] = {}
    words: dict[str, list[list[str]]] = {}
    for lemma, fields in read_senses(database).items():
        key = " ".join(lemmas(lemma))
        if not key or _OLD_SPELLING.search(lemma) or lemma.startswith("-") or lemma.endswith("-"):
            continue
        senses = [s for s in map(clean_definition, fields) if s.text and not OBSCENE & set(s.marks)]
        if key in frequency or key in phrases:
            kept = [s for s in senses if not FIGURATIVE & set(s.marks)][:MAX_SENSES]
            designs.setdefault(key, []).extend(_design_sense(s, lemmas) for s in kept)
        elif not lemma[:1].isupper() and key.count(" ") < MAX_QUERY_PHRASE:
            words.setdefault(key, []).extend(
                _query_sense(s, lemmas, shopper, useful) for s in senses
            )
    decoded = _resolve(words, frequency)
    decoded.update(conceptnet_words(iter(links), lemmas, frequency, decoded))
    return {
        "format": FORMAT,
        "version": VERSION,
        "source": CREDIT if not links else f"{CREDIT}; {CONCEPTNET_CREDIT}",
        "licence": LICENCE if not links else LICENCE_WITH_CONCEPTNET,
        "products": len(products),
        "designs": _joined(designs),
        "words": _joined(decoded),
    }


def _joined(table: dict[str, list[list[str]]]) -> dict[str, list[str]]:
    """``table`` sorted by key, each row's fields joined by tabs (the stored form)."""
    return {key: ["\t".join(row) for row in rows] for key, rows in sorted(table.items())}


def _design_sense(sense: Cleaned, lemmas: Lemmas) -> list[str]:
    """One design word's sense as stored: text, marks, base key, content lemmas."""
    base = " ".join(lemmas(sense.base)) if sense.base else ""
    terms = " ".join(dict.fromkeys(t for t in lemmas(sense.text) if is_cyrillic(t)))
    return [sense.text, " ".join(sense.marks), base, terms]


def _query_sense(sense: Cleaned, lemmas: Lemmas, shopper: set[str], useful: set[str]) -> list[str]:
    """One query word's sense as stored: its leading text, marks, base key (any base, to
    be resolved) and its definition's genus when that is a catalogue word (else "")."""
    head = head_noun(lemmas(lead(sense.text)))
    base = " ".join(lemmas(sense.base)) if sense.base else ""
    near = head if head in useful else ""
    return [lead(sense.text)[:MAX_TEXT], " ".join(sense.marks), base, near]


def head_noun(terms: Sequence[str]) -> str:
    """The genus of a definition: its first noun lemma that is not a generic word of kind
    («вид кепки» → «кепка», «ласковое название кошки» → «кошка»), "" when there is none.
    Adjective and verb lemmas are told by their endings (-ый/-ий/-ой, -ть/-ти/-чь)."""
    for term in terms:
        if term in GENERIC or term in FUNCTION or _NOT_NOUN.search(term) or not is_cyrillic(term):
            continue
        return term
    return ""


def _resolve(
    words: dict[str, list[list[str]]], vocabulary: Container[str]
) -> dict[str, list[list[str]]]:
    """Keep the senses that lead to the catalogue: a base made of catalogue words, a base
    that is itself a query word with such a base (one hop: «пивасик» → «пивас» → «пиво»),
    or catalogue words heading the definition; an unresolved base is blanked."""

    def direct(base: str) -> str:
        """``base`` when every word of it is the catalogue's, else ""."""
        return base if base and all(t in vocabulary for t in base.split()) else ""

    hop = {
        key: next((direct(row[2]) for row in rows if direct(row[2])), "")
        for key, rows in words.items()
    }
    entries: dict[str, list[list[str]]] = {}
    for key, rows in words.items():
        kept = []
        for text, marks, base, near in rows:
            found = direct(base) or hop.get(base, "")
            if found or near:
                kept.append([text, marks, found, near])
        if kept:
            entries[key] = kept
    return dict(sorted(entries.items()))


def write_definitions(artifact: dict[str, object], target: Path) -> int:
    """Write ``artifact`` as compact JSON, one word per line (diffable); return its size."""
    head = {k: v for k, v in artifact.items() if k not in ("designs", "words")}
    lines = [json.dumps(head, ensure_ascii=False, sort_keys=True)[:-1] + ","]
    for table in ("designs", "words"):
        entries = artifact[table]
        assert isinstance(entries, dict)
        rows = [f"{json.dumps(k, ensure_ascii=False)}:{_compact(v)}" for k, v in entries.items()]
        closing = "," if table == "designs" else "}"
        lines.append(f'"{table}":{{\n' + ",\n".join(rows) + "\n}" + closing)
    data = ("\n".join(lines) + "\n").encode("utf-8")
    write_atomic(target, data)
    return len(data)


def _compact(value: object) -> str:
    """``value`` as JSON without spaces."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
