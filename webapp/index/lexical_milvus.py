"""The Milvus lexical back-end: BM25 full-text search inside Milvus (2.5 and later).

One collection holds a row per design: its catalogue ``row`` (primary key), the
``category`` and ``price`` the shopper filters on, and ``terms``, its lemma document
(the same weighted terms the local lexicon indexes, joined by spaces), from which a
BM25 function makes the sparse vector Milvus searches. The lemmas are made by the
search core's own analysis before they reach Milvus, so Russian morphology is ours,
not the analyzer's. Milvus Lite offers only the ``standard`` and ``jieba`` tokenizers
(no ``whitespace``); ``standard`` splits at hyphens but keeps ``_`` inside a word and
only lower-cases, so each term's hyphens are written as ``_`` (no lemma holds one) and
an empty document as ``_``: every term stays one token.

Milvus's BM25 scores differ slightly from bm25s's (its own length statistics); only
their ratio to the best score is used (docs/scaling.md «Text on Milvus»).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from pymilvus import DataType, Function, FunctionType, MilvusClient, MilvusException

from ..catalog.lexicon import BM25_B, BM25_K1
from ..catalog.table import ProductTable
from .base import IndexUnavailable, Where
from .lexical_base import LexicalHits
from .milvus_index import INDEX_HINT, filter_terms, public_uri, unavailable_on_error
from .milvus_sync import CATEGORY_LENGTH, SyncReport

COLLECTION = "catalog_lexicon"
#: the collection property naming the catalogue and lexicon it holds
PROPERTY = "stezhok.lexicon"
#: Milvus's longest VARCHAR, in bytes; a longer document keeps its first terms
MAX_DOCUMENT = 65_535
BATCH = 2_000
#: searches read what `index` wrote (flushed and loaded) without waiting for Milvus's
#: time tick: on a Milvus 2.3.5 server a Strong search waited ≈ 200 ms for it, a
#: Bounded one took 5 ms (docs/scaling.md «Text on Milvus»)
CONSISTENCY = "Bounded"
EMPTY = "_"


def encode(term: str) -> str:
    """``term`` as one token of Milvus's standard tokenizer."""
    return term.replace("-", "_")


def document(terms: Sequence[str]) -> str:
    """A lemma document as Milvus's ``terms`` text (cut at a term if too long)."""
    text = " ".join(encode(t) for t in terms) or EMPTY
    if len(text.encode()) > MAX_DOCUMENT:
        text = text.encode()[:MAX_DOCUMENT].decode(errors="ignore").rsplit(" ", 1)[0]
    return text


