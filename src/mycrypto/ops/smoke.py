"""Smoke tests: the launch checklist's critical journeys against ANY deployment, over its public API.

`run_smoke(base_url, ...)` (and `mycrypto smoke BASE_URL`, `scripts/smoke_tests.sh BASE_URL`) runs, in
order, with a one-line verdict per step (PASS / FAIL / SKIP) and stops at the first step the others
depend on:

  reachable       GET /health answers (a dead URL fails here at once, with the reason)
  health          the auth, wallet and trade health endpoints answer 200
  registration    a new account can sign up - or, with REGISTRATION_ENABLED=false, the documented
                  answer 403 registration_disabled
  email           the verification link works (only where the development mailbox exists; in
                  production the link goes out by email: SKIP)
  login           the smoke accounts sign in (pre-provisioned with `mycrypto smoke provision`, or,
                  against `mycrypto up`, accounts this run registers, verifies and funds)
  deposit         development faucet credit (SKIP in production: the provisioned balance is used)
  balance         the accounts hold what the journeys need
  order_cancel    a limit buy far below the market rests on the book, then is cancelled and its hold
                  released
  execution       account A posts a post-only sell INSIDE the spread (above the best bid, below the
                  best ask) and account B buys it with an IOC at that price, so no real user's order
                  can be matched (with no room in the spread: SKIP)
  trade_history   both accounts see the trade in their history, the order shows as filled
  balance_after   the balances moved by exactly quantity, price and fees

Production has no faucet, no chain simulator and no mailbox: everything here goes through the
same public endpoints users call. The smoke accounts' funds come from an operator account through
the ledger (ops/smoke_accounts.py). Returns a `SmokeReport` (steps with name, status, detail,
milliseconds) for other tools.
"""
from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Any

import httpx

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"
D = Decimal


@dataclass
class Account:
    email: str
    password: str
    token: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


@dataclass
class StepResult:
    name: str
    status: str
    detail: str
    ms: int = 0

    def line(self) -> str:
        return f"{self.status:<4}  {self.name:<14} {self.detail}  ({self.ms} ms)"


@dataclass
class SmokeReport:
    base_url: str
    steps: list[StepResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.status != FAIL for s in self.steps)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "base_url": self.base_url, "steps": [asdict(s) for s in self.steps]}


class StepFailed(Exception):
    """The step failed; the message is its verdict."""


class Skip(Exception):
    """The step does not apply to this deployment; the message says why."""


