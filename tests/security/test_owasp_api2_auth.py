"""OWASP API2 (broken authentication), against a real server with rate limits ON.

Forged access tokens (tampered payload, `alg: none`, HS/RS algorithm confusion, a wrong key, expired,
wrong audience or issuer, a refresh token used as an access token), refresh-token reuse (the family is
revoked), TOTP brute force (locked out before the code space is searched, then even the right code
waits), and signed API-key requests: bad signature, replay outside recvWindow, a timestamp from the
future, another user's secret.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

import jwt
import pyotp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.wallet.helpers import enable_2fa
from tests.security.conftest import start_platform
from tests.support.factories import DEFAULT_PASSWORD


@pytest.fixture
async def limited(db, db_dsn):
    p = await start_platform(db, db_dsn, rate_limits_enabled=True)
    try:
        yield p
    finally:
        p.server.stop()


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _hs256_by_hand(claims: dict, key: bytes) -> str:
    """PyJWT refuses to HMAC with a PEM key (its own defence); an attacker is not so polite."""
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64(claims)}"
    mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def _claims(platform, **overrides) -> dict:
    real = jwt.decode(platform.alice.access_token, options={"verify_signature": False})
    real.update(overrides)
    return real


def forged_tokens(platform) -> dict[str, str]:
    settings = platform.settings
    secret = settings.jwt_secret.get_secret_value()
    header, payload, signature = platform.alice.access_token.split(".")
    admin_claims = _claims(platform, sub=str(platform.admin.id), role="admin")
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = rsa_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    now = int(time.time())
    return {
        # the payload swapped for an admin's, the original signature kept
        "tampered": f"{header}.{_b64(admin_claims)}.{signature}",
        "alg_none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(admin_claims)}.",
        "alg_None": f"{_b64({'alg': 'None', 'typ': 'JWT'})}.{_b64(admin_claims)}.",
        # RS256 signed with an attacker's key; and the classic confusion: HS256 keyed with a public key
        "rs256": jwt.encode(admin_claims, rsa_key, algorithm="RS256"),
        "hs256_public_key": _hs256_by_hand(admin_claims, public_pem),
        "hs512_real_secret": jwt.encode(admin_claims, secret, algorithm="HS512"),
        "wrong_secret": jwt.encode(admin_claims, "x" * 64, algorithm="HS256"),
        "expired": jwt.encode(_claims(platform, iat=now - 7200, nbf=now - 7200, exp=now - 3600), secret,
                              algorithm="HS256"),
        "wrong_audience": jwt.encode(_claims(platform, aud="someone-else"), secret, algorithm="HS256"),
        "wrong_issuer": jwt.encode(_claims(platform, iss="https://evil.example"), secret, algorithm="HS256"),
        "no_expiry": jwt.encode({k: v for k, v in _claims(platform).items() if k != "exp"}, secret,
                                algorithm="HS256"),
        "not_access_type": jwt.encode(_claims(platform, typ="refresh"), secret, algorithm="HS256"),
        "refresh_token_as_bearer": platform.alice.refresh_token,
        "garbage": "a.b.c",
    }


async def test_forged_access_tokens_are_refused_everywhere(limited) -> None:
    p = limited
    with p.client() as c:
        for name, token in forged_tokens(p).items():
            for path in ("/api/v1/auth/me", "/api/v1/wallet/balances", "/api/v1/wallet/admin/withdrawals",
                         "/api/v1/trade/orders/open"):
                r = c.get(path, headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 401, (name, path, r.status_code, r.text)
                assert r.json()["error"]["code"] in ("invalid_token", "token_expired"), (name, r.text)
            # the same forgery in the web app's cookie
            r = c.get("/api/v1/auth/me", cookies={"mc_access": token})
            assert r.status_code == 401, (name, r.text)
        # the real token still works: the refusals above are about the forgeries
        assert c.get("/api/v1/auth/me", headers=p.alice.bearer).status_code == 200


async def test_refresh_token_reuse_revokes_the_family(limited) -> None:
    p = limited
    with p.client() as c:
        first = c.post("/api/v1/auth/refresh", json={"refresh_token": p.alice.refresh_token})
        assert first.status_code == 200, first.text
        rotated = first.json()
        reuse = c.post("/api/v1/auth/refresh", json={"refresh_token": p.alice.refresh_token})
        assert reuse.status_code == 401, reuse.text
        # the thief's replay burned the whole family: the legitimate new token is dead too
        again = c.post("/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
        assert again.status_code == 401, again.text
        time.sleep(0.2)
        me = c.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {rotated['access_token']}"})
        assert me.status_code == 401, me.text


async def test_totp_brute_force_is_locked_out(limited) -> None:
    p = limited
    secret = await enable_2fa(p.db, p.settings, p.bob.id)
    right = pyotp.TOTP(secret).now()
    codes = [f"{n:06d}" for n in range(100_000, 100_060) if f"{n:06d}" != right]
    statuses = []
    with p.client() as c:
        for code in codes:
            r = c.post("/api/v1/auth/login", json={"email": p.bob.email, "password": DEFAULT_PASSWORD,
                                                     "totp_code": code})
            statuses.append(r.status_code)
            if r.status_code == 429:
                assert int(r.headers["Retry-After"]) >= 1
                break
        assert 429 in statuses, statuses
        assert statuses.index(429) <= 25, statuses        # a handful of guesses out of a million codes
        assert 200 not in statuses
        # locked: even the right code (and password) must wait
        r = c.post("/api/v1/auth/login", json={"email": p.bob.email, "password": DEFAULT_PASSWORD,
                                                 "totp_code": pyotp.TOTP(secret).now()})
        assert r.status_code == 429, r.text


def _signed_query(secret: str, params: dict[str, str]) -> str:
    query = urlencode(params)
    return f"{query}&signature={hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()}"


async def test_api_key_signatures_replays_and_windows(limited) -> None:
    p = limited
    alice = p.alice
    key = {"X-MBX-APIKEY": alice.api_key}
    now = int(time.time() * 1000)
    with p.client() as c:
        ok = _signed_query(alice.api_secret, {"timestamp": str(now), "recvWindow": "5000"})
        assert c.get(f"/api/v3/account?{ok}", headers=key).status_code == 200
        cases = {
            "bad signature": (f"timestamp={now}&signature={'0' * 64}", -1022),
            "no signature": (f"timestamp={now}", -1102),
            "other user's secret": (_signed_query(p.bob.api_secret, {"timestamp": str(now)}), -1022),
            "tampered after signing": (ok.replace("recvWindow=5000", "recvWindow=60000"), -1022),
            "older than recvWindow": (_signed_query(alice.api_secret, {"timestamp": str(now - 6000)}), -1021),
            "from the future": (_signed_query(alice.api_secret, {"timestamp": str(now + 10_000)}), -1021),
            "window over the max": (_signed_query(alice.api_secret, {"timestamp": str(now),
                                                                      "recvWindow": "600000"}), -1131),
        }
        for name, (query, code) in cases.items():
            r = c.get(f"/api/v3/account?{query}", headers=key)
            assert r.status_code in (400, 401), (name, r.text)
            assert r.json()["code"] == code, (name, r.text)
        # a captured request replayed once its window has passed
        short = _signed_query(alice.api_secret, {"timestamp": str(int(time.time() * 1000)), "recvWindow": "300"})
        assert c.get(f"/api/v3/account?{short}", headers=key).status_code == 200
        time.sleep(0.5)
        replay = c.get(f"/api/v3/account?{short}", headers=key)
        assert replay.status_code == 400 and replay.json()["code"] == -1021, replay.text
        # the same rules on /api/v1 (a signed request is an API-key principal there too)
        replay = c.get(f"/api/v1/wallet/balances?{short}", headers=key)
        assert replay.status_code in (400, 401), replay.text
        assert replay.json()["error"]["code"] == "timestamp_outside_recv_window", replay.text
        # an unknown / revoked key
        r = c.get(f"/api/v3/account?{ok}", headers={"X-MBX-APIKEY": "A" * 64})
        assert r.status_code == 401 and r.json()["code"] == -2015, r.text
