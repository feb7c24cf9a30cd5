"""Hypothesis state machine: random deposits, withdrawals (every transition), order holds, releases and
trades against a simple model; after EVERY step all `verify` invariants hold and every balance
equals the model's.

Everything runs for real: deposits through the chain simulator and the watcher, withdrawals through
the service (hold, approve, reject, cancel, broadcast, refused broadcast), holds as order rows.
"""
import asyncio
from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, settings as hsettings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test

from mycrypto.common.errors import AppError
from mycrypto.db.database import Database
from mycrypto.ops.verify import verify_books
from mycrypto.wallet.api import build_components
from mycrypto.wallet.chain.simulator import SimulatorChain
from mycrypto.wallet.schemas import WithdrawalCreate
from tests.e2e.wallet.helpers import cancel_order_hold, place_order_hold, settle_trade, wallet_settings
from tests.support.factories import create_user

DEST = {"BTC": "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "USDT": "0x52908400098527886E0F7030069857D2E4169EE7"}
RULES = {  # from 003-seed-data: fee, minimum, daily limit, auto-approve max, confirmations
    "BTC": dict(fee=D("0.00002"), min=D("0.0001"), daily=D("5"), auto=D("0.5"), confs=2),
    "USDT": dict(fee=D("1"), min=D("10"), daily=D("100000"), auto=D("10000"), confs=3),
}
DEPOSITS = {"BTC": [D("0.001"), D("0.1"), D("0.5"), D("1.3")], "USDT": [D("5"), D("50"), D("1000"), D("20000")]}
WITHDRAWALS = {"BTC": [D("0.00005"), D("0.05"), D("0.3"), D("0.7"), D("2")],
               "USDT": [D("5"), D("20"), D("500"), D("15000")]}
HOLDS = {"BTC": [D("0.01"), D("0.4"), D("3")], "USDT": [D("10"), D("700"), D("50000")]}
ENV: dict = {}


def count(event: str) -> None:
    ENV["stats"][event] = ENV["stats"].get(event, 0) + 1

assets = st.sampled_from(["BTC", "USDT"])
who = st.integers(0, 1)


def run(coro):
    return ENV["loop"].run_until_complete(coro)


class Books(RuleBasedStateMachine):
    @initialize()
    def setup(self):
        db = ENV["db"]
        self.parts = ENV["parts"]
        self.users = [run(create_user(db)) for _ in range(2)]
        self.admin = ENV["admin"]
        self.model = {(u, a): [D(0), D(0)] for u in self.users for a in RULES}
        self.withdrawals = {}  # id -> [user, asset, amount, fee, status]
        self.orders = {}       # id -> (user, asset, amount)
        self.refusing = False
        run(ENV["sim"].refuse_broadcasts("bitcoin", None))
        run(ENV["sim"].refuse_broadcasts("ethereum", None))
        for i in range(len(self.users)):  # start with funds, so most steps do something
            self.deposit(i, "BTC", None, amount=D("2"))
            self.deposit(i, "USDT", None, amount=D("30000"))

    # ------------------------------------------------------------------ deposits
    @rule(i=who, asset=assets, data=st.data())
    def deposit(self, i, asset, data, amount=None):
        amount = amount if amount is not None else data.draw(st.sampled_from(DEPOSITS[asset]))
        user = self.users[i]
        address = run(self.parts.wallet.deposit_address(user, asset))["address"]
        run(ENV["sim"].send(asset, address, amount))
        run(ENV["sim"].mine(RULES[asset]["confs"]))
        result = run(self.parts.watcher.scan_once())
        assert not result.errors, result.errors
        self.model[(user, asset)][0] += amount
        self._sync_confirmed()
        count("deposit")

    # ------------------------------------------------------------------ withdrawals
    @rule(i=who, asset=assets, data=st.data())
    def request_withdrawal(self, i, asset, data):
        amount = data.draw(st.sampled_from(WITHDRAWALS[asset]))
        user, r = self.users[i], RULES[asset]
        used = sum(w[2] for w in self.withdrawals.values()
                   if w[0] == user and w[1] == asset and w[4] not in ("rejected", "failed", "cancelled"))
        if amount < r["min"]:
            expected = "amount_below_minimum"
        elif used + amount > r["daily"]:
            expected = "daily_limit_exceeded"
        elif self.model[(user, asset)][0] < amount + r["fee"]:
            expected = "insufficient_funds"
        else:
            expected = None
        try:
            body, _ = run(self.parts.withdrawals.request(
                user, WithdrawalCreate(asset=asset, address=DEST[asset], amount=format(amount, "f")), None))
        except AppError as exc:
            assert exc.code == expected, (exc.code, expected)
            count(f"withdrawal refused: {exc.code}")
            return
        assert expected is None, expected
        assert body["status"] == ("approved" if amount <= r["auto"] else "requested")
        self.withdrawals[body["id"]] = [user, asset, amount, r["fee"], body["status"]]
        count(f"withdrawal {body['status']}")
        self.model[(user, asset)][0] -= amount + r["fee"]
        self.model[(user, asset)][1] += amount + r["fee"]

    def _pick(self, data, statuses):
        ids = sorted(k for k, w in self.withdrawals.items() if w[4] in statuses)
        return data.draw(st.sampled_from(ids)) if ids else None

    def _release(self, wid, status):
        user, asset, amount, fee, _ = self.withdrawals[wid]
        self.withdrawals[wid][4] = status
        self.model[(user, asset)][0] += amount + fee
        self.model[(user, asset)][1] -= amount + fee

    @rule(data=st.data())
    def approve(self, data):
        wid = self._pick(data, {"requested"})
        if wid is not None:
            assert run(self.parts.withdrawals.approve(self.admin, wid))["status"] == "approved"
            self.withdrawals[wid][4] = "approved"
            count("approved by admin")

    @rule(data=st.data(), by_admin=st.booleans())
    def reject_or_cancel(self, data, by_admin):
        wid = self._pick(data, {"requested", "approved", "broadcast", "confirmed", "cancelled"})
        if wid is None:
            return
        user, status = self.withdrawals[wid][0], self.withdrawals[wid][4]
        call = (self.parts.withdrawals.reject(self.admin, wid, "no") if by_admin
                else self.parts.withdrawals.cancel(user, wid))
        if status in ("requested", "approved"):
            run(call)
            self._release(wid, "rejected" if by_admin else "cancelled")
            count("rejected" if by_admin else "cancelled")
        else:
            with pytest.raises(AppError) as exc:
                run(call)
            assert exc.value.code == "invalid_withdrawal_state"
            count("late cancel/reject refused")

    @rule()
    def toggle_broadcast_refusal(self):
        self.refusing = not self.refusing
        for chain in ("bitcoin", "ethereum"):
            run(ENV["sim"].refuse_broadcasts(chain, "maintenance" if self.refusing else None))

    @rule()
    def process(self):
        result = run(self.parts.processor.process_once())
        approved = [k for k, w in self.withdrawals.items() if w[4] == "approved"]
        if self.refusing:
            assert (result.broadcast, result.failed) == (0, len(approved))
            for wid in approved:
                self._release(wid, "failed")
                count("broadcast failed")
        else:
            assert (result.broadcast, result.failed) == (len(approved), 0)
            for wid in approved:
                user, asset, amount, fee, _ = self.withdrawals[wid]
                self.withdrawals[wid][4] = "broadcast"
                self.model[(user, asset)][1] -= amount + fee
                count("broadcast")

    def _sync_confirmed(self):
        for wid, w in self.withdrawals.items():
            if w[4] == "broadcast":
                w[4] = run(ENV["db"].fetchval("SELECT status::text FROM wallet.withdrawal WHERE id = $1", wid))

    # ------------------------------------------------------------------ order holds and trades
    @rule(i=who, asset=assets, data=st.data())
    def place_hold(self, i, asset, data):
        amount = data.draw(st.sampled_from(HOLDS[asset]))
        user = self.users[i]
        try:
            order = run(place_order_hold(ENV["db"], user, asset, amount))
        except AppError as exc:
            assert exc.code == "insufficient_funds" and self.model[(user, asset)][0] < amount
            return
        self.orders[order] = (user, asset, amount)
        count("hold")
        self.model[(user, asset)][0] -= amount
        self.model[(user, asset)][1] += amount

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def release_hold(self, data):
        order = data.draw(st.sampled_from(sorted(self.orders)))
        user, asset, amount = self.orders.pop(order)
        run(cancel_order_hold(ENV["db"], order))
        self.model[(user, asset)][0] += amount
        self.model[(user, asset)][1] -= amount

    @rule(b=who, s=who, qty=st.sampled_from([D("0.001"), D("0.01")]))
    def trade(self, b, s, qty):
        buyer, seller = self.users[b], self.users[s]
        price, bfee, sfee = D("1000"), D("0.1"), D("0.08")
        cost = qty * price
        if buyer == seller or self.model[(buyer, "USDT")][0] < cost + bfee or self.model[(seller, "BTC")][0] < qty:
            return
        run(settle_trade(ENV["db"], buyer=buyer, seller=seller, qty=qty, price=price, buyer_fee=bfee, seller_fee=sfee))
        self.model[(buyer, "USDT")][0] -= cost + bfee
        self.model[(buyer, "BTC")][0] += qty
        self.model[(seller, "BTC")][0] -= qty
        self.model[(seller, "USDT")][0] += cost - sfee
        count("trade")

    def teardown(self):
        """Leave nothing pending for the next example (the processor sees every user's withdrawals)."""
        if not hasattr(self, "users"):
            return
        for wid, w in self.withdrawals.items():
            if w[4] in ("requested", "approved"):
                run(self.parts.withdrawals.cancel(w[0], wid))
        for order in list(self.orders):
            run(cancel_order_hold(ENV["db"], order))

    # ------------------------------------------------------------------ after every step
    @invariant()
    def books_verify_and_match_the_model(self):
        if not hasattr(self, "users"):
            return
        async def check():
            async with ENV["db"].acquire() as conn:
                report = await verify_books(conn)
            assert report.ok, report.render()
            rows = await ENV["db"].fetch("SELECT user_id, asset, available, locked FROM wallet.account "
                                         "WHERE kind = 'user' AND user_id = ANY($1::bigint[])", self.users)
            actual = {(r["user_id"], r["asset"]): [r["available"], r["locked"]] for r in rows}
            for key, (available, locked) in self.model.items():
                assert actual.get(key, [D(0), D(0)]) == [available, locked], key
        run(check())


def test_random_wallet_operations_keep_every_invariant(db_dsn):
    loop = asyncio.new_event_loop()
    db = Database(db_dsn, min_size=1, max_size=4)
    loop.run_until_complete(db.connect())
    try:
        parts = build_components(db, wallet_settings(db_dsn))
        ENV.update(loop=loop, db=db, parts=parts, sim=SimulatorChain(db), stats={},
                   admin=loop.run_until_complete(create_user(db, role="admin")))
        run_state_machine_as_test(Books, settings=hsettings(
            max_examples=30, stateful_step_count=40, deadline=None, derandomize=True,  # stable coverage check below
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
        stats = ENV["stats"]
        print("state machine outcomes:", dict(sorted(stats.items())))
        # the run must actually have exercised the interesting paths, not only refusals
        for event in ("deposit", "withdrawal approved", "withdrawal requested", "broadcast", "hold", "trade"):
            assert stats.get(event, 0) > 0, (event, stats)
        assert stats.get("cancelled", 0) + stats.get("rejected", 0) > 0, stats
    finally:
        loop.run_until_complete(db.close())
        loop.close()
        ENV.clear()
