"""The app's own money helpers and order rules, run inside Chromium (they are ES modules; no Node here).

Amounts are decimal strings: BigInt arithmetic must be exact where floats are not (0.1 + 0.2),
tick/lot checks must be exact, and the order body must carry what the user typed.
"""
from __future__ import annotations

import pytest

from tests.browser.flows import goto

pytestmark = pytest.mark.browser

CHECKS = """async () => {
  const d = await import('/static/js/decimal.js');
  const r = await import('/static/js/orderrules.js');
  const market = { symbol: 'BTC-USDT', base_asset: 'BTC', quote_asset: 'USDT', tick_size: '0.01', lot_size: '0.00001',
    min_qty: '0.00001', max_qty: '9000', min_notional: '5', quote_decimals: 8 };
  const v = (o) => r.validateOrder(market, { side: 'buy', type: 'limit', amountIn: 'base', timeInForce: 'GTC', ...o });
  return {
    add: d.add('0.1', '0.2'),
    sub: d.sub('1', '0.00000001'),
    mul: d.mul('50000.01', '0.00003'),
    big: d.add('123456789012345678901234567890', '0.000000000000000001'),
    cmp: [d.compare('1.10', '1.1'), d.compare('0.9', '1'), d.compare('2', '10')],
    multiple: [d.isMultiple('0.03', '0.01'), d.isMultiple('0.035', '0.01'), d.isMultiple('0.3', '0.1')],
    plain: ['0.5', '10', '1e3', '-1', '.5', '00.5', 'NaN', '1,000', ' 1'].map(d.isPlain),
    format: [d.format('1234567.5'), d.format('-0.5'), d.formatStep('50000', '0.01'), d.format(null)],
    floor: d.floorToStep('0.123456', '0.00001'),
    ok: v({ price: '50000.10', quantity: '0.0001' }),
    tick: v({ price: '50000.001', quantity: '0.0001' }).errors.price || null,
    lot: v({ price: '50000', quantity: '0.000011' }).errors.quantity || null,
    notional: v({ price: '1', quantity: '1' }).errors.quantity || null,
    market: r.validateOrder(market, { side: 'buy', type: 'market', amountIn: 'quote', quoteQuantity: '25.5' }),
    marketSell: r.validateOrder(market, { side: 'sell', type: 'market', amountIn: 'quote', quantity: '0.5' }).body,
    stop: v({ type: 'stop_limit', side: 'sell', price: '48900', stopPrice: '49000', quantity: '0.001', postOnly: true }),
    stopMissing: v({ type: 'stop_limit', price: '48900', stopPrice: '', quantity: '0.001' }).errors.stopPrice || null,
    stopTick: v({ type: 'stop_limit', price: '48900', stopPrice: '49000.001', quantity: '0.001' }).errors.stopPrice || null,
    stopHold: r.holdFor(market, v({ type: 'stop_limit', price: '48900', stopPrice: '49000', quantity: '0.001' }).body),
  };
}"""


async def test_decimal_and_order_rules(new_page):
    page = (await new_page()).page
    await goto(page, "/app/markets")
    out = await page.evaluate(CHECKS)
    assert out["add"] == "0.3"
    assert out["sub"] == "0.99999999"
    assert out["mul"] == "1.5000003"
    assert out["big"] == "123456789012345678901234567890.000000000000000001"
    assert out["cmp"] == [0, -1, -1]
    assert out["multiple"] == [True, False, True]
    assert out["plain"] == [True, True, False, False, False, False, False, False, False]
    assert out["format"] == ["1,234,567.5", "-0.5", "50,000.00", "—"]
    assert out["floor"] == "0.12345"
    assert out["ok"]["errors"] == {}
    assert out["ok"]["body"] == {"symbol": "BTC-USDT", "side": "buy", "type": "limit", "price": "50000.10",
                                 "quantity": "0.0001", "time_in_force": "GTC"}
    assert out["ok"]["notional"] == "5.00001"
    assert "tick size 0.01" in out["tick"]
    assert "lot size 0.00001" in out["lot"]
    assert "below the minimum of 5 USDT" in out["notional"]
    assert out["market"]["body"] == {"symbol": "BTC-USDT", "side": "buy", "type": "market", "quote_quantity": "25.5"}
    assert out["marketSell"] == {"symbol": "BTC-USDT", "side": "sell", "type": "market", "quantity": "0.5"}
    # a stop-limit carries its stop price and limit price as typed (never post-only) and holds like a limit
    assert out["stop"]["errors"] == {}
    assert out["stop"]["body"] == {"symbol": "BTC-USDT", "side": "sell", "type": "stop_limit", "price": "48900",
                                   "stop_price": "49000", "quantity": "0.001", "time_in_force": "GTC"}
    assert out["stopMissing"] == "Enter the stop price."
    assert "tick size 0.01" in out["stopTick"]
    assert out["stopHold"] == {"asset": "USDT", "amount": "48.9"}
