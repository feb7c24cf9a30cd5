"""API keys (use cases of `AuthService`): create (secret shown once), list, revoke; and Binance-style
signed-request authentication.

`container.auth.authenticate_signed_request(request, permission=None) -> Principal` is the reusable
check (the Binance-compatible API calls it; `current_principal` through `resolve_api_key`). It raises
AppErrors with distinct codes (see auth/errors.py): api_key_missing, api_key_invalid,
signature_missing, signature_invalid, timestamp_missing, timestamp_invalid, recv_window_invalid,
timestamp_outside_recv_window, ip_not_allowed, permission_denied.

Secrets are stored encrypted (AES-GCM, purpose `api-key-secret`) because verifying an HMAC needs the
secret itself. Key records are cached per process for `KEY_CACHE_TTL_S` (the hot order path must
not query the database per request); a revocation takes effect at once on the replica that made it
and within that TTL on the others.
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from ..common.crypto import DecryptError, decrypt, encrypt, key_id_of
from ..common.errors import ValidationFailed
from ..common.http import client_ip
from ..db.database import Queryable
from . import audit
from . import repository as repo
from .core import AuthCore, RequestContext, require_session
from .domain import limits, signing
from .domain.rules import Rejected
from .domain.tokens import new_api_key_pair
from .errors import ApiKeyInvalid, ApiKeyMissing, ApiKeyNotFound, IpNotAllowed, TooManyApiKeys, from_rejected
from .principal import Principal
from .totp import check_second_factor

log = logging.getLogger("mycrypto.auth.apikeys")
SECRET_PURPOSE = "api-key-secret"
API_KEY_HEADER = "x-mbx-apikey"
MAX_KEYS_PER_USER = 30
KEY_CACHE_TTL_S = 3.0
TOUCH_EVERY_S = 60.0
ORDERED_PERMISSIONS = ("read", "trade", "withdraw")


# ------------------------------------------------------------------------------------- management
def _networks(entries: list[str]) -> list[str]:
    out = []
    for raw in entries:
        try:
            out.append(str(ipaddress.ip_network(raw.strip(), strict=False)))
        except ValueError:
            raise ValidationFailed(f"'{raw}' is not an IP address or CIDR network.", code="invalid_ip_allowlist") from None
    return sorted(set(out))


def _public(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "label": row["label"], "api_key": row["api_key"],
            "permissions": [p for p in ORDERED_PERMISSIONS if p in row["permissions"]],
            "ip_allowlist": list(row["ip_allowlist"]), "created_at": repo.iso(row["created_at"]),
            "last_used_at": repo.iso(row["last_used_at"]), "revoked_at": repo.iso(row["revoked_at"])}


# ------------------------------------------------------------------------------- authentication
@dataclass(frozen=True, slots=True)
class KeyRecord:
    id: int
    user_id: int
    secret: str
    permissions: frozenset[str]
    networks: tuple[Any, ...]
    revoked: bool


class ApiKeyCache:
    """api key -> KeyRecord (or None for unknown keys, so floods of bad keys stay cheap) for a few seconds."""

    MAX = 100_000

    def __init__(self, ttl: float = KEY_CACHE_TTL_S) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, KeyRecord | None]] = {}
        self._touched: dict[int, float] = {}

    async def get(self, db: Queryable, data_key: Any, api_key: str) -> KeyRecord | None:
        now = time.monotonic()
        hit = self._entries.get(api_key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        row = await repo.api_key_for_auth(db, api_key)
        record = None
        if row is not None:
            try:
                secret = decrypt(data_key, SECRET_PURPOSE, row["secret_enc"])
            except DecryptError:
                # its data-encryption key was retired before `mycrypto keys rotate` re-encrypted it: the
                # key cannot sign anything until the key is back in DATA_ENCRYPTION_KEYS (an operator error)
                log.error("api key %s: its secret does not decrypt (data key id %s not configured?)",
                          row["id"], key_id_of(row["secret_enc"]))
                return self._remember(api_key, now, None)
            record = KeyRecord(row["id"], row["user_id"], secret, frozenset(row["permissions"]),
                               tuple(ipaddress.ip_network(n) for n in row["ip_allowlist"]),
                               row["revoked_at"] is not None)
        return self._remember(api_key, now, record)

    def _remember(self, api_key: str, now: float, record: KeyRecord | None) -> KeyRecord | None:
        if len(self._entries) >= self.MAX:
            self._entries.clear()
        self._entries[api_key] = (now, record)
        return record

    def invalidate(self, api_key: str | None = None) -> None:
        if api_key is None:
            self._entries.clear()
        else:
            self._entries.pop(api_key, None)

    def should_touch(self, key_id: int) -> bool:
        now = time.monotonic()
        if now - self._touched.get(key_id, 0.0) < TOUCH_EVERY_S:
            return False
        if len(self._touched) > self.MAX:
            self._touched.clear()
        self._touched[key_id] = now
        return True


def _valid_key_format(api_key: str) -> bool:
    return 16 <= len(api_key) <= 128 and api_key.isascii() and api_key.isalnum()


class ApiKeys(AuthCore):
    """The API-key use cases of AuthService."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_cache = ApiKeyCache()

    async def create_api_key(self, ctx: RequestContext, principal: Principal, *, label: str,
                             permissions: list[str], ip_allowlist: list[str], totp_code: str | None) -> dict[str, Any]:
        """A new key + secret (returned once). 2FA code required when 2FA is on; 'withdraw' needs an IP list."""
        require_session(principal)
        principal.require_verified()
        perms = [p for p in ORDERED_PERMISSIONS if p in set(permissions) | {"read"}]
        networks = _networks(ip_allowlist)
        if "withdraw" in perms and not networks:
            raise ValidationFailed("A key with the 'withdraw' permission needs an IP allow-list.",
                                   code="withdraw_requires_ip_allowlist")
        if totp_code:  # a code is a guess like any other: same budget as the 2FA endpoints
            await self.limit(limits.TOTP_IP, ctx.ip)
            await self.limit(limits.TOTP_ACCOUNT, principal.user_id)
        api_key, secret = new_api_key_pair()
        settings = self.settings
        async with self.db.unit_of_work() as uow:
            await check_second_factor(uow.conn, settings, principal.user_id, totp_code)
            if await repo.count_active_api_keys(uow.conn, principal.user_id) >= MAX_KEYS_PER_USER:
                raise TooManyApiKeys()
            row = await repo.insert_api_key(
                uow.conn, user_id=principal.user_id, label=label.strip(), api_key=api_key,
                secret_enc=encrypt(settings.data_keys, SECRET_PURPOSE, secret),
                permissions=perms, ip_allowlist=networks)
            await audit.record(uow.conn, "api_key_created", user_id=principal.user_id, ip=ctx.ip,
                               user_agent=ctx.user_agent, details={"api_key_id": row["id"], "permissions": perms,
                                                                   "ip_allowlist": networks})
            await uow.commit()
        return {**_public(row), "secret": secret}

    async def list_api_keys(self, principal: Principal) -> list[dict[str, Any]]:
        require_session(principal)
        return [_public(r) for r in await repo.list_api_keys(self.db, principal.user_id)]

    async def revoke_api_key(self, ctx: RequestContext, principal: Principal, key_id: int) -> dict[str, Any]:
        """Revoke one of the caller's keys; another user's key is indistinguishable from a missing one (404)."""
        require_session(principal)
        async with self.db.unit_of_work() as uow:
            row = await repo.revoke_api_key(uow.conn, principal.user_id, key_id)
            if row is None:
                raise ApiKeyNotFound()
            await audit.record(uow.conn, "api_key_revoked", user_id=principal.user_id, ip=ctx.ip,
                               user_agent=ctx.user_agent, details={"api_key_id": key_id})
            await uow.commit()
        self.key_cache.invalidate(row["api_key"])
        return _public(row)

    async def authenticate_signed_request(self, request: Request, permission: str | None = None) -> Principal:
        """Verify X-MBX-APIKEY + timestamp/recvWindow + HMAC signature (+ IP allow-list, + permission)."""
        api_key = request.headers.get(API_KEY_HEADER)
        if not api_key:
            raise ApiKeyMissing()
        api_key = api_key.strip()
        if not _valid_key_format(api_key):
            raise ApiKeyInvalid()
        content_type = request.headers.get("content-type", "")
        body = ""
        # Only a urlencoded form body is part of what is signed (as on Binance); a JSON body is not.
        if content_type.startswith("application/x-www-form-urlencoded") or (
                not content_type and request.method in ("POST", "PUT", "PATCH", "DELETE")):
            try:
                body = (await request.body()).decode("utf-8")
            except UnicodeDecodeError:
                raise ValidationFailed("The form body is not UTF-8.", code="malformed_body") from None
        query = request.scope.get("query_string", b"").decode("latin-1")
        try:
            signed = signing.extract(query, body)
        except Rejected as exc:
            raise from_rejected(exc) from None
        record = await self.key_cache.get(self.db, self.settings.data_keys, api_key)
        if record is None or record.revoked:
            raise ApiKeyInvalid()
        try:
            # The timestamp is checked first (it is free); then the HMAC over the exact bytes sent.
            signing.check_timestamp(signed.params, int(time.time() * 1000))
            signing.verify_signature(record.secret, signed)
        except Rejected as exc:
            raise from_rejected(exc) from None
        if record.networks:
            ip = client_ip(request, self.settings.trust_proxy_headers)
            try:
                addr = ipaddress.ip_address(ip)
            except ValueError:
                raise IpNotAllowed() from None
            if not any(addr in net for net in record.networks):
                raise IpNotAllowed()
        principal = await self.principal_for_user(record.user_id, api_key_id=record.id,
                                                  permissions=record.permissions)
        if permission is not None:
            principal.require(permission)
        if self.key_cache.should_touch(record.id):
            task = asyncio.create_task(self._touch(record.id))
            self._background.add(task)   # (a task nothing refers to may be garbage-collected mid-run)
            task.add_done_callback(self._background.discard)
        return principal

    async def resolve_api_key(self, request: Request) -> Principal | None:
        """The caller of a signed request (current_principal asks this): None when it carries no API key."""
        if not request.headers.get(API_KEY_HEADER):
            return None
        return await self.authenticate_signed_request(request)

    async def _touch(self, key_id: int) -> None:
        try:
            await repo.touch_api_key(self.db, key_id)
        except Exception:  # last_used_at is informational; never fail a request over it
            log.debug("could not update api key last_used_at", exc_info=True)
