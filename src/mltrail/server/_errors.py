"""Errors as JSON: ``{"error": "<class>", "message": ...}`` with the class's HTTP status.

The error's data attributes come along: a :class:`~mltrail.errors.QuerySyntaxError` carries
``query``, ``line``, ``column``, ``hint`` and ``reason`` (the message without the caret drawing),
a :class:`~mltrail.errors.SchemaVersionError` both versions, a
:class:`~mltrail.errors.SyncConflictError` its ``conflicts``. Anything else that goes wrong
is logged with its traceback and answered as ``{"error": "InternalError", ...}`` (500): a stack
trace never leaves the server.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from mltrail.errors import MltrailError

log = logging.getLogger("mltrail.server")

#: The error class named for an HTTP error raised by the framework itself (unknown route...).
_HTTP_ERRORS = {
    400: "InvalidArgumentError",
    401: "UnauthenticatedError",
    403: "PermissionDeniedError",
    404: "NotFoundError",
    405: "InvalidArgumentError",
    413: "RequestTooLargeError",
    415: "InvalidArgumentError",
    422: "InvalidArgumentError",
}


def error_body(exc: MltrailError) -> dict[str, Any]:
    """The JSON of an error: its class, its message and its data attributes (a
    :class:`~mltrail.errors.QuerySyntaxError`'s ``line`` and ``column``...)."""
    body: dict[str, Any] = {"error": type(exc).__name__, "message": exc.message}
    for key, value in vars(exc).items():
        if key != "message" and not key.startswith("_") and _plain(value):
            body[key] = value
    return body


def _plain(value: Any) -> bool:
    """Whether ``value`` is JSON as it is: a scalar, or lists and string-keyed objects of them
    (a sync conflict list)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return True
    if isinstance(value, list):
        return all(_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def json_error(
    status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        json.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def mltrail_error(exc: MltrailError) -> Response:
    headers = {"www-authenticate": "Bearer"} if exc.http_status == 401 else None
    return json_error(exc.http_status, error_body(exc), headers)


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` as JSON."""

    @app.exception_handler(MltrailError)
    async def on_mltrail_error(request: Request, exc: MltrailError) -> Response:
        return mltrail_error(exc)

    @app.exception_handler(HTTPException)
    async def on_http_error(request: Request, exc: HTTPException) -> Response:
        name = _HTTP_ERRORS.get(exc.status_code, "InvalidArgumentError")
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404:
            message = f"no such route: {request.method} {request.url.path}; see /api/v1/docs"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}; see /api/v1/docs"
        return json_error(exc.status_code, {"error": name, "message": message}, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in exc.errors()
        )
        return json_error(400, {"error": "InvalidArgumentError", "message": problems})

    @app.exception_handler(Exception)
    async def on_other_error(request: Request, exc: Exception) -> Response:
        log.exception("%s %s failed", request.method, request.url.path)
        return json_error(
            500,
            {
                "error": "InternalError",
                "message": "the server failed to answer this request; its log has the details",
            },
        )
