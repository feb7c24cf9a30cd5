"""Pure parts of the Binance adapter: parameters, symbols, intervals, weights, number formats, the
order shapes, and the mapping of platform errors to Binance codes."""
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from mycrypto.auth.errors import (ApiKeyInvalid, ApiKeyMissing, EmailNotVerified, IpNotAllowed, PermissionDenied,
                                  RecvWindowInvalid, SignatureInvalid, SignatureMissing, TimestampInvalid,
                                  TimestampMissing, TimestampOutsideRecvWindow)
from mycrypto.common.errors import RateLimited
from mycrypto.compat.binance import schemas as s
from mycrypto.compat.binance.domain import weights as w
from mycrypto.compat.binance.domain.codes import Reject
from mycrypto.compat.binance.domain.intervals import INTERVALS, merge_months, month_start_ms, next_month_start_ms
from mycrypto.compat.binance.domain.params import Params, merge
from mycrypto.compat.binance.domain.symbols import SymbolMap, binance_symbol
from mycrypto.compat.binance.errors import CANCEL, ORDER, QUERY, BinanceError, rule_reject, translate
from mycrypto.common.markets import MarketSpec
from mycrypto.trading.errors import (DuplicateClientOrderId, InvalidOrder, MarketHalted, MarketUnavailable,
                                     OrderNotFound, OrderNotOpen, OutcomeUnknown, PostOnlyWouldTake, UnknownMarket)
from mycrypto.trading.results import FillResult, OrderResult
from mycrypto.wallet.errors import InsufficientFunds


def spec(id=1, symbol="BTC-USDT", base="BTC", quote="USDT", **over):
    values = dict(id=id, symbol=symbol, base=base, quote=quote, base_decimals=8, quote_decimals=8,
                  tick_size=D("0.01"), lot_size=D("0.00001"), min_qty=D("0.00001"), max_qty=D("9000"),
                  min_notional=D("5"), maker_fee=D("0.0008"), taker_fee=D("0.0010"))
    values.update(over)
    return MarketSpec.build(**values)


BTC = spec()


def rejected(fn, *args, **kw) -> Reject:
    with pytest.raises(Reject) as info:
        fn(*args, **kw)
    return info.value


# ---------------------------------------------------------------------------- parameters
def test_query_string_wins_over_body_and_empty_means_missing():
    p = Params(merge([("symbol", "BTCUSDT"), ("limit", "")], [("symbol", "ETHUSDT"), ("side", "BUY")]))
    assert p.get("symbol") == "BTCUSDT" and p.get("side") == "BUY"
    assert p.get("limit") is None and not p.has("limit") and p.integer("limit", 500) == 500
    assert rejected(p.required, "limit").code == -1102
    assert "Mandatory parameter 'limit'" in rejected(p.required, "limit").msg


def test_amounts_are_exact_and_follow_binances_legal_range():
    p = Params({"a": "0.00000001", "b": "50000", "c": "1e-5", "d": "-1", "e": "0.1.2", "f": "1" * 21})
    assert p.decimal("a") == D("0.00000001") and p.decimal("b") == D(50000) and p.decimal("x") is None
    for bad in "cdef":
        r = rejected(p.decimal, bad)
        assert r.code == -1100 and f"parameter '{bad}'" in r.msg


def test_integers_bounds_and_time_ranges():
    p = Params({"limit": "5001", "n": "x", "startTime": "10", "endTime": "5"})
    assert rejected(p.integer, "limit", lo=1, hi=5000).code == -1130
    assert rejected(p.integer, "n").code == -1100
    assert rejected(p.time_range).code == -1130
    assert Params({"startTime": "5", "endTime": "10"}).time_range() == (5, 10)


def test_client_order_ids_and_symbols():
    assert Params({"c": "x-TKT5PX2F:a/b_c-d.e"}).client_order_id("c") == "x-TKT5PX2F:a/b_c-d.e"
    assert rejected(Params({"c": "a" * 37}).client_order_id, "c").code == -1100
    assert rejected(Params({"c": "bad id"}).client_order_id, "c").code == -1100
    assert rejected(Params({"c": ""}).client_order_id, "c").code == -1118
    assert Params({"symbols": '["BTCUSDT","ethusdt"]'}).symbols() == ["BTCUSDT", "ETHUSDT"]
    for bad in ('BTCUSDT', '[]', '[1]', '{"a":1}', '["BTC USDT"]'):
        assert rejected(Params({"symbols": bad}).symbols).code == -1100
    assert rejected(Params({"symbol": "BTCUSDT", "symbols": '["BTCUSDT"]'}).one_symbol_or_many).code == -1128
    assert Params({}).one_symbol_or_many() is None


def test_choices_are_case_insensitive_and_refused_with_the_given_reject():
    p = Params({"side": "buy", "type": "nope"})
    assert p.choice("side", ("BUY", "SELL"), Reject(-1117, "Invalid side.")) == "BUY"
    assert rejected(p.choice, "type", ("LIMIT",), Reject(-1116, "Invalid orderType.")).code == -1116


