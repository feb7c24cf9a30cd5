"""Locust scenarios: realistic users of MyCrypto (run headless by bench/load/run.py, or by hand).

Two kinds of users:
- Trader (3 of 4): signs in (argon2id) with a seeded account, then browses markets and tickers,
  reads order books, candles and recent trades, checks balances, open orders and order / trade /
  wallet history, places orders on BTC-USDT and ETH-USDT (half resting behind the spread, half
  crossing it: trades), places and cancels an order, withdraws 10 USDT now and then, and starts a
  new session (signs in again) after LOAD_SESSION_TASKS tasks.
- Visitor (1 of 4): not signed in; markets, tickers, order books, candles, recent trades.
Both also call the constant JSON endpoint (`/api/v1/trade/ping-constant`) a little: the framework's
floor on the same server, measured under the same load in the same run, so every endpoint can be
reported as a ratio to it.

Environment:
    LOAD_USERS_FILE     accounts from bench/load/seed.py (required for Traders)
    LOAD_SAMPLES_DIR    where each Locust process writes its samples (samples-<pid>.json)
    LOAD_WAIT           think time between tasks, "min,max" seconds (default "0.05,0.25")
    LOAD_MEASURE_SECONDS  stop this many seconds after every user has signed in (0: only -t stops)
    LOAD_SESSION_TASKS  tasks per session before a Trader signs in again (default 200: about 0.4 % of
                        all requests are sign-ins; each costs ~0.1-0.2 s of server CPU)

A user's first sign-in is labelled "POST /api/v1/auth/login (first)": run.py starts the measured
window when the last of them has finished (everyone is signed in), and reports the ramp-up apart.
Each request becomes one sample (end time, label, status, latency ms, error?) written when the test
stops; run.py turns them into the report (mycrypto.ops.loadstats). Expected refusals are not errors:
a cancel that finds the order already filled, an IOC that finds nothing to trade.
By hand (the server must be seeded):
    LOAD_USERS_FILE=var/load/users.json locust -f bench/load/locustfile.py --headless -u 100 -r 20 \
        -t 60s --host http://127.0.0.1:8000
"""
from __future__ import annotations

import functools
import itertools
import json
import os
import random
import sys
import time
import uuid
from pathlib import Path

import gevent
from locust import FastHttpUser, between, events, task

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from orders import MARKETS, SMALL_QTY, mixed_orders, price  # noqa: E402

SYMBOLS = list(MARKETS)          # read: all markets
TRADED = ["BTC-USDT", "ETH-USDT"]  # traded: ETH-BTC is kept for the seeded history (bench/load/seed.py)
_wait = [float(x) for x in os.environ.get("LOAD_WAIT", "0.05,0.25").split(",")]
SESSION_TASKS = int(os.environ.get("LOAD_SESSION_TASKS", "200"))
MEASURE_SECONDS = float(os.environ.get("LOAD_MEASURE_SECONDS", "0"))
# the measured window opens when every user is spawned and signed in; it lasts MEASURE_SECONDS
_window = {"environment": None, "spawned": False, "signed_in": 0, "armed": False}
FIRST_LOGIN = "POST /api/v1/auth/login (first)"
LOGIN = "POST /api/v1/auth/login"
_accounts = json.loads(Path(os.environ["LOAD_USERS_FILE"]).read_text()) if os.environ.get("LOAD_USERS_FILE") else []
_next_account = itertools.count()
_samples: list[tuple[float, str, int, float, bool]] = []
WITHDRAW_TO = "0x" + "ab" * 20


@events.request.add_listener
def _record(request_type, name, response_time, response_length, response=None, exception=None,
            start_time=None, **kwargs):  # noqa: ANN001 - Locust's event signature
    status = getattr(response, "status_code", 0) or 0
    end = (start_time or time.time() - response_time / 1000) + response_time / 1000
    _samples.append((end, name, int(status), float(response_time), exception is not None))


@events.init.add_listener
def _init(environment, **kwargs):  # noqa: ANN001
    _window["environment"] = environment


