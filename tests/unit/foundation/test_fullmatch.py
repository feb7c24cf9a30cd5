"""Input validation uses full-match semantics (issue 11): `re.match` with a `$`-anchored pattern accepts
a final newline ("abc\n" matches r"^abc$"), which let "1000\n" through as a price and "abc\n" as a client
order id. Every validating regex in src/ is applied with `fullmatch`; this guard keeps it that way."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[3] / "src" / "mycrypto"
# Prefix scans on purpose (not validation): the migration splitter reads a dollar-quote tag at a position.
ALLOWED = {("db/migrate.py", r're.match(r"\$[A-Za-z_]*\$", sql[i:])')}


def test_no_prefix_match_is_used_to_validate_input():
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        for line in path.read_text().splitlines():
            if re.search(r"\.match\(", line) and not any(rel == f and snippet in line for f, snippet in ALLOWED):
                found.append(f"{rel}: {line.strip()}")
    assert not found, "use re.fullmatch / pattern.fullmatch to validate input:\n" + "\n".join(found)


@pytest.mark.parametrize("module, name, good", [
    ("mycrypto.common.money", "_PLAIN_DECIMAL", "10"),
    ("mycrypto.trading.domain.rules", "CLIENT_ORDER_ID", "abc"),
    ("mycrypto.wallet.withdrawal_service", "_IDEMPOTENCY_KEY", "key-1"),
    ("mycrypto.auth.domain.signing", "_DIGITS", "1700000000000"),
    ("mycrypto.compat.binance.domain.params", "_DECIMAL", "0.01"),
    ("mycrypto.compat.binance.domain.params", "_CLIENT_ID", "abc"),
])
def test_validating_patterns_refuse_a_final_newline(module, name, good):
    import importlib

    pattern = getattr(importlib.import_module(module), name)
    assert pattern.fullmatch(good)
    assert not pattern.fullmatch(good + "\n")


def test_parsers_refuse_a_final_newline():
    from mycrypto.common.money import InvalidAmount, parse_amount
    from mycrypto.trading.domain.rules import OrderRuleError, check_client_order_id

    for text in ("1000\n", "0.01\n", "10\n"):
        with pytest.raises(InvalidAmount):
            parse_amount(text)
    with pytest.raises(OrderRuleError) as exc:
        check_client_order_id("abc\n")
    assert exc.value.code == "invalid_client_order_id"
