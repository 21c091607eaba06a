"""Vector back-ends behind one interface: nearest catalogue rows to a query vector.

``base`` defines the contract (:class:`VectorBackend`, :class:`Where` for filters
pushed down into the search); ``faiss_index`` is the default back-end (exact for
small catalogues, a prebuilt memory-mapped approximate index with exact re-scoring
for large ones); ``choice`` picks the index type from the catalogue's size and the
``INDEX_TYPE`` setting; ``prebuilt`` writes and reads prebuilt indexes and their
manifests, which `flask --app webapp index` builds (``build`` says when it is due); ``milvus_index`` and
``milvus_sync`` are the Milvus back-end; ``backends`` opens each space's as configured.
"""
