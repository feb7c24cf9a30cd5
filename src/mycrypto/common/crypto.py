"""Encryption of secrets we must be able to read back (API-key secrets, TOTP seeds, sealed email values).

AES-256-GCM with a key derived (HKDF-SHA256) from a data-encryption key and a purpose label, so a
value encrypted for one purpose cannot be decrypted as another. Keys come in a `KeyRing`
(settings.data_keys: DATA_ENCRYPTION_KEYS / DATA_ENCRYPTION_KEY, docs/key-rotation.md):

- encrypt uses the active key and writes `v2.<key id>.<base64url(nonce|ct)>`; the key id is also part
  of the authenticated data, so a ciphertext whose id was edited does not decrypt under another key;
- decrypt picks the key by the id; an id not in the ring is `UnknownKeyId` (the key was retired);
- `v1.<base64url(nonce|ct)>` (written before key ids existed) decrypts with the legacy key (id `default`).

A bare string where a KeyRing is expected means a one-key ring with that string as the legacy key.
"""
from __future__ import annotations

import base64
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..config import LEGACY_KEY_ID, KeyRing

_V1 = "v1."
_V2 = "v2."


class DecryptError(ValueError):
    """The ciphertext is malformed, or was not made with this key (or for this purpose)."""


class UnknownKeyId(DecryptError):
    """The ciphertext names a key id that is not in the ring (retired, or never configured here)."""


@lru_cache(maxsize=64)
def _key(master: str, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"mycrypto-data-key",
                info=purpose.encode()).derive(master.encode())


def _ring(keys: KeyRing | str) -> KeyRing:
    return KeyRing.single(keys) if isinstance(keys, str) else keys


def key_id_of(token: str) -> str | None:
    """The key id a ciphertext was made with (`default` for v1), or None when it is not one of ours."""
    if token.startswith(_V1):
        return LEGACY_KEY_ID
    if token.startswith(_V2):
        kid, sep, _ = token[len(_V2):].partition(".")
        return kid if sep and kid else None
    return None


def encrypt(keys: KeyRing | str, purpose: str, plaintext: str) -> str:
    ring = _ring(keys)
    kid = ring.active_id
    nonce = os.urandom(12)
    ct = AESGCM(_key(ring.active, purpose)).encrypt(nonce, plaintext.encode(), _aad(purpose, kid))
    return f"{_V2}{kid}.{base64.urlsafe_b64encode(nonce + ct).decode()}"


def decrypt(keys: KeyRing | str, purpose: str, token: str) -> str:
    ring = _ring(keys)
    if token.startswith(_V1):
        master, body, aad = ring.legacy, token[len(_V1):], purpose.encode()
        if master is None:
            raise UnknownKeyId("a v1 ciphertext needs the legacy key (id 'default'), which is retired")
    elif token.startswith(_V2):
        kid, sep, body = token[len(_V2):].partition(".")
        if not sep:
            raise DecryptError("malformed ciphertext")
        master, aad = ring.get(kid), _aad(purpose, kid)
        if master is None:
            raise UnknownKeyId(f"unknown data-encryption key id {kid[:32]!r}")
    else:
        raise DecryptError("unknown ciphertext version")
    try:
        raw = base64.urlsafe_b64decode(body)
        return AESGCM(_key(master, purpose)).decrypt(raw[:12], raw[12:], aad).decode()
    except (InvalidTag, ValueError) as exc:  # ValueError: bad base64 / too short / not UTF-8
        raise DecryptError("ciphertext does not decrypt under its key") from exc


def needs_reencrypt(keys: KeyRing, token: str) -> bool:
    """True when a stored ciphertext is not under the active key (what `mycrypto keys rotate` fixes)."""
    return key_id_of(token) != keys.active_id or token.startswith(_V1)


def _aad(purpose: str, kid: str) -> bytes:
    return f"{purpose}|{kid}".encode()
