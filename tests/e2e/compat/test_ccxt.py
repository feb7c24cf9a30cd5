"""The proof: the real ccxt client (from PyPI, sync and async) trading on a running MyCrypto (uvicorn) through
the Binance-compatible API, every `urls['api']` entry pointed at the server. Two users' orders cross;
the fills, fees and balances ccxt reports are checked against the ledger in PostgreSQL."""
from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import ccxt
import ccxt.async_support as ccxt_async
import httpx
import pytest

from tests.e2e.compat.kit import SPOT_OPTIONS, ccxt_config, fees_collected, key_user, ledger, snapshot
from tests.e2e.trading.kit import check_books

SYM = "BTC/USDT"


def dd(x) -> D:
    """ccxt hands numbers out as floats; compare them as the decimals they print as."""
    return D(str(x))


async def users(url: str, db, settings, *funds: dict[str, str]):
    async with httpx.AsyncClient(base_url=url) as client:
        return [await key_user(client, db, settings, f) for f in funds]


async def trade_rows(db) -> list:
    return await db.fetch("SELECT id, taker_order_id, maker_order_id, price, quantity, quote_quantity, buyer_user_id, "
                          "seller_user_id, buyer_fee, seller_fee FROM trade.trade ORDER BY id")


async def assert_balances_match_ledger(exchange, db, user_id: int) -> None:
    bal = exchange.fetch_balance()
    books = await ledger(db, user_id)
    for asset in ("BTC", "USDT", "ETH"):
        free, locked = books.get(asset, (D(0), D(0)))
        assert (dd(bal[asset]["free"]), dd(bal[asset]["used"]), dd(bal[asset]["total"])) == (
            free, locked, free + locked), asset


