#!/usr/bin/env python3
"""Seed a development server for a load run, through its real HTTP paths only.

Every account is made the way a person makes one: `POST /api/v1/auth/register` (argon2id hash),
the confirmation link from the development mailbox (`/dev/mailbox.json`) posted to
`/api/v1/auth/verify-email`, `POST /api/v1/auth/login`, an API key with read+trade permissions
from `POST /api/v1/auth/api-keys`, and funds from the development faucet (`POST /api/v1/wallet/faucet`,
a ledger posting of kind `faucet`). Resting orders and trade history are placed through the
Binance-compatible signed API (`POST /api/v3/order`), so the engine, the ledger and the history
tables grow exactly as they do in production. No SQL is written by this tool.

It therefore needs a server with the development tools on (MYCRYPTO_ENV not production: mailbox and
faucet) and, for speed, RATE_LIMITS_ENABLED=false (every account signs up from 127.0.0.1).

    python bench/load/seed.py --base-url http://127.0.0.1:8000 --accounts 120 --out var/load/users.json
    python bench/load/seed.py --base-url ... --users-file var/load/users.json --resting 400 --history 20

`--resting N`: N resting GTC orders per market (BTC-USDT, ETH-USDT) behind the spread.
`--history N`: about N trades per account on ETH-BTC (half the accounts sell, half buy, at one price:
see `seed_history`), so every account's order, trade and wallet history grows by a few rows per trade.
The load journeys never place orders on ETH-BTC (they read it), so its book ends empty.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import random
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "src"))
sys.path.insert(0, str(HERE.parent / "e2e"))

from orders import MARKETS, SMALL_QTY, price  # noqa: E402

from mycrypto.ops.loadgen import build_request  # noqa: E402

FUNDS = {"USDT": 3, "BTC": 2, "ETH": 3}          # faucet calls per asset (capped grants: 10,000 / 1 / 10)
WITHDRAW_ADDRESS = {"USDT": "0x" + "ab" * 20}     # where the mixed journey withdraws to (simulated chain)
RECV_WINDOW_MS = 60000                           # signed requests stay valid for a minute


@dataclass
class Account:
    email: str
    password: str
    user_id: int
    api_key: str
    secret: str


class SeedError(RuntimeError):
    pass


def binance_symbol(symbol: str) -> str:
    return symbol.replace("-", "")


def signed_order(host: str, account: Account, order: dict, timestamp_ms: int | None = None) -> bytes:
    """A raw `POST /api/v3/order` signed with the account's API key (form body, as ccxt sends it)."""
    params = {"symbol": binance_symbol(order["symbol"]), "side": order["side"].upper(), "type": "LIMIT",
              "timeInForce": order.get("time_in_force", "GTC"), "quantity": order["quantity"],
              "price": order["price"], "recvWindow": RECV_WINDOW_MS,
              "timestamp": timestamp_ms or int(time.time() * 1000)}
    query = urlencode(params)
    sig = hmac.new(account.secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    return build_request("POST", "/api/v3/order", host, {"X-MBX-APIKEY": account.api_key},
                         f"{query}&signature={sig}".encode(), content_type="application/x-www-form-urlencoded")


def _check(r: httpx.Response, what: str, *ok: int) -> dict:
    if r.status_code not in (ok or (200,)):
        raise SeedError(f"{what}: HTTP {r.status_code} {r.text[:300]}")
    return r.json() if r.content else {}


async def _confirmation_token(client: httpx.AsyncClient, email: str, deadline_s: float = 30) -> str:
    """The token of the newest confirmation link mailed to `email` (the relay delivers right after commit)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        r = await client.get("/dev/mailbox.json")
        if r.status_code == 404:
            raise SeedError("the server has no development mailbox (MYCRYPTO_ENV=production?): cannot seed")
        for m in _check(r, "mailbox")["messages"]:
            if email in m["to"]:
                for link in m["links"]:
                    if "/verify-email?token=" in link:
                        return link.split("token=", 1)[1]
        await asyncio.sleep(0.2)
    raise SeedError(f"no confirmation email for {email} within {deadline_s:.0f} s")


async def create_account(client: httpx.AsyncClient, email: str, password: str) -> Account:
    """Register, confirm, sign in, create an API key, take faucet funds: what a new trader does."""
    _check(await client.post("/api/v1/auth/register", json={"email": email, "password": password}),
           f"register {email}", 202)
    token = await _confirmation_token(client, email)
    _check(await client.post("/api/v1/auth/verify-email", json={"token": token}), f"verify {email}")
    session = _check(await client.post("/api/v1/auth/login", json={"email": email, "password": password}),
                     f"login {email}")
    auth = {"Authorization": f"Bearer {session['access_token']}"}
    key = _check(await client.post("/api/v1/auth/api-keys", json={"label": "load", "permissions": ["read", "trade"]},
                                   headers=auth), f"api key {email}", 201)
    for asset, calls in FUNDS.items():
        for _ in range(calls):
            _check(await client.post("/api/v1/wallet/faucet", json={"asset": asset}, headers=auth),
                   f"faucet {asset} {email}")
    return Account(email, password, session["user"]["id"], key["api_key"], key["secret"])


async def create_accounts(base_url: str, n: int, *, concurrency: int = 4, prefix: str | None = None,
                          log=print) -> list[Account]:
    """n new funded accounts with API keys (a few at a time: each sign-up and sign-in is an argon2id hash)."""
    prefix = prefix or f"load-{uuid.uuid4().hex[:8]}"
    sem = asyncio.Semaphore(concurrency)
    done = [0]

    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        async def one(i: int) -> Account:
            async with sem:
                acc = await create_account(client, f"{prefix}-{i}@example.com",
                                           f"load test passphrase {prefix} {i}")
                done[0] += 1
                if done[0] % 20 == 0 or done[0] == n:
                    log(f"  accounts: {done[0]}/{n}")
                return acc

        return list(await asyncio.gather(*(one(i) for i in range(n))))


def _host_port(base_url: str) -> tuple[str, int]:
    parts = urlsplit(base_url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SeedError("load tools only target this machine (127.0.0.1)")
    return parts.hostname, parts.port or 80


Lane = list[tuple[Account, dict]]


async def send_lanes(base_url: str, lanes: list[Lane], what: str) -> dict[str, int]:
    """Place each lane's orders in order on its own connection (lanes in parallel); status counts.
    Each order is signed just before it is sent: a long seed outlives any signature's recvWindow."""
    from mycrypto.ops.loadgen import connect

    host, port = _host_port(base_url)
    hostport = f"{host}:{port}"
    statuses: dict[str, int] = {}

    async def run(lane: Lane) -> None:
        c = await connect(host, port)
        try:
            for account, order in lane:
                status, body = await c.request(signed_order(hostport, account, order), 60)
                statuses[str(status)] = statuses.get(str(status), 0) + 1
                if status >= 400:   # seeding must be exact: a refused order is a broken seed
                    raise SeedError(f"{what}: HTTP {status} {body[:200]!r}")
        finally:
            assert c.transport is not None
            c.transport.close()

    await asyncio.gather(*(run(lane) for lane in lanes if lane))
    return statuses


def book_orders(per_market: int, start: int = 1) -> list[dict]:
    """Resting GTC orders on BTC-USDT and ETH-USDT: alternating buys and sells `start`, `start`+1, ...
    ticks from the mid (a new level per pair of orders; after 40 % of the mid, back to `start`)."""
    rng = random.Random(start)
    out = []
    for symbol in ("BTC-USDT", "ETH-USDT"):
        mid = MARKETS[symbol][0]
        levels = int(mid * 0.4)
        for i in range(per_market):
            side = "buy" if i % 2 else "sell"
            off = start + (i // 2) % max(1, levels - start)
            out.append({"symbol": symbol, "side": side, "quantity": SMALL_QTY[symbol](rng),
                        "price": price(symbol, mid - off if side == "buy" else mid + off)})
    return out


async def seed_resting(base_url: str, accounts: list[Account], per_market: int, *, start: int = 1,
                       conns: int = 8) -> dict[str, int]:
    """`per_market` resting GTC orders on BTC-USDT and ETH-USDT, spread over the accounts."""
    _host_port(base_url)
    orders = list(book_orders(per_market, start))
    lanes: list[Lane] = [[] for _ in range(conns)]
    for i, o in enumerate(orders):
        lanes[i % conns].append((accounts[i % len(accounts)], o))
    return await send_lanes(base_url, lanes, "resting orders")


async def seed_history(base_url: str, accounts: list[Account], trades_per_account: int, *,
                       conns: int = 8) -> dict[str, int]:
    """About `trades_per_account` trades per account on ETH-BTC, a market the load journeys do not
    trade on (they only read it). Half the accounts sell, the other half buy (so no order ever
    meets one of its own account's: self-trade prevention would cancel it), every order is GTC at
    one price with one quantity: sells and buys cross at that price whatever order the connections
    deliver them in, and the level ends empty, leaving trades and history rows but no resting order."""
    _host_port(base_url)
    if len(accounts) < 2:
        raise SeedError("history needs at least two accounts (a seller and a buyer)")
    p = price("ETH-BTC", MARKETS["ETH-BTC"][0])
    sellers, buyers = accounts[: len(accounts) // 2], accounts[len(accounts) // 2:]
    lanes: list[Lane] = [[] for _ in range(conns)]
    for k in range(trades_per_account * len(sellers)):
        lane = lanes[k % conns]
        lane.append((sellers[k % len(sellers)], {"symbol": "ETH-BTC", "side": "sell", "price": p, "quantity": "0.010"}))
        lane.append((buyers[k % len(buyers)], {"symbol": "ETH-BTC", "side": "buy", "price": p, "quantity": "0.010"}))
    return await send_lanes(base_url, lanes, "history trades")


def save_accounts(path: Path, accounts: list[Account]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(a) for a in accounts], indent=1))


def load_accounts(path: Path) -> list[Account]:
    return [Account(**a) for a in json.loads(path.read_text())]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base-url", default="http://127.0.0.1:8000")
    ap.add_argument("--accounts", type=int, default=0, help="new accounts to create")
    ap.add_argument("--users-file", type=Path, help="existing accounts (JSON written by a previous run)")
    ap.add_argument("--out", type=Path, default=Path("var/load/users.json"), help="where to write the accounts")
    ap.add_argument("--resting", type=int, default=0, help="resting orders per market (BTC-USDT, ETH-USDT)")
    ap.add_argument("--history", type=int, default=0, help="ETH-BTC trades per account")
    args = ap.parse_args()
    _host_port(args.base_url)
    accounts = load_accounts(args.users_file) if args.users_file else []
    t0 = time.perf_counter()
    if args.accounts:
        accounts += asyncio.run(create_accounts(args.base_url, args.accounts))
        save_accounts(args.out, accounts)
        print(f"{len(accounts)} accounts in {args.out} ({time.perf_counter() - t0:.0f} s)")
    if not accounts:
        ap.error("give --accounts N or --users-file FILE")
    if args.resting:
        print("resting orders:", asyncio.run(seed_resting(args.base_url, accounts, args.resting)))
    if args.history:
        print("history trades:", asyncio.run(seed_history(args.base_url, accounts, args.history)))


if __name__ == "__main__":
    main()
