"""History and CSV through HTTP: every kind of entry, filters, pagination."""
import csv
import io
from decimal import Decimal as D

from tests.e2e.wallet.helpers import parts, settle_trade
from tests.support.factories import bearer, create_user, fund


async def test_history_covers_deposits_withdrawals_trades_fees_and_faucet(wapp, wsettings, db):
    app, client = wapp
    user, other = await create_user(db), await create_user(db)
    h = bearer(wsettings, user)
    address = (await client.get("/api/v1/wallet/deposit-address/BTC", headers=h)).json()["address"]
    await parts(app).chain.send("BTC", address, D("1"))
    await parts(app).chain.mine(2)
    await parts(app).run_once()
    assert (await client.post("/api/v1/wallet/faucet", json={"asset": "USDT", "amount": "500"}, headers=h)).status_code == 200
    await fund(db, other, "USDT", "10000")
    await settle_trade(db, buyer=other, seller=user, qty=D("0.1"), price=D("25000"), buyer_fee=D("2.5"),
                       seller_fee=D("2"))
    w = await client.post("/api/v1/wallet/withdrawals", headers=h,
                          json={"asset": "USDT", "address": "0x52908400098527886E0F7030069857D2E4169EE7", "amount": "100"})
    await parts(app).run_once()

    items = (await client.get("/api/v1/wallet/history", headers=h)).json()["items"]
    got = sorted((i["type"], i["asset"], i["amount"]) for i in items)
    assert got == sorted([("deposit", "BTC", "1"), ("faucet", "USDT", "500"), ("trade", "BTC", "-0.1"),
                          ("trade", "USDT", "2500"), ("fee", "USDT", "-2"), ("withdrawal", "USDT", "-100"),
                          ("fee", "USDT", "-1")])
    balances = {b["asset"]: D(b["total"]) for b in (await client.get("/api/v1/wallet/balances", headers=h)).json()["balances"]}
    for asset in ("BTC", "USDT"):
        assert sum(D(i["amount"]) for i in items if i["asset"] == asset) == balances[asset]
    wd = next(i for i in items if i["type"] == "withdrawal")
    assert wd["status"] == "broadcast" and wd["txid"] and wd["reference"] == f"withdrawal:{w.json()['id']}"
    dep = next(i for i in items if i["type"] == "deposit")
    assert dep["confirmations"] == 2 and dep["confirmations_required"] == 2 and dep["address"] == address

    fees = (await client.get("/api/v1/wallet/history?type=fee", headers=h)).json()["items"]
    assert sorted(i["amount"] for i in fees) == ["-1", "-2"]
    btc = (await client.get("/api/v1/wallet/history?asset=btc&type=deposit,trade", headers=h)).json()["items"]
    assert sorted(i["amount"] for i in btc) == ["-0.1", "1"]

    # paging through two at a time gives the same list
    seen, cursor = [], None
    while True:
        q = f"/api/v1/wallet/history?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(q, headers=h)).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == items

    r = await client.get("/api/v1/wallet/history.csv?type=fee,withdrawal", headers=h)
    assert r.status_code == 200 and 'filename="history.csv"' in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0]) == ["time", "type", "asset", "amount", "status", "reference", "txid", "address",
                             "confirmations"]
    assert sorted((x["type"], x["amount"]) for x in rows) == [("fee", "-1"), ("fee", "-2"), ("withdrawal", "-100")]
    assert (await client.get("/api/v1/wallet/history.csv?asset=NOPE", headers=h)).status_code == 404


async def test_csv_amounts_are_plain_decimals_even_when_tiny(wapp, wsettings, db):
    _, client = wapp
    user = await create_user(db)
    await fund(db, user, "BTC", "0.00000001")
    await fund(db, user, "USDT", "12345678901234.5")
    r = await client.get("/api/v1/wallet/history.csv", headers=bearer(wsettings, user))
    amounts = sorted(row["amount"] for row in csv.DictReader(io.StringIO(r.text)))
    assert amounts == ["0.00000001", "12345678901234.5"]