async def test_ccxt_sync_client_trades_between_two_users(live_server, db, settings):
    maker_user, taker_user = await users(live_server.url, db, settings, {"BTC": "2"}, {"USDT": "200000"})
    maker = ccxt.binance(ccxt_config(live_server.url, maker_user))
    taker = ccxt.binance(ccxt_config(live_server.url, taker_user))
    assert all(v.startswith(live_server.url) for v in maker.urls["api"].values())

    # markets: the spot markets with their precisions and limits
    markets = maker.load_markets()
    assert {SYM, "ETH/USDT", "ETH/BTC"} <= set(markets)
    m = markets[SYM]
    assert (m["id"], m["base"], m["quote"], m["spot"], m["active"], m["type"]) == ("BTCUSDT", "BTC", "USDT", True,
                                                                                  True, "spot")
    assert (m["precision"]["price"], m["precision"]["amount"]) == (0.01, 0.00001)
    assert (m["limits"]["amount"]["min"], m["limits"]["cost"]["min"], m["limits"]["price"]["min"]) == (0.00001, 5, 0.01)
    taker.load_markets()
    await assert_balances_match_ledger(maker, db, maker_user.user_id)

    # the maker's asks rest on the book
    a1 = maker.create_order(SYM, "limit", "sell", 0.5, 50000)
    a2 = maker.create_order(SYM, "limit", "sell", 0.3, 51000)
    assert (a1["status"], a1["amount"], a1["filled"], a1["price"], a1["side"], a1["type"]) == (
        "open", 0.5, 0.0, 50000, "sell", "limit")
    assert a1["clientOrderId"].startswith("x-")   # ccxt's own client order ids are accepted as they are
    book = taker.fetch_order_book(SYM)
    assert book["asks"] == [[50000.0, 0.5], [51000.0, 0.3]] and book["bids"] == [] and book["nonce"] > 0
    assert (await ledger(db, maker_user.user_id))["BTC"] == (D("1.2"), D("0.8"))

    # the taker crosses: limit, market by quantity, market by cost (helper and quoteOrderQty param)
    b1 = taker.create_order(SYM, "limit", "buy", 0.2, 50000)
    assert (b1["status"], b1["filled"], b1["cost"], b1["average"]) == ("closed", 0.2, 10000, 50000)
    assert [(f["currency"], f["cost"]) for f in b1["fees"]] == [("USDT", 10)]
    b2 = taker.create_order(SYM, "market", "buy", 0.1)
    assert (b2["status"], b2["filled"], b2["cost"], b2["fee"]["cost"]) == ("closed", 0.1, 5000, 5)
    b3 = taker.create_market_buy_order_with_cost(SYM, 5000)
    assert (b3["status"], b3["filled"], b3["cost"], b3["info"]["origQuoteOrderQty"]) == (
        "closed", 0.1, 5000, "5000.00000000")
    b4 = taker.create_order(SYM, "market", "buy", None, params={"quoteOrderQty": "7550"})
    assert (b4["status"], dd(b4["filled"]), b4["cost"]) == ("closed", D("0.15"), 7550)
    assert [(t["price"], t["amount"]) for t in b4["trades"]] == [(50000, 0.1), (51000, 0.05)]
    assert dd(sum(f["cost"] for f in b4["fees"])) == D("7.55")

    # the maker bids; the taker sells into it at market
    bid = maker.create_order(SYM, "limit", "buy", 0.2, 49000)
    assert bid["status"] == "open"
    s1 = taker.create_order(SYM, "market", "sell", 0.15)
    assert (s1["status"], s1["filled"], s1["cost"], s1["average"], s1["fee"]["cost"]) == (
        "closed", 0.15, 7350, 49000, 7.35)

    # every fill ccxt reported is a trade row with the same price, quantity and fees
    rows = await trade_rows(db)
    assert len(rows) == 6
    reported = [t for o in (b1, b2, b3, b4, s1) for t in o["trades"]]
    assert [int(t["id"]) for t in reported] == [r["id"] for r in rows]
    for t, r in zip(reported, rows):
        taker_fee = r["buyer_fee"] if r["buyer_user_id"] == taker_user.user_id else r["seller_fee"]
        assert (dd(t["price"]), dd(t["amount"]), dd(t["fee"]["cost"])) == (
            r["price"].normalize(), r["quantity"].normalize(), taker_fee.normalize())

    # both users' trade lists agree with the ledger's trade rows
    mine = taker.fetch_my_trades(SYM)
    theirs = maker.fetch_my_trades(SYM)
    assert [int(t["id"]) for t in mine] == [int(t["id"]) for t in theirs] == [r["id"] for r in rows]
    for mt, tt, r in zip(mine, theirs, rows):
        taker_buys = r["buyer_user_id"] == taker_user.user_id
        assert (mt["side"], mt["takerOrMaker"], tt["takerOrMaker"]) == (
            "buy" if taker_buys else "sell", "taker", "maker")
        assert dd(mt["fee"]["cost"]) == (r["buyer_fee"] if taker_buys else r["seller_fee"]).normalize()
        assert dd(tt["fee"]["cost"]) == (r["seller_fee"] if taker_buys else r["buyer_fee"]).normalize()
        assert mt["fee"]["currency"] == tt["fee"]["currency"] == "USDT"
        assert (mt["order"], tt["order"]) == (str(r["taker_order_id"]), str(r["maker_order_id"]))
        assert dd(mt["cost"]) == r["quote_quantity"].normalize()
    assert await fees_collected(db, "USDT") == sum(r["buyer_fee"] + r["seller_fee"] for r in rows).normalize()
    since = mine[0]["timestamp"]   # "since" becomes startTime: ascending from that time
    assert [t["id"] for t in taker.fetch_my_trades(SYM, since=since)] == [t["id"] for t in mine]
    assert [t["id"] for t in taker.fetch_my_trades(SYM, since=mine[-1]["timestamp"] + 1)] == []
    assert [t["id"] for t in taker.fetch_trades(SYM, since=since)] == [t["id"] for t in mine]
    assert [o["id"] for o in maker.fetch_orders(SYM, since=a1["timestamp"], limit=2)] == [a1["id"], a2["id"]]

    # order queries
    got = taker.fetch_order(b4["id"], SYM)
    assert (got["status"], dd(got["filled"]), got["cost"], got["type"], got["side"]) == (
        "closed", D("0.15"), 7550, "market", "buy")
    by_client = taker.fetch_order(None, SYM, params={"origClientOrderId": b1["clientOrderId"]})
    assert by_client["id"] == b1["id"]
    open_orders = maker.fetch_open_orders(SYM)
    assert [(o["id"], dd(o["filled"]), dd(o["remaining"])) for o in open_orders] == [
        (a2["id"], D("0.05"), D("0.25")), (bid["id"], D("0.15"), D("0.05"))]
    assert [o["id"] for o in maker.fetch_orders(SYM)] == [a1["id"], a2["id"], bid["id"]]
    assert maker.fetch_order(a1["id"], SYM)["status"] == "closed"
    closed = taker.fetch_closed_orders(SYM)
    assert [o["id"] for o in closed] == [b1["id"], b2["id"], b3["id"], b4["id"], s1["id"]]
    assert all(o["status"] == "closed" for o in closed)

    # cancels release the holds
    canceled = maker.cancel_order(a2["id"], SYM)
    assert (canceled["status"], dd(canceled["filled"])) == ("canceled", D("0.05"))
    rest = maker.cancel_all_orders(SYM)
    assert [(o["id"], o["status"]) for o in rest] == [(bid["id"], "canceled")]
    assert maker.fetch_open_orders(SYM) == []
    await assert_balances_match_ledger(maker, db, maker_user.user_id)
    await assert_balances_match_ledger(taker, db, taker_user.user_id)
    maker_books = await ledger(db, maker_user.user_id)
    assert maker_books["BTC"][1] == 0 and maker_books["USDT"][1] == 0     # nothing left on hold
    # taker: bought 0.55 BTC for 27550 + 27.55 fees, sold 0.15 for 7350 - 7.35
    assert await ledger(db, taker_user.user_id) == {
        "USDT": (D(200000) - D("27550") - D("27.55") + D("7350") - D("7.35"), D(0)), "BTC": (D("0.4"), D(0))}

    # market data as ccxt reads it
    ticker = taker.fetch_ticker(SYM)
    assert (ticker["last"], ticker["high"], ticker["low"], ticker["open"]) == (49000, 51000, 49000, 50000)
    assert (dd(ticker["baseVolume"]), dd(ticker["quoteVolume"])) == (D("0.7"), D("34900"))
    tickers = taker.fetch_tickers([SYM, "ETH/USDT"])
    assert set(tickers) == {SYM, "ETH/USDT"} and tickers[SYM]["last"] == 49000
    assert set(taker.fetch_tickers()) == {SYM, "ETH/USDT", "ETH/BTC"}
    trades = taker.fetch_trades(SYM)
    assert [int(t["id"]) for t in trades] == [r["id"] for r in rows]
    assert [t["side"] for t in trades] == ["buy", "buy", "buy", "buy", "buy", "sell"]
    hour = taker.fetch_ohlcv(SYM, "1h")   # [ms, open, high, low, close, volume], oldest first
    assert (hour[0][1], max(c[2] for c in hour), min(c[3] for c in hour), hour[-1][4]) == (50000, 51000, 49000, 49000)
    assert sum(dd(c[5]) for c in hour) == D("0.7") and all(c[0] % 3_600_000 == 0 for c in hour)
    assert sum(dd(c[5]) for c in taker.fetch_ohlcv(SYM, "1m")) == D("0.7")
    for timeframe in ("3m", "30m", "2h", "6h", "8h", "12h", "1d", "3d", "1w", "1M"):
        candles = taker.fetch_ohlcv(SYM, timeframe, limit=10)
        assert sum(dd(c[5]) for c in candles) == D("0.7"), timeframe
    await check_books(db)


