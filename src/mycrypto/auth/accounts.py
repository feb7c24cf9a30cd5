"""Accounts an operator creates from the command line instead of through sign-up: verified at once (the
operator vouches for the address), with a password the operator chose or a random one.

The public way for other packages to do this (ops' smoke accounts, `mycrypto smoke provision`); the
`mycrypto user` commands use it too. Sign-up with an emailed link is `AuthService.register`. The email
rules are the sign-up's: `normalise_email` raises `Rejected` (with a stable `code`) for an address the
login endpoint would not accept.
"""
from __future__ import annotations

from typing import Any

from ..db.database import Queryable
from . import repository as repo
from .domain.emails import normalise_email
from .domain.rules import Rejected
from .passwords import hash_password

__all__ = ["Rejected", "create_verified_user", "normalise_email", "set_password", "user_id_by_email"]


async def user_id_by_email(conn: Queryable, email: str, *, for_update: bool = False) -> int | None:
    row = await repo.user_by_email(conn, email, for_update=for_update)
    return None if row is None else row["id"]


async def create_verified_user(conn: Queryable, settings: Any, email: str, password: str, *,
                               role: str = "user") -> int | None:
    """The new user's id, or None when the email already has an account (nothing written)."""
    return await repo.insert_user(conn, email, await hash_password(settings, password), role=role, verified=True)


async def set_password(conn: Queryable, settings: Any, user_id: int, password: str) -> None:
    await repo.set_password(conn, user_id, await hash_password(settings, password))
