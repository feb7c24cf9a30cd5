"""The API reference at /api/docs: Swagger UI served by the app itself, never from a CDN.

A self-hosted exchange's API reference must work without internet and under the platform's strict
Content-Security-Policy (`common.http.CONTENT_SECURITY_POLICY`: scripts and styles from our own
origin only, no 'unsafe-inline'). So:

- Swagger UI's files come from an installed package, `fastapi-offline` (a pip dependency that
  bundles swagger-ui-dist; nothing third-party is copied into this repository), and are served
  under /api/docs/assets/.
- The page has no inline script: Swagger UI is started by /api/docs/init.js, a file of ours.

`document_errors` makes the document say what the app really answers when it refuses a request: every
operation lists the refusals any request can meet (bad input, auth, not found, conflict, body limit,
media type, rate limit, unavailable) with the one error shape of common/errors.py - or, under /api/v3,
Binance's `{"code", "msg"}` - instead of FastAPI's default 422 `{"detail": [...]}`, which the app never
sends. The fuzzing suite (tests/security/test_fuzzing.py) holds every answer to these schemas.
"""
from __future__ import annotations

from importlib import resources

from typing import Any

from fastapi import FastAPI
from starlette.responses import FileResponse, HTMLResponse, Response

from .errors import NotFound

DOCS_PATH = "/api/docs"
OPENAPI_PATH = "/api/openapi.json"
# The package's static folder: swagger-ui-bundle.js and swagger-ui.css (checked by the tests).
_VENDOR = resources.files("fastapi_offline") / "static"
_ASSETS = {"swagger-ui-bundle.js": "text/javascript; charset=utf-8",
           "swagger-ui.css": "text/css; charset=utf-8"}

_PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MyCrypto API reference</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="/favicon.ico">
<link rel="stylesheet" href="{DOCS_PATH}/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"><p>Loading the API reference&hellip; The raw OpenAPI document is at
<a href="{OPENAPI_PATH}">{OPENAPI_PATH}</a>.</p></div>
<script src="{DOCS_PATH}/assets/swagger-ui-bundle.js"></script>
<script src="{DOCS_PATH}/init.js"></script>
</body></html>"""

# validatorUrl: null - Swagger UI would otherwise ask a public validator service about our document.
_INIT = f"""// Starts Swagger UI on /api/docs (a file, not an inline script: the page's CSP allows none).
window.ui = SwaggerUIBundle({{
  url: "{OPENAPI_PATH}",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
}});
"""


def add_docs_routes(app: FastAPI) -> None:
    """GET /api/docs (the page), /api/docs/init.js and /api/docs/assets/<Swagger UI file>."""

    @app.get(DOCS_PATH, include_in_schema=False)
    async def docs_page() -> Response:
        return HTMLResponse(_PAGE, headers={"Cache-Control": "no-cache"})

    @app.get(DOCS_PATH + "/init.js", include_in_schema=False)
    async def docs_init() -> Response:
        return Response(_INIT, media_type="text/javascript; charset=utf-8", headers={"Cache-Control": "no-cache"})

    @app.get(DOCS_PATH + "/assets/{name}", include_in_schema=False)
    async def docs_asset(name: str) -> Response:
        media_type = _ASSETS.get(name)  # only the named files: no path from the request reaches the disk
        if media_type is None:
            raise NotFound("No such file.")
        # Revalidated on each load (ETag/Last-Modified make that a cheap 304), so an upgraded
        # package is picked up without a stale mix of old and new files.
        return FileResponse(str(_VENDOR / name), media_type=media_type, headers={"Cache-Control": "no-cache"})


# Refusals any operation can meet: validation (400/422), authentication and permissions (401/403), a
# missing resource or route (404), state conflicts (409), the body limit (413, PlatformMiddleware), the
# media type (415), rate limits (429) and a dependency being down (503). A 5xx other than 503 is a bug and
# is deliberately not documented.
ERROR_STATUSES = {
    "400": "Bad request: the input breaks a rule (see error.code)",
    "401": "Not authenticated, or the credentials are invalid or expired",
    "403": "Authenticated but not allowed (role, API-key permission, CSRF, unverified email)",
    "404": "No such resource (another user's resource looks the same)",
    "409": "Conflicts with the current state (e.g. a duplicate idempotency key with another body)",
    "413": "The request body is larger than MAX_BODY_BYTES",
    "415": "The request body is not in a media type this operation accepts",
    "422": "The request does not match its schema (error.details lists the fields)",
    "429": "Rate limited: wait Retry-After seconds",
    "503": "A dependency is down or the market is busy: retry later",
}
ERROR_SCHEMA: dict[str, Any] = {
    "title": "ErrorResponse",
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string", "description": "Stable machine-readable reason"},
            "message": {"type": "string", "description": "For people; may change"},
            "request_id": {"type": "string", "description": "Matches the X-Request-ID header and the logs"},
            "details": {"description": "Optional: field errors, retry_after, ..."},
        },
    }},
}
BINANCE_ERROR_SCHEMA: dict[str, Any] = {
    "title": "BinanceErrorResponse",
    "type": "object",
    "required": ["code", "msg"],
    "properties": {"code": {"type": "integer", "description": "Binance error code (negative)"},
                   "msg": {"type": "string"}},
}


def document_errors(app: FastAPI) -> None:
    """Make `app.openapi()` document the error responses (see the module docstring)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["ErrorResponse"] = ERROR_SCHEMA
        components["BinanceErrorResponse"] = BINANCE_ERROR_SCHEMA
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        for path, operations in schema.get("paths", {}).items():
            ref = "BinanceErrorResponse" if path.startswith("/api/v3") else "ErrorResponse"
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for status, response in responses.items():
                    if status.startswith("2") and status != "204":
                        _document_success(path, response)
                for status, description in ERROR_STATUSES.items():
                    responses[status] = {"description": description, "content": {"application/json": {
                        "schema": {"$ref": f"#/components/schemas/{ref}"}}}}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document_success(path: str, response: dict[str, Any]) -> None:
    """A route that returns a `Response` itself (json_response, orjson) gets FastAPI's placeholder
    `{"type": "string"}`, which is wrong: it answers a JSON object or list (its service's doc in docs/
    describes it). Say "JSON" - or CSV for the .csv downloads - instead of a false schema."""
    if path.endswith(".csv"):
        response["content"] = {"text/csv": {"schema": {"type": "string"}}}
        return
    content = response.setdefault("content", {})
    json_content = content.setdefault("application/json", {})
    if json_content.get("schema") in (None, {"type": "string"}):
        json_content["schema"] = {"description": "A JSON document: see docs/ for the fields"}