async def test_ccxt_async_client(live_server, db, settings):
    seller_user, buyer_user = await users(live_server.url, db, settings, {"ETH": "3"}, {"USDT": "20000"})
    seller = ccxt_async.binance(ccxt_config(live_server.url, seller_user))
    buyer = ccxt_async.binance(ccxt_config(live_server.url, buyer_user))
    try:
        await seller.load_markets()
        await buyer.load_markets()
        ask = await seller.create_order("ETH/USDT", "limit", "sell", 2, 3000)
        far = await seller.create_order("ETH/USDT", "limit", "sell", 0.5, 3500, params={"clientOrderId": "far-1"})
        assert far["clientOrderId"] == "far-1"
        fill = await buyer.create_order("ETH/USDT", "market", "buy", 1.5)
        assert (fill["status"], fill["filled"], fill["cost"], fill["fee"]["cost"]) == ("closed", 1.5, 4500, 4.5)
        assert (await seller.fetch_order(ask["id"], "ETH/USDT"))["status"] == "open"
        open_orders = await seller.fetch_open_orders("ETH/USDT")
        assert [o["id"] for o in open_orders] == [ask["id"], far["id"]]
        canceled = await seller.cancel_order(far["id"], "ETH/USDT")
        assert canceled["status"] == "canceled"
        trades = await buyer.fetch_my_trades("ETH/USDT")
        row = await db.fetchrow("SELECT id, buyer_fee, seller_fee FROM trade.trade")
        assert [int(t["id"]) for t in trades] == [row["id"]]
        assert dd(trades[0]["fee"]["cost"]) == row["buyer_fee"].normalize()
        seller_trades = await seller.fetch_my_trades("ETH/USDT")
        assert dd(seller_trades[0]["fee"]["cost"]) == row["seller_fee"].normalize() == D("3.6")
        bal = await buyer.fetch_balance()
        assert (dd(bal["ETH"]["free"]), dd(bal["USDT"]["free"])) == (D("1.5"), D("20000") - D("4504.5"))
        bal = await seller.fetch_balance()
        assert (dd(bal["ETH"]["free"]), dd(bal["ETH"]["used"]), dd(bal["USDT"]["free"])) == (
            D("1"), D("0.5"), D("4500") - D("3.6"))
        assert await ledger(db, seller_user.user_id) == {"ETH": (D("1"), D("0.5")), "USDT": (D("4496.4"), D(0))}
        book = await buyer.fetch_order_book("ETH/USDT", limit=5)
        assert book["asks"] == [[3000.0, 0.5]]
        ohlcv = await buyer.fetch_ohlcv("ETH/USDT", "1m")
        assert dd(ohlcv[-1][5]) == D("1.5")
    finally:
        await seller.close()
        await buyer.close()
    await check_books(db)


