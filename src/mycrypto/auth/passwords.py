"""Password hashing (argon2id via argon2-cffi) and the policy check with the shipped common list.

Hashing costs tens of milliseconds and 64 MiB by default, so it runs in a worker thread (never on
the event loop) in a small dedicated pool: a login flood queues instead of exhausting memory.
Hash parameters come from settings; `needs_rehash` tells the login use case to upgrade a hash made
with older parameters (the new hash is stored in the same transaction as the successful login).
"""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from importlib import resources
from typing import Any

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .domain.passwords import check_password, normalise_password

_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="argon2")


async def _in_pool(fn: Any, *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(_POOL, fn, *args)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    text = (resources.files("mycrypto.auth.data") / "common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def validate_new_password(password: str, email: str | None) -> None:
    """Raise domain Rejected when the password breaks the policy (length >= 12, not common, ...)."""
    check_password(password, email=email, common=common_passwords())


@lru_cache(maxsize=8)
def _hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism,
                          hash_len=32, salt_len=16, type=Type.ID)


def hasher(settings: Any) -> PasswordHasher:
    return _hasher(settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism)


async def hash_password(settings: Any, password: str) -> str:
    return await _in_pool(hasher(settings).hash, normalise_password(password))


def _verify(ph: PasswordHasher, stored: str, password: str) -> bool:
    try:
        return ph.verify(stored, normalise_password(password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password(settings: Any, stored: str | None, password: str) -> bool:
    """True when `password` matches; with no stored hash, burns the same time and returns False."""
    ph = hasher(settings)
    if stored is None:
        await _in_pool(lambda: _verify(ph, _dummy_hash(settings), password))
        return False
    return await _in_pool(_verify, ph, stored, password)


def needs_rehash(settings: Any, stored: str) -> bool:
    try:
        return hasher(settings).check_needs_rehash(stored)
    except InvalidHashError:
        return True


@lru_cache(maxsize=8)
def _dummy_for(time_cost: int, memory_kib: int, parallelism: int) -> str:
    return _hasher(time_cost, memory_kib, parallelism).hash("not-a-real-password-timing-equaliser")


def _dummy_hash(settings: Any) -> str:
    return _dummy_for(settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism)
