"""WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi run``.

The search engine is loaded here, at import, so a server with a missing or
stale artifact fails at start-up with the command that fixes it.
"""

from webapp import create_app
from webapp.services import warm_up

app = create_app()
warm_up(app)