class Smoke:
    def __init__(self, base_url: str, *, accounts: tuple[Account, Account] | None, market: str,
                 register: bool, email_domain: str, timeout: float, emit: Callable[[StepResult], None] | None,
                 transport: httpx.BaseTransport | None = None, headers: dict[str, str] | None = None) -> None:
        self.base = base_url.rstrip("/")
        self.accounts = accounts
        self.market = market
        self.register = register
        self.email_domain = email_domain
        self.emit = emit
        self.report = SmokeReport(self.base)
        self.http = httpx.Client(base_url=self.base, timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
                                 headers={"User-Agent": "mycrypto-smoke/1", "Accept": "application/json",
                                          **(headers or {})},
                                 transport=transport)
        self.dev = False
        self.registration_open = True
        self.registered: Account | None = None
        self.rules: dict[str, Any] = {}
        self.trade: dict[str, Any] = {}
        self.before: dict[str, dict[str, D]] = {}

    # ---------------------------------------------------------------- plumbing
    def step(self, name: str, fn: Callable[[], str], *, critical: bool = False) -> bool:
        started = time.perf_counter()
        try:
            result = StepResult(name, PASS, fn())
        except Skip as exc:
            result = StepResult(name, SKIP, str(exc))
        except StepFailed as exc:
            result = StepResult(name, FAIL, str(exc))
        except httpx.HTTPError as exc:
            result = StepResult(name, FAIL, f"{type(exc).__name__}: {exc or 'no answer'}")
        result.ms = int((time.perf_counter() - started) * 1000)
        self.report.steps.append(result)
        if self.emit is not None:
            self.emit(result)
        return result.status != FAIL or not critical

    def call(self, method: str, path: str, *, expect: tuple[int, ...] = (200,), account: Account | None = None,
             **kwargs: Any) -> Any:
        r = self.http.request(method, path, headers=account.headers if account else None, **kwargs)
        if r.status_code not in expect:
            raise StepFailed(f"{method} {path} answered {r.status_code}: {_error_of(r)}")
        return r.json() if r.content and "json" in r.headers.get("content-type", "") else None

    # ---------------------------------------------------------------- steps
    def reachable(self) -> str:
        try:
            r = self.http.get("/health")
        except httpx.ConnectError as exc:
            raise StepFailed(f"cannot connect to {self.base}: {exc}") from None
        except httpx.TimeoutException:
            raise StepFailed(f"{self.base} did not answer within the timeout") from None
        if r.status_code not in (200, 503):
            raise StepFailed(f"GET /health answered {r.status_code}; is {self.base} a MyCrypto deployment?")
        try:
            body = r.json()
        except ValueError:
            raise StepFailed(f"GET /health did not answer JSON; is {self.base} a MyCrypto deployment?") from None
        return f"{self.base} answered /health: {body.get('status')} (version {body.get('version')})"

    def health(self) -> str:
        out = []
        for service in ("auth", "wallet", "trade"):
            body = self.call("GET", f"/api/v1/{service}/health")
            out.append(f"{service} {body.get('status')}")
        mailbox = self.http.get("/dev/mailbox.json")
        self.dev = mailbox.status_code == 200
        return ", ".join(out) + (" (development extras available)" if self.dev else "")

    def registration(self) -> str:
        if not self.register:
            raise Skip("registration check turned off (--no-register)")
        email = f"smoke-{secrets.token_hex(5)}@{self.email_domain}"
        password = "smoke " + secrets.token_urlsafe(18)
        r = self.http.post("/api/v1/auth/register", json={"email": email, "password": password})
        if r.status_code == 403 and _code_of(r) == "registration_disabled":
            self.registration_open = False
            return "registration is disabled here: 403 registration_disabled (the documented answer)"
        if r.status_code != 202:
            raise StepFailed(f"POST /api/v1/auth/register answered {r.status_code}: {_error_of(r)}")
        self.registered = Account(email, password)
        return f"registered {email} (202)"

    def email(self) -> str:
        if self.registered is None:
            raise Skip("no account was registered in this run")
        if not self.dev:
            raise Skip("no development mailbox here (production): the link goes out by email")
        token = self._mailbox_token(self.registered.email)
        body = self.call("POST", "/api/v1/auth/verify-email", json={"token": token})
        return f"verification link confirmed {self.registered.email}: {body.get('status')}"

    def _mailbox_token(self, email: str) -> str:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            for message in self.call("GET", "/dev/mailbox.json").get("messages", []):
                if message.get("to", "").lower().find(email.lower()) >= 0:
                    for link in message.get("links", []):
                        if "token=" in link and "verify" in link:
                            return link.split("token=", 1)[1].split("&", 1)[0]
            time.sleep(0.3)
        raise StepFailed(f"no verification email for {email} in the development mailbox within 15 s")

    def login(self) -> str:
        if self.accounts is None:
            if not (self.dev and self.registration_open):
                raise StepFailed("no smoke accounts: run `mycrypto smoke provision` and pass --accounts "
                                 "(or SMOKE_EMAIL_A/SMOKE_PASSWORD_A/SMOKE_EMAIL_B/SMOKE_PASSWORD_B)")
            self.accounts = (self.registered or self._register_and_verify(), self._register_and_verify())
        for account in self.accounts:
            body = self.call("POST", "/api/v1/auth/login", json={"email": account.email, "password": account.password})
            account.token = body["access_token"]
            me = self.call("GET", "/api/v1/auth/me", account=account)
            if str(me.get("email", "")).lower() != account.email.lower():
                raise StepFailed(f"/me answered {me.get('email')} for {account.email}")
        return "signed in " + " and ".join(a.email for a in self.accounts)

    def _register_and_verify(self) -> Account:
        account = Account(f"smoke-{secrets.token_hex(5)}@{self.email_domain}", "smoke " + secrets.token_urlsafe(18))
        self.call("POST", "/api/v1/auth/register", expect=(202,), json={"email": account.email,
                                                                       "password": account.password})
        self.call("POST", "/api/v1/auth/verify-email", json={"token": self._mailbox_token(account.email)})
        return account

    def deposit(self) -> str:
        self.rules = self.call("GET", f"/api/v1/trade/markets/{self.market}")
        if not self.dev:
            raise Skip("no faucet in production: the smoke accounts' provisioned balances are used")
        a, b = self._accounts()
        base, quote = self.rules["base_asset"], self.rules["quote_asset"]
        need_base, need_quote = self._needs()
        r = self.http.post("/api/v1/wallet/faucet", headers=a.headers, json={"asset": base, "amount": str(need_base)})
        if r.status_code in (403, 404):
            raise Skip(f"the faucet is off here ({_code_of(r)}): the provisioned balances are used")
        if r.status_code != 200:
            raise StepFailed(f"POST /api/v1/wallet/faucet answered {r.status_code}: {_error_of(r)}")
        self.call("POST", "/api/v1/wallet/faucet", account=b, json={"asset": quote, "amount": str(need_quote)})
        return f"faucet credited {need_base} {base} to A and {need_quote} {quote} to B"

    def _needs(self) -> tuple[D, D]:
        """(base for A, quote for B) the order journeys need, with room for fees and a price move."""
        price = self._price_hint()
        qty = self._qty_for(price)
        quote_decimals = int(self.rules.get("quote_decimals", 8))
        return qty * 2, (price * qty * 3 + D(self.rules["min_notional"]) * 3).quantize(D(1).scaleb(-quote_decimals),
                                                                                      ROUND_UP)

    def _price_hint(self) -> D:
        try:
            return self._inside_spread()
        except Skip:
            return self._smoke_price_hint()

    def balance(self) -> str:
        if not self.rules:
            self.rules = self.call("GET", f"/api/v1/trade/markets/{self.market}")
        a, b = self._accounts()
        self.before = {"a": self._balances(a), "b": self._balances(b)}
        base, quote = self.rules["base_asset"], self.rules["quote_asset"]
        have_base = self.before["a"].get(base, {}).get("available", D(0))
        have_quote = self.before["b"].get(quote, {}).get("available", D(0))
        need_base, need_quote = self._needs()
        if have_base < need_base / 2 or have_quote < need_quote / 3:
            raise StepFailed(f"A holds {have_base} {base} (needs {need_base / 2}), B holds {have_quote} {quote} "
                             f"(needs {need_quote / 3}): top them up with `mycrypto smoke provision`")
        return f"A has {have_base} {base} available, B has {have_quote} {quote}"

    def order_cancel(self) -> str:
        a, b = self._accounts()
        book = self.call("GET", f"/api/v1/orderbook/{self.market}", params={"depth": 5})
        tick = D(self.rules["tick_size"])
        best_bid = D(book["bids"][0][0]) if book.get("bids") else None
        # far below any bid (or the ask): it rests, never matches
        ref = best_bid or (D(book["asks"][0][0]) if book.get("asks") else D(self.rules["min_notional"]) * 100)
        price = max(tick, (ref / 2).quantize(tick, ROUND_DOWN))
        qty = self._qty_for(price)
        quote = self.rules["quote_asset"]
        have = self.before["b"].get(quote, {}).get("available", D(0))
        if price * qty * D("1.01") > have:
            raise StepFailed(f"account B cannot afford a resting order of {qty} at {price}")
        order = self.call("POST", "/api/v1/trade/orders", account=b, expect=(201,),
                          json={"symbol": self.market, "side": "buy", "type": "limit", "price": str(price),
                                "quantity": str(qty), "post_only": True,
                                "client_order_id": f"smoke-{secrets.token_hex(8)}"})
        if order["status"] != "new":
            raise StepFailed(f"the resting order came back {order['status']}")
        cancelled = self.call("DELETE", f"/api/v1/trade/orders/{order['order_id']}", account=b)
        if cancelled.get("status") not in ("canceled", "cancelled"):
            raise StepFailed(f"cancel answered status {cancelled.get('status')}")
        after = self._balances(b).get(quote, {})
        if after.get("locked", D(0)) != self.before["b"].get(quote, {}).get("locked", D(0)):
            raise StepFailed(f"the hold was not released: locked {after.get('locked')} {quote}")
        return f"order {order['order_id']} (buy {qty} @ {price}) rested, was cancelled, hold released"

    def execution(self) -> str:
        a, b = self._accounts()
        price = self._inside_spread()
        qty = self._qty_for(price)
        maker = self.call("POST", "/api/v1/trade/orders", account=a, expect=(201,),
                          json={"symbol": self.market, "side": "sell", "type": "limit", "price": str(price),
                                "quantity": str(qty), "post_only": True,
                                "client_order_id": f"smoke-{secrets.token_hex(8)}"})
        taker = self.call("POST", "/api/v1/trade/orders", account=b, expect=(201,),
                          json={"symbol": self.market, "side": "buy", "type": "limit", "price": str(price),
                                "quantity": str(qty), "time_in_force": "IOC",
                                "client_order_id": f"smoke-{secrets.token_hex(8)}"})
        if D(taker["executed_quantity"]) != qty:
            self.call("DELETE", f"/api/v1/trade/orders/{maker['order_id']}", account=a, expect=(200, 404, 409))
            raise StepFailed(f"the IOC buy executed {taker['executed_quantity']} of {qty} (status {taker['status']})")
        self.trade = {"maker": maker, "taker": taker, "price": price, "qty": qty}
        return f"A's sell {maker['order_id']} filled by B's IOC buy {taker['order_id']}: {qty} @ {price}"

    def trade_history(self) -> str:
        if not self.trade:
            raise Skip("no execution in this run")
        a, b = self._accounts()
        maker_id, taker_id = self.trade["maker"]["order_id"], self.trade["taker"]["order_id"]
        deadline = time.monotonic() + 10
        while True:
            mine_a = self.call("GET", "/api/v1/trade/my-trades", account=a, params={"symbol": self.market})
            mine_b = self.call("GET", "/api/v1/trade/my-trades", account=b, params={"symbol": self.market})
            found_a = [t for t in _items(mine_a) if t.get("order_id") == maker_id]
            found_b = [t for t in _items(mine_b) if t.get("order_id") == taker_id]
            if found_a and found_b:
                break
            if time.monotonic() > deadline:
                raise StepFailed(f"the trade is missing from my-trades (A: {bool(found_a)}, B: {bool(found_b)})")
            time.sleep(0.3)
        order = self.call("GET", f"/api/v1/trade/orders/{maker_id}", account=a)
        if order.get("status") != "filled":
            raise StepFailed(f"A's order {maker_id} is {order.get('status')}, expected filled")
        return f"trade {found_b[0].get('trade_id')} in both histories; order {maker_id} filled"

    def balance_after(self) -> str:
        if not self.trade:
            raise Skip("no execution in this run")
        a, b = self._accounts()
        base, quote = self.rules["base_asset"], self.rules["quote_asset"]
        qty, price = self.trade["qty"], self.trade["price"]
        now_a, now_b = self._balances(a), self._balances(b)
        got_base = _total(now_b, base) - _total(self.before["b"], base)
        gave_base = _total(self.before["a"], base) - _total(now_a, base)
        fee_b = D(self.trade["taker"].get("fee_total", "0"))
        paid_quote = _total(self.before["b"], quote) - _total(now_b, quote)
        if got_base != qty or gave_base != qty:
            raise StepFailed(f"base moved A -{gave_base}, B +{got_base}; expected {qty}")
        if paid_quote != qty * price + fee_b:
            raise StepFailed(f"B paid {paid_quote} {quote}; expected {qty * price} + fee {fee_b}")
        return f"A -{qty} {base}, B +{qty} {base}, B paid {paid_quote} {quote} (incl. fee {fee_b})"

    def cleanup(self) -> None:
        for account in self.accounts or ():
            if account.token:
                try:
                    self.http.delete("/api/v1/trade/orders", headers=account.headers, params={"symbol": self.market})
                except httpx.HTTPError:
                    pass

    # ---------------------------------------------------------------- helpers
    def _accounts(self) -> tuple[Account, Account]:
        if self.accounts is None or not all(a.token for a in self.accounts):
            raise StepFailed("not signed in")
        return self.accounts

    def _balances(self, account: Account) -> dict[str, dict[str, D]]:
        body = self.call("GET", "/api/v1/wallet/balances", account=account)
        rows = body.get("balances", body) if isinstance(body, dict) else body
        return {r["asset"]: {"available": D(str(r["available"])), "locked": D(str(r["locked"]))} for r in rows}

    def _qty(self) -> D:
        return D(self.rules["min_qty"])

    def _qty_for(self, price: D) -> D:
        """The smallest lot-aligned quantity that meets min_qty and min_notional at `price`."""
        lot, qty = D(self.rules["lot_size"]), D(self.rules["min_qty"])
        notional = D(self.rules["min_notional"])
        if price * qty < notional:
            qty = ((notional * D("1.01")) / price / lot).to_integral_value(ROUND_UP) * lot
        return qty

    def _smoke_price_hint(self) -> D:
        book = self.call("GET", f"/api/v1/orderbook/{self.market}", params={"depth": 1})
        if book.get("asks"):
            return D(book["asks"][0][0])
        if book.get("bids"):
            return D(book["bids"][0][0]) * 2
        return D(self.rules["min_notional"]) * 1000

    def _inside_spread(self) -> D:
        """A price strictly above the best bid and strictly below the best ask (the middle)."""
        book = self.call("GET", f"/api/v1/orderbook/{self.market}", params={"depth": 1})
        tick = D(self.rules["tick_size"])
        bid = D(book["bids"][0][0]) if book.get("bids") else None
        ask = D(book["asks"][0][0]) if book.get("asks") else None
        if bid is not None and ask is not None:
            if ask - bid <= tick:
                raise Skip(f"no price inside the spread ({bid} / {ask}); nothing was traded")
            price = ((bid + ask) / 2).quantize(tick, ROUND_DOWN)
            return price if price > bid else bid + tick
        if ask is not None:
            return max(tick, ask - tick)
        if bid is not None:
            return bid + tick
        # an empty book: any price touches nobody; a small one keeps the smoke accounts' needs small
        return (D(self.rules["min_notional"]) * 1000 / D(1)).quantize(tick)

    def run(self) -> SmokeReport:
        try:
            if not self.step("reachable", self.reachable, critical=True):
                return self.report
            if not self.step("health", self.health, critical=True):
                return self.report
            self.step("registration", self.registration)
            self.step("email", self.email)
            if not self.step("login", self.login, critical=True):
                return self.report
            self.step("deposit", self.deposit)
            if not self.step("balance", self.balance, critical=True):
                return self.report
            self.step("order_cancel", self.order_cancel)
            self.step("execution", self.execution)
            self.step("trade_history", self.trade_history)
            self.step("balance_after", self.balance_after)
        finally:
            self.cleanup()
            self.http.close()
        return self.report


