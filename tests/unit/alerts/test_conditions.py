"""Alert conditions and options (alerts.domain.conditions): what is accepted, what each maps to, and the
bounds that refuse absurd parameters with a stable code."""
from decimal import Decimal

import pytest

from mycrypto.alerts.domain.conditions import (AlertRuleError, Condition, check_price_band, parse_condition,
                                               parse_options)
from mycrypto.trading.domain.triggers import ABOVE, BELOW

D = Decimal


def test_each_condition_type_round_trips_and_maps_to_its_series():
    cases = [
        (dict(type="price", direction="above", price="60000.5"), ("price",), ABOVE),
        (dict(type="change", direction="down", percent="5", window="1h"), ("change", "1h"), BELOW),
        (dict(type="rsi", direction="below", level="30", period=14, interval="4h"), ("rsi", "4h", 14), BELOW),
        (dict(type="sma_cross", direction="above", period=50, interval="1d"), ("sma_cross", "1d", 50), ABOVE),
        (dict(type="ema_cross", direction="below", period=21, interval="15m"), ("ema_cross", "15m", 21), BELOW),
        (dict(type="macd_cross", direction="above", fast=12, slow=26, signal=9, interval="1h"),
         ("macd_cross", "1h", 12, 26, 9), ABOVE),
    ]
    for wire, key, direction in cases:
        c = parse_condition(wire)
        assert c.series_key == key and c.trigger_direction == direction
        assert c.to_wire() == wire
        again = Condition.from_row(c.type, c.direction, c.level, c.params())
        assert again == c
        assert c.describe("BTC-USDT").startswith("BTC-USDT")


def test_defaults():
    assert parse_condition(dict(type="rsi", direction="above", level="70", interval="1h")).period == 14
    m = parse_condition(dict(type="macd_cross", direction="below", interval="1h"))
    assert (m.fast, m.slow, m.signal) == (12, 26, 9)
    assert parse_options({}) .repeat is False and parse_options({}).cooldown_s == 0
    assert parse_options({"repeat": True}).cooldown_s == 300


def test_price_levels_in_ticks_round_toward_the_far_side():
    tick = D("0.01")
    assert parse_condition(dict(type="price", direction="above", price="100.005")).trigger_level(tick) == 10001
    assert parse_condition(dict(type="price", direction="below", price="100.005")).trigger_level(tick) == 10000
    assert parse_condition(dict(type="price", direction="above", price="100")).trigger_level(tick) == 10000
    assert parse_condition(dict(type="change", direction="down", percent="2.5", window="5m")).trigger_level(tick) == D("-2.5")


@pytest.mark.parametrize("condition,code", [
    (None, "invalid_condition"),
    ({"type": "moon"}, "invalid_condition"),
    ({"type": "price", "direction": "sideways", "price": "1"}, "invalid_direction"),
    ({"type": "price", "direction": "above"}, "invalid_level"),
    ({"type": "price", "direction": "above", "price": "-1"}, "invalid_level"),
    ({"type": "price", "direction": "above", "price": "0"}, "invalid_level"),
    ({"type": "price", "direction": "above", "price": "1e9"}, "invalid_level"),
    ({"type": "price", "direction": "above", "price": "NaN"}, "invalid_level"),
    ({"type": "price", "direction": "above", "price": 60000.5}, "invalid_level"),
    ({"type": "price", "direction": "above", "price": True}, "invalid_level"),
    ({"type": "price", "direction": "above", "price": "1.000000001"}, "invalid_level"),
    ({"type": "price", "direction": "above", "price": "9" * 30}, "invalid_level"),
    ({"type": "price", "direction": "above", "price": "1", "period": 3}, "unknown_field"),
    ({"type": "change", "direction": "above", "percent": "5", "window": "1h"}, "invalid_direction"),
    ({"type": "change", "direction": "up", "percent": "0.001", "window": "1h"}, "invalid_level"),
    ({"type": "change", "direction": "up", "percent": "1001", "window": "1h"}, "invalid_level"),
    ({"type": "change", "direction": "down", "percent": "100", "window": "1h"}, "invalid_level"),
    ({"type": "change", "direction": "up", "percent": "5", "window": "2h"}, "invalid_window"),
    ({"type": "rsi", "direction": "above", "level": "100", "interval": "1h"}, "invalid_level"),
    ({"type": "rsi", "direction": "above", "level": "70", "interval": "2h"}, "invalid_interval"),
    ({"type": "rsi", "direction": "above", "level": "70", "interval": "1h", "period": 1}, "invalid_period"),
    ({"type": "rsi", "direction": "above", "level": "70", "interval": "1h", "period": 10**9}, "invalid_period"),
    ({"type": "rsi", "direction": "above", "level": "70", "interval": "1h", "period": "14"}, "invalid_period"),
    ({"type": "sma_cross", "direction": "above", "interval": "1h", "period": 501}, "invalid_period"),
    ({"type": "ema_cross", "direction": "above", "interval": "1h", "period": 201}, "invalid_period"),
    ({"type": "macd_cross", "direction": "above", "interval": "1h", "fast": 26, "slow": 12}, "invalid_period"),
    ({"type": "macd_cross", "direction": "above", "interval": "1h", "signal": 0}, "invalid_period"),
])
def test_absurd_conditions_are_refused(condition, code):
    with pytest.raises(AlertRuleError) as err:
        parse_condition(condition)
    assert err.value.code == code


@pytest.mark.parametrize("options,code", [
    ({"repeat": "yes"}, "invalid_repeat"),
    ({"cooldown_seconds": 600}, "invalid_cooldown"),          # only with repeat
    ({"repeat": True, "cooldown_seconds": 10}, "invalid_cooldown"),
    ({"repeat": True, "cooldown_seconds": 10**7}, "invalid_cooldown"),
    ({"repeat": True, "cooldown_seconds": 60.5}, "invalid_cooldown"),
    ({"email": 1}, "invalid_email"),
    ({"note": "x" * 201}, "invalid_note"),
    ({"note": "bell\x07"}, "invalid_note"),
])
def test_absurd_options_are_refused(options, code):
    with pytest.raises(AlertRuleError) as err:
        parse_options(options)
    assert err.value.code == code


def test_price_band():
    c = parse_condition(dict(type="price", direction="above", price="6000000"))
    check_price_band(c, None, D("10000000"))                 # no trade yet: only the market's maximum
    with pytest.raises(AlertRuleError):
        check_price_band(c, D("50000"), D("10000000"))        # 120x the last price
    with pytest.raises(AlertRuleError):
        check_price_band(c, None, D("1000000"))               # above what the market can trade at
    check_price_band(parse_condition(dict(type="price", direction="below", price="500")), D("50000"), D("1e7"))
