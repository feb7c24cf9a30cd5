"""`mycrypto smoke provision`: the two smoke accounts the smoke tests sign in with, funded through the ledger.

Production has no faucet, so the smoke accounts are funded by an OPERATOR account (an existing user
account the exchange holds funds in, e.g. treasury@...): each grant is one balanced posting of kind
`adjustment` (reference `smoke_funding`) moving `available` from the operator's account to the smoke
account, applied with wallet.ledger.apply_changes like every balance change - so `mycrypto verify`
stays green and the operator's balance visibly pays for it. A grant the operator cannot cover is
refused by the database (insufficient funds) and nothing moves.

Accounts are created verified (the operator vouches for the addresses), with a random password
unless one is given; running provision again keeps existing accounts (their password is reset
only with `--reset-password`) and tops their balances up to the targets. Returns a `Provisioned`
record; the CLI writes the credentials as an env file (mode 600) that `mycrypto smoke --accounts`
and scripts/smoke_tests.sh read.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..auth import accounts
from ..wallet.domain.ledger import Leg, Posting
from ..wallet.ledger import apply_changes, ensure_user_accounts


class ProvisionError(Exception):
    """Provisioning cannot proceed; the message says why."""


@dataclass
class Provisioned:
    accounts: list[tuple[str, str | None]]       # (email, password or None when kept)
    funded: list[tuple[str, str, Decimal]] = field(default_factory=list)   # (email, asset, amount moved)

    def env_file(self) -> str:
        lines = ["# smoke accounts for `mycrypto smoke` / scripts/smoke_tests.sh (keep this secret)"]
        for label, (email, password) in zip("AB", self.accounts):
            lines.append(f"SMOKE_EMAIL_{label}={email}")
            if password is not None:
                lines.append(f"SMOKE_PASSWORD_{label}={password}")
        return "\n".join(lines) + "\n"


async def provision(conn: Any, settings: Any, *, emails: tuple[str, str], operator_email: str,
                    targets: dict[str, Decimal], password: str | None = None,
                    reset_password: bool = False) -> Provisioned:
    """Create (or keep) the two smoke accounts and top each up to `targets` (asset -> amount) from the
    operator's available balance, in one transaction."""
    result = Provisioned([])
    async with conn.transaction():
        operator_id = await accounts.user_id_by_email(conn, operator_email.lower())
        if operator_id is None:
            raise ProvisionError(f"no operator account {operator_email}; create it first "
                                 "(e.g. `mycrypto user create-admin`) and fund it")
        user_ids = []
        for email in emails:
            email = email.lower()
            if email == operator_email.lower():
                raise ProvisionError("a smoke account cannot be the operator account")
            user_id = await accounts.user_id_by_email(conn, email, for_update=True)
            secret = None
            if user_id is None:
                secret = password or secrets.token_urlsafe(24)
                user_id = await accounts.create_verified_user(conn, settings, email, secret)
            elif reset_password:
                secret = password or secrets.token_urlsafe(24)
                await accounts.set_password(conn, settings, user_id, secret)
            user_ids.append(user_id)
            result.accounts.append((email, secret))
        assets = sorted(targets)
        op_accounts = await ensure_user_accounts(conn, operator_id, assets)
        postings = []
        for email, user_id in zip(emails, user_ids):
            mine = await ensure_user_accounts(conn, user_id, assets)
            for asset in assets:
                have = await conn.fetchval("SELECT available FROM wallet.account WHERE id = $1", mine[asset])
                missing = targets[asset] - have
                if missing <= 0:
                    continue
                postings.append(Posting("adjustment", "smoke_funding", f"{operator_id}->{user_id}:{asset}", (
                    Leg(mine[asset], asset, missing), Leg(op_accounts[asset], asset, -missing))))
                result.funded.append((email.lower(), asset, missing))
        if postings:
            try:
                await apply_changes(conn, postings)
            except Exception as exc:   # the ledger refuses an overdraft: say whose and of what
                raise ProvisionError(f"the operator account {operator_email} cannot fund the smoke accounts: "
                                     f"{exc}") from None
    return result


def write_env_file(path: str | Path, provisioned: Provisioned) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.touch(mode=0o600, exist_ok=True)
    target.chmod(0o600)
    target.write_text(provisioned.env_file())


def read_env_file(path: str | Path) -> dict[str, str]:
    values = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values
