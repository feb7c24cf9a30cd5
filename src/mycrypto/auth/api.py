"""Auth HTTP API under /api/v1/auth (registration, login, sessions, 2FA, API keys) + its lifespan.

Routers only translate HTTP <-> use cases (`container.auth`, the AuthService: service.py, twofactor.py,
apikeys.py); every refusal is an AppError with a stable code. The lifespan runs the outbox relay (and,
outside production with AMQP_URL, an in-process email consumer) so `mycrypto up` delivers email with
nothing else running.
The contract (endpoints, cookies/CSRF, signing, limits) is documented in docs/auth.md.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from ..common.errors import AppError, Unauthorized
from ..common.http import client_ip
from ..common.jsonresp import json_response
from ..container import Container, get_container
from ..notify import mailbox
from ..notify.relay import running_relay
from . import pages
from . import repository as repo
from .cookies import (REFRESH_COOKIE, clear_session_cookies, require_csrf_for_session, session_csrf,
                      set_session_cookies)
from .core import RequestContext, require_session
from .domain.tokens import hash_secret
from .errors import InvalidEmailToken, InvalidRefreshToken
from .principal import Principal, current_principal
from .schemas import (Accepted, ApiKeyCreated, ApiKeyCreateRequest, ApiKeyPublic, ChangePasswordRequest,
                      EmailOnlyRequest, LoginRequest, LogoutRequest, RecoveryCodes, RefreshRequest,
                      RegisterRequest, ResetPasswordRequest, RevokeAllRequest, SecurityEvent, SessionPublic,
                      TokenPair, TokenRequest, TotpCodeRequest, TotpEnrollment, UserPublic)
from .service import AuthService, Session

SERVICE = "auth"
log = logging.getLogger("mycrypto.auth")

api = APIRouter(prefix="/api/v1/auth", tags=["auth"])
router = APIRouter()  # what apps.create_app includes: the API plus the dev mailbox (404 in production)

PrincipalDep = Annotated[Principal, Depends(current_principal)]

# ids are PostgreSQL bigints: a larger number is a 422, not a 500 from the driver (found by fuzzing)
MAX_ID = 2**63 - 1


def _auth(request: Request) -> AuthService:
    return get_container(request).auth


def ctx_of(request: Request) -> RequestContext:
    settings = get_container(request).settings
    ua = request.headers.get("user-agent")
    return RequestContext(ip=client_ip(request, settings.trust_proxy_headers), user_agent=ua[:400] if ua else None)


def _accepted(message: str) -> Response:
    return json_response({"status": "accepted", "message": message}, status_code=202)


def _session_response(request: Request, session: Session, use_cookies: bool) -> Response:
    settings = get_container(request).settings
    body: dict[str, Any] = {"token_type": "Bearer", "expires_in": settings.access_token_ttl_s,
                            "refresh_expires_in": session.refresh_expires_in, "session_id": session.session_id,
                            "user": session.user}
    if not use_cookies:
        body.update(access_token=session.access_token, refresh_token=session.refresh_token)
        return json_response(body, headers={"Cache-Control": "no-store"})
    body["csrf_token"] = session_csrf(settings, session.session_id)
    response = json_response(body, headers={"Cache-Control": "no-store"})
    set_session_cookies(response, request, settings, access_token=session.access_token,
                        refresh_token=session.refresh_token, session_id=session.session_id)
    return response


# ---------------------------------------------------------------------------------- registration
@api.post("/register", status_code=202, response_model=Accepted, summary="Create an account (email + password)")
async def register(body: RegisterRequest, request: Request) -> Response:
    await _auth(request).register(ctx_of(request), body.email, body.password)
    return _accepted("Check your inbox: we sent a link to confirm your email address.")


@api.get("/verify-email", summary="Follow the emailed link (HTML for browsers, JSON otherwise)")
async def verify_email_link(request: Request, token: Annotated[str, Query(max_length=200)] = "") -> Response:
    html = pages.wants_html(request.headers.get("accept"))
    try:
        if len(token) < 10:
            raise InvalidEmailToken()
        outcome = await _auth(request).verify_email(ctx_of(request), token)
    except AppError as exc:
        if html:
            return pages.error_page("This link does not work", exc.message, exc.code, exc.http_status)
        raise
    if html:
        return pages.verified_page(outcome == "already_verified")
    return json_response({"status": outcome})


@api.post("/verify-email", summary="Confirm the email address with the token from the link")
async def verify_email(body: TokenRequest, request: Request) -> Response:
    outcome = await _auth(request).verify_email(ctx_of(request), body.token)
    return json_response({"status": outcome})


@api.post("/resend-verification", status_code=202, response_model=Accepted)
async def resend_verification(body: EmailOnlyRequest, request: Request) -> Response:
    await _auth(request).resend_verification(ctx_of(request), body.email)
    return _accepted("If that account exists and is not confirmed yet, a new link is on its way.")


# ------------------------------------------------------------------------------ login and tokens
@api.post("/login", response_model=TokenPair,
          summary="Sign in; with use_cookies=true the tokens go into httpOnly cookies (web app)")
async def login(body: LoginRequest, request: Request) -> Response:
    session = await _auth(request).login(ctx_of(request), body.email, body.password, body.totp_code)
    return _session_response(request, session, body.use_cookies)


async def _family_of(container: Container, refresh_token: str) -> str | None:
    return await repo.refresh_token_family(container.db, hash_secret(refresh_token))


@api.post("/refresh", response_model=TokenPair, summary="Rotate the refresh token (body, or the mc_refresh cookie)")
async def refresh(request: Request, body: RefreshRequest | None = None) -> Response:
    container = get_container(request)
    token = body.refresh_token if body is not None else None
    use_cookies = False
    if not token:
        token = request.cookies.get(REFRESH_COOKIE)
        use_cookies = True
        if not token:
            raise InvalidRefreshToken("Send refresh_token (or the mc_refresh cookie).")
        family = await _family_of(container, token)
        if family is None:
            raise InvalidRefreshToken()
        require_csrf_for_session(request, container.settings, family)
    session = await container.auth.refresh(ctx_of(request), token)
    return _session_response(request, session, use_cookies)


@api.post("/logout", status_code=204, summary="End this session (bearer, cookies, or a refresh token)")
async def logout(request: Request, body: LogoutRequest | None = None) -> Response:
    container = get_container(request)
    ctx = ctx_of(request)
    refresh_token = (body.refresh_token if body is not None else None) or request.cookies.get(REFRESH_COOKIE)
    try:
        principal = await current_principal(request)
    except Unauthorized:
        principal = None
    if principal is not None:
        await container.auth.logout(ctx, principal, refresh_token)
    elif refresh_token:
        if body is None or not body.refresh_token:  # from the cookie: cookie requests need the CSRF header
            family = await _family_of(container, refresh_token)
            if family is not None:
                require_csrf_for_session(request, container.settings, family)
        await container.auth.logout_by_refresh_token(ctx, refresh_token)
    else:
        raise Unauthorized()
    response = Response(status_code=204)
    clear_session_cookies(response, request, container.settings)
    return response


# ---------------------------------------------------------------------------------------- sessions
@api.get("/sessions", response_model=list[SessionPublic], summary="My signed-in sessions")
async def sessions(request: Request, principal: PrincipalDep) -> Response:
    require_session(principal)
    return json_response(await _auth(request).list_sessions(principal))


@api.delete("/sessions/{session_id}", status_code=204, summary="Sign out one of my sessions")
async def revoke_session(session_id: str, request: Request, principal: PrincipalDep) -> Response:
    await _auth(request).revoke_session(ctx_of(request), principal, session_id)
    return Response(status_code=204)


@api.post("/sessions/revoke-all", summary="Sign out all my sessions (optionally keeping this one)")
async def revoke_all(request: Request, principal: PrincipalDep, body: RevokeAllRequest | None = None) -> Response:
    keep = body.keep_current if body is not None else False
    n = await _auth(request).revoke_all_sessions(ctx_of(request), principal, keep)
    return json_response({"revoked_tokens": n, "kept_current": keep})


@api.get("/me", response_model=UserPublic, summary="Who am I (works with API keys too)")
async def me(request: Request, principal: PrincipalDep) -> Response:
    return json_response(await _auth(request).me(principal))


@api.get("/security-events", response_model=list[SecurityEvent], summary="My audit log, newest first")
async def security_events(request: Request, principal: PrincipalDep,
                          limit: Annotated[int, Query(ge=1, le=200)] = 50,
                          before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None) -> Response:
    require_session(principal)
    return json_response(await _auth(request).security_events(principal, limit, before_id))


# --------------------------------------------------------------------------------------- passwords
@api.post("/password", status_code=204, summary="Change my password (needs the current one)")
async def change_password(body: ChangePasswordRequest, request: Request, principal: PrincipalDep) -> Response:
    await _auth(request).change_password(ctx_of(request), principal, body.current_password,
                                  body.new_password)
    return Response(status_code=204)


@api.post("/forgot-password", status_code=202, response_model=Accepted)
async def forgot_password(body: EmailOnlyRequest, request: Request) -> Response:
    await _auth(request).forgot_password(ctx_of(request), body.email)
    return _accepted("If that account exists, we sent a link to reset the password.")


@api.get("/reset-password", include_in_schema=False)
async def reset_password_page(request: Request, token: Annotated[str, Query(max_length=200)] = "") -> Response:
    return pages.reset_form_page(token)


@api.post("/reset-password", status_code=204, summary="Set a new password with the emailed token")
async def reset_password(body: ResetPasswordRequest, request: Request) -> Response:
    await _auth(request).reset_password(ctx_of(request), body.token, body.new_password)
    return Response(status_code=204)


@api.post("/reset-password/form", include_in_schema=False)
async def reset_password_form(request: Request) -> Response:
    form = await request.form()
    token, new_password = form.get("token"), form.get("new_password")
    if not isinstance(token, str) or not isinstance(new_password, str) or not 10 <= len(token) <= 200 \
            or len(new_password) > 1024:
        return pages.error_page("This link does not work", "The form was incomplete.", "validation_error", 422)
    try:
        await _auth(request).reset_password(ctx_of(request), token, new_password)
    except AppError as exc:
        if exc.code.startswith("password_"):
            return pages.reset_form_page(token, exc.message, exc.http_status)
        return pages.error_page("This link does not work", exc.message, exc.code, exc.http_status)
    return pages.reset_done_page()


# --------------------------------------------------------------------------------------------- 2FA
@api.post("/2fa/enroll", response_model=TotpEnrollment, summary="Start 2FA: secret + otpauth URI")
async def totp_enroll(request: Request, principal: PrincipalDep) -> Response:
    return json_response(await _auth(request).enroll_totp(ctx_of(request), principal),
                         headers={"Cache-Control": "no-store"})


@api.post("/2fa/confirm", response_model=RecoveryCodes, summary="Turn 2FA on with a code; returns recovery codes")
async def totp_confirm(body: TotpCodeRequest, request: Request, principal: PrincipalDep) -> Response:
    codes = await _auth(request).confirm_totp(ctx_of(request), principal, body.code)
    return json_response({"recovery_codes": codes}, headers={"Cache-Control": "no-store"})


@api.post("/2fa/disable", status_code=204, summary="Turn 2FA off (needs a code)")
async def totp_disable(body: TotpCodeRequest, request: Request, principal: PrincipalDep) -> Response:
    await _auth(request).disable_totp(ctx_of(request), principal, body.code)
    return Response(status_code=204)


@api.post("/2fa/recovery-codes", response_model=RecoveryCodes, summary="New recovery codes (needs a code)")
async def totp_recovery_codes(body: TotpCodeRequest, request: Request, principal: PrincipalDep) -> Response:
    codes = await _auth(request).regenerate_recovery_codes(ctx_of(request), principal, body.code)
    return json_response({"recovery_codes": codes}, headers={"Cache-Control": "no-store"})


# ---------------------------------------------------------------------------------------- API keys
@api.post("/api-keys", status_code=201, response_model=ApiKeyCreated, summary="Create an API key (secret shown once)")
async def create_api_key(body: ApiKeyCreateRequest, request: Request, principal: PrincipalDep) -> Response:
    created = await _auth(request).create_api_key(ctx_of(request), principal, label=body.label,
                                           permissions=list(body.permissions), ip_allowlist=body.ip_allowlist,
                                           totp_code=body.totp_code)
    return json_response(created, status_code=201, headers={"Cache-Control": "no-store"})


@api.get("/api-keys", response_model=list[ApiKeyPublic], summary="My API keys (no secrets)")
async def list_api_keys(request: Request, principal: PrincipalDep) -> Response:
    return json_response(await _auth(request).list_api_keys(principal))


@api.delete("/api-keys/{key_id}", response_model=ApiKeyPublic, summary="Revoke one of my API keys")
async def revoke_api_key(key_id: Annotated[int, Path(ge=1, le=MAX_ID)], request: Request,
                         principal: PrincipalDep) -> Response:
    return json_response(await _auth(request).revoke_api_key(ctx_of(request), principal, key_id))


router.include_router(api)
router.include_router(mailbox.router)


# ---------------------------------------------------------------------------------------- lifespan
def notifier_in_process(settings: Any) -> bool:
    if settings.notifier_in_process is not None:
        return bool(settings.notifier_in_process)
    return not settings.is_production


@asynccontextmanager
async def lifespan(container: Container) -> AsyncIterator[None]:
    """The outbox relay (+ the in-process email consumer when AMQP_URL is set outside production)."""
    async with running_relay(container):
        consumer_task = None
        consumer = None
        if container.settings.amqp_url and notifier_in_process(container.settings):
            from ..notify.worker import EmailConsumer, _start_with_retry   # aio_pika only when it is used

            consumer = EmailConsumer(container.settings, container.db, name="mycrypto-inprocess-notifier")
            stop = asyncio.Event()
            consumer_task = asyncio.create_task(_start_with_retry(consumer, stop), name="email-consumer-start")
            container.email_consumer = consumer
        try:
            yield
        finally:
            if consumer_task is not None:
                stop.set()
                consumer_task.cancel()
                with suppress(asyncio.CancelledError, Exception):
                    await consumer_task
            if consumer is not None:
                await consumer.stop()
                container.email_consumer = None


__all__ = ["router", "lifespan", "SERVICE"]
