"""Error pages and JSON errors: every failure has a clear message, never a bare 500."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, InternalServerError

from ..catalog.embedding_cache import CacheError
from ..catalog.products import CatalogError
from ..encoders.base import EncoderError
from ..index.base import IndexUnavailable
from ..index.choice import IndexChoiceError
from .params import ParamError

#: Artifacts the engine needs are missing, stale or broken: the operator must act.
ARTIFACT_ERRORS = (CacheError, CatalogError, EncoderError, IndexChoiceError, IndexUnavailable)


def _wants_json() -> bool:
    """True for API paths, which always answer JSON."""
    return request.path.startswith("/api/")


#: Shopper-facing wording for errors raised by libraries (their own text is English).
MESSAGES = {
    413: "Слишком большой запрос.",
    429: "Слишком много запросов подряд. Подождите несколько секунд и попробуйте снова.",
}


def handle_http(exc: HTTPException) -> ResponseReturnValue:
    """Render an HTTP error as JSON for the API and as a friendly page otherwise."""
    code = exc.code or 500
    message = MESSAGES.get(code, exc.description)
    if _wants_json():
        return jsonify(error={"code": code, "name": exc.name, "message": message}), code
    return render_template("error.html", code=code, message=message), code


def handle_param(exc: ParamError) -> ResponseReturnValue:
    """A bad query parameter: 400 with the message and the field."""
    if _wants_json():
        return jsonify(
            error={"code": 400, "name": "Bad Request", "message": exc.message, "field": exc.field}
        ), 400
    return render_template("error.html", code=400, message=exc.message), 400


def handle_unavailable(exc: Exception) -> ResponseReturnValue:
    """The search engine cannot load: 503 for the shopper, the fix in the log."""
    from flask import current_app
    from werkzeug.exceptions import ServiceUnavailable

    current_app.logger.error("search unavailable: %s", exc)
    return handle_http(ServiceUnavailable("Поиск временно недоступен. Попробуйте чуть позже."))


def handle_unexpected(exc: Exception) -> ResponseReturnValue:
    """Log a bug and answer a generic 500 without leaking internals."""
    if isinstance(exc, HTTPException):
        return handle_http(exc)
    from flask import current_app

    current_app.logger.exception("unhandled error on %s", request.path)
    return handle_http(InternalServerError("Внутренняя ошибка сервера. Мы уже разбираемся."))


def init_app(app: Flask) -> None:
    """Register the handlers on ``app``."""
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(ParamError, handle_param)
    for error in ARTIFACT_ERRORS:
        app.register_error_handler(error, handle_unavailable)
    app.register_error_handler(Exception, handle_unexpected)
