"""ccxt.pro's binance class, unmodified, with only its URLs pointed at a running MyCrypto: the public
streams (order book, trades, ticker, candles) and the spot user data (orders, balance, my trades)."""
from __future__ import annotations

import asyncio
import random
from decimal import Decimal as D

import ccxt.pro as ccxtpro
import httpx

from tests.e2e.compat.kit import ccxt_config, key_user, ledger

SYM = "BTC/USDT"


def pro(url: str, user=None):
    config = ccxt_config(url, user)
    ws = url.replace("http://", "ws://")
    config["urls"]["api"]["ws"] = {"spot": ws + "/ws", "margin": ws + "/ws", "ws-api": {"spot": ws + "/ws-api/v3"}}
    return ccxtpro.binance(config)


async def _users(url, db, settings, *funds):
    async with httpx.AsyncClient(base_url=url) as client:
        return [await key_user(client, db, settings, f) for f in funds]


async def test_watch_order_book_equals_rest_after_a_burst_and_public_streams(live_server, db, settings):
    maker_u, taker_u = await _users(live_server.url, db, settings, {"BTC": "20"}, {"USDT": "2000000"})
    maker, taker, watcher = pro(live_server.url, maker_u), pro(live_server.url, taker_u), pro(live_server.url)
    try:
        await asyncio.gather(maker.load_markets(), taker.load_markets(), watcher.load_markets())
        await maker.create_order(SYM, "limit", "sell", 0.1, 50100)
        book = await watcher.watch_order_book(SYM)
        assert book["asks"][0] == [50100.0, 0.1]
        trades_task = asyncio.create_task(watcher.watch_trades(SYM))
        ticker_task = asyncio.create_task(watcher.watch_ticker(SYM))
        ohlcv_task = asyncio.create_task(watcher.watch_ohlcv(SYM, "1m"))
        await asyncio.sleep(0.5)
        rng = random.Random(3)
        orders = []
        for _ in range(40):
            if rng.random() < 0.5:
                orders.append(maker.create_order(SYM, "limit", "sell", rng.randint(1, 30) / 1000, 50000 + rng.randint(0, 20) * 10))
            else:
                orders.append(taker.create_order(SYM, "limit", "buy", rng.randint(1, 30) / 1000, 50000 + rng.randint(-20, 5) * 10))
        await asyncio.gather(*orders)
        trades = await asyncio.wait_for(trades_task, 15)
        assert trades and trades[0]["symbol"] == SYM and trades[0]["price"] > 0
        ticker = await asyncio.wait_for(ticker_task, 15)   # (the first one may predate every trade)
        for _ in range(50):   # the latest ticker pushed (after the burst's trades)
            ticker = watcher.tickers[SYM]
            if ticker["last"]:
                break
            await asyncio.sleep(0.1)
        assert ticker["symbol"] == SYM and ticker["last"] > 0
        ohlcv = await asyncio.wait_for(ohlcv_task, 15)
        assert ohlcv and len(ohlcv[-1]) == 6 and ohlcv[-1][4] > 0
        await asyncio.sleep(0.5)
        rest = await watcher.fetch_order_book(SYM, 1000)
        for _ in range(100):   # the watched book catches up with the last committed batch
            book = watcher.orderbooks[SYM]
            if book["nonce"] >= rest["nonce"]:
                break
            await asyncio.sleep(0.1)
        assert book["nonce"] == rest["nonce"]
        assert list(book["bids"]) == rest["bids"] and list(book["asks"]) == rest["asks"]
        assert len(rest["bids"]) > 3 and len(rest["asks"]) > 3
        rest_ticker = await watcher.fetch_ticker(SYM)
        assert 49700 <= ticker["last"] <= 50300 and 49700 <= rest_ticker["last"] <= 50300
    finally:
        await asyncio.gather(maker.close(), taker.close(), watcher.close())


async def test_watch_orders_balance_and_my_trades(live_server, db, settings):
    maker_u, taker_u = await _users(live_server.url, db, settings, {"BTC": "2"}, {"USDT": "200000"})
    maker, taker = pro(live_server.url, maker_u), pro(live_server.url, taker_u)
    try:
        await asyncio.gather(maker.load_markets(), taker.load_markets())
        orders_task = asyncio.create_task(maker.watch_orders(SYM))
        await asyncio.sleep(1.0)
        placed = await maker.create_order(SYM, "limit", "sell", 0.5, 50000)
        seen = await asyncio.wait_for(orders_task, 15)
        assert seen[-1]["id"] == placed["id"] and seen[-1]["status"] == "open" and seen[-1]["amount"] == 0.5
        balance_task = asyncio.create_task(maker.watch_balance())
        trades_task = asyncio.create_task(maker.watch_my_trades(SYM))
        orders_task = asyncio.create_task(maker.watch_orders(SYM))
        await asyncio.sleep(0.5)
        await taker.create_order(SYM, "limit", "buy", 0.2, 50000)
        mine = await asyncio.wait_for(trades_task, 15)
        assert (mine[-1]["order"], mine[-1]["price"], mine[-1]["amount"], mine[-1]["takerOrMaker"]) == (
            placed["id"], 50000, 0.2, "maker")
        upd = await asyncio.wait_for(orders_task, 15)
        assert (upd[-1]["id"], upd[-1]["filled"], upd[-1]["remaining"]) == (placed["id"], 0.2, 0.3)
        bal = await asyncio.wait_for(balance_task, 15)
        for _ in range(10):
            books = await ledger(db, maker_u.user_id)
            if D(str(bal["BTC"]["used"])) == books["BTC"][1]:
                break
            bal = await asyncio.wait_for(maker.watch_balance(), 15)
        books = await ledger(db, maker_u.user_id)
        assert (D(str(bal["BTC"]["free"])), D(str(bal["BTC"]["used"]))) == books["BTC"]
        assert (D(str(bal["USDT"]["free"])), D(str(bal["USDT"]["used"]))) == books["USDT"]
    finally:
        await asyncio.gather(maker.close(), taker.close())
