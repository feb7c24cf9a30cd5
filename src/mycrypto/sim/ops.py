"""The seeded operation generator: from one `random.Random(seed)` the sequence of operations the
simulation runs (and the faults it injects), as plain tuples.

Nothing here reads an outcome: which order a cancel names, which withdrawal an administrator reviews,
what price an order asks, all follow from the seed and the operations generated before, so the same
seed always yields the same sequence (and the same digest) however the platform answered. Orders and
withdrawals are named by their client order id / Idempotency-Key, which the generator chooses.
"""
from __future__ import annotations

import hashlib
import random
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal

# market -> (mid price, price step between levels, (min lots, max lots), lot size, tick size)
MARKETS = {
    "BTC-USDT": (Decimal("50000"), Decimal("5"), (10, 2000), Decimal("0.00001"), Decimal("0.01")),
    "ETH-USDT": (Decimal("3000"), Decimal("0.5"), (20, 3000), Decimal("0.0001"), Decimal("0.01")),
    "ETH-BTC": (Decimal("0.06"), Decimal("0.00005"), (2, 500), Decimal("0.001"), Decimal("0.00001")),
}
# what every user is given at the start (one chain deposit each), and what a deposit op sends
INITIAL = {"BTC": Decimal("2"), "ETH": Decimal("40"), "USDT": Decimal("200000")}
DEPOSIT = {"BTC": (Decimal("0.01"), Decimal("0.5")), "ETH": (Decimal("0.1"), Decimal("5")),
           "USDT": (Decimal("100"), Decimal("20000"))}
# withdrawal amounts: small ones are approved automatically, large ones wait for an administrator
# (above the asset's withdrawal_auto_approve_max: BTC 0.5, ETH 10, USDT 10000; migration 003)
WITHDRAW_SMALL = {"BTC": (Decimal("0.0001"), Decimal("0.05")), "ETH": (Decimal("0.001"), Decimal("2")),
                  "USDT": (Decimal("10"), Decimal("2000"))}
WITHDRAW_LARGE = {"BTC": (Decimal("0.6"), Decimal("1.2")), "ETH": (Decimal("11"), Decimal("20")),
                  "USDT": (Decimal("10001"), Decimal("30000"))}
ASSET_DECIMALS = {"BTC": 8, "ETH": 8, "USDT": 8}
ADDRESS_ALPHABET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

# the operation mix (weights); faults are drawn per round and per operation, see `Generator.round`
MIX = (("place", 44), ("cancel", 14), ("amend", 7), ("cancel_all", 2), ("deposit", 10), ("withdraw", 8),
       ("review", 6), ("withdraw_cancel", 2), ("get_order", 7))
KINDS = [k for k, _ in MIX]
WEIGHTS = [w for _, w in MIX]
# order shapes: every type the platform has (limit GTC/IOC/FOK, post-only, market by quantity, market
# buy by quote budget) and every self-trade-prevention mode
SHAPES = (("limit_gtc", 40), ("limit_ioc", 10), ("limit_fok", 8), ("post_only", 10), ("market", 7),
          ("market_quote", 5), ("limit_stp", 5))
SHAPE_KINDS = [k for k, _ in SHAPES]
SHAPE_WEIGHTS = [w for _, w in SHAPES]
STP_MODES = ("expire_maker", "expire_taker", "expire_both", "none")

LOST_ACK_RATE = 0.02      # per operation: the client never learns the answer and retries
LOST_ACK_WAYS = ("after", "during")   # answer lost after the commit, or the call cut off in flight


@dataclass(frozen=True, slots=True)
class Op:
    """One operation: `kind`, the user index (-1: the administrator / the platform), its arguments as
    a tuple of strings, and the fault to inject into it ("" none, "after"/"during": the answer is lost)."""

    step: int
    kind: str
    user: int
    args: tuple
    lost: str = ""

    def canonical(self) -> str:
        return f"{self.step}|{self.kind}|{self.user}|{'|'.join(map(str, self.args))}|{self.lost}"


@dataclass(frozen=True, slots=True)
class Round:
    """Operations run concurrently (one user's in order) and the round's fault: "" none, "kill" (every
    database connection of the platform is terminated after `kill_after` event-loop turns: mid-batch,
    mid-transaction), "restart" (the trade service stops and starts again before the round: every book
    is rebuilt from the database)."""

    number: int
    ops: list[Op]
    fault: str = ""
    kill_after: int = 0


def _amount(rng: random.Random, lo: Decimal, hi: Decimal, places: int) -> Decimal:
    q = Decimal(1).scaleb(-places)
    span = int((hi - lo) / q)
    return lo + q * rng.randint(0, span)


