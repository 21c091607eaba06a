"""Measuring search quality offline.

``queries`` loads judged query sets (``data/eval/*.jsonl``), ``metrics`` holds
the per-query measures (nP@K, MRR, recall, median rank, cosine), ``harness``
runs a ranking function over a set and aggregates by kind, and ``report``
writes the Markdown report and its chart. ``flask --app webapp evaluate`` is
the command line over them.
"""