# ---------------------------------------------------------------------------- symbols
def test_symbol_map_both_ways_and_clashes_keep_the_first_market():
    m = SymbolMap.build([spec(2, "ETH-BTC", "ETH", "BTC"), BTC, spec(3, "BTCU-SDT", "BTCU", "SDT")])
    assert m.native("btcusdt") == "BTC-USDT" and m.binance("ETH-BTC") == "ETHBTC" and m.native("NOPE") is None
    assert m.clashes == ("BTCU-SDT",) and m.native("BTCUSDT") == "BTC-USDT"
    assert binance_symbol("eth", "usdt") == "ETHUSDT"


# ---------------------------------------------------------------------------- intervals
def test_every_binance_interval_is_known():
    assert list(INTERVALS) == ["1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d",
                               "1w", "1M"]
    assert INTERVALS["8h"] == 8 * 3_600_000 and INTERVALS["1M"] is None


def ms(*args) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


def test_months_are_calendar_months_in_utc():
    assert month_start_ms(ms(2024, 2, 29, 23, 59)) == ms(2024, 2, 1)
    assert next_month_start_ms(ms(2024, 12, 15)) == ms(2025, 1, 1)
    day = 86_400_000
    days = [(ms(2024, 1, 30), ms(2024, 1, 30) + day - 1, D(10), D(12), D(9), D(11), D(1), D(10), 2, 1, 2),
            (ms(2024, 1, 31), ms(2024, 1, 31) + day - 1, D(11), D(15), D(8), D(14), D("0.5"), D(7), 1, 3, 3),
            (ms(2024, 2, 1), ms(2024, 2, 1) + day - 1, D(14), D(14), D(13), D(13), D(2), D(27), 4, 4, 7)]
    jan, feb = merge_months(days)
    assert jan == (ms(2024, 1, 1), ms(2024, 2, 1) - 1, D(10), D(15), D(8), D(14), D("1.5"), D(17), 3, 1, 3)
    assert feb == (ms(2024, 2, 1), ms(2024, 3, 1) - 1, D(14), D(14), D(13), D(13), D(2), D(27), 4, 4, 7)


# ---------------------------------------------------------------------------- weights
def test_request_weights_follow_binance():
    limits = ("5", "100", "101", "500", "1000", "5000")
    assert [w.depth(Params({"limit": n})) for n in limits] == [5, 5, 25, 25, 50, 250]
    assert w.depth(Params({})) == 5
    assert w.ticker_24hr(Params({"symbol": "BTCUSDT"})) == 2 and w.ticker_24hr(Params({})) == 80
    assert w.ticker_24hr(Params({"symbols": '["A","B"]'})) == 2
    assert w.ticker_light(Params({"symbol": "X"})) == 2 and w.ticker_light(Params({})) == 4
    assert w.open_orders(Params({})) == 80 and w.open_orders(Params({"symbol": "X"})) == 6
    assert w.my_trades(Params({"orderId": "1"})) == 5 and w.my_trades(Params({})) == 20


# ---------------------------------------------------------------------------- formats and shapes
def test_decimal_strings_are_padded_never_rounded():
    assert s.dec(D("50000")) == "50000.00000000" and s.dec(None) == "0.00000000" and s.dec(0) == "0.00000000"
    assert s.dec(D("0.00001")) == "0.00001000" and s.dec(D("1.123456789")) == "1.123456789"
    assert s.dec(D("1.5"), 3) == "1.500" and s.dec(D("-2.5")) == "-2.50000000" and s.dec(D("1E+4")) == "10000.00000000"


def order(**over) -> OrderResult:
    values = dict(order_id=7, user_id=1, client_order_id="abc", spec=BTC, side="buy", type="limit",
                  time_in_force="IOC", post_only=False, stp="expire_maker", price_ticks=5_000_000, qty_lots=20_000,
                  quote_qty_units=0, filled_lots=10_000, filled_quote_units=500_000_000_000, fee_units=500_000_000,
                  hold_amount_units=0, hold_remaining_units=0, status="expired", reason="ioc_remainder",
                  created_ms=1000, updated_ms=2000,
                  fills=(FillResult(3, 5_000_000, 10_000, 500_000_000_000, 500_000_000, False, 2000, BTC),))
    values.update(over)
    return OrderResult(**values)


def test_order_shapes_use_binance_names_and_values():
    o = order()
    full = s.order_full(o, "BTCUSDT")
    assert full == {
        "symbol": "BTCUSDT", "orderId": 7, "orderListId": -1, "clientOrderId": "abc", "transactTime": 1000,
        "price": "50000.00000000", "origQty": "0.20000000", "executedQty": "0.10000000",
        "origQuoteOrderQty": "0.00000000", "cummulativeQuoteQty": "5000.00000000", "status": "EXPIRED",
        "timeInForce": "IOC", "type": "LIMIT", "side": "BUY", "workingTime": 1000,
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "fills": [{"price": "50000.00000000", "qty": "0.10000000", "commission": "5.00000000",
                   "commissionAsset": "USDT", "tradeId": 3}]}
    assert set(s.order_ack(o, "BTCUSDT")) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
    assert "fills" not in s.order_result(o, "BTCUSDT")
    q = s.order_query(o, "BTCUSDT")
    assert (q["time"], q["updateTime"], q["isWorking"], q["stopPrice"]) == (1000, 2000, True, "0.00000000")
    assert "code" not in q


