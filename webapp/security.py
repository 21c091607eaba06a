"""Hardening for a public shop: headers and CSP, CSRF, rate limits, secrets, proxies.

Each concern uses a well-kept library: flask-talisman for the security headers
and Content-Security-Policy, Flask-WTF for CSRF, Flask-Limiter for rate limits.
Everything keeps working over plain HTTP, because developers reach the site
through an SSH tunnel: no forced HTTPS redirect and no HSTS.
"""

from __future__ import annotations

import html
import io
import json
from typing import IO, TYPE_CHECKING, Any

from flask import Flask, Request, current_app, request
from flask.blueprints import BlueprintSetupState
from flask.sessions import SecureCookieSessionInterface
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_talisman import Talisman
from flask_wtf.csrf import CSRFProtect
from itsdangerous import URLSafeTimedSerializer
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix

from . import ratelimit_store
from .config import DEV_SECRET_KEY

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

MIN_SECRET_LENGTH = 16

#: Everything comes from this origin; no inline script or style, no framing, no plugins.
CSP = {
    "default-src": "'self'",
    "img-src": "'self' data:",
    "style-src": "'self'",
    "script-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}

#: Cheap endpoints that a page pulls by the dozen, and the probes: never rate limited.
UNLIMITED_ENDPOINTS = frozenset(
    {"static", "pages.media", "health.healthz", "health.readyz", "observability.metrics"}
)


#: Endpoints that take a picture upload: a larger body limit and a lower rate limit.
UPLOAD_ENDPOINTS = frozenset({"pages.search_picture", "api.search_image"})


class SecurityHeaders(Talisman):
    """Talisman, with the headers' options and the CSP string computed once, not per request.

    Talisman rebuilds both several times a request; they only change for a view that
    carries its own options (``@talisman(...)``) or a CSP nonce, which still take its path.
    """

    def init_app(self, app: Flask, **kwargs: Any) -> None:
        """Set Talisman up on ``app``, then keep its default per-view options."""
        super().init_app(app, **kwargs)
        self._parsed: dict[int, tuple[object, str]] = {}
        self._defaults = {
            name: getattr(self, name)
            for name in (
                "force_https",
                "frame_options",
                "frame_options_allow_from",
                "content_security_policy",
                "content_security_policy_nonce_in",
                "permissions_policy",
                "document_policy",
                "feature_policy",
            )
        }

    def _get_local_options(self) -> dict[str, Any]:
        """The defaults, unless this request's view has options of its own."""
        view = current_app.view_functions.get(request.endpoint or "")
        if hasattr(view, "talisman_view_options"):
            return dict(super()._get_local_options())
        return self._defaults

    def _parse_policy(self, policy: Any) -> str:
        """A policy's header value, remembered per policy when no nonce goes into it."""
        if hasattr(request, "csp_nonce"):
            return str(super()._parse_policy(policy))
        known = self._parsed.get(id(policy))
        if known is None or known[0] is not policy:
            known = self._parsed[id(policy)] = (policy, super()._parse_policy(policy))
        return known[1]


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signer made once per set of keys.

    Flask builds a new ``URLSafeTimedSerializer`` for every request, even one that
    carries no cookie; it holds no per-request state, so one per key set serves all.
    """

    _made: tuple[tuple[object, ...], URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        """The serializer for ``app``'s current secret key and fallbacks."""
        keys = (app.secret_key, *(app.config["SECRET_KEY_FALLBACKS"] or ()))
        made = self._made
        if made is None or made[0] != keys:
            made = self._made = (keys, super().get_signing_serializer(app))
        return made[1]


class ConfigurationError(RuntimeError):
    """The configuration is unsafe for the environment it runs in."""


def check_secret_key(app: Flask) -> None:
    """In production, refuse to start without a real ``SECRET_KEY``."""
    if app.config.get("APP_ENV") != "production":
        return
    key = app.config.get("SECRET_KEY") or ""
    if key == DEV_SECRET_KEY or len(str(key)) < MIN_SECRET_LENGTH:
        raise ConfigurationError(
            "APP_ENV=production needs a SECRET_KEY of at least "
            f"{MIN_SECRET_LENGTH} random characters (not the development default); e.g. "
            "export SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
        )


def _unlimited() -> bool:
    """True for requests that the rate limiter should not count."""
    return request.endpoint in UNLIMITED_ENDPOINTS


#: Module-level so that blueprints can declare exemptions (it keeps no per-app state).
csrf = CSRFProtect()


def _mount(app: Flask) -> None:
    """Serve under ``URL_PREFIX`` and trust ``PROXY_FIX`` proxies' X-Forwarded-* headers."""
    prefix = app.config["URL_PREFIX"].rstrip("/")
    if prefix:
        app.wsgi_app = DispatcherMiddleware(OutsidePrefix(prefix), {prefix: app.wsgi_app})
    hops = int(app.config["PROXY_FIX"])
    if hops:
        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops
        )


