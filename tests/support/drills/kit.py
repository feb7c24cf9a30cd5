"""What every fault drill shares: funded users, a bounded load of keyed writes, and the final accounting.

Every write a drill sends carries its own key (`client_order_id` for orders, `Idempotency-Key` for
withdrawals), so after the fault the drill can (1) retry exactly the requests whose outcome it never
learnt (connection dropped, 503 `order_outcome_unknown`) with the SAME key, and (2) count, in the
database, every operation the platform ACKNOWLEDGED (a 2xx answer) and find each one exactly once.
`Tally` keeps the answers; `Report` is the result a test asserts and `bench/chaos/run.py` prints.
"""
from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from mycrypto.config import Settings
from mycrypto.db.database import Database
from tests.support.factories import bearer, create_user, fund
from tests.support.platform_process import run_cli

ORDERS = "/api/v1/trade/orders"
WITHDRAWALS = "/api/v1/wallet/withdrawals"
BTC_ADDRESS = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"


def drill_settings(database_url: str) -> Settings:
    """Settings matching what the drill's processes read from their environment (same dev JWT secret)."""
    return Settings(_env_file=None, env="test", database_url=database_url)  # type: ignore[call-arg]


@dataclass
class User:
    user_id: int
    headers: dict[str, str]


async def make_users(db: Database, settings: Settings, n: int, funds: dict[str, str],
                     role: str = "user") -> list[User]:
    users = []
    for _ in range(n):
        user_id = await create_user(db, role=role)
        for asset, amount in funds.items():
            await fund(db, user_id, asset, amount)
        users.append(User(user_id, bearer(settings, user_id, role=role)))
    return users


@dataclass
class Op:
    """One keyed write: retried with the same key until its outcome is known."""
    kind: str                 # "order" | "withdrawal"
    user: User
    path: str
    body: dict[str, Any]
    key: str
    extra_headers: dict[str, str] = field(default_factory=dict)

    def headers(self) -> dict[str, str]:
        headers = {**self.user.headers, **self.extra_headers}
        if self.kind == "withdrawal":
            headers["Idempotency-Key"] = self.key
        return headers


@dataclass
class Tally:
    """Every answer the drill got, by phase ("before", "down", "after", "retry")."""
    acked: dict[str, tuple[Op, dict[str, Any]]] = field(default_factory=dict)   # key -> (op, body)
    unknown: dict[str, Op] = field(default_factory=dict)                         # outcome never learnt
    statuses: Counter = field(default_factory=Counter)                            # (phase, status) -> n
    codes: Counter = field(default_factory=Counter)                               # (phase, status, code) -> n
    server_errors: list[str] = field(default_factory=list)                        # any 500 is a bug
    first_ack_at: dict[str, float] = field(default_factory=dict)                  # phase -> monotonic time
    replayed: Counter = field(default_factory=Counter)                            # phase -> Idempotent-Replayed answers
    acked_ids: dict[str, list[Any]] = field(default_factory=dict)                 # key -> every id it was answered with

    def record(self, phase: str, op: Op, status: int | None, body: Any) -> None:
        self.statuses[(phase, status)] += 1
        code = body.get("error", {}).get("code") if isinstance(body, dict) and isinstance(body.get("error"), dict) else None
        if status is not None and status >= 400:
            self.codes[(phase, status, code)] += 1
        if status is not None and 200 <= status < 300:
            self.acked[op.key] = (op, body)
            self.acked_ids.setdefault(op.key, []).append(body.get("order_id", body.get("id")) if isinstance(body, dict)
                                                         else None)
            self.unknown.pop(op.key, None)
            self.first_ack_at.setdefault(phase, time.monotonic())
        elif status is None or status >= 500:
            # no answer, or "unavailable": a write whose connection broke mid-COMMIT may have landed, so
            # the drill retries it later with the same key (which must neither lose nor double it)
            self.unknown[op.key] = op
        else:
            self.unknown.pop(op.key, None)   # a refusal (4xx): nothing happened
        if status is not None and status >= 500 and status != 503:
            self.server_errors.append(f"{phase} {op.kind} {status}: {str(body)[:300]}")

    def count(self, phase: str, status: int | None) -> int:
        return self.statuses[(phase, status)]

    def summary(self) -> dict[str, Any]:
        return {"statuses": {f"{p}:{s}": n for (p, s), n in sorted(self.statuses.items(), key=str)},
                "codes": {f"{p}:{s}:{c}": n for (p, s, c), n in sorted(self.codes.items(), key=str)},
                "replayed": dict(self.replayed),
                # a key answered with two different ids would be a double: must stay 0
                "keys_with_two_ids": sum(1 for ids in self.acked_ids.values() if len(set(map(str, ids))) > 1)}


async def send(client: httpx.AsyncClient, base: str, op: Op, tally: Tally, phase: str,
               timeout: float = 10.0) -> int | None:
    try:
        r = await client.post(base + op.path, json=op.body, headers=op.headers(), timeout=timeout)
    except (httpx.TransportError, httpx.TimeoutException):
        tally.record(phase, op, None, None)
        return None
    try:
        body = r.json()
    except ValueError:
        body = {"raw": r.text[:200]}
    tally.record(phase, op, r.status_code, body)
    if r.headers.get("Idempotent-Replayed") == "true":
        tally.replayed[phase] += 1
    return r.status_code


