"""The invariants the simulation checks after every N steps and at the end. Each check returns a list of
problems (empty = held); the driver fails the run, with the seed and the step, on the first problem.

- books        `mycrypto verify` (ops/verify.py): postings balance, balances equal their postings, locked
               equals open orders' holds + pending withdrawals, nothing negative, transfers posted;
- engines      each engine's in-memory book and order states equal the database's open orders;
- fees         each fee account holds exactly the trade fees of its asset plus the fees of withdrawals
               that left (broadcast/confirmed);
- acknowledged every acknowledged order, cancel, amend, withdrawal, review and deposit is in the
               database as it was acknowledged (the `Ledger` of answers, below).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..ops.verify import verify_books
from ..trading import repository as trade_repo
from ..trading.domain.matching import OrderBook

TERMINAL = {"filled", "canceled", "rejected", "expired"}


@dataclass
class Answers:
    """What the platform acknowledged to the simulated clients (only definitive successes)."""

    orders: dict[str, tuple[int, int, str]] = field(default_factory=dict)   # cid -> (user id, order id, status)
    quantities: dict[str, Decimal] = field(default_factory=dict)            # cid -> acknowledged amended total
    # cids whose last amend's outcome the client never learned (a lost answer whose retry was refused, or
    # no definitive answer): the database may hold that newer quantity
    uncertain: set[str] = field(default_factory=set)
    withdrawals: dict[str, tuple[int, int, str]] = field(default_factory=dict)  # key -> (user, id, status)
    deposits: list[str] = field(default_factory=list)   # txids sent to users' addresses (to be credited)
    pending_checks: set[str] = field(default_factory=set)   # cids touched since the last check
    pending_keys: set[str] = field(default_factory=set)

    def order(self, cid: str, user_id: int, order_id: int, status: str) -> None:
        self.orders[cid] = (user_id, order_id, status)
        self.pending_checks.add(cid)

    def withdrawal(self, key: str, user_id: int, wid: int, status: str) -> None:
        self.withdrawals[key] = (user_id, wid, status)
        self.pending_keys.add(key)


async def check_books(conn: Any) -> list[str]:
    report = await verify_books(conn)
    return [f"verify {c.name}: {c.problem_count} problem(s), e.g. {c.problems[:3]}" for c in report.failures]


async def check_engines(conn: Any, registry: Any) -> tuple[list[str], int]:
    """(problems, engines compared). An engine whose book must be rebuilt before its next batch (after
    a fault) or that has commands queued is not comparable now and is skipped."""
    problems: list[str] = []
    compared = 0
    for engine in list(registry.engines.values()):
        if engine.dirty or len(engine._queue) or not engine.accepting:
            continue
        states = await trade_repo.open_orders_for_rebuild(conn, engine.spec)
        if engine.dirty or len(engine._queue):
            continue
        compared += 1
        book = OrderBook()
        for o in states:
            book.restore(o.id, o.user_id, o.side, o.price, o.remaining)
        mem, db = engine.book.snapshot(), book.snapshot()
        if mem != db:
            only_mem = sorted(set(mem) - set(db))[:5]
            only_db = sorted(set(db) - set(mem))[:5]
            problems.append(f"{engine.spec.symbol}: in-memory book differs from the database's open orders "
                            f"(memory only {only_mem}, database only {only_db})")
        fields = ("user_id", "side", "price", "qty", "filled", "hold_rem", "fee", "status")
        db_orders = {o.id: tuple(getattr(o, f) for f in fields) for o in states}
        mem_orders = {oid: tuple(getattr(o, f) for f in fields) for oid, o in engine.orders.items()}
        if db_orders != mem_orders:
            diff = sorted(set(db_orders.items()) ^ set(mem_orders.items()))[:6]
            problems.append(f"{engine.spec.symbol}: engine order states differ from the database: {diff}")
    return problems, compared


async def check_fees(conn: Any) -> list[str]:
    rows = await conn.fetch(
        "WITH t AS (SELECT fee_asset AS asset, sum(buyer_fee + seller_fee) AS fees FROM trade.trade GROUP BY 1), "
        "w AS (SELECT asset, sum(fee) AS fees FROM wallet.withdrawal WHERE status IN ('broadcast', 'confirmed') "
        "GROUP BY 1) "
        "SELECT a.asset, a.available, a.locked, coalesce(t.fees, 0) AS trade_fees, coalesce(w.fees, 0) AS wd_fees "
        "FROM wallet.account a LEFT JOIN t ON t.asset = a.asset LEFT JOIN w ON w.asset = a.asset "
        "WHERE a.kind = 'fees' ORDER BY a.asset")
    return [f"fees {r['asset']}: account {r['available']} (+locked {r['locked']}) != trade fees {r['trade_fees']} "
            f"+ withdrawal fees {r['wd_fees']}"
            for r in rows if r["available"] != r["trade_fees"] + r["wd_fees"] or r["locked"] != 0]


async def check_answers(conn: Any, answers: Answers, *, everything: bool = False) -> list[str]:
    """Every acknowledged answer (since the last check, or all of them) is in the database as answered."""
    problems: list[str] = []
    cids = list(answers.orders) if everything else [c for c in answers.pending_checks if c in answers.orders]
    for start in range(0, len(cids), 20_000):
        chunk = cids[start:start + 20_000]
        ids = [answers.orders[c][1] for c in chunk]
        rows = await conn.fetch(
            "SELECT o.id, o.user_id, o.client_order_id, o.status::text AS status, o.quantity "
            "FROM trade.spot_order o WHERE o.id = ANY($1::bigint[])", ids)
        found = {r["id"]: r for r in rows}
        for cid in chunk:
            user_id, oid, status = answers.orders[cid]
            row = found.get(oid)
            if row is None:
                problems.append(f"acknowledged order {cid} (id {oid}) is not in the database")
            elif row["user_id"] != user_id or row["client_order_id"] != cid:
                problems.append(f"order {oid}: database has user {row['user_id']} cid {row['client_order_id']!r}, "
                                f"acknowledged user {user_id} cid {cid!r}")
            elif status in TERMINAL and row["status"] != status:
                problems.append(f"order {cid} was acknowledged {status}, the database says {row['status']}")
            elif cid in answers.quantities and cid not in answers.uncertain \
                    and row["quantity"] != answers.quantities[cid]:
                problems.append(f"order {cid} was amended to {answers.quantities[cid]}, the database has "
                                f"{row['quantity']}")
    keys = list(answers.withdrawals) if everything else [k for k in answers.pending_keys if k in answers.withdrawals]
    if keys:
        rows = await conn.fetch("SELECT id, user_id, status::text AS status, idempotency_key FROM wallet.withdrawal "
                                "WHERE id = ANY($1::bigint[])", [answers.withdrawals[k][1] for k in keys])
        found = {r["id"]: r for r in rows}
        for key in keys:
            user_id, wid, status = answers.withdrawals[key]
            row = found.get(wid)
            if row is None or row["user_id"] != user_id or row["idempotency_key"] != key:
                problems.append(f"acknowledged withdrawal {key} (id {wid}) is missing or not the user's")
            elif status in ("rejected", "cancelled") and row["status"] != status:
                problems.append(f"withdrawal {key} was acknowledged {status}, the database says {row['status']}")
            elif status == "approved" and row["status"] == "rejected":   # (the owner may still cancel)
                problems.append(f"withdrawal {key} was acknowledged approved, the database says {row['status']}")
    answers.pending_checks.clear()
    answers.pending_keys.clear()
    return problems


async def check_deposits(conn: Any, answers: Answers) -> list[str]:
    """Every transfer sent before the last mining is credited, exactly once."""
    if not answers.deposits:
        return []
    rows = await conn.fetch("SELECT txid, count(*) AS n, bool_and(status = 'credited') AS credited "
                            "FROM wallet.deposit WHERE txid = ANY($1::text[]) GROUP BY txid", answers.deposits)
    found = {r["txid"]: r for r in rows}
    problems = [f"deposit {t} sent and mined but not credited exactly once"
                for t in answers.deposits if t not in found or found[t]["n"] != 1 or not found[t]["credited"]]
    answers.deposits.clear()
    return problems
