"""Binance's spot stream protocol over the same events (docs/streams.md, docs/binance-api.md).

Public: `/ws` and `/ws/<stream>` (raw payloads), `/stream?streams=a/b` (combined: {"stream","data"}),
SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS frames. Book diffs are `depthUpdate` events whose U and u
are the market's book sequence (one committed batch = one update id, so U == u), matching
`lastUpdateId` of /api/v3/depth: Binance's documented snapshot-and-buffer procedure (what ccxt.pro does)
rebuilds the book exactly. User data: executionReport, outboundAccountPosition and balanceUpdate, on a
listen-key stream (`/ws/<listenKey>`) or on the WebSocket API (`/ws-api/v3`,
`userDataStream.subscribe.signature`, as ccxt's spot watch_orders / watch_balance / watch_my_trades use).
"""
from __future__ import annotations

import re
from typing import Any

import orjson

ZERO = "0.00000000"
_NAME = re.compile(r"^([a-z0-9]{2,40})@(depth(?:5|10|20)?(?:@(?:100|1000)ms)?|trade|aggTrade|kline_[0-9]{1,4}[mhdwM]|"
                   r"ticker|miniTicker|bookTicker)$")
STATUS = {"new": "NEW", "partially_filled": "PARTIALLY_FILLED", "filled": "FILLED", "canceled": "CANCELED",
          "rejected": "REJECTED", "expired": "EXPIRED"}


