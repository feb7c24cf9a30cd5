"""Exact conversions between a chain's integer units (wei, token base units) and Decimal amounts."""
from __future__ import annotations

from decimal import Decimal, localcontext


def to_amount(units: int, decimals: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 80
        return Decimal(units).scaleb(-decimals)


def to_units(amount: Decimal, decimals: int) -> int:
    """The integer units of `amount`; ValueError when it has more decimals than the chain keeps."""
    with localcontext() as ctx:
        ctx.prec = 80
        scaled = amount.scaleb(decimals)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{amount} has more than {decimals} decimals")
        return int(scaled)