class MilvusLexical:
    """:class:`~.lexical_base.LexicalBackend` over a Milvus collection."""

    def __init__(
        self, client: MilvusClient, table: ProductTable, identity: str, *, uri: str = "",
        timeout: float | None = None,
    ) -> None:  # fmt: skip
        """Search the documents of ``table``'s rows in ``client``'s collection, which
        must hold the lexicon ``identity`` names (catalogue digest and build)."""
        self.client, self.table, self.identity = client, table, identity
        self.uri, self.timeout = uri, timeout
        self.last_sync: SyncReport | None = None

    def __len__(self) -> int:
        """Number of documents (catalogue rows)."""
        return len(self.table)

    def describe(self) -> dict[str, Any]:
        """Back-end, where it lives (no credentials), collection and size."""
        uri = public_uri(self.uri)
        return {"lexical": "milvus", "uri": uri, "collection": COLLECTION, "documents": len(self)}

    # -- building and readiness -------------------------------------------------------------
    def sync(self, documents: Sequence[Sequence[str]]) -> SyncReport:
        """Rewrite the collection from ``documents`` (row order) unless it already holds
        this lexicon; flush and load. Rows shift when designs come and go, so a changed
        catalogue is rewritten whole (≈ 40 s per 100,000 designs on Milvus Lite)."""
        report = SyncReport(COLLECTION)
        started = time.perf_counter()
        with unavailable_on_error(self.uri):
            if self._current():
                report.unchanged = len(self)
            else:
                report.recreated = True
                self._create()
                for start in range(0, len(self), BATCH):
                    stop = min(start + BATCH, len(self))
                    self.client.insert(COLLECTION, self._entities(range(start, stop), documents))
                self.client.flush(COLLECTION)
                report.upserted = len(self)
            self.client.load_collection(COLLECTION)
        report.seconds["sync"] = round(time.perf_counter() - started, 3)
        self.last_sync = report
        return report

    def _current(self) -> bool:
        """Whether the collection holds this lexicon, every row of it."""
        if not self.client.has_collection(COLLECTION):
            return False
        properties = self.client.describe_collection(COLLECTION).get("properties") or {}
        stats = self.client.get_collection_stats(COLLECTION)
        return properties.get(PROPERTY) == self._property() and int(
            stats.get("row_count", -1)
        ) == len(self)

    def _property(self) -> str:
        """The collection property recording which lexicon it holds."""
        return json.dumps({"lexicon": self.identity, "k1": BM25_K1, "b": BM25_B})

    def _create(self) -> None:
        """(Re)create the collection: fields, the BM25 function and its sparse index."""
        if self.client.has_collection(COLLECTION):
            self.client.drop_collection(COLLECTION)
        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("row", DataType.INT64, is_primary=True)
        schema.add_field("category", DataType.VARCHAR, max_length=CATEGORY_LENGTH)
        schema.add_field("price", DataType.INT64)
        analyzer = {"tokenizer": "standard"}
        schema.add_field(
            "terms", DataType.VARCHAR, max_length=MAX_DOCUMENT, enable_analyzer=True,
            analyzer_params=analyzer,
        )  # fmt: skip
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        bm25 = Function(
            name="bm25", function_type=FunctionType.BM25, input_field_names=["terms"],
            output_field_names=["sparse"],
        )  # fmt: skip
        schema.add_function(bm25)
        index = self.client.prepare_index_params()
        params = {"bm25_k1": BM25_K1, "bm25_b": BM25_B}
        index.add_index(
            "sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params=params
        )
        try:
            self.client.create_collection(
                COLLECTION, schema=schema, index_params=index, consistency_level="Strong",
                properties={PROPERTY: self._property()},
            )  # fmt: skip
        except MilvusException as exc:  # an older Milvus: say what it lacks, leave nothing
            if self.client.has_collection(COLLECTION):
                self.client.drop_collection(COLLECTION)
            raise IndexUnavailable(
                f"Milvus at {public_uri(self.uri)} ({self.client.get_server_version()}) cannot "
                f"hold the lexicon: full-text BM25 needs Milvus 2.5 or later (sparse vectors "
                f"came in 2.4, BM25 functions in 2.5); it said: {getattr(exc, 'message', exc)}"
            ) from None

    def _entities(self, rows: range, documents: Sequence[Sequence[str]]) -> list[dict[str, Any]]:
        """The collection rows of catalogue ``rows``."""
        table = self.table
        return [
            {
                "row": row,
                "category": table.categories[int(table.category_codes[row])],
                "price": int(table.prices[row]),
                "terms": document(documents[row]),
            }
            for row in rows
        ]

    def check(self) -> None:
        """Raise :class:`IndexUnavailable` unless the collection holds this lexicon; load it."""
        with unavailable_on_error(self.uri):
            if not self._current():
                raise IndexUnavailable(
                    f"Milvus collection {COLLECTION} does not hold this catalogue's lexicon; "
                    f"run `{INDEX_HINT}`"
                )
            self.client.load_collection(COLLECTION, timeout=self.timeout)

    # -- searching --------------------------------------------------------------------------
    def search(
        self,
        terms: Sequence[str],
        k: int,
        where: Where | None = None,
        *,
        words: Sequence[str] | None = None,
    ) -> LexicalHits:
        """The top ``k`` rows ``where`` keeps for ``terms`` (see the contract)."""
        words = tuple(terms if words is None else words)
        query = " ".join(encode(t) for t in terms)
        k = min(k, len(self) if where is None else where.count)
        if not query or k <= 0:
            return LexicalHits.empty(words)
        hits = self._search(query, k, self.expression(where))
        best = max((s for _, s, _ in hits), default=0.0) if where is None else self._best(query)
        if not hits or best <= 0:
            return LexicalHits.empty(words)
        hits.sort(key=lambda hit: (-hit[1], hit[0]))  # ties in row order, as locally
        wanted = [encode(w) for w in words]
        contains = np.array([[w in tokens for w in wanted] for _, _, tokens in hits], bool)
        rows = np.array([row for row, _, _ in hits], np.int64)
        scores = np.array([score for _, score, _ in hits], np.float32)
        return LexicalHits(rows, scores, best, words, contains.reshape(len(hits), len(words)))

    def _search(self, query: str, k: int, expression: str) -> list[tuple[int, float, set[str]]]:
        """(row, score, document tokens) of Milvus's top ``k`` for ``query``. Milvus Lite
        reports BM25 as a negative distance, a server as a positive one: the score is
        its size (BM25 is never negative)."""
        with unavailable_on_error(self.uri):
            found = self.client.search(
                COLLECTION, data=[query], anns_field="sparse", limit=k, filter=expression,
                output_fields=["terms"], search_params={"metric_type": "BM25"},
                consistency_level=CONSISTENCY, timeout=self.timeout,
            )[0]  # fmt: skip
        return [
            (int(h["row"]), abs(float(h["distance"])), set(h["entity"]["terms"].split()))
            for h in found
        ]

    def _best(self, query: str) -> float:
        """The best score of any design for ``query``, whatever the filter."""
        top = self._search(query, 1, "")
        return top[0][1] if top else 0.0

    def expression(self, where: Where | None) -> str:
        """The Milvus filter expression that keeps exactly the rows ``where`` keeps."""
        if where is None:
            return ""
        if not np.array_equal(self._filter_mask(where), where.mask):  # not the filters' mask
            return f"row in {where.rows.tolist()}"
        terms = filter_terms(where.filters)
        if where.exclude:
            terms.append(f"row not in {sorted(set(where.exclude))}")
        return " and ".join(terms)

    def _filter_mask(self, where: Where) -> np.ndarray:
        """The rows ``where.filters`` keep, less ``where.exclude``, from the table's columns."""
        table, filters = self.table, where.filters
        keep = np.ones(len(table), bool)
        if filters.category:
            names = table.categories
            code = names.index(filters.category) if filters.category in names else -1
            keep &= table.category_codes == code
        if filters.price_min is not None:
            keep &= table.prices >= filters.price_min
        if filters.price_max is not None:
            keep &= table.prices <= filters.price_max
        keep[list(where.exclude)] = False
        return keep
