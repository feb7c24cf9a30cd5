"""The frontend service: the web app's files and the few small endpoints the app itself needs.

- `/` and every `/app/...` path answer with index.html: the app routes on the client (History API),
  so a reload or a bookmarked deep link (/app/trade/BTC-USDT) works.
- A page's path typed without `/app` (/markets, /trade/BTC-USDT, /wallet: `APP_PAGES`) redirects a
  browser (GET/HEAD accepting text/html) to the same path under /app; any other client (curl, ccxt,
  scripts) gets the JSON 404 every unknown path gets.
- `/static/<path>` serves files from `web/static/` (subfolders allowed; names are checked against a
  strict pattern, so no `..`, no hidden files, no surprise types).
- `/web/config`, `/web/qr`, `/web/dev/deposit`: see `devtools.py` (public config, a server-rendered
  QR code for 2FA enrolment, and the development-only simulated deposit).

No build step: the files are plain ES modules, HTML and CSS (docs/frontend.md). Every response gets
the platform's Content-Security-Policy (no inline script or style) from `common.http`.
"""
from __future__ import annotations

import re
from importlib import resources

from fastapi import APIRouter, Request
from starlette.responses import FileResponse, RedirectResponse, Response

from ..common.errors import NotFound
from . import devtools

SERVICE = "frontend"
STATIC_DIR = resources.files("mycrypto.web") / "static"
router = APIRouter(include_in_schema=False)

_CONTENT_TYPES = {"html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8",
                  "css": "text/css; charset=utf-8", "svg": "image/svg+xml", "json": "application/json",
                  "ico": "image/x-icon", "txt": "text/plain; charset=utf-8"}
# One to four path segments of lower-case names; the last one with a known extension.
_SAFE_PATH = re.compile(r"^(?:[a-z0-9][a-z0-9_-]{0,63}/){0,3}[a-z0-9][a-z0-9_.-]{0,63}\.(html|js|css|svg|json|ico|txt)$")


def _static(name: str) -> Response:
    match = _SAFE_PATH.fullmatch(name)
    if match is None or ".." in name:
        return Response(status_code=404)
    path = STATIC_DIR.joinpath(*name.split("/"))
    if not path.is_file():
        return Response(status_code=404)
    # Always revalidate (ETag/Last-Modified make that a cheap 304): ES modules import each other by
    # plain URLs, so a stale cached module mixed with a fresh one after a deploy would break the app.
    return FileResponse(str(path), media_type=_CONTENT_TYPES[match.group(1)],
                        headers={"Cache-Control": "no-cache"})


@router.get("/")
async def index() -> Response:
    return _static("index.html")


@router.get("/app")
async def app_root() -> Response:
    return _static("index.html")


@router.get("/app/{path:path}")
async def app_route(path: str) -> Response:
    return _static("index.html")


# The first segment of every client-side route in static/js/app.js (a test keeps the two in step).
APP_PAGES = ("markets", "trade", "wallet", "alerts", "account", "admin", "login", "register", "check-email",
             "verify-email", "forgot-password", "reset-password")
_ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


async def page_redirect(request: Request) -> Response:
    """/markets -> /app/markets for a browser; the usual JSON 404 for everyone else."""
    accept = request.headers.get("accept", "")
    if request.method not in ("GET", "HEAD") or "text/html" not in accept:
        raise NotFound("No such endpoint.")
    path = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")  # as sent, still %-encoded
    query = request.url.query
    # The target is always a path on this origin under /app/ (never another host: it starts "/app/").
    return RedirectResponse("/app" + path + ("?" + query if query else ""), status_code=307)


for _page in APP_PAGES:
    router.add_api_route(f"/{_page}", page_redirect, methods=_ANY_METHOD)
    router.add_api_route(f"/{_page}/{{rest:path}}", page_redirect, methods=_ANY_METHOD)


@router.get("/favicon.ico")
async def favicon() -> Response:
    return _static("img/favicon.svg")


@router.get("/static/{path:path}")
async def static_file(path: str) -> Response:
    return _static(path)


router.include_router(devtools.router)