@events.spawning_complete.add_listener
def _spawned(user_count, **kwargs):  # noqa: ANN001
    _window["spawned"] = True
    _arm_stop()


def _arm_stop() -> None:
    """Once every user is running and signed in, stop the test MEASURE_SECONDS later (on a busy
    machine the first sign-ins can take long: a fixed -t would leave a short measured window)."""
    w = _window
    if not MEASURE_SECONDS or not w["spawned"] or w["armed"] or w["environment"] is None:
        return
    runner = w["environment"].runner
    if w["signed_in"] >= runner.user_classes_count.get("Trader", 0):
        w["armed"] = True
        gevent.spawn_later(MEASURE_SECONDS, runner.quit)


@events.test_stop.add_listener
def _save(environment, **kwargs):  # noqa: ANN001
    out = os.environ.get("LOAD_SAMPLES_DIR")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / f"samples-{os.getpid()}.json").write_text(json.dumps(_samples))


class Browsing:
    """Public market data: what every visitor of the web app loads."""

    def _symbol(self) -> str:
        return random.choice(SYMBOLS)

    def order_book(self) -> None:
        self.client.get(f"/api/v1/orderbook/{self._symbol()}?depth=50", name="GET /api/v1/orderbook/{symbol}")

    def tickers(self) -> None:
        self.client.get("/api/v1/trade/ticker", name="GET /api/v1/trade/ticker")

    def markets(self) -> None:
        self.client.get("/api/v1/trade/markets", name="GET /api/v1/trade/markets")

    def candles(self) -> None:
        interval = random.choice(("1m", "1m", "5m", "1h"))
        self.client.get(f"/api/v1/trade/candles/{self._symbol()}?interval={interval}&limit=200",
                        name="GET /api/v1/trade/candles/{symbol}")

    def recent_trades(self) -> None:
        self.client.get(f"/api/v1/trade/trades/{self._symbol()}", name="GET /api/v1/trade/trades/{symbol}")

    def constant(self) -> None:
        self.client.get("/api/v1/trade/ping-constant", name="GET /api/v1/trade/ping-constant (baseline)")


class Visitor(Browsing, FastHttpUser):
    weight = 1
    wait_time = between(*_wait)

    @task(6)
    def t_book(self) -> None:
        self.order_book()

    @task(3)
    def t_tickers(self) -> None:
        self.tickers()

    @task(1)
    def t_markets(self) -> None:
        self.markets()

    @task(3)
    def t_candles(self) -> None:
        self.candles()

    @task(2)
    def t_trades(self) -> None:
        self.recent_trades()

    @task(1)
    def t_const(self) -> None:
        self.constant()


def in_session(fn):  # noqa: ANN001, ANN201 - a Locust task
    """Count the task in the Trader's session; after SESSION_TASKS tasks, sign in again first."""
    @functools.wraps(fn)
    def run(self):  # noqa: ANN001, ANN202
        self.tasks_in_session += 1
        if self.tasks_in_session > SESSION_TASKS:
            self.tasks_in_session = 1
            self.sign_in()
        fn(self)
    return run


