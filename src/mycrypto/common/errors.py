"""One error type for the whole platform and the JSON shape every 4xx/5xx response uses.

Domain code raises `AppError` subclasses (never `HTTPException`); one set of handlers, installed by
`install_error_handlers`, turns them into `{"error": {"code", "message"[, "details"]}}` with the
request id, and logs them. A stable `code` is the contract clients program against; the message is
for people.
"""
from __future__ import annotations

import logging
from typing import Any

import asyncpg
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from ..db.database import DatabaseUnavailable
from .metrics import record_error_code

log = logging.getLogger("mycrypto.errors")


class AppError(Exception):
    """A refusal the client can act on. Subclasses fix `code` and `http_status`."""

    code = "bad_request"
    http_status = 400
    message = "The request was refused."

    def __init__(self, message: str | None = None, *, code: str | None = None,
                 http_status: int | None = None, details: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        self.message = message or self.message
        if code:
            self.code = code
        if http_status:
            self.http_status = http_status
        self.details = details
        self.headers = headers or {}
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        """The JSON body; overridden by API dialects with their own error shape (e.g. Binance)."""
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            err["details"] = self.details
        return {"error": err}


class ValidationFailed(AppError):
    code, http_status, message = "validation_error", 422, "The request is not valid."


class NotFound(AppError):
    code, http_status, message = "not_found", 404, "Not found."


class Unauthorized(AppError):
    code, http_status, message = "unauthorized", 401, "Authentication is required."


class Forbidden(AppError):
    code, http_status, message = "forbidden", 403, "You are not allowed to do this."


class Conflict(AppError):
    code, http_status, message = "conflict", 409, "The request conflicts with the current state."


class RateLimited(AppError):
    code, http_status, message = "rate_limited", 429, "Too many requests; slow down."

    def __init__(self, retry_after: float, message: str | None = None) -> None:
        seconds = max(1, int(retry_after + 0.999))
        super().__init__(message, headers={"Retry-After": str(seconds)}, details={"retry_after": seconds})


class ServiceUnavailable(AppError):
    code, http_status, message = "service_unavailable", 503, "The service is temporarily unavailable."


class InvalidCharacters(AppError):
    code, http_status = "invalid_characters", 400
    message = "The request contains characters that cannot be stored (such as a NUL byte)."


# PostgreSQL refuses text it cannot store (a NUL byte, invalid UTF-8): that is the client's input, not a
# bug, wherever the string travelled from (a path, a query parameter, a JSON field). The statement failed,
# so its transaction rolled back and nothing changed: answer 400 instead of 500.
UNSTORABLE_TEXT: tuple[type[Exception], ...] = (asyncpg.exceptions.CharacterNotInRepertoireError,
                                                 asyncpg.exceptions.UntranslatableCharacterError)


class DatabaseOutage(ServiceUnavailable):
    """The database cannot be reached right now (restarting, failing over, refusing connections): 503 with a
    stable reason instead of a 500. Whether a write whose connection broke mid-COMMIT landed is unknown, so
    the message says to retry with the same key (client_order_id / Idempotency-Key): that retry is safe."""

    code, message = ("database_unavailable",
                     "The database is unavailable; retry shortly (with the same client_order_id or "
                     "Idempotency-Key for a write).")

    def __init__(self, message: str | None = None, retry_after: int = 2) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)}, details={"retry_after": retry_after})


# What "the database is unavailable" looks like from the driver: the connection could not be opened or was
# cut (server shut down, restarting, crashed, too many connections, pool closed; asyncpg's InternalClientError
# on a connection whose session the server terminated, see db/database.py). Narrower than
# db.database.DB_DOWN on purpose: a bare OSError/TimeoutError may come from anything (a file, a broker), and
# only the connection kinds of OSError are taken as the database's. Every exception handler and the trade
# fast path map these to DatabaseOutage, so a database outage is a 503 `database_unavailable` in one place.
DATABASE_OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    DatabaseUnavailable, asyncpg.InterfaceError, asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError, asyncpg.AdminShutdownError, asyncpg.CrashShutdownError,
    asyncpg.InternalClientError, ConnectionError)


def as_app_error(exc: BaseException) -> AppError | None:
    """The AppError a non-AppError exception stands for (unstorable text, a database outage), or None (a bug: a 500)."""
    if isinstance(exc, AppError):
        return exc
    if isinstance(exc, UNSTORABLE_TEXT):
        return InvalidCharacters()
    if isinstance(exc, DATABASE_OUTAGE_ERRORS):
        return DatabaseOutage()
    return None


def error_response(request: Request | None, status: int, body: dict[str, Any],
                   headers: dict[str, str] | None = None) -> Response:
    """Serialise an error body, adding the request id so a user's report can be matched to logs."""
    request_id = getattr(getattr(request, "state", None), "request_id", None) if request else None
    if request_id and "error" in body:
        body["error"]["request_id"] = request_id
    if request is not None:   # errors by code in /metrics (Binance-dialect bodies carry a numeric code)
        record_error_code(request.scope, body["error"].get("code") if "error" in body else body.get("code"))
    return Response(orjson.dumps(body), status_code=status, media_type="application/json",
                    headers=headers)


_STATUS_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 406: "not_acceptable", 409: "conflict", 413: "payload_too_large",
    415: "unsupported_media_type", 429: "rate_limited",
}


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        out.append({"field": ".".join(loc) or "body", "message": err.get("msg", "invalid"),
                    "type": err.get("type", "invalid")})
    return out


def install_error_handlers(app: FastAPI) -> None:
    """Route every exception type to the one JSON error shape."""

    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> Response:
        log.info("request refused", extra={"code": exc.code, "status": exc.http_status,
                                           "path": request.url.path, "reason": exc.message})
        return error_response(request, exc.http_status, exc.body(), exc.headers)

    for unstorable in UNSTORABLE_TEXT:
        @app.exception_handler(unstorable)
        async def _unstorable(request: Request, exc: Exception) -> Response:
            return await _app_error(request, InvalidCharacters())

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        details = _field_errors(exc)
        json_invalid = any(d["type"] == "json_invalid" for d in details)
        code = "malformed_json" if json_invalid else "validation_error"
        message = "The request body is not valid JSON." if json_invalid else "The request is not valid."
        log.info("request refused", extra={"code": code, "status": 422, "path": request.url.path,
                                           "reason": details[:5]})
        return error_response(request, 422, {"error": {"code": code, "message": message,
                                                       "details": details}})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        if exc.status_code == 404:
            message = "No such endpoint."
        return error_response(request, exc.status_code, {"error": {"code": code, "message": message}},
                              getattr(exc, "headers", None))

    async def _outage(request: Request, exc: Exception) -> Response:
        err = DatabaseOutage()
        log.warning("database unavailable", extra={"code": err.code, "status": err.http_status,
                                                   "path": request.url.path, "reason": repr(exc)[:200]})
        return error_response(request, err.http_status, err.body(), err.headers)

    for outage in DATABASE_OUTAGE_ERRORS:
        app.add_exception_handler(outage, _outage)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        if isinstance(exc, DATABASE_OUTAGE_ERRORS):   # raised outside the routes (e.g. in a middleware)
            return await _outage(request, exc)
        # A 500 is always a bug: log the traceback, tell the client only the request id. (This runs
        # outside PlatformMiddleware, after its request-id context ended: pass the id explicitly.)
        log.exception("unhandled error", extra={"path": request.url.path,
                                                "request_id": getattr(request.state, "request_id", None)})
        return error_response(request, 500, {"error": {"code": "internal_error",
                                                       "message": "An unexpected error occurred."}})
