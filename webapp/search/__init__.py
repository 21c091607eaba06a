"""The query's journey, from the shopper's words to a ranked, filtered page.

``query`` understands the text (lemmas, layout repair, emoji, diminutives),
``ranking`` asks every signal for candidates (the vector back-ends of
:mod:`webapp.index` for the embedding spaces, ``lexical`` for BM25) and
``fusion`` merges them under the relevance floor; ``filters`` applies category,
price, sort and paging, and ``engine`` strings the stages together, timed by
``timing``. ``recommend`` answers «вам может понравиться» from the same
indexes, and ``cache`` holds the one LRU type every cache uses. Nothing here
imports Flask: the CLI, tests and benchmarks drive
:class:`~webapp.search.engine.SearchEngine` directly.
"""
