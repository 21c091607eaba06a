"""WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi run``.

The search engine is loaded here, at import, so a server with a missing or
stale artifact fails at start-up with the command that fixes it.
"""

from webapp import create_app
from webapp.services import warm_up
from webapp.web.errors import ARTIFACT_ERRORS

app = create_app()
try:
    warm_up(app)
except ARTIFACT_ERRORS as exc:
    raise SystemExit(f"cannot start the search service:\n{exc}") from None
