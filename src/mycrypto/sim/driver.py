"""The simulation driver: sets up 1,000 users (or --users), then runs the generator's rounds against the
in-process platform with the faults the seed chose, and checks the invariants every `check_every`
operations and at the end. A failure raises `SimulationFailed` naming the seed and the step, so
`mycrypto simulate --seed S --ops N` replays the same operation sequence.

Each round's operations run concurrently (one user's in the order generated), so the engines group
commits as under real load; a client that did not get a definitive answer (503, outcome unknown, a
dropped connection, its answer lost) retries the same request - the same client order id or
Idempotency-Key - exactly as a well-behaved API client does.
"""
from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Awaitable, Callable

from ..auth.accounts import create_verified_user
from ..common.errors import AppError, ServiceUnavailable
from ..db.database import DB_DOWN
from ..trading.errors import NotOwnerHere
from ..trading.schemas import PlaceOrderRequest
from ..wallet.schemas import WithdrawalCreate
from . import invariants as inv
from .ops import INITIAL, MARKETS, Generator, Op, Round
from .platform import SimPlatform, principal

log = logging.getLogger("mycrypto.sim")

TRANSIENT = (ServiceUnavailable, NotOwnerHere, *DB_DOWN)
MAX_ATTEMPTS = 40
CRASH_AFTER = 20            # event-loop turns into a crash round: clients are in flight, batches committing
TICK_EVERY_ROUNDS = 8       # the chain mines and the wallet's watcher/processor run every 8 rounds


class SimulationFailed(Exception):
    def __init__(self, seed: int, step: int, problems: list[str]) -> None:
        self.seed, self.step, self.problems = seed, step, problems
        super().__init__(f"simulation failed: seed={seed} step={step}: " + "; ".join(problems[:5]))


class SimClock:
    """The driver's clock: simulated milliseconds, advanced by the driver (one per operation), so what
    the driver decides never depends on the wall clock."""

    def __init__(self) -> None:
        self.ms = 0

    def advance(self, ms: int = 1) -> int:
        self.ms += ms
        return self.ms


@dataclass
class Result:
    seed: int
    ops: int
    users: int
    digest: str
    seconds: float
    checks: int
    outcomes: Counter = field(default_factory=Counter)
    faults: Counter = field(default_factory=Counter)

    @property
    def ops_per_second(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        top = ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items()))
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items()))
        return (f"seed {self.seed}: {self.ops} operations, {self.users} users, {self.seconds:.1f} s "
                f"({self.ops_per_second:.0f} ops/s), {self.checks} invariant checks held; digest {self.digest}\n"
                f"  outcomes: {top}\n  faults: {faults}")


