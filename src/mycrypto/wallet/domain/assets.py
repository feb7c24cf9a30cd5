"""An asset's wallet rules (precision, address format, withdrawal limits), pure and immutable.

Loaded from `wallet.asset` by the repository; every check here is a plain function of the rules and
its inputs, so the same rule is applied identically by the API, the CLI and the tests.

Rounding rule (see docs/wallet.md): an amount a user asks for is never rounded. More decimals than
the asset has is refused (`amount_precision`, 422) by `common.money.parse_amount(max_decimals=...)`;
fees are fixed per asset and already a whole number of the asset's smallest unit.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, fields
from decimal import Decimal
from functools import lru_cache
from typing import Any

from .errors import RuleViolation

MAX_ADDRESS_LENGTH = 128


@dataclass(frozen=True, slots=True)
class AssetRules:
    code: str
    name: str
    decimals: int
    chain: str
    confirmations_required: int
    address_pattern: str
    min_withdrawal: Decimal
    withdrawal_fee: Decimal
    daily_withdrawal_limit: Decimal
    withdrawal_auto_approve_max: Decimal
    deposit_enabled: bool = True
    withdraw_enabled: bool = True

    @classmethod
    def from_mapping(cls, row: Any) -> AssetRules:
        return cls(**{f.name: row[f.name] for f in fields(cls)})

    def is_valid_address(self, address: str) -> bool:
        return is_valid_address(self.address_pattern, address)


@lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def is_valid_address(pattern: str, address: object) -> bool:
    """Exact match of the asset's pattern; no trimming (a pasted space is a different address)."""
    if not isinstance(address, str) or not 0 < len(address) <= MAX_ADDRESS_LENGTH:
        return False
    return _compiled(pattern).fullmatch(address) is not None


def check_address(asset: AssetRules, address: object) -> str:
    if not asset.is_valid_address(address):  # type: ignore[arg-type]
        raise RuleViolation("invalid_address", f"This is not a valid {asset.code} address.",
                            details={"asset": asset.code})
    return address  # type: ignore[return-value]
