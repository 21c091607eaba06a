"""WSGI entry point: ``gunicorn -c gunicorn.conf.py wsgi:app`` or ``flask --app wsgi run``.

The search engine is loaded here, at import, so a server with a missing or stale
artifact fails at start-up with the command that fixes it, and the log has one
line saying how long each step of the start took and what it cost in memory.
Under gunicorn on CPU the master imports this module once (``preload_app``) and
forks ready workers from it (``webapp/workers.py``); with
``GUNICORN_PRELOAD=0`` each worker imports it after the fork. Either way the
server hot-swaps its engine on ``flask --app webapp reload``.
"""

import os

# A server answers many small queries at once: one math thread per request thread
# (see gunicorn.conf.py for the measurement). Set before numpy, FAISS or torch load.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from webapp.workers import load_app  # noqa: E402

app = load_app()