class OutsidePrefix:
    """The answer to a path outside ``URL_PREFIX``: a 404 in Russian that names the site's
    address (the app itself never sees the request, so its error pages cannot answer)."""

    def __init__(self, prefix: str) -> None:
        """Answer for a site served under ``prefix``."""
        self.prefix = prefix

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        """A 404: JSON for ``/api/`` paths, a small HTML page otherwise."""
        message = f"Такой страницы нет: магазин открывается по адресу {self.prefix}/."
        if environ.get("PATH_INFO", "").startswith("/api/"):
            error = {"code": 404, "name": "Not Found", "message": message}
            body, kind = json.dumps({"error": error}, ensure_ascii=False), "application/json"
        else:
            body = OUTSIDE_PAGE.format(message=html.escape(message), prefix=self.prefix)
            kind = "text/html; charset=utf-8"
        data = body.encode()
        start_response(
            "404 NOT FOUND",
            [
                ("Content-Type", kind),
                ("Content-Length", str(len(data))),
                ("X-Content-Type-Options", "nosniff"),
            ],
        )
        return [data]


OUTSIDE_PAGE = (
    '<!doctype html><html lang="ru"><head><meta charset="utf-8">'
    "<title>404 — страница не найдена</title></head><body><h1>Страница не найдена</h1>"
    '<p>{message}</p><p><a href="{prefix}/">На главную</a></p></body></html>'
)


def upload_limit() -> str:
    """The per-client rate limit of picture uploads (lower than for text search)."""
    return str(current_app.config["RATELIMIT_UPLOAD"])


def _allow_uploads() -> None:
    """Raise the body size limit to ``MAX_UPLOAD_BYTES`` on the picture endpoints.

    Runs before CSRF's own hook, which is the first to read the form.
    """
    if request.endpoint in UPLOAD_ENDPOINTS:
        request.max_content_length = int(current_app.config["MAX_UPLOAD_BYTES"])


class InMemoryRequest(Request):
    """A request whose uploaded files stay in memory (bounded by the upload size limit)."""

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        """A BytesIO for every uploaded file, never a temporary file on disk."""
        return io.BytesIO()


def init_app(app: Flask) -> None:
    """Check the secret, then wire headers, sessions, upload limits, CSRF, rate limits and
    proxies."""
    check_secret_key(app)
    SecurityHeaders(
        app,
        force_https=False,
        strict_transport_security=False,
        content_security_policy=CSP,
        frame_options="DENY",
        referrer_policy="same-origin",
        session_cookie_secure=app.config["SESSION_COOKIE_SECURE"],
    )
    app.session_interface = CookieSessions()
    app.request_class = InMemoryRequest
    app.before_request(_allow_uploads)
    csrf.init_app(app)
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    app.config.setdefault("RATELIMIT_STRATEGY", "sliding-window-counter")
    if app.config.get("RATELIMIT_STORAGE_URI") == "memory://":  # same counters, one sweeper
        app.config["RATELIMIT_STORAGE_URI"] = f"{ratelimit_store.SCHEME}://"
    limiter = Limiter(get_remote_address, application_limits_exempt_when=_unlimited)
    limiter.init_app(app)
    limiter.request_filter(_unlimited)  # probes and files skip the limiter's work altogether
    _mount(app)


def limit_uploads(state: BlueprintSetupState) -> None:
    """Give a blueprint's upload endpoints their own, lower rate limit on this app.

    Blueprints call it with ``record_once`` after their routes, so the limit wraps
    the registered view with the app's own limiter (limiters hold per-app state).
    """
    app = state.app
    for limiter in app.extensions.get("limiter", ()):
        for endpoint in UPLOAD_ENDPOINTS & app.view_functions.keys():
            app.view_functions[endpoint] = limiter.limit(upload_limit)(app.view_functions[endpoint])
