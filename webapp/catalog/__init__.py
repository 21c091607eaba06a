"""The product table and the artifacts built from it.

``products`` reads and validates the catalogue CSV (bad rows reported by line,
good rows kept); ``store`` mirrors it into the SQL database that pages, staff
tools and analytics read; ``embedding_cache`` is the ``.pkl`` vector format
with its restricted unpickler; ``embed`` is the offline pipeline that brings
every space's cache up to date, incrementally by item digest.
"""
