"""Serves the web app's static files at / (the single-page app talks to the JSON APIs)."""
from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from starlette.responses import FileResponse, Response

SERVICE = "frontend"
STATIC_DIR = resources.files("mycrypto.web") / "static"
router = APIRouter(include_in_schema=False)

_CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                  ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".json": "application/json"}


def _static(name: str) -> Response:
    path = STATIC_DIR / name
    if not path.is_file():
        return Response(status_code=404)
    suffix = "." + name.rsplit(".", 1)[-1]
    # index.html must not be cached (it names the assets); assets may be cached briefly by a CDN.
    cache = "no-cache" if suffix == ".html" else "public, max-age=300"
    return FileResponse(str(path), media_type=_CONTENT_TYPES.get(suffix), headers={"Cache-Control": cache})


@router.get("/")
async def index() -> Response:
    return _static("index.html")


@router.get("/static/{name}")
async def static_file(name: str) -> Response:
    if "/" in name or name.startswith("."):
        return Response(status_code=404)
    return _static(name)
