"""Create users, tokens and funds directly in the database, for tests of other services.

These bypass the HTTP sign-up flow on purpose (the auth tests cover that flow end to end);
funding goes through the real ledger (`apply_changes`), so the books stay balanced.
"""
from __future__ import annotations

import itertools
from decimal import Decimal

from argon2 import PasswordHasher

from mycrypto.auth.tokens import issue_access_token
from mycrypto.wallet.domain.ledger import Leg, Posting
from mycrypto.wallet.ledger import apply_changes, ensure_user_accounts, system_accounts

_counter = itertools.count(1)
DEFAULT_PASSWORD = "correct horse battery staple 42"
_FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
_FAST_HASH = _FAST_HASHER.hash(DEFAULT_PASSWORD)


async def create_user(db, *, email: str | None = None, verified: bool = True, role: str = "user",
                      password_hash: str | None = None) -> int:
    email = email or f"user{next(_counter)}@example.com"
    return await db.fetchval(
        "INSERT INTO auth.app_user (email, password_hash, role, email_verified_at) "
        "VALUES ($1, $2, $3::auth.user_role, CASE WHEN $4 THEN now() END) RETURNING id",
        email.lower(), password_hash or _FAST_HASH, role, verified)


def bearer(settings, user_id: int, role: str = "user") -> dict[str, str]:
    token, _ = issue_access_token(settings, user_id=user_id, role=role, session_id=None)
    return {"Authorization": f"Bearer {token}"}


async def fund(db, user_id: int, asset: str, amount: str | Decimal) -> None:
    """Credit `amount` of `asset` to the user's available balance, balanced against chain_in."""
    amount = Decimal(str(amount))
    async with db.unit_of_work() as uow:
        accounts = await ensure_user_accounts(uow.conn, user_id, [asset])
        system = await system_accounts(uow.conn)
        posting = Posting("adjustment", "test_funding", str(user_id), (
            Leg(accounts[asset], asset, amount),
            Leg(system[("chain_in", asset)], asset, -amount),
        ))
        await apply_changes(uow.conn, [posting])
        await uow.commit()
