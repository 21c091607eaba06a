"""Build the general thesaurus artifact, offline, from Russian Wiktionary's word net.

PyPI ``wiki-ru-wordnet`` 1.0.3 (MIT code) installs a 154 MB SQLite database built
from Russian Wiktionary (data CC BY-SA 3.0). For every word it knows we collect,
per sense, its synonyms, its narrower words (hyponyms, two levels: «грызун» →
«мышь, хомяк») and, for words the catalogue does not use, its broader words
(hypernyms: «пломбир» → «мороженое»). A sense whose related words never occur in
the catalogue is dropped: the catalogue chooses the sense. Only words of the
catalogue's own vocabulary are kept, so the artifact is small and the server
reads a JSON dictionary, never the database.
"""

from __future__ import annotations

import importlib.util
import json
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

import click

from ..files import write_atomic
from .lemmas import design_lemmas
from .products import Product
from .rules import phrase_key

MAX_WORDS = 15
#: a word in more than this share of the designs says nothing about a motif
MAX_DOCUMENT_SHARE = 0.05
CREDIT = "Russian Wiktionary via wiki-ru-wordnet 1.0.3 (data CC BY-SA 3.0, code MIT)"


def wordnet_path() -> Path:
    """Where the installed ``wiki-ru-wordnet`` keeps its SQLite database."""
    spec = importlib.util.find_spec("wiki_ru_wordnet")
    if spec is None or not spec.submodule_search_locations:
        raise click.ClickException("pip install wiki-ru-wordnet==1.0.3 (needed only to build)")
    return Path(next(iter(spec.submodule_search_locations))) / "database" / "wikiwordnet.db"


def useful_vocabulary(products: Sequence[Product]) -> set[str]:
    """Catalogue terms specific enough to add to a query (frequent filler dropped)."""
    frequency: dict[str, int] = defaultdict(int)
    for product in products:
        lemmas = design_lemmas(product)
        for term in {*lemmas.title, *lemmas.tags, *lemmas.rest}:
            frequency[term] += 1
    limit = max(2, int(MAX_DOCUMENT_SHARE * len(products)))
    return {t for t, n in frequency.items() if n <= limit}


def load_wordnet(path: Path) -> tuple[dict[int, list[str]], list[tuple[int, int]]]:
    """Synset id → its words, and the (synset, hypernym synset) links."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        words: dict[int, list[str]] = defaultdict(list)
        for sid, lemma in connection.execute("SELECT DISTINCT synset_id, lemma FROM synsets"):
            words[int(sid)].append(str(lemma).lower().replace("ё", "е"))
        links = [
            (int(a), int(b)) for a, b in connection.execute("SELECT sid, hypersid FROM hypernyms")
        ]
    finally:
        connection.close()
    return words, links


def build_entries(
    words: dict[int, list[str]], links: Iterable[tuple[int, int]], vocabulary: set[str]
) -> dict[str, list[str]]:
    """Phrase (lemma key, space-joined) → related catalogue words; the catalogue picks senses."""
    up: dict[int, set[int]] = defaultdict(set)
    down: dict[int, set[int]] = defaultdict(set)
    for sid, hyper in links:
        up[sid].add(hyper)
        down[hyper].add(sid)
    keys: dict[str, tuple[str, ...]] = {}

    def known(word: str) -> str | None:
        key = keys.setdefault(word, phrase_key(word))
        return " ".join(key) if key and all(t in vocabulary for t in key) else None

    senses: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for sid, lemmas in words.items():
        for lemma in lemmas:
            key = keys.setdefault(lemma, phrase_key(lemma))
            if key:
                senses[key].append(sid)
    entries: dict[str, list[str]] = {}
    for key, sids in senses.items():
        in_catalogue = all(t in vocabulary for t in key)
        related: list[str] = []
        for sid in sids:
            narrower = down[sid] | {n for d in down[sid] for n in down[d]}
            broader = set() if in_catalogue else up[sid]
            candidates = [*words[sid], *(w for s in sorted(narrower) for w in words[s])]
            # a compound's head is no class of it: «видеокарта» is not a «карта» of the shop
            candidates += [w for s in sorted(broader) for w in words[s] if w not in key[-1]]
            related += [k for k in map(known, candidates) if k and k != " ".join(key)]
        kept = list(dict.fromkeys(related))[:MAX_WORDS]
        if kept:
            entries[" ".join(key)] = kept
    return dict(sorted(entries.items()))


def build_thesaurus(products: Sequence[Product], database: Path) -> dict[str, object]:
    """The artifact: credit, sizes and the entries."""
    words, links = load_wordnet(database)
    entries = build_entries(words, links, useful_vocabulary(products))
    return {"source": CREDIT, "products": len(products), "entries": entries}


def write_thesaurus(artifact: dict[str, object], target: Path) -> None:
    """Write ``artifact`` atomically as sorted JSON, one entry per line (diffable)."""
    text = json.dumps(artifact, ensure_ascii=False, indent=0, sort_keys=True)
    write_atomic(target, (text + "\n").encode("utf-8"))