class Trader(Browsing, FastHttpUser):
    weight = 3
    wait_time = between(*_wait)

    def on_start(self) -> None:
        if not _accounts:
            raise RuntimeError("LOAD_USERS_FILE names no accounts: run bench/load/seed.py first")
        self.account = _accounts[next(_next_account) % len(_accounts)]
        self.orders = mixed_orders(10**7, seed=random.randrange(10**9), markets=len(TRADED), qty_of=SMALL_QTY)
        # a random point in its first session, so re-sign-ins are spread over time as in a steady state
        # (not all due at once SESSION_TASKS tasks after the ramp-up)
        self.tasks_in_session = random.randrange(SESSION_TASKS)
        self.sign_in(FIRST_LOGIN)
        _window["signed_in"] += 1          # (failed first sign-ins count too: they are errors in the report)
        _arm_stop()

    def sign_in(self, name: str = LOGIN) -> None:
        with self.client.post("/api/v1/auth/login", name=name, catch_response=True,
                              json={"email": self.account["email"], "password": self.account["password"]}) as r:
            if r.status_code == 200:
                self.auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
            else:
                r.failure(f"login {r.status_code}: {r.text[:200]}")
                self.auth = {}

    # browsing, as a signed-in user does it too
    @task(8)
    @in_session
    def t_book(self) -> None:
        self.order_book()

    @task(3)
    @in_session
    def t_tickers(self) -> None:
        self.tickers()

    @task(1)
    @in_session
    def t_markets(self) -> None:
        self.markets()

    @task(3)
    @in_session
    def t_candles(self) -> None:
        self.candles()

    @task(2)
    @in_session
    def t_trades(self) -> None:
        self.recent_trades()

    @task(2)
    @in_session
    def t_const(self) -> None:
        self.constant()

    # my account
    @task(4)
    @in_session
    def balances(self) -> None:
        self.client.get("/api/v1/wallet/balances", headers=self.auth, name="GET /api/v1/wallet/balances")

    @task(2)
    @in_session
    def open_orders(self) -> None:
        self.client.get("/api/v1/trade/orders/open", headers=self.auth, name="GET /api/v1/trade/orders/open")

    @task(1)
    @in_session
    def order_history(self) -> None:
        self.client.get("/api/v1/trade/orders?limit=50", headers=self.auth, name="GET /api/v1/trade/orders")

    @task(1)
    @in_session
    def my_trades(self) -> None:
        self.client.get("/api/v1/trade/my-trades?limit=50", headers=self.auth, name="GET /api/v1/trade/my-trades")

    @task(1)
    @in_session
    def wallet_history(self) -> None:
        self.client.get("/api/v1/wallet/history?limit=50", headers=self.auth, name="GET /api/v1/wallet/history")

    # trading
    @task(5)
    @in_session
    def place_order(self) -> None:
        order = next(self.orders)
        with self.client.post("/api/v1/trade/orders", headers=self.auth, catch_response=True,
                              name="POST /api/v1/trade/orders", json={"type": "limit", **order}) as r:
            if r.status_code not in (200, 201):
                r.failure(f"order {r.status_code}: {r.text[:200]}")

    @task(3)
    @in_session
    def place_and_cancel(self) -> None:
        symbol = random.choice(TRADED)
        mid = MARKETS[symbol][0]
        # a buy at 70-80 % of the mid: rests (nothing sells that low) until cancelled right after
        body = {"type": "limit", "symbol": symbol, "side": "buy", "quantity": SMALL_QTY[symbol](random),
                "price": price(symbol, int(mid * random.uniform(0.7, 0.8))), "time_in_force": "GTC"}
        with self.client.post("/api/v1/trade/orders", headers=self.auth, catch_response=True,
                              name="POST /api/v1/trade/orders (to cancel)", json=body) as r:
            if r.status_code != 201:
                r.failure(f"order {r.status_code}: {r.text[:200]}")
                return
            order_id = r.json()["order_id"]
        with self.client.delete(f"/api/v1/trade/orders/{order_id}", headers=self.auth, catch_response=True,
                                name="DELETE /api/v1/trade/orders/{id}") as r:
            if r.status_code not in (200, 409):   # 409: it was filled or cancelled meanwhile
                r.failure(f"cancel {r.status_code}: {r.text[:200]}")
            else:
                r.success()

    @task(1)
    @in_session
    def withdraw(self) -> None:
        with self.client.post("/api/v1/wallet/withdrawals", headers={**self.auth, "Idempotency-Key": uuid.uuid4().hex},
                              json={"asset": "USDT", "address": WITHDRAW_TO, "amount": "10"},
                              name="POST /api/v1/wallet/withdrawals", catch_response=True) as r:
            if r.status_code != 201:
                r.failure(f"withdraw {r.status_code}: {r.text[:200]}")
