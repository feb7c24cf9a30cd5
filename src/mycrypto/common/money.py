"""Money at the edges: strict decimal parsing and quantisation. A float never touches an amount.

JSON carries amounts as strings like "0.5" or "25000.12". `parse_amount` accepts only a string of
plain digits with an optional fraction: no sign, exponent, NaN, Infinity, whitespace (a final newline
included: the whole string must match) and no JSON number at all - 0.1 and 10 alike - so "1e3", "-1",
"NaN", "1\n", 0.1 and 10 are refused with the stable code `invalid_amount` (one rule for every money
field of the native API; docs/wallet.md "Amounts").
"""
from __future__ import annotations

import re
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext

from .errors import ValidationFailed

_PLAIN_DECIMAL = re.compile(r"(0|[1-9][0-9]{0,29})(\.[0-9]{1,30})?")   # always used with fullmatch

# Rounding rules (docs/wallet.md, "Rounding rule"): amounts a user asks for are never rounded (too
# many decimals is an error); computed fees round UP in the exchange's favour (ceiling); computed
# amounts a user receives, and deposits finer than the asset, round DOWN. Display uses banker's
# rounding only where no money moves.
FEE_ROUNDING = ROUND_CEILING
PAYOUT_ROUNDING = ROUND_DOWN
DISPLAY_ROUNDING = ROUND_HALF_EVEN


class InvalidAmount(ValidationFailed):
    code = "invalid_amount"


def parse_amount(value: object, *, field: str = "amount", max_decimals: int | None = None,
                 allow_zero: bool = False) -> Decimal:
    """Parse a client-supplied amount string into a Decimal, refusing anything ambiguous."""
    if not isinstance(value, str):   # a JSON number (int or float), bool, null, list...: never money
        raise InvalidAmount(f"{field} must be a decimal string such as \"0.5\" (a JSON string, not a number).",
                            details={"field": field})
    text = value
    if not _PLAIN_DECIMAL.fullmatch(text):
        raise InvalidAmount(f"{field} must be a plain positive decimal like \"0.5\" "
                            "(no sign, exponent, NaN or Infinity).", details={"field": field})
    amount = Decimal(text)
    if amount == 0 and not allow_zero:
        raise InvalidAmount(f"{field} must be greater than zero.", details={"field": field})
    if max_decimals is not None and decimals_of(amount) > max_decimals:
        raise InvalidAmount(f"{field} has more than {max_decimals} decimal places.",
                            code="amount_precision", details={"field": field, "max_decimals": max_decimals})
    return amount


def decimals_of(amount: Decimal) -> int:
    """Number of significant decimal places (trailing zeros do not count)."""
    exponent = amount.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def quantum(decimals: int) -> Decimal:
    return Decimal(1).scaleb(-decimals)


def quantize(amount: Decimal, decimals: int, rounding: str = ROUND_DOWN) -> Decimal:
    """Quantise to an asset's precision with an explicit rounding rule."""
    with localcontext() as ctx:
        ctx.prec = 60
        try:
            return amount.quantize(quantum(decimals), rounding=rounding)
        except InvalidOperation as exc:  # only on absurd magnitudes; still a client error, not a 500
            raise InvalidAmount("amount is out of range.") from exc


def fmt(amount: Decimal) -> str:
    """Canonical wire format: plain notation, no exponent, no trailing zeros ("1.5", "0", "0.00001")."""
    if amount == 0:
        return "0"
    text = format(amount.normalize(), "f")
    return text
