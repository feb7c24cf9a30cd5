"""The API reference at /api/docs: Swagger UI served by the app itself, never from a CDN.

A self-hosted exchange's API reference must work without internet and under the platform's strict
Content-Security-Policy (`common.http.CONTENT_SECURITY_POLICY`: scripts and styles from our own
origin only, no 'unsafe-inline'). So:

- Swagger UI's files come from an installed package, `fastapi-offline` (a pip dependency that
  bundles swagger-ui-dist; nothing third-party is copied into this repository), and are served
  under /api/docs/assets/.
- The page has no inline script: Swagger UI is started by /api/docs/init.js, a file of ours.
"""
from __future__ import annotations

from importlib import resources

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
