"""The event model shared by both protocols: market messages and user messages, as JSON-ready dicts.

A market message is what the owner of a market publishes once per committed batch (and once per
rebuild, `reset`), and what every replica delivers to its clients (in-process or through Redis):

    {"k": "m", "symbol": "BTC-USDT", "seq": 41, "prev_seq": 40, "time": ms, "reset": false,
     "bids": [["50000", "0.5"], ...], "asks": [...],   # changed levels, qty "0" = removed
     "trades": [<REST trade item>, ...],
     "users": [<user message>, ...]}                     # private events of this batch

A user message: {"k": "u", "user_id": 7, "stream": "orders"|"fills"|"balances"|"transfers"|"alerts"|
"security", "data": {...}} - plus the internal "balances?" hint (the batch changed these assets of this
user; a replica with a subscriber reads the balances and sends "balances").
"""
from __future__ import annotations

import re
from typing import Any

from ..marketdata.events import CommittedBatch
from ..marketdata.views import trade_dict

PRIVATE_STREAMS = ("orders", "fills", "balances", "transfers", "alerts", "security")
MARKET_KINDS = ("book", "trades", "ticker", "candles")
BALANCE_HINT = "balances?"
_KEY = re.compile(r"^(book|trades|ticker):([A-Z0-9]{1,20}-[A-Z0-9]{1,20})$")
_CANDLE_KEY = re.compile(r"^candles:([A-Z0-9]{1,20}-[A-Z0-9]{1,20}):([1-9][0-9]{0,3}[mhdw])$")


class UnknownStream(ValueError):
    """A stream name we do not serve."""


def parse_key(key: Any, symbols: Any, intervals_ok: Any) -> tuple[str, str | None, str | None]:
    """(kind, symbol, interval) of a native stream name, or UnknownStream."""
    if not isinstance(key, str) or len(key) > 64:
        raise UnknownStream(str(key)[:64])
    if key == "tickers" or key in PRIVATE_STREAMS:
        return key, None, None
    m = _KEY.fullmatch(key)
    if m:
        if m.group(2) not in symbols:
            raise UnknownStream(key)
        return m.group(1), m.group(2), None
    m = _CANDLE_KEY.fullmatch(key)
    if m and m.group(1) in symbols and intervals_ok(m.group(2)):
        return "candles", m.group(1), m.group(2)
    raise UnknownStream(key)


def market_message(event: CommittedBatch, private: bool = True) -> dict:
    """Render a committed batch (engine integers) as the market message every replica delivers."""
    spec = event.spec
    ps, qs = spec.price_str, spec.qty_str
    msg: dict[str, Any] = {"k": "m", "symbol": spec.symbol, "seq": event.update_id, "prev_seq": event.update_id - 1,
                           "time": event.ms, "reset": event.reset, "bids": [], "asks": [], "trades": [], "users": []}
    if event.reset:
        return msg
    cap = event.captured
    if cap is not None:
        msg["bids"] = [[ps(p), qs(q)] for p, q in cap.bids]
        msg["asks"] = [[ps(p), qs(q)] for p, q in cap.asks]
    msg["trades"] = [trade_dict(spec, (t[0], t[4], t[5], t[6], t[3], t[11])) for t in event.trades]
    if private and cap is not None:
        msg["users"] = user_messages(event)
    return msg


def user_messages(event: CommittedBatch) -> list[dict]:
    """Orders changed (REST order JSON plus this batch's fills of it), fills per side, balance hints."""
    from ..trading.results import result_from_state   # (trading's public results module)

    spec = event.spec
    cap = event.captured
    assert cap is not None
    fills: dict[int, list[dict]] = {}
    out: list[dict] = []
    for t in event.trades:
        tid, taker_oid, maker_oid, taker_side, px, q, cost, buyer, seller, bf, sf, ms = t
        for oid, uid, side, fee, maker in ((taker_oid, buyer if taker_side == 0 else seller, taker_side,
                                            bf if taker_side == 0 else sf, False),
                                           (maker_oid, seller if taker_side == 0 else buyer, 1 - taker_side,
                                            sf if taker_side == 0 else bf, True)):
            fill = {"symbol": spec.symbol, "order_id": oid, "trade_id": tid, "side": "buy" if side == 0 else "sell",
                    "price": spec.price_str(px), "quantity": spec.qty_str(q), "quote_quantity": spec.quote_str(cost),
                    "commission": spec.quote_str(fee), "commission_asset": spec.quote, "is_maker": maker,
                    "time": ms}
            fills.setdefault(oid, []).append(fill)
            out.append({"k": "u", "user_id": uid, "stream": "fills", "data": fill})
    for o in cap.orders:
        order = result_from_state(spec, o).to_dict()
        order["fills"] = fills.get(o.id, [])
        out.append({"k": "u", "user_id": o.user_id, "stream": "orders", "data": order})
    for uid in cap.users:
        out.append({"k": "u", "user_id": uid, "stream": BALANCE_HINT, "data": {"assets": [spec.base, spec.quote],
                                                                             "time": event.ms}})
    return out
