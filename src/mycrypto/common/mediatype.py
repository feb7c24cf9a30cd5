"""One rule for request bodies: the native API takes JSON only (issue 11).

A request with a body to a JSON route family (`/api/v1/...`, `/web/...`) must say
`Content-Type: application/json` (parameters such as `; charset=utf-8` are fine); text/plain, a form,
multipart, XML or no content type at all is answered `415 unsupported_media_type` before any handler
runs, so a body is never guessed at (a JSON body sent as text/plain used to place an order). A request
without a body (a DELETE, a cancel, a logout) is not concerned.

Not concerned either: the Binance-compatible `/api/v3` (Binance's form/query encoding) and the one
HTML form the platform serves (the emailed password-reset page posts `/api/v1/auth/reset-password/form`).
`PlatformMiddleware` applies `refuses_body` to every request; the check is a prefix test and one header
parse, so the hot order path pays microseconds.
"""
from __future__ import annotations

JSON_PREFIXES: tuple[str, ...] = ("/api/v1/", "/web/")
FORM_ROUTES: frozenset[str] = frozenset({"/api/v1/auth/reset-password/form"})
BODY_METHODS: frozenset[str] = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON_MEDIA_TYPE = b"application/json"
MESSAGE = "Send the request body as JSON with Content-Type: application/json."


def is_json(content_type: bytes | None) -> bool:
    """`application/json`, case-insensitive, with or without parameters."""
    if content_type is None:
        return False
    return content_type.split(b";", 1)[0].strip().lower() == JSON_MEDIA_TYPE


def has_body(content_length: bytes | None, transfer_encoding: bytes | None) -> bool:
    if transfer_encoding is not None:   # chunked: a body of unknown length follows
        return True
    if content_length is None:
        return False
    try:
        return int(content_length) > 0
    except ValueError:
        return True   # unreadable length: treat as a body (the server refuses it anyway)


def refuses_body(method: str, path: str, content_type: bytes | None, content_length: bytes | None,
                 transfer_encoding: bytes | None) -> bool:
    """True when this request must be answered 415: a non-JSON body to a JSON route."""
    if method not in BODY_METHODS or not path.startswith(JSON_PREFIXES) or path in FORM_ROUTES:
        return False
    return has_body(content_length, transfer_encoding) and not is_json(content_type)
