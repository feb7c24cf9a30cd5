"""Encryption of secrets we must be able to read back (API-key secrets, TOTP seeds).

AES-256-GCM with a key derived (HKDF-SHA256) from DATA_ENCRYPTION_KEY and a purpose label, so a
value encrypted for one purpose cannot be decrypted as another. Output: "v1.<base64url(nonce|ct)>".
"""
from __future__ import annotations

import base64
import os
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = "v1."


@lru_cache(maxsize=32)
def _key(master: str, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"mycrypto-data-key",
                info=purpose.encode()).derive(master.encode())


def encrypt(master_key: str, purpose: str, plaintext: str) -> str:
    nonce = os.urandom(12)
    ct = AESGCM(_key(master_key, purpose)).encrypt(nonce, plaintext.encode(), purpose.encode())
    return _VERSION + base64.urlsafe_b64encode(nonce + ct).decode()


def decrypt(master_key: str, purpose: str, token: str) -> str:
    if not token.startswith(_VERSION):
        raise ValueError("unknown ciphertext version")
    raw = base64.urlsafe_b64decode(token[len(_VERSION):])
    return AESGCM(_key(master_key, purpose)).decrypt(raw[:12], raw[12:], purpose.encode()).decode()