def test_market_maker_and_stp_orders_read_like_binance():
    quote_buy = order(type="market", time_in_force="IOC", price_ticks=0, qty_lots=0, quote_qty_units=500_000_000_000,
                      status="filled", reason=None)
    r = s.order_result(quote_buy, "BTCUSDT")
    assert (r["type"], r["timeInForce"], r["price"], r["origQty"], r["origQuoteOrderQty"]) == (
        "MARKET", "GTC", "0.00000000", "0.10000000", "5000.00000000")
    maker = order(post_only=True, time_in_force="GTC", status="new", reason=None)
    assert (s.order_type(maker), s.time_in_force(maker), s.order_status(maker)) == ("LIMIT_MAKER", "GTC", "NEW")
    assert s.order_status(order(reason="self_trade_prevention")) == "EXPIRED_IN_MATCH"
    assert s.order_canceled(order(status="canceled"), "BTCUSDT", "new-id")["clientOrderId"] == "new-id"
    assert s.client_id(order(client_order_id=None)) == ""


def test_exchange_info_symbol_has_what_ccxt_reads():
    info = s.symbol_info(BTC, "BTCUSDT")
    filters = {f["filterType"]: f for f in info["filters"]}
    assert set(filters) == {"PRICE_FILTER", "LOT_SIZE", "MARKET_LOT_SIZE", "NOTIONAL"}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000" and filters["LOT_SIZE"]["stepSize"] == "0.00001000"
    assert filters["NOTIONAL"]["minNotional"] == "5.00000000"
    assert info["status"] == "TRADING" and info["permissionSets"] == [["SPOT"]] and info["isSpotTradingAllowed"]
    assert s.symbol_info(BTC.with_status("halted"), "BTCUSDT")["status"] == "HALT"


# ---------------------------------------------------------------------------- error mapping
@pytest.mark.parametrize("exc, action, code, status", [
    (ApiKeyMissing(), None, -2014, 401), (ApiKeyInvalid(), None, -2015, 401), (IpNotAllowed(), None, -2015, 401),
    (PermissionDenied(), ORDER, -2015, 401), (SignatureMissing(), None, -1102, 400),
    (SignatureInvalid(), None, -1022, 400), (TimestampMissing(), None, -1102, 400),
    (TimestampInvalid(), None, -1100, 400), (RecvWindowInvalid(), None, -1131, 400),
    (TimestampOutsideRecvWindow(), None, -1021, 400), (UnknownMarket(), ORDER, -1121, 400),
    (InsufficientFunds(), ORDER, -2010, 400), (PostOnlyWouldTake(), ORDER, -2010, 400),
    (MarketHalted(), ORDER, -2010, 400), (DuplicateClientOrderId(), ORDER, -2010, 400),
    (EmailNotVerified(), ORDER, -2010, 400), (OrderNotFound(), QUERY, -2013, 400),
    (OrderNotFound(), CANCEL, -2011, 400), (OrderNotOpen(), CANCEL, -2011, 400),
    (RateLimited(3), None, -1003, 429), (MarketUnavailable(), ORDER, -1008, 503),
    (OutcomeUnknown(), ORDER, -1007, 503),   # "execution status unknown", Binance's own wording
])
def test_platform_errors_become_binance_errors(exc, action, code, status):
    err = translate(exc, action)
    assert isinstance(err, BinanceError)
    assert (err.binance_code, err.http_status) == (code, status)
    assert err.body() == {"code": code, "msg": err.message}


def test_binance_messages_clients_match_on_are_verbatim():
    assert translate(InsufficientFunds(), ORDER).message == "Account has insufficient balance for requested action."
    assert translate(PostOnlyWouldTake(), ORDER).message == "Order would immediately match and take."
    assert translate(MarketHalted(), ORDER).message == "Market is closed."
    assert translate(SignatureInvalid(), None).message == "Signature for this request is not valid."
    assert translate(RateLimited(2.2), None).headers["Retry-After"] == "3"


def test_market_rule_failures_name_binances_filters():
    assert rule_reject("price_tick", "").msg == "Filter failure: PRICE_FILTER"
    assert rule_reject("quantity_step", "").msg == "Filter failure: LOT_SIZE"
    assert rule_reject("quantity_too_small", "", market_order=True).msg == "Filter failure: MARKET_LOT_SIZE"
    assert rule_reject("notional_too_small", "").msg == "Filter failure: NOTIONAL"
    assert rule_reject("amount_precision", "").code == -1111
    err = translate(InvalidOrder("price must be a multiple", code="price_tick"), ORDER)
    assert (err.binance_code, err.message) == (-1013, "Filter failure: PRICE_FILTER")
