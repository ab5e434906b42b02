"""RFC 9457 problem details: the one place where errors get their HTTP status and shape."""

from __future__ import annotations

from typing import Any, ClassVar

import structlog
from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = structlog.get_logger(__name__)


class ServiceError(Exception):
    """An error the service reports to the client; subclasses fix status and title."""

    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal Server Error"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class BadRequest(ServiceError):
    status, title = 400, "Bad Request"


class Unauthorized(ServiceError):
    status, title = 401, "Unauthorized"


class NotFound(ServiceError):
    status, title = 404, "Not Found"


class Conflict(ServiceError):
    status, title = 409, "Conflict"


class UnsupportedMediaType(ServiceError):
    status, title = 415, "Unsupported Media Type"


class Unprocessable(ServiceError):
    status, title = 422, "Unprocessable Content"


class NotReady(ServiceError):
    status, title = 503, "Service Unavailable"


def problem(status: int, title: str, detail: str, **extensions: Any) -> Response:
    """Build an ``application/problem+json`` response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    body["instance"] = request.path if request else None
    body.update(extensions)
    response = Response(json.dumps(body, ensure_ascii=False), status=status)
    response.mimetype = PROBLEM_MEDIA_TYPE
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="dual-use-check"'
    return response


def register_error_handlers(app: Flask) -> None:
    """Render every error, expected or not, as problem+json."""

    @app.errorhandler(ServiceError)
    def _service_error(error: ServiceError) -> Response:
        return problem(error.status, error.title, error.detail, **error.extensions)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        status = error.code or 500
        response = problem(status, error.name, _http_detail(error))
        for name in ("Allow", "Retry-After"):
            if error.get_response().headers.get(name):
                response.headers[name] = error.get_response().headers[name]
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled_error", error_type=type(error).__name__)
        return problem(500, "Internal Server Error", "An unexpected error occurred; it was logged.")


def _http_detail(error: HTTPException) -> str:
    """A useful detail for werkzeug's own errors."""
    if error.code == 404:
        return f"No resource at {request.path}; see /openapi.json for the API."
    if error.code == 405:
        return f"{request.method} is not allowed on {request.path}."
    if error.code == 429:
        return f"Rate limit exceeded ({error.description} per API key); retry after Retry-After seconds."
    if error.code == 413:
        return "Request body too large; see the documented limits in /openapi.json."
    return error.description or error.name
