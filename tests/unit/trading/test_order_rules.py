"""Market rules before the matching core: ticks, lots, min/max quantity, min notional, options."""
from decimal import Decimal as D

import pytest

from mycrypto.common.markets import MarketConfigError, MarketSpec, units_str
from mycrypto.trading.domain.matching import BUY, FOK, GTC, IOC, SELL, STP_EXPIRE_MAKER, STP_NONE
from mycrypto.trading.domain.rules import LIMIT, MARKET, OrderRuleError, validate_order


def spec(**over):
    values = dict(id=1, symbol="BTC-USDT", base="BTC", quote="USDT", base_decimals=8, quote_decimals=8,
                  tick_size=D("0.01"), lot_size=D("0.00001"), min_qty=D("0.00001"), max_qty=D("9000"),
                  min_notional=D("5"), maker_fee=D("0.0008"), taker_fee=D("0.0010"))
    values.update(over)
    return MarketSpec.build(**values)


BTC = spec()


def code(**kw):
    with pytest.raises(OrderRuleError) as info:
        validate_order(BTC, **kw)
    return info.value.code


def test_spec_derives_exact_integer_factors():
    assert BTC.quote_per_ticklot == 10 and BTC.base_per_lot == 1000 and BTC.tick_units == 1_000_000
    assert BTC.min_notional_units == 500_000_000 and BTC.maker_ppm == 800 and BTC.taker_ppm == 1000
    assert BTC.min_qty_lots == 1 and BTC.max_qty_lots == 900_000_000
    assert BTC.cost_units(5_000_000, 1000) == 500 * 10**8    # 50000 USDT * 0.01 BTC = 500 USDT
    eth_btc = spec(symbol="ETH-BTC", base="ETH", quote="BTC", tick_size=D("0.00001"), lot_size=D("0.001"),
                   min_qty=D("0.001"), min_notional=D("0.0001"))
    assert eth_btc.quote_per_ticklot == 1 and eth_btc.base_per_lot == 100_000


def test_spec_refuses_inexact_sizes():
    with pytest.raises(MarketConfigError):
        spec(tick_size=D("0.001"), lot_size=D("0.000001"))      # 1e-9: finer than USDT's 8 decimals
    with pytest.raises(MarketConfigError):
        spec(maker_fee=D("0.00000001"))


def test_units_str_is_canonical():
    assert [units_str(n, 8) for n in (0, 1, 150_000_000, 100_000_000, 12_345)] == [
        "0", "0.00000001", "1.5", "1", "0.00012345"]
    assert units_str(-150, 2) == "-1.5" and units_str(7, 0) == "7"
    assert BTC.price_str(5_000_001) == "50000.01" and BTC.qty_str(1) == "0.00001"


def test_valid_limit_and_market_orders():
    it = validate_order(BTC, side="buy", type="limit", price=D("50000.01"), quantity=D("0.1"))
    assert (it.side, it.kind, it.tif, it.stp, it.price_ticks, it.qty_lots) == (BUY, LIMIT, GTC, STP_EXPIRE_MAKER,
                                                                                 5_000_001, 10_000)
    it = validate_order(BTC, side="SELL", type="limit", price=D("50000"), quantity=D("0.1"), time_in_force="fok",
                        stp="none", client_order_id="abc:1/2_3-4.5")
    assert (it.side, it.tif, it.stp, it.client_order_id) == (SELL, FOK, STP_NONE, "abc:1/2_3-4.5")
    it = validate_order(BTC, side="buy", type="market", quote_quantity=D("100.12345678"))
    assert (it.kind, it.tif, it.quote_units, it.qty_lots) == (MARKET, IOC, 10_012_345_678, 0)
    it = validate_order(BTC, side="sell", type="market", quantity=D("0.5"), time_in_force="IOC")
    assert it.qty_lots == 50_000 and it.quote_units == 0


@pytest.mark.parametrize("kw,expected", [
    (dict(side="buy", type="limit", price=D("50000.001"), quantity=D("0.1")), "price_tick"),
    (dict(side="buy", type="limit", price=D("50000"), quantity=D("0.000015")), "quantity_step"),
    (dict(side="buy", type="limit", price=D("1"), quantity=D("1")), "notional_too_small"),
    (dict(side="buy", type="limit", price=D("50000"), quantity=D("9001")), "quantity_too_large"),
    (dict(side="buy", type="limit", price=D("1e16"), quantity=D("1")), "price_out_of_range"),
    (dict(side="up", type="limit", price=D("1"), quantity=D("1")), "invalid_side"),
    (dict(side="buy", type="stop", price=D("1"), quantity=D("1")), "invalid_type"),
    (dict(side="buy", type="limit", price=D("50000"), quantity=D("1"), time_in_force="DAY"), "invalid_time_in_force"),
    (dict(side="buy", type="limit", price=D("50000"), quantity=D("1"), stp=3), "invalid_stp"),
    (dict(side="buy", type="limit", quantity=D("1")), "missing_price"),
    (dict(side="buy", type="limit", price=D("50000")), "missing_quantity"),
    (dict(side="buy", type="limit", price=D("50000"), quantity=D("1"), post_only=True, time_in_force="IOC"),
     "invalid_post_only"),
    (dict(side="buy", type="market", quantity=D("1"), post_only=True), "invalid_post_only"),
    (dict(side="buy", type="market", price=D("1"), quantity=D("1")), "price_not_allowed"),
    (dict(side="buy", type="market"), "missing_quantity"),
    (dict(side="sell", type="market", quote_quantity=D("100")), "quote_quantity_not_allowed"),
    (dict(side="buy", type="market", quantity=D("1"), quote_quantity=D("100")), "ambiguous_quantity"),
    (dict(side="buy", type="market", quote_quantity=D("4.99")), "notional_too_small"),
    (dict(side="buy", type="market", quote_quantity=D("10.000000001")), "amount_precision"),
    (dict(side="buy", type="market", quantity=D("1"), time_in_force="FOK"), "invalid_time_in_force"),
    (dict(side="buy", type="limit", price=D("50000"), quantity=D("1"), client_order_id=""), "invalid_client_order_id"),
    (dict(side="buy", type="limit", price=D("50000"), quantity=D("1"), client_order_id="a b"), "invalid_client_order_id"),
])
def test_rule_violations_have_stable_codes(kw, expected):
    assert code(**kw) == expected


def test_min_notional_is_inclusive():
    validate_order(BTC, side="buy", type="limit", price=D("500"), quantity=D("0.01"))       # exactly 5
    assert code(side="buy", type="limit", price=D("499.99"), quantity=D("0.01")) == "notional_too_small"