async def test_ccxt_sees_binance_errors_and_nothing_changes(live_server, db, settings):
    owner_user, other_user = await users(live_server.url, db, settings, {"USDT": "1000"}, {"USDT": "1000"})
    owner = ccxt.binance(ccxt_config(live_server.url, owner_user))
    other = ccxt.binance(ccxt_config(live_server.url, other_user))
    owner.load_markets()
    other.load_markets()
    resting = owner.create_order(SYM, "limit", "buy", 0.01, 40000)
    before = await snapshot(db)

    with pytest.raises(ccxt.InsufficientFunds):
        owner.create_order(SYM, "limit", "buy", 1, 40000)
    with pytest.raises(ccxt.BadRequest, match="Filter failure: NOTIONAL"):   # ccxt's class for Binance's -1013
        owner.create_order(SYM, "limit", "buy", 0.0001, 100)        # notional 0.01 USDT < 5
    with pytest.raises(ccxt.OrderNotFound):
        owner.fetch_order("999999", SYM)
    with pytest.raises(ccxt.OrderNotFound):
        owner.cancel_order("999999", SYM)
    with pytest.raises(ccxt.OrderNotFound):
        other.fetch_order(resting["id"], SYM)                       # someone else's order
    with pytest.raises(ccxt.OrderNotFound):
        other.cancel_order(resting["id"], SYM)
    with pytest.raises(ccxt.BadSymbol):
        owner.publicGetDepth({"symbol": "DOGEUSDT"})
    with pytest.raises(ccxt.BadRequest, match='"code":-1020'):
        owner.sapiGetCapitalConfigGetall()                           # /sapi: JSON -1020, not an HTML 404
    with pytest.raises(ccxt.AuthenticationError):
        ccxt.binance(ccxt_config(live_server.url, owner_user, secret="wrong-secret")).fetch_balance()
    with pytest.raises(ccxt.AuthenticationError):
        ccxt.binance(ccxt_config(live_server.url, owner_user, apiKey="Z" * 64)).fetch_balance()
    stale = ccxt.binance(ccxt_config(live_server.url, owner_user))
    stale.options["recvWindow"] = 5000
    stale.milliseconds = lambda: ccxt.binance.milliseconds() - 60_000   # a client clock a minute behind
    with pytest.raises(ccxt.InvalidNonce, match="-1021"):
        stale.fetch_balance()

    assert await snapshot(db) == before
    assert owner.fetch_order(resting["id"], SYM)["status"] == "open"