async def retry_unknown(client: httpx.AsyncClient, base: str, tally: Tally, rounds: int = 5) -> None:
    """Resend every request whose outcome is unknown, with its original key, until each has an answer."""
    for _ in range(rounds):
        pending = list(tally.unknown.values())
        if not pending:
            return
        for op in pending:
            await send(client, base, op, tally, "retry")
        if tally.unknown:
            await asyncio.sleep(1.0)


def order_op(user: User, key: str, side: str, price: str, quantity: str = "0.001", symbol: str = "BTC-USDT") -> Op:
    return Op("order", user, ORDERS, {"symbol": symbol, "side": side, "type": "limit", "price": price,
                                     "quantity": quantity, "client_order_id": key}, key)


def withdrawal_op(user: User, key: str, amount: str = "0.001", asset: str = "BTC") -> Op:
    return Op("withdrawal", user, WITHDRAWALS, {"asset": asset, "address": BTC_ADDRESS, "amount": amount}, key)


@dataclass
class Report:
    """What a drill proves: acknowledged vs found (each exactly once), verify, timings, answer counts."""
    drill: str
    acknowledged: dict[str, int]
    found: dict[str, int]
    duplicates: int
    verify_ok: bool
    verify_output: str
    numbers: dict[str, Any]
    answers: dict[str, Any]

    @property
    def lost(self) -> int:
        return sum(self.acknowledged.values()) - sum(self.found.values())

    def as_dict(self) -> dict[str, Any]:
        return {"drill": self.drill, "acknowledged": self.acknowledged, "found": self.found, "lost": self.lost,
                "duplicates": self.duplicates, "verify_ok": self.verify_ok, **self.numbers, "answers": self.answers}

    def line(self) -> str:
        ack = sum(self.acknowledged.values())
        found = sum(self.found.values())
        extra = ", ".join(f"{k}={v}" for k, v in self.numbers.items())
        return (f"{self.drill}: acknowledged {ack} ({self.acknowledged}), found {found}, lost {self.lost}, "
                f"duplicates {self.duplicates}, verify {'PASS' if self.verify_ok else 'FAIL'}; {extra}")


async def account_for(db: Database, tally: Tally) -> tuple[dict[str, int], dict[str, int], int]:
    """(acknowledged by kind, found in the database by kind, duplicated keys)."""
    acknowledged: Counter = Counter()
    found: Counter = Counter()
    orders = [(op.user.user_id, op.key, int(body["order_id"])) for op, body in tally.acked.values() if op.kind == "order"]
    withdrawals = [(op.user.user_id, op.key, int(body["id"])) for op, body in tally.acked.values()
                   if op.kind == "withdrawal"]
    acknowledged["order"], acknowledged["withdrawal"] = len(orders), len(withdrawals)
    found["order"] = found["withdrawal"] = 0
    if orders:
        found["order"] = await db.fetchval(
            "SELECT count(*) FROM trade.spot_order o JOIN unnest($1::bigint[], $2::text[], $3::bigint[]) "
            "AS a(user_id, cid, id) ON o.id = a.id AND o.user_id = a.user_id AND o.client_order_id = a.cid",
            [u for u, _, _ in orders], [k for _, k, _ in orders], [i for _, _, i in orders])
    if withdrawals:
        found["withdrawal"] = await db.fetchval(
            "SELECT count(*) FROM wallet.withdrawal w JOIN unnest($1::bigint[], $2::text[], $3::bigint[]) "
            "AS a(user_id, k, id) ON w.id = a.id AND w.user_id = a.user_id AND w.idempotency_key = a.k",
            [u for u, _, _ in withdrawals], [k for _, k, _ in withdrawals], [i for _, _, i in withdrawals])
    dup_orders = await db.fetchval("SELECT count(*) FROM (SELECT 1 FROM trade.spot_order WHERE client_order_id IS NOT NULL "
                                   "GROUP BY user_id, client_order_id HAVING count(*) > 1) d")
    dup_withdrawals = await db.fetchval("SELECT count(*) FROM (SELECT 1 FROM wallet.withdrawal WHERE idempotency_key "
                                        "IS NOT NULL GROUP BY user_id, idempotency_key HAVING count(*) > 1) d")
    return dict(acknowledged), dict(found), dup_orders + dup_withdrawals


def run_verify(env: dict[str, str]) -> tuple[bool, str]:
    """`mycrypto verify` as an operator runs it (exit 0 = the books balance)."""
    done = run_cli(env, "verify")
    return done.returncode == 0, (done.stdout + done.stderr)[-3000:]


async def make_report(drill: str, db: Database, tally: Tally, env: dict[str, str], numbers: dict[str, Any],
                      unhandled: Callable[[], list[Any]], log: Callable[[str], Any]) -> Report:
    """Account for every acknowledged operation, run `mycrypto verify`, and log the report's line. On a 5xx
    the report also carries a sample of them and the platform's unhandled log lines (`unhandled()`)."""
    acknowledged, found, duplicates = await account_for(db, tally)
    ok, output = await asyncio.to_thread(run_verify, env)
    report = Report(drill, acknowledged, found, duplicates, ok, output, numbers, tally.summary())
    if tally.server_errors:
        report.numbers["errors_sample"] = tally.server_errors[:5]
        report.numbers["unhandled"] = unhandled()
    log(report.line())
    return report

