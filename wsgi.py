"""WSGI entry point: ``gunicorn -c gunicorn.conf.py wsgi:app`` or ``flask --app wsgi run``.

The search engine is loaded here, at import, so a server with a missing or
stale artifact fails at start-up with the command that fixes it. Under
gunicorn this module is imported by each worker after the fork (no
``preload_app``), so models, indexes and CUDA never live in the master. Each
process then watches ``RELOAD_STAMP`` and hot-swaps its engine on
``flask --app webapp reload``.
"""

from webapp import create_app
from webapp.services import warm_up, watch_reloads

app = create_app()
warm_up(app)
watch_reloads(app)
