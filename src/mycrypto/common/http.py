"""HTTP plumbing shared by every app: request ids, security headers, body-size limit, the JSON-only
rule for request bodies (`mediatype`: 415 unsupported_media_type), access log.

Written as one pure-ASGI middleware (not BaseHTTPMiddleware) because it wraps every request,
including the hot order and order-book paths, and must cost microseconds.
"""
from __future__ import annotations

import logging
import os
import re
import time
from typing import Any

import orjson
from starlette.exceptions import HTTPException

from .logging import request_id_var
from .mediatype import MESSAGE as NOT_JSON_MESSAGE, refuses_body

log = logging.getLogger("mycrypto.access")
refusals = logging.getLogger("mycrypto.errors")   # where every refused request is logged

_VALID_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,64}$")

# No 'unsafe-inline' anywhere: scripts and styles come from our own origin only (the web app and the
# API reference alike). A response that sets its own policy keeps it.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
HSTS = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")


def _error_body(code: str, message: str, request_id: str) -> bytes:
    return orjson.dumps({"error": {"code": code, "message": message, "request_id": request_id}})


class PlatformMiddleware:
    """Adds request id + security headers, enforces the body limit and writes one access-log line."""

    def __init__(self, app: Any, *, max_body_bytes: int, trust_proxy_headers: bool = False,
                 access_log: bool = True) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.trust_proxy = trust_proxy_headers
        self.access_log = access_log

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = scope["headers"]
        request_id = None
        content_length = content_type = transfer_encoding = None
        https = scope.get("scheme") == "https"
        for name, value in headers:
            if name == b"x-request-id" and _VALID_REQUEST_ID.fullmatch(value):
                request_id = value.decode()
            elif name == b"content-length":
                content_length = value
            elif name == b"content-type":
                content_type = value
            elif name == b"transfer-encoding":
                transfer_encoding = value
            elif name == b"x-forwarded-proto" and self.trust_proxy and value == b"https":
                https = True
        if request_id is None:
            request_id = os.urandom(8).hex()
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        status_holder = [0]
        rid_bytes = request_id.encode()

        async def send_wrapper(message: dict) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                out = list(message.get("headers", ()))
                has_csp = any(k == b"content-security-policy" for k, _ in out)
                out.append((b"x-request-id", rid_bytes))
                out.extend(SECURITY_HEADERS)
                if not has_csp:
                    out.append((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))
                if https:
                    out.append(HSTS)
                message = {**message, "headers": out}
            await send(message)

        try:
            if content_length is not None:
                try:
                    too_big = int(content_length) > self.max_body
                except ValueError:
                    too_big = False
                if too_big:
                    await self._reject(send_wrapper, 413, "payload_too_large",
                                       f"The request body exceeds {self.max_body} bytes.", request_id)
                    return
            if refuses_body(scope["method"], scope["path"], content_type, content_length, transfer_encoding):
                refusals.info("request refused", extra={"code": "unsupported_media_type", "status": 415,
                                                        "path": scope["path"],
                                                        "reason": (content_type or b"(none)").decode("latin-1")[:100]})
                await self._reject(send_wrapper, 415, "unsupported_media_type", NOT_JSON_MESSAGE, request_id)
                return
            await self.app(scope, self._limited(receive), send_wrapper)
        except _BodyTooLarge:
            await self._reject(send_wrapper, 413, "payload_too_large",
                               f"The request body exceeds {self.max_body} bytes.", request_id)
        except Exception:
            # A bug. Starlette's outermost ServerErrorMiddleware would answer it with the bare `send`
            # (no request id, no security headers); answer here instead, then let it log and re-raise.
            if not status_holder[0]:
                await self._reject(send_wrapper, 500, "internal_error", "An unexpected error occurred.",
                                   request_id)
            raise
        finally:
            if self.access_log:
                log.info("request", extra={
                    "method": scope.get("method"), "path": scope.get("path"),
                    "status": status_holder[0],
                    "ms": round((time.perf_counter() - started) * 1000, 2),
                    "client": (scope.get("client") or ("-",))[0],
                })
            request_id_var.reset(token)

    def _limited(self, receive: Any) -> Any:
        """Count streamed (chunked) body bytes too: Content-Length can be absent."""
        seen = 0
        limit = self.max_body

        async def wrapped() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _BodyTooLarge()
            return message
        return wrapped

    @staticmethod
    async def _reject(send: Any, status: int, code: str, message: str, request_id: str) -> None:
        body = _error_body(code, message, request_id)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(HTTPException):
    """Raised from receive(); an HTTPException so FastAPI's body parser passes it through as 413."""

    def __init__(self) -> None:
        super().__init__(413, "The request body is too large.")


def client_ip(scope_or_request: Any, trust_proxy: bool = False) -> str:
    """The caller's IP; X-Forwarded-For is only believed behind a trusted proxy (setting)."""
    scope = getattr(scope_or_request, "scope", scope_or_request)
    if trust_proxy:
        for name, value in scope.get("headers", ()):
            if name == b"x-forwarded-for":
                return value.decode().split(",")[0].strip()
    client = scope.get("client")
    return client[0] if client else "unknown"
