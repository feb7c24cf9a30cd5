"""Web-app mode: the same tokens carried in cookies, plus the CSRF token the app echoes in a header.

Cookies (all SameSite=Strict; `Secure` in production, behind HTTPS or when PUBLIC_URL is https):
- `mc_access`  httpOnly, Path=/                 the access JWT (15 min by default)
- `mc_refresh` httpOnly, Path=/api/v1/auth      the rotating refresh token
- `mc_csrf`    readable by JS, Path=/           HMAC of the session id; send it back as X-CSRF-Token
A cookie-authenticated request with an unsafe method (POST/PUT/PATCH/DELETE) must carry
`X-CSRF-Token` equal to the session's CSRF token, or it is refused with 403 `csrf_failed`
(checked in `principal.current_principal`, and here for refresh/logout).
"""
from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from .domain.tokens import csrf_token, csrf_valid
from .errors import CsrfFailed
from .principal import ACCESS_COOKIE, CSRF_COOKIE, CSRF_HEADER

REFRESH_COOKIE = "mc_refresh"
REFRESH_PATH = "/api/v1/auth"


def secure_cookies(request: Request, settings: Any) -> bool:
    return (settings.is_production or settings.base_url.startswith("https://")
            or request.url.scheme == "https"
            or (settings.trust_proxy_headers and request.headers.get("x-forwarded-proto") == "https"))


def session_csrf(settings: Any, session_id: str) -> str:
    return csrf_token(settings.jwt_keys.active, session_id)


def set_session_cookies(response: Response, request: Request, settings: Any, *, access_token: str,
                        refresh_token: str, session_id: str) -> str:
    """Set the three cookies; returns the CSRF token (also put in the JSON body for convenience)."""
    secure = secure_cookies(request, settings)
    csrf = session_csrf(settings, session_id)
    common = {"secure": secure, "samesite": "strict"}
    response.set_cookie(ACCESS_COOKIE, access_token, max_age=settings.access_token_ttl_s, path="/",
                        httponly=True, **common)
    response.set_cookie(REFRESH_COOKIE, refresh_token, max_age=settings.refresh_token_ttl_s, path=REFRESH_PATH,
                        httponly=True, **common)
    response.set_cookie(CSRF_COOKIE, csrf, max_age=settings.refresh_token_ttl_s, path="/", httponly=False, **common)
    return csrf


def clear_session_cookies(response: Response, request: Request, settings: Any) -> None:
    common = {"secure": secure_cookies(request, settings), "samesite": "strict"}
    response.delete_cookie(ACCESS_COOKIE, path="/", httponly=True, **common)
    response.delete_cookie(REFRESH_COOKIE, path=REFRESH_PATH, httponly=True, **common)
    response.delete_cookie(CSRF_COOKIE, path="/", **common)


def require_csrf_for_session(request: Request, settings: Any, session_id: str) -> None:
    if not csrf_valid(settings.jwt_keys.secrets, session_id, request.headers.get(CSRF_HEADER)):
        raise CsrfFailed()
