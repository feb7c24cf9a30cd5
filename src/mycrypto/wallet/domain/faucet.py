"""The development faucet: test funds for `mycrypto up`, never in production.

A grant is a posting of kind `faucet` from chain_in (as if the coins had been deposited), capped
per call so a script cannot mint absurd balances that make the UI and tests meaningless.
"""
from __future__ import annotations

from decimal import Decimal

from .errors import RuleViolation
from .ledger import Leg, Posting

# Per-call caps (and the default grant) by asset; assets not listed get DEFAULT_CAP.
CAPS: dict[str, Decimal] = {"BTC": Decimal("1"), "ETH": Decimal("10"), "USDT": Decimal("10000")}
DEFAULT_CAP = Decimal("100")


def cap_for(asset: str) -> Decimal:
    return CAPS.get(asset, DEFAULT_CAP)


def grant_amount(asset: str, requested: Decimal | None) -> Decimal:
    """The amount to grant: the cap when nothing was asked, else the request if within the cap."""
    cap = cap_for(asset)
    if requested is None:
        return cap
    if requested > cap:
        raise RuleViolation("faucet_limit", f"The faucet gives at most {cap.normalize():f} {asset} per call.",
                            details={"asset": asset, "max_amount": cap})
    return requested


def faucet_posting(reference: str, asset: str, amount: Decimal, *, user_account: int,
                   chain_in_account: int) -> Posting:
    return Posting("faucet", "faucet", reference, (
        Leg(user_account, asset, amount),
        Leg(chain_in_account, asset, -amount),
    ))