def _items(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, list):
        return body
    for key in ("trades", "items", "data"):
        if isinstance(body, dict) and isinstance(body.get(key), list):
            return body[key]
    return []


def _total(balances: dict[str, dict[str, D]], asset: str) -> D:
    b = balances.get(asset, {})
    return b.get("available", D(0)) + b.get("locked", D(0))


def _code_of(r: httpx.Response) -> str | None:
    try:
        return r.json().get("error", {}).get("code")
    except (ValueError, AttributeError):
        return None


def _error_of(r: httpx.Response) -> str:
    try:
        err = r.json().get("error", {})
        return f"{err.get('code')}: {err.get('message')}"
    except (ValueError, AttributeError):
        return r.text[:200]


def run_smoke(base_url: str, *, accounts: tuple[Account, Account] | None = None, market: str = "BTC-USDT",
              register: bool = True, email_domain: str = "example.com", timeout: float = 10.0,
              emit: Callable[[StepResult], None] | None = None,
              transport: httpx.BaseTransport | None = None, headers: dict[str, str] | None = None) -> SmokeReport:
    """Run every smoke step against `base_url`; `emit` is called with each step's result as it ends;
    `headers` go on every request (e.g. {"X-Test-Green": "true"} to reach the canary color)."""
    return Smoke(base_url, accounts=accounts, market=market, register=register, email_domain=email_domain,
                 timeout=timeout, emit=emit, transport=transport, headers=headers).run()
