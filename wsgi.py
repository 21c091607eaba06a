"""WSGI entry point: ``gunicorn -c gunicorn.conf.py wsgi:app`` or ``flask --app wsgi run``.

The search engine is loaded here, at import, so a server with a missing or
stale artifact fails at start-up with the command that fixes it. Under
gunicorn this module is imported by each worker after the fork (no
``preload_app``), so models, indexes and CUDA never live in the master. Each
process then watches ``RELOAD_STAMP`` and hot-swaps its engine on
``flask --app webapp reload``.
"""

import os

# A server answers many small queries at once: one math thread per request thread
# (see gunicorn.conf.py for the measurement). Set before numpy, FAISS or torch load.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from webapp import create_app  # noqa: E402
from webapp.lifecycle import warm_up, watch_reloads  # noqa: E402

app = create_app()
warm_up(app)
watch_reloads(app)
