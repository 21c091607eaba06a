"""Error pages and JSON errors: every failure has a clear message, never a bare 500."""

from __future__ import annotations

import re

from flask import Flask, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
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


#: What a shopper reads for each refusal. A library's own description (Werkzeug's,
#: Flask-WTF's, Flask-Limiter's) is English and never shown; one this app wrote for the
#: shopper (``abort(404, description="Такого дизайна нет…")``) is Russian and shown instead.
MESSAGES = {
    400: "Неверный запрос: проверьте адрес и параметры.",
    401: "Нужен пароль.",
    403: "Доступ закрыт.",
    404: "Такой страницы нет: возможно, ссылка устарела или в адресе опечатка.",
    405: "Этот адрес не принимает такой запрос ({method}).",
    406: "Нет ответа в формате, который просит запрос.",
    408: "Запрос шёл слишком долго. Попробуйте ещё раз.",
    409: "Запрос противоречит текущему состоянию. Обновите страницу и попробуйте снова.",
    410: "Этой страницы больше нет.",
    411: "В запросе не указана его длина.",
    412: "Условие запроса не выполнено.",
    413: "Слишком большой запрос.",
    414: "Слишком длинный адрес.",
    415: "Такой формат данных здесь не принимается.",
    416: "Запрошенная часть файла вне его размера.",
    417: "Ожидание из заголовка Expect не может быть выполнено.",
    422: "Данные запроса не удалось обработать.",
    428: "Запросу не хватает условия.",
    429: "Слишком много запросов подряд. Подождите несколько секунд и попробуйте снова.",
    431: "Слишком большие заголовки запроса.",
    500: "Внутренняя ошибка сервера. Мы уже разбираемся.",
    501: "Сервер этого не умеет.",
    502: "Сервер получил неверный ответ. Попробуйте чуть позже.",
    503: "Поиск временно недоступен. Попробуйте чуть позже.",
    504: "Сервер не дождался ответа. Попробуйте чуть позже.",
}
#: Flask-WTF refuses a form post without a valid token (an old page, or a forged post).
CSRF_MESSAGE = (
    "Форма устарела или отправлена не со страницы магазина. "
    "Обновите страницу и отправьте её ещё раз."
)
#: The heading of an error page.
TITLES = {
    404: "Страница не найдена",
    405: "Такой запрос не принимается",
    413: "Слишком большой запрос",
    429: "Слишком много запросов",
    503: "Поиск временно недоступен",
}
_RUSSIAN = re.compile("[а-яё]", re.IGNORECASE)


def message_for(exc: HTTPException) -> str:
    """The Russian text a shopper reads for ``exc`` (see :data:`MESSAGES`)."""
    code = exc.code or 500
    if isinstance(exc, CSRFError):
        return CSRF_MESSAGE
    if exc.description and _RUSSIAN.search(exc.description):
        return exc.description
    fallback = MESSAGES[400] if code < 500 else MESSAGES[500]
    return MESSAGES.get(code, fallback).format(method=request.method)


def title_for(code: int) -> str:
    """The heading of the error page for ``code``."""
    return TITLES.get(code) or ("Неверный запрос" if code < 500 else "Что-то пошло не так")


def handle_http(exc: HTTPException) -> ResponseReturnValue:
    """Render an HTTP error as JSON for the API and as a friendly page otherwise, in
    Russian; the exception's own headers (``Allow`` of a 405) are kept."""
    code = exc.code or 500
    message = message_for(exc)
    headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
    if _wants_json():
        body = jsonify(error={"code": code, "name": exc.name, "message": message})
        return body, code, headers
    page = render_template("error.html", code=code, title=title_for(code), message=message)
    return page, code, headers


def handle_param(exc: ParamError) -> ResponseReturnValue:
    """A bad query parameter: 400 with the message and the field."""
    if _wants_json():
        return jsonify(
            error={"code": 400, "name": "Bad Request", "message": exc.message, "field": exc.field}
        ), 400
    page = render_template("error.html", code=400, title=title_for(400), message=exc.message)
    return page, 400


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
