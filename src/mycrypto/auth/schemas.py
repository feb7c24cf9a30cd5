"""Wire models of the auth API (requests are strict: unknown fields and wrong types are 422s).

Emails and passwords are plain bounded strings here; their real rules (normalisation, look-alikes,
policy) live in `auth.domain` so the refusal codes are specific (`email_mixed_script`, ...).
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Email = str
_STRICT = ConfigDict(extra="forbid", strict=True)


class _Request(BaseModel):
    model_config = _STRICT


class RegisterRequest(_Request):
    email: Email = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class EmailOnlyRequest(_Request):
    email: Email = Field(min_length=3, max_length=320)


class TokenRequest(_Request):
    token: str = Field(min_length=10, max_length=200)


class LoginRequest(_Request):
    email: Email = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    totp_code: str | None = Field(None, max_length=32, description="6-digit code or a recovery code")
    use_cookies: bool = Field(False, description="web app: set httpOnly cookies instead of returning tokens")


class RefreshRequest(_Request):
    refresh_token: str | None = Field(None, max_length=200, description="omit in cookie mode")


class LogoutRequest(_Request):
    refresh_token: str | None = Field(None, max_length=200)


class RevokeAllRequest(_Request):
    keep_current: bool = False


class ChangePasswordRequest(_Request):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class ResetPasswordRequest(_Request):
    token: str = Field(min_length=10, max_length=200)
    new_password: str = Field(min_length=1, max_length=1024)


class TotpCodeRequest(_Request):
    code: str = Field(min_length=1, max_length=32)


Permission = Literal["read", "trade", "withdraw"]


class ApiKeyCreateRequest(_Request):
    label: str = Field("", max_length=64)
    permissions: list[Permission] = Field(default_factory=lambda: ["read"], min_length=1, max_length=3)
    ip_allowlist: list[str] = Field(default_factory=list, max_length=20,
                                    description="IPs or CIDR networks; required for 'withdraw'")
    totp_code: str | None = Field(None, max_length=32)


class UserPublic(BaseModel):
    id: int
    email: str
    role: str
    email_verified: bool
    totp_enabled: bool
    created_at: str | None = None


class TokenPair(BaseModel):
    token_type: str = "Bearer"
    access_token: str | None = None
    expires_in: int
    refresh_token: str | None = None
    refresh_expires_in: int
    session_id: str
    csrf_token: str | None = None
    user: UserPublic


class Accepted(BaseModel):
    status: str
    message: str


class SessionPublic(BaseModel):
    id: str
    created_at: str
    last_used_at: str
    expires_at: str
    ip: str | None
    user_agent: str | None
    current: bool


class TotpEnrollment(BaseModel):
    secret: str
    otpauth_uri: str


class RecoveryCodes(BaseModel):
    recovery_codes: list[str]


class ApiKeyPublic(BaseModel):
    id: int
    label: str
    api_key: str
    permissions: list[str]
    ip_allowlist: list[str]
    created_at: str
    last_used_at: str | None
    revoked_at: str | None


class ApiKeyCreated(ApiKeyPublic):
    secret: str = Field(description="shown once; store it now")


class SecurityEvent(BaseModel):
    id: int
    event: str
    ip: str | None
    user_agent: str | None
    details: dict
    created_at: str