class Simulation:
    def __init__(self, dsn: str, *, seed: int, ops: int, users: int = 1000, check_every: int = 1000,
                 round_size: int = 96, progress: Callable[[str], None] | None = None) -> None:
        self.dsn, self.seed, self.total, self.n_users = dsn, seed, ops, users
        self.check_every = check_every
        self.gen = Generator(seed, users, round_size=round_size)
        self.clock = SimClock()
        self.platform = SimPlatform(dsn)
        self.answers = inv.Answers()
        self.outcomes: Counter = Counter()
        self.faults: Counter = Counter()
        self.bugs: list[str] = []
        self.user_ids: list[int] = []
        self.emails: list[str] = []
        self.addresses: list[dict[str, str]] = []
        self.admin_id = 0
        self.checks = 0
        self.progress = progress or (lambda line: None)

    # ------------------------------------------------------------------ set-up
    async def setup(self) -> None:
        platform = self.platform
        await platform.start()
        db = platform.container.db
        async with db.unit_of_work() as uow:
            self.admin_id = await create_verified_user(
                uow.conn, platform.settings, f"sim-admin-{self.seed}@example.com", "sim admin passphrase", role="admin")
            for i in range(self.n_users):
                email = f"sim{i}-{self.seed}@example.com"
                uid = await create_verified_user(uow.conn, platform.settings, email, "sim user passphrase")
                if uid is None:
                    raise RuntimeError("the simulation needs an empty database (users already exist)")
                self.user_ids.append(uid)
                self.emails.append(email)
            await uow.commit()
        wallet = platform.wallet.wallet

        async def addresses(i: int) -> None:
            uid = self.user_ids[i]
            got = {a: (await wallet.deposit_address(uid, a))["address"] for a in INITIAL}
            self.addresses[i] = got

        self.addresses = [{} for _ in range(self.n_users)]
        await _bounded([lambda i=i: addresses(i) for i in range(self.n_users)], 16)
        chain = platform.wallet.chain
        sent = []

        async def fund(i: int) -> None:
            for asset, amount in INITIAL.items():
                sent.append((await chain.send(asset, self.addresses[i][asset], amount)).txid)

        await _bounded([lambda i=i: fund(i) for i in range(self.n_users)], 16)
        self.answers.deposits.extend(sent)
        await self.chain_tick()
        problems = await inv.check_deposits(platform.observer, self.answers)
        if problems:
            raise SimulationFailed(self.seed, 0, problems)

    async def chain_tick(self) -> None:
        """Mine enough blocks to confirm everything sent, then run the wallet's background work (the
        withdrawal processor broadcasts, the watcher discovers, confirms and credits) until it is idle."""
        parts = self.platform.wallet
        for attempt in range(MAX_ATTEMPTS):
            try:
                await parts.chain.mine(3)
                for _ in range(50):
                    out = await parts.run_once()
                    deposits, withdrawals = out.get("deposits", {}), out.get("withdrawals", {})
                    if not any(v for v in {**deposits, **withdrawals}.values() if isinstance(v, int)):
                        break
                return
            except DB_DOWN:
                await asyncio.sleep(0.05 * (attempt + 1))

    # ------------------------------------------------------------------ the run
    async def run(self) -> Result:
        started = time.perf_counter()
        await self.setup()
        self.progress(f"set up {self.n_users} users in {time.perf_counter() - started:.1f} s")
        done = 0
        next_check = self.check_every
        try:
            while done < self.total:
                rnd = self.gen.round(self.total - done)
                await self.run_round(rnd)
                done += len(rnd.ops)
                if rnd.number % TICK_EVERY_ROUNDS == 0:
                    await self.chain_tick()
                if self.bugs:
                    raise SimulationFailed(self.seed, done, self.bugs)
                if done >= next_check or done >= self.total:
                    await self.check(done, everything=done >= self.total)
                    next_check += self.check_every
                    rate = done / (time.perf_counter() - started)
                    self.progress(f"step {done}/{self.total}: invariants held ({self.checks} checks), "
                                  f"{rate:.0f} ops/s, digest so far {self.gen.hexdigest()[:16]}")
        finally:
            await self.platform.stop()
        return Result(self.seed, done, self.n_users, self.gen.hexdigest(), time.perf_counter() - started,
                      self.checks, self.outcomes, self.faults)

    async def check(self, step: int, *, everything: bool = False) -> None:
        """Quiesce (every answer is in; the chain mined and credited), then check every invariant."""
        await self.chain_tick()
        await self.platform.ensure_owned()
        conn = self.platform.observer
        problems = await inv.check_books(conn)
        engine_problems, compared = await inv.check_engines(conn, self.platform.registry)
        problems += engine_problems
        problems += await inv.check_fees(conn)
        problems += await inv.check_answers(conn, self.answers, everything=everything)
        problems += await inv.check_deposits(conn, self.answers)
        self.checks += 1
        self.outcomes["engines_compared"] += compared
        self.outcomes["trades"] = await conn.fetchval("SELECT count(*) FROM trade.trade")
        if problems:
            raise SimulationFailed(self.seed, step, problems)

    async def run_round(self, rnd: Round) -> None:
        # a restart round is a graceful restart before the round (even rounds) or a crash of the trade
        # process CRASH_AFTER event-loop turns into it (odd rounds): no extra random draw, so adding the
        # crash left every seed's operation sequence as it was
        crash = rnd.fault == "restart" and rnd.number % 2 == 1
        if rnd.fault == "restart" and not crash:
            self.faults["restart"] += 1
            await self.platform.restart_trade()
        by_user: dict[int, list[Op]] = defaultdict(list)
        for op in rnd.ops:
            by_user[op.user].append(op)

        async def chain(ops: list[Op]) -> None:
            for op in ops:
                self.clock.advance()
                await self.run_op(op)

        tasks = [asyncio.ensure_future(chain(ops)) for ops in by_user.values()]
        if rnd.fault == "kill":
            self.faults["kill"] += 1
            for _ in range(rnd.kill_after):
                await asyncio.sleep(0)
            self.faults["sessions_killed"] += await self.platform.kill_connections()
        if crash:
            self.faults["crash"] += 1
            for _ in range(CRASH_AFTER):
                await asyncio.sleep(0)
            await self.platform.crash_trade()
        await asyncio.gather(*tasks)
        await self.platform.ensure_owned()

    # ------------------------------------------------------------------ one operation
    async def run_op(self, op: Op) -> None:
        try:
            await getattr(self, "_op_" + op.kind)(op)
        except Exception as exc:   # anything but a definitive refusal or a transient error: a bug
            self.bugs.append(f"step {op.step} {op.kind} {op.args}: {exc!r}\n{traceback.format_exc(limit=6)}")

    async def _call(self, op: Op, fn: Callable[[], Awaitable[Any]]) -> tuple[str, Any]:
        """Call until a definitive answer: ("ok", result) or ("refused", code); ("unknown", None) if the
        platform never answered definitively. `op.lost` drops the first answer (after the call, or by
        cutting the call off in flight) and retries the same request."""
        if op.lost:
            self.faults["lost_" + op.lost] += 1
            if op.lost == "during":
                task = asyncio.ensure_future(fn())
                await asyncio.sleep(0)
                task.cancel()
                try:
                    await task
                except BaseException:   # noqa: BLE001 - the client does not learn the outcome
                    pass
            else:
                try:
                    await fn()
                except BaseException:   # noqa: BLE001
                    pass
        for attempt in range(MAX_ATTEMPTS):
            try:
                return "ok", await fn()
            except TRANSIENT as exc:
                self.outcomes["retry_" + type(exc).__name__] += 1
                if isinstance(exc, NotOwnerHere) or attempt > 2:
                    await self.platform.ensure_owned()
                await asyncio.sleep(min(0.01 * (attempt + 1), 0.2))
            except AppError as exc:
                return "refused", exc.code
        return "unknown", None

    def _who(self, user: int) -> Any:
        return principal(self.user_ids[user], self.emails[user])

    def _count(self, op: Op, status: str, detail: Any) -> None:
        self.outcomes[f"{op.kind}:{detail if status == 'refused' else status}"] += 1

    async def _op_place(self, op: Op) -> None:
        market, side, kind, price, qty, quote, tif, post_only, stp, cid = op.args
        req = PlaceOrderRequest(symbol=market, side=side, type=kind, quantity=qty or None, price=price or None,
                                quote_quantity=quote or None, time_in_force=tif or None, post_only=bool(post_only),
                                client_order_id=cid, stp=stp or None)
        who = self._who(op.user)
        answered: list[Any] = []

        async def call() -> Any:
            out = await self.platform.trade.place_order(who, req)
            answered.append(out)
            return out

        status, out = await self._call(op, call)
        self._count(op, status, out)
        if status == "ok":
            # a retry of an order the platform had already answered must be that same order, not a new one
            if len(answered) > 1 and (out.created or out.order_id != answered[0].order_id):
                self.bugs.append(f"step {op.step}: order {cid} retried: created={out.created} id {out.order_id}, "
                                 f"first answer id {answered[0].order_id}")
            self.answers.order(cid, who.user_id, out.order_id, out.status)

    async def _op_get_order(self, op: Op) -> None:
        (cid,) = op.args
        who = self._who(op.user)
        status, out = await self._call(op, lambda: self.platform.trade.get_order(who, client_order_id=cid,
                                                                                  with_fills=False))
        self._count(op, status, out)
        known = self.answers.orders.get(cid)
        if status == "ok" and known is not None and out.order_id != known[1]:
            self.bugs.append(f"step {op.step}: order {cid} reads as id {out.order_id}, acknowledged as {known[1]}")
        if status == "refused" and known is not None:
            self.bugs.append(f"step {op.step}: acknowledged order {cid} (id {known[1]}) reads as {out}")

    async def _op_cancel(self, op: Op) -> None:
        (cid,) = op.args
        who = self._who(op.user)
        status, out = await self._call(op, lambda: self.platform.trade.cancel_order(who, client_order_id=cid))
        self._count(op, status, out)
        if status == "ok":
            self.answers.order(cid, who.user_id, out.order_id, out.status)

    async def _op_cancel_all(self, op: Op) -> None:
        (market,) = op.args
        who = self._who(op.user)
        status, out = await self._call(op, lambda: self.platform.trade.cancel_all(who, market))
        self._count(op, status, out)
        if status == "ok":
            for r in out:
                if r.client_order_id:
                    self.answers.order(r.client_order_id, who.user_id, r.order_id, r.status)

    async def _op_amend(self, op: Op) -> None:
        cid, percent = op.args
        who = self._who(op.user)
        status, order = await self._call(op, lambda: self.platform.trade.get_order(who, client_order_id=cid,
                                                                                    with_fills=False))
        if status != "ok" or order.qty_lots == 0:
            self._count(op, "refused", "no_such_order" if status != "ok" else "not_by_quantity")
            return
        lot = MARKETS[order.spec.symbol][3]
        lots = max(1, order.qty_lots * int(percent) // 100)
        quantity = lot * lots
        status, out = await self._call(op, lambda: self.platform.trade.amend_order(who, order.order_id,
                                                                                   f"{quantity:f}"))
        self._count(op, status, out)
        if status == "ok":
            self.answers.quantities[cid] = quantity
            self.answers.uncertain.discard(cid)
            self.answers.order(cid, who.user_id, out.order_id, out.status)
        elif status == "unknown" or op.lost:   # it may have committed without the client learning it
            self.answers.uncertain.add(cid)

    async def _op_deposit(self, op: Op) -> None:
        asset, amount = op.args
        chain = self.platform.wallet.chain
        address = self.addresses[op.user][asset]
        # the outside world sends coins (not retried: a sender whose transfer failed sends nothing)
        try:
            sent = await chain.send(asset, address, Decimal(amount))
        except DB_DOWN:
            self._count(op, "unknown", None)
            return
        self._count(op, "ok", None)
        self.answers.deposits.append(sent.txid)

    async def _op_withdraw(self, op: Op) -> None:
        asset, amount, address, key = op.args
        uid = self.user_ids[op.user]
        body = WithdrawalCreate(asset=asset, address=address, amount=amount)
        service = self.platform.wallet.withdrawals
        first: list[Any] = []

        async def call() -> Any:
            out = await service.request(uid, body, key)
            first.append(out)
            return out

        status, out = await self._call(op, call)
        self._count(op, status, out)
        if status == "ok":
            response, replayed = out
            self.answers.withdrawal(key, uid, response["id"], response["status"])
            if len(first) > 1 and not replayed:   # the platform had answered before; this must be a replay
                self.bugs.append(f"step {op.step}: withdrawal {key} retried but not replayed")

    def _withdrawal_id(self, key: str) -> tuple[int, int] | None:
        known = self.answers.withdrawals.get(key)
        return None if known is None else (known[0], known[1])

    async def _op_review(self, op: Op) -> None:
        key, decision = op.args
        found = self._withdrawal_id(key)
        if found is None:
            self._count(op, "refused", "not_acknowledged")
            return
        uid, wid = found
        service = self.platform.wallet.withdrawals
        if decision == "approve":
            status, out = await self._call(op, lambda: service.approve(self.admin_id, wid))
        else:
            status, out = await self._call(op, lambda: service.reject(self.admin_id, wid, "simulated review"))
        self._count(op, status, f"{decision}:{out}" if status == "refused" else decision)
        if status == "ok":
            self.answers.withdrawal(key, uid, wid, out["status"])

    async def _op_withdraw_cancel(self, op: Op) -> None:
        (key,) = op.args
        found = self._withdrawal_id(key)
        if found is None:
            self._count(op, "refused", "not_acknowledged")
            return
        uid, wid = found
        status, out = await self._call(op, lambda: self.platform.wallet.withdrawals.cancel(uid, wid))
        self._count(op, status, out)
        if status == "ok":
            self.answers.withdrawal(key, uid, wid, out["status"])


async def _bounded(factories: list[Callable[[], Awaitable[Any]]], limit: int) -> None:
    sem = asyncio.Semaphore(limit)

    async def one(f: Callable[[], Awaitable[Any]]) -> None:
        async with sem:
            await f()

    await asyncio.gather(*(one(f) for f in factories))


def digest_only(seed: int, ops: int, users: int, round_size: int = 96) -> str:
    """The operation digest of a seed without running anything (the generator alone)."""
    gen = Generator(seed, users, round_size=round_size)
    done = 0
    while done < ops:
        done += len(gen.round(ops - done).ops)
    return gen.hexdigest()