ROOT = Path(__file__).resolve().parents[3]


def readme_ccxt_snippet() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Binance-compatible API (ccxt, freqtrade)", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


async def test_readme_ccxt_snippet_works_as_written(live_server, db, settings, monkeypatch, capsys):
    (user,) = await users(live_server.url, db, settings, {"USDT": "100"})
    monkeypatch.setenv("BASE", live_server.url)
    monkeypatch.setenv("MYCRYPTO_API_KEY", user.api_key)
    monkeypatch.setenv("MYCRYPTO_API_SECRET", user.secret)
    exec(compile(readme_ccxt_snippet(), "README.md", "exec"), {"__name__": "readme"})
    assert capsys.readouterr().out.split() == ["None", "100.0", "open", "canceled"]
    assert await ledger(db, user.user_id) == {"USDT": (D(100), D(0)), "BTC": (D(0), D(0))}
    assert await db.fetchval("SELECT status::text FROM trade.spot_order WHERE user_id = $1", user.user_id) == "canceled"


def documented_freqtrade_exchange(doc: str) -> dict:
    """The `"exchange": {...}` block of the freqtrade config.json shown in `doc`."""
    block = (ROOT / doc).read_text().split("freqtrade", 1)[1].split("```json\n", 1)[1].split("```", 1)[0]
    return json.loads("{" + block + "}")["exchange"]


@pytest.mark.parametrize("doc", ["README.md", "docs/binance-api.md"])
async def test_documented_freqtrade_config_drives_ccxt(doc, live_server, db, settings):
    """The freqtrade configuration the docs show, given to ccxt as freqtrade does (key, secret and
    `ccxt_config` in the constructor), loads the markets and balances from MyCrypto. The docs' full
    `urls.api` list must cover every base URL of the installed ccxt, so nothing can reach binance.com."""
    exchange_config = documented_freqtrade_exchange(doc)
    assert (exchange_config["name"], exchange_config["enable_ws"]) == ("binance", True)
    assert exchange_config["ccxt_config"]["options"] == SPOT_OPTIONS
    ws_url = live_server.url.replace("http://", "ws://")
    ccxt_config = json.loads(json.dumps(exchange_config["ccxt_config"]).replace(
        "https://mycrypto.example.com", live_server.url).replace("wss://mycrypto.example.com", ws_url))
    # with enable_ws the websocket URLs (ccxt.pro) must point at MyCrypto too
    assert ccxt_config["urls"]["api"]["ws"]["spot"] == ws_url + "/ws"
    (user,) = await users(live_server.url, db, settings, {"USDT": "100"})
    exchange = ccxt.binance({"apiKey": user.api_key, "secret": user.secret, **ccxt_config})
    if doc.startswith("docs/"):
        assert {n: u for n, u in exchange.urls["api"].items()
                if isinstance(u, str) and not u.startswith(live_server.url)} == {}
    assert set(exchange_config["pair_whitelist"]) <= set(exchange.load_markets())
    assert dd(exchange.fetch_balance()["USDT"]["free"]) == D(100)
