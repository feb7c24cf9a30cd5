"""Auth errors with stable codes (the contract clients and the Binance-compatible API map from).

Signed API-key requests (docs/auth.md "Signed requests") raise these distinct codes:
  api_key_missing, api_key_invalid            -> Binance -2014 / -2015
  signature_missing, signature_invalid        -> Binance -1102 / -1022
  timestamp_missing, timestamp_invalid, recv_window_invalid -> Binance -1102 / -1100
  timestamp_outside_recv_window               -> Binance -1021
  ip_not_allowed, permission_denied           -> Binance -2015
"""
from __future__ import annotations

from ..common.errors import AppError, Conflict, Forbidden, NotFound, RateLimited, Unauthorized, ValidationFailed
from .domain.rules import Rejected


class EmailNotVerified(Forbidden):
    code, message = "email_not_verified", "Verify your email address first."


class PermissionDenied(Forbidden):
    code, message = "permission_denied", "These credentials lack the required permission."


class CsrfFailed(Forbidden):
    code, message = "csrf_failed", "Missing or invalid X-CSRF-Token header."


class SessionRevoked(Unauthorized):
    code, message = "session_revoked", "This session was signed out; sign in again."


class RegistrationDisabled(Forbidden):
    code, message = "registration_disabled", "Registration is currently closed."


class InvalidCredentials(Unauthorized):
    code, message = "invalid_credentials", "The email or password is incorrect."


class LoginLocked(RateLimited):
    code = "login_locked"
    message = "Too many failed sign-in attempts; try again later or reset your password."


class AccountInactive(Unauthorized):
    code, message = "account_inactive", "This account is not active."


class InvalidRefreshToken(Unauthorized):
    code, message = "invalid_refresh_token", "The refresh token is invalid or expired."


class RefreshTokenReused(Unauthorized):
    code, message = ("refresh_token_reused",
                     "This refresh token was already used; the session was revoked for safety. Sign in again.")


class InvalidEmailToken(AppError):
    code, http_status, message = "invalid_email_token", 400, "This link is invalid or has expired."


class WrongPassword(Unauthorized):
    code, message = "wrong_password", "The current password is incorrect."


class TotpAlreadyEnabled(Conflict):
    code, message = "totp_already_enabled", "Two-factor authentication is already on."


class TotpNotEnrolled(Conflict):
    code, message = "totp_not_enrolled", "Start 2FA enrollment first."


class TotpNotEnabled(Conflict):
    code, message = "totp_not_enabled", "Two-factor authentication is not on."


class SessionRequired(Forbidden):
    code, message = "session_required", "Sign in with a password to do this; API keys cannot."


class SessionNotFound(NotFound):
    code, message = "session_not_found", "No such session."


class ApiKeyNotFound(NotFound):
    code, message = "api_key_not_found", "No such API key."


class TooManyApiKeys(Conflict):
    code, message = "too_many_api_keys", "You have the maximum number of API keys; revoke one first."


class ApiKeyMissing(Unauthorized):
    code, message = "api_key_missing", "Send your API key in the X-MBX-APIKEY header."


class ApiKeyInvalid(Unauthorized):
    code, message = "api_key_invalid", "API-key format invalid, unknown or revoked."


class SignatureMissing(Unauthorized):
    code, message = "signature_missing", "This request must be signed."


class SignatureInvalid(Unauthorized):
    code, message = "signature_invalid", "Signature for this request is not valid."


class TimestampMissing(ValidationFailed):
    code, http_status, message = "timestamp_missing", 400, "Mandatory parameter 'timestamp' was not sent."


class TimestampInvalid(ValidationFailed):
    code, http_status, message = "timestamp_invalid", 400, "'timestamp' is not valid."


class RecvWindowInvalid(ValidationFailed):
    code, http_status, message = "recv_window_invalid", 400, "'recvWindow' is not valid."


class TimestampOutsideRecvWindow(ValidationFailed):
    code, http_status, message = ("timestamp_outside_recv_window", 400,
                                  "Timestamp for this request is outside of the recvWindow.")


class IpNotAllowed(Forbidden):
    code, message = "ip_not_allowed", "This API key may not be used from your IP address."


_SIGNING_ERRORS: dict[str, type[AppError]] = {
    "signature_missing": SignatureMissing, "signature_invalid": SignatureInvalid,
    "timestamp_missing": TimestampMissing, "timestamp_invalid": TimestampInvalid,
    "recv_window_invalid": RecvWindowInvalid, "timestamp_outside_recv_window": TimestampOutsideRecvWindow,
}


def from_rejected(exc: Rejected) -> AppError:
    """A pure rule's refusal as the API error: a signing class when there is one, else a 422."""
    cls = _SIGNING_ERRORS.get(exc.code)
    if cls is not None:
        return cls(exc.message)
    return ValidationFailed(exc.message, code=exc.code)