def _dump(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def bsym(symbol: str) -> str:
    return symbol.replace("-", "")


def _z(v: Any) -> str:
    return ZERO if v is None else v


def stream_key(name: Any, by_binance: dict[str, str]) -> str | None:
    """The native key a Binance stream name maps to (None: not a stream we serve)."""
    if not isinstance(name, str) or len(name) > 80:
        return None
    if name in ("!ticker@arr", "!miniTicker@arr"):
        return "tickers"
    m = _NAME.fullmatch(name)
    if m is None:
        return None
    symbol = by_binance.get(m.group(1))
    if symbol is None:
        return None
    kind = m.group(2)
    if kind.startswith("depth"):
        n = kind[5:].split("@")[0]
        return f"depthN:{symbol}:{n}" if n else f"book:{symbol}"
    if kind in ("trade", "aggTrade"):
        return f"trades:{symbol}"
    if kind.startswith("kline_"):
        interval = kind[6:]
        return f"candles:{symbol}:{interval}" if not interval.endswith("M") else None
    if kind in ("ticker", "miniTicker"):
        return f"ticker:{symbol}"
    return f"bookTicker:{symbol}"


def shape_of(name: str) -> str:
    if name.endswith("@aggTrade"):
        return "agg"
    if "miniTicker" in name:
        return "mini"
    return "std"


def wrap(protocol: str, name: str, payload: str) -> str:
    if protocol == "combined":
        return '{"stream":' + _dump(name) + ',"data":' + payload + "}"
    return payload


# ---------------------------------------------------------------------------- public payloads
def _ticker(t: dict, mini: bool) -> dict:
    s = bsym(t["symbol"])
    if mini:
        return {"e": "24hrMiniTicker", "E": t["close_time"], "s": s, "c": _z(t["last"]), "o": _z(t["open"]),
                "h": _z(t["high"]), "l": _z(t["low"]), "v": _z(t["volume"]), "q": _z(t["quote_volume"])}
    return {"e": "24hrTicker", "E": t["close_time"], "s": s, "p": _z(t["change"]), "P": _z(t["change_percent"]),
            "w": _z(t["weighted_avg_price"]), "x": _z(t["open"]), "c": _z(t["last"]), "Q": ZERO,
            "b": _z(t["best_bid"]), "B": _z(t["best_bid_qty"]), "a": _z(t["best_ask"]), "A": _z(t["best_ask_qty"]),
            "o": _z(t["open"]), "h": _z(t["high"]), "l": _z(t["low"]), "v": _z(t["volume"]),
            "q": _z(t["quote_volume"]), "O": t["open_time"], "C": t["close_time"],
            "F": t["first_trade_id"] if t["first_trade_id"] is not None else -1,
            "L": t["last_trade_id"] if t["last_trade_id"] is not None else -1, "n": t["trade_count"]}


def render(kind: str, data: Any, name: str) -> str | None:
    if kind == "book":
        return _dump({"e": "depthUpdate", "E": data["time"], "s": bsym(data["symbol"]), "U": data["seq"],
                      "u": data["seq"], "b": data["bids"], "a": data["asks"]})
    if kind == "trade":
        s = bsym(data["symbol"])
        if name.endswith("@aggTrade"):
            return _dump({"e": "aggTrade", "E": data["time"], "s": s, "a": data["id"], "p": data["price"],
                          "q": data["quantity"], "f": data["id"], "l": data["id"], "T": data["time"],
                          "m": data["is_buyer_maker"], "M": True})
        return _dump({"e": "trade", "E": data["time"], "s": s, "t": data["id"], "p": data["price"],
                      "q": data["quantity"], "T": data["time"], "m": data["is_buyer_maker"], "M": True})
    if kind == "ticker":
        return _dump(_ticker(data, "miniTicker" in name))
    if kind == "tickers":
        return _dump([_ticker(t, "miniTicker" in name) for t in data]) if data else None
    if kind == "candle":
        s = bsym(data["symbol"])
        return _dump({"e": "kline", "E": data["close_time"], "s": s,
                      "k": {"t": data["open_time"], "T": data["close_time"], "s": s, "i": data["interval"],
                            "f": data["first_trade_id"], "L": data["last_trade_id"], "o": data["open"],
                            "c": data["close"], "h": data["high"], "l": data["low"], "v": data["volume"],
                            "n": data["trade_count"], "x": data.get("closed", False), "q": data["quote_volume"],
                            "V": "0", "Q": "0", "B": "0"}})
    if kind == "depthN":
        return _dump({"lastUpdateId": data["update_id"], "bids": data["bids"], "asks": data["asks"]})
    if kind == "bookTicker":
        b = data["bids"][0] if data["bids"] else [ZERO, ZERO]
        a = data["asks"][0] if data["asks"] else [ZERO, ZERO]
        return _dump({"u": data["update_id"], "s": bsym(data["symbol"]), "b": b[0], "B": b[1], "a": a[0], "A": a[1]})
    return None   # resync: Binance has no such message (its clients detect gaps by U/u)


# ---------------------------------------------------------------------------- user data
def execution_reports(order: dict) -> list[dict]:
    """One executionReport per fill of this batch (execution type TRADE), else one NEW/CANCELED/EXPIRED."""
    s = bsym(order["symbol"])
    status = STATUS.get(order["status"], order["status"].upper())
    if order["status"] == "expired" and order.get("reason") == "self_trade_prevention":
        status = "EXPIRED_IN_MATCH"
    otype = "MARKET" if order["type"] == "market" else ("LIMIT_MAKER" if order["post_only"] else "LIMIT")
    base = {"e": "executionReport", "E": order["updated_at"], "s": s, "c": order["client_order_id"] or "",
            "S": order["side"].upper(), "o": otype,
            "f": "GTC" if otype != "LIMIT" else order["time_in_force"],
            "q": _z(order["quantity"] or order["executed_quantity"]), "p": _z(order["price"]), "P": ZERO, "F": ZERO,
            "g": -1, "C": "", "r": "NONE", "i": order["order_id"], "I": 0, "M": False, "O": order["created_at"],
            "Q": _z(order["quote_quantity"]), "W": order["created_at"], "V": "NONE"}
    fills = order.get("fills") or []
    out = []
    if fills:
        from decimal import Decimal
        z, zq = Decimal(order["executed_quantity"]), Decimal(order["cumulative_quote"])
        # cumulative amounts as of each fill: the order's totals minus the later fills of this batch
        cums = []
        for f in reversed(fills):
            cums.append((z, zq))
            z -= Decimal(f["quantity"])
            zq -= Decimal(f["quote_quantity"])
        cums.reverse()
        for i, (f, (cz, czq)) in enumerate(zip(fills, cums)):
            last = i == len(fills) - 1
            x_status = status if last else "PARTIALLY_FILLED"
            out.append(dict(base, x="TRADE", X=x_status, l=f["quantity"], z=format(cz, "f"), L=f["price"],
                            n=f["commission"], N=f["commission_asset"], T=f["time"], t=f["trade_id"],
                            w=last and status in ("NEW", "PARTIALLY_FILLED"), m=f["is_maker"],
                            Z=format(czq, "f"), Y=f["quote_quantity"]))
        if status in ("CANCELED", "EXPIRED", "EXPIRED_IN_MATCH", "REJECTED"):
            out.append(_plain(base, order, status))
        return out
    return [_plain(base, order, status)]


def _plain(base: dict, order: dict, status: str) -> dict:
    x = {"PARTIALLY_FILLED": "NEW", "EXPIRED_IN_MATCH": "TRADE_PREVENTION"}.get(status, status)
    if status == "FILLED":
        x = "TRADE"
    return dict(base, x=x, X=status, l=ZERO, z=order["executed_quantity"], L=ZERO, n="0", N=None,
                T=order["updated_at"], t=-1, w=status in ("NEW", "PARTIALLY_FILLED"), m=False,
                Z=order["cumulative_quote"], Y=ZERO)


def user_events(stream: str, data: dict) -> list[dict]:
    if stream == "orders":
        return execution_reports(data)
    if stream == "balances":
        return [{"e": "outboundAccountPosition", "E": data["time"], "u": data["time"],
                 "B": [{"a": b["asset"], "f": b["available"], "l": b["locked"]} for b in data["balances"]]}]
    if stream == "transfers" and data.get("status") in ("credited", "completed", "confirmed") and data.get("amount"):
        sign = "-" if data.get("kind") == "withdrawal" else ""
        return [{"e": "balanceUpdate", "E": data.get("time", 0), "a": data.get("asset"), "d": sign + data["amount"],
                 "T": data.get("time", 0)}]
    return []


def user_frame(conn: Any, payload: dict) -> str:
    if conn.protocol == "wsapi":
        return _dump({"subscriptionId": conn.subscription_id, "event": payload})
    if conn.protocol == "combined":
        return _dump({"stream": "userData", "data": payload})
    return _dump(payload)


def user_streams_for_binance() -> set[str]:
    """Binance's user data stream carries orders, balances and transfers (fills are inside executionReport)."""
    return {"orders", "balances", "transfers"}


# ---------------------------------------------------------------------------- requests
def error(req_id: Any, code: int, msg: str) -> str:
    return _dump({"error": {"code": code, "msg": msg}, "id": req_id})


async def handle(session: Any, msg: dict) -> None:
    """A Binance request frame on the stream endpoints (SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS)."""
    method, req_id, params = msg.get("method"), msg.get("id"), msg.get("params")
    if not (req_id is None or isinstance(req_id, (int, str))) or isinstance(req_id, bool) or \
            isinstance(req_id, str) and len(req_id) > 64:
        session.reply(error(None, 2, "Invalid request: id must be an integer or a short string."))
        return
    if session.conn.protocol == "wsapi":
        await session.wsapi(method, req_id, params)
        return
    if method == "LIST_SUBSCRIPTIONS":
        names = sorted(n for names in session.conn.keys.values() for n in names if n)
        session.reply(_dump({"result": names, "id": req_id}))
        return
    if method not in ("SUBSCRIBE", "UNSUBSCRIBE"):
        session.reply(error(req_id, 1, "Invalid request: unknown method."))
        return
    if not isinstance(params, list) or not params or not all(isinstance(p, str) for p in params):
        session.reply(error(req_id, 2, "Invalid request: params must be a non-empty list of stream names."))
        return
    by_binance = session.by_binance()
    keys = []
    for name in params:
        key = stream_key(name, by_binance)
        if key is None or key.startswith("candles:") and not session.interval_ok(key.split(":")[2]):
            session.reply(error(req_id, 2, f"Invalid request: unknown stream {name[:80]!r}."))
            return
        keys.append((key, name))
    if method == "SUBSCRIBE":
        if not session.room_for(len(keys)):
            return
        for key, name in keys:
            session.hub.subscribe(session.conn, key, name)
    else:
        for key, name in keys:
            session.hub.unsubscribe(session.conn, key, name)
    session.reply(_dump({"result": None, "id": req_id}))