@dataclass
class Generator:
    seed: int
    users: int
    round_size: int = 48
    kill_rate: float = 0.02
    restart_rate: float = 0.01
    rng: random.Random = field(init=False)
    step: int = field(default=0, init=False)
    digest: "hashlib._Hash" = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.digest = hashlib.sha256(f"seed={self.seed};users={self.users}".encode())
        self.mid = {m: spec[0] for m, spec in MARKETS.items()}
        self.cids: list[deque[str]] = [deque(maxlen=24) for _ in range(self.users)]
        self.keys: list[deque[str]] = [deque(maxlen=8) for _ in range(self.users)]
        self.to_review: list[str] = []      # large withdrawals of earlier rounds, not reviewed yet
        self._new_review: list[str] = []
        self.rounds = 0

    # ------------------------------------------------------------------ rounds
    def round(self, limit: int) -> Round:
        """The next round of at most `limit` operations."""
        rng = self.rng
        self.rounds += 1
        self.to_review.extend(self._new_review)
        self._new_review = []
        fault, kill_after = "", 0
        r = rng.random()
        if r < self.kill_rate:
            fault, kill_after = "kill", rng.randint(0, 40)
        elif r < self.kill_rate + self.restart_rate:
            fault = "restart"
        ops = [self._op() for _ in range(min(limit, self.round_size))]
        self.digest.update(f"round {self.rounds} {fault} {kill_after}\n".encode())
        return Round(self.rounds, ops, fault, kill_after)

    def hexdigest(self) -> str:
        return self.digest.hexdigest()

    def _op(self) -> Op:
        rng = self.rng
        self.step += 1
        kind = rng.choices(KINDS, WEIGHTS)[0]
        user = rng.randrange(self.users)
        args = getattr(self, "_" + kind)(user)
        if args is None:   # nothing to act on yet: place an order instead
            kind, args = "place", self._place(user)
        if kind == "review":
            user = -1
        lost = rng.choice(LOST_ACK_WAYS) if kind != "get_order" and rng.random() < LOST_ACK_RATE else ""
        op = Op(self.step, kind, user, args, lost)
        self.digest.update(op.canonical().encode() + b"\n")
        return op

    # ------------------------------------------------------------------ operation arguments
    def _place(self, user: int) -> tuple:
        rng = self.rng
        market = rng.choice(list(MARKETS))
        mid0, step, (lo, hi), lot, tick = MARKETS[market]
        # the mid price wanders (bounded to +-20% of its start) so the book keeps moving and crossing
        mid = self.mid[market] + step * rng.choice((-1, 0, 0, 1))
        mid = min(max(mid, mid0 * Decimal("0.8")), mid0 * Decimal("1.2"))
        self.mid[market] = mid
        side = rng.choice(("buy", "sell"))
        shape = rng.choices(SHAPE_KINDS, SHAPE_WEIGHTS)[0]
        lots = rng.randint(lo, hi)
        quantity = lot * lots
        # buys mostly below the mid, sells above, with some crossing: a book that trades
        offset = rng.randint(-6, 14) * step
        price = (mid - offset) if side == "buy" else (mid + offset)
        price = max(price, tick * 1000).quantize(tick)
        cid = f"s{self.seed}-{self.step}"
        self.cids[user].append(cid)
        tif, post_only, stp, quote = "", "", "", ""
        if shape in ("limit_gtc", "limit_stp"):
            tif = "GTC"
            if shape == "limit_stp":
                stp = rng.choice(STP_MODES)
        elif shape == "limit_ioc":
            tif = "IOC"
        elif shape == "limit_fok":
            tif = "FOK"
        elif shape == "post_only":
            tif, post_only = "GTC", "1"
        if shape == "market_quote":
            if side == "sell":
                shape = "market"
            else:
                quote = str((quantity * mid).quantize(tick))
        kind = "market" if shape in ("market", "market_quote") else "limit"
        return (market, side, kind, "" if kind == "market" else f"{price:f}",
                "" if quote else f"{quantity:f}", quote, tif, post_only, stp, cid)

    def _pick_cid(self, user: int) -> str | None:
        cids = self.cids[user]
        return cids[self.rng.randrange(len(cids))] if cids else None

    def _cancel(self, user: int) -> tuple | None:
        cid = self._pick_cid(user)
        return None if cid is None else (cid,)

    def _get_order(self, user: int) -> tuple | None:
        return self._cancel(user)

    def _amend(self, user: int) -> tuple | None:
        cid = self._pick_cid(user)
        # the new total quantity as a fraction (in percent) of the original, applied to whole lots
        return None if cid is None else (cid, str(self.rng.randint(10, 95)))

    def _cancel_all(self, user: int) -> tuple:
        return (self.rng.choice(list(MARKETS)),)

    def _deposit(self, user: int) -> tuple:
        asset = self.rng.choice(list(DEPOSIT))
        lo, hi = DEPOSIT[asset]
        return (asset, f"{_amount(self.rng, lo, hi, 4):f}")

    def _withdraw(self, user: int) -> tuple:
        rng = self.rng
        asset = rng.choice(list(WITHDRAW_SMALL))
        large = rng.random() < 0.3
        lo, hi = (WITHDRAW_LARGE if large else WITHDRAW_SMALL)[asset]
        amount = _amount(rng, lo, hi, 4)
        key = f"w{self.seed}-{self.step}"
        self.keys[user].append(key)
        if large:
            self._new_review.append(key)
        return (asset, f"{amount:f}", self._address(asset), key)

    def _address(self, asset: str) -> str:
        rng = self.rng
        if asset == "BTC":
            return "bcrt1q" + "".join(rng.choice(ADDRESS_ALPHABET) for _ in range(38))
        return "0x" + "".join(rng.choice("0123456789abcdef") for _ in range(40))

    def _review(self, user: int) -> tuple | None:
        if not self.to_review:
            return None
        key = self.to_review.pop(self.rng.randrange(len(self.to_review)))
        return (key, "approve" if self.rng.random() < 0.6 else "reject")

    def _withdraw_cancel(self, user: int) -> tuple | None:
        keys = self.keys[user]
        return None if not keys else (keys[self.rng.randrange(len(keys))],)
