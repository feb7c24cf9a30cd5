"""Property tests: the matching core against a slow, obviously-correct reference model.

The model keeps resting orders in one plain list and sorts the opposite side by
(price, arrival seq) every time it needs the next maker: no levels, no tombstones, no
inlining. Both must emit exactly the same events (trade ids, prices, quantities, order of
events) and end with the same snapshot after every command of random command sequences.
"""
import copy
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mycrypto.trading.domain.matching import (
    BUY, CANCELED, D_DUPLICATE, D_FOK, D_INVALID, D_IOC, D_MARKET, D_NO_LIQUIDITY,
    D_POST_ONLY, D_STP, EV_AMENDED, EV_DONE, EV_FILL, EV_RESTED, EXPIRED, FILLED, FOK, GTC,
    IOC, REJECTED, SELL, STP_EXPIRE_BOTH, STP_EXPIRE_MAKER, STP_EXPIRE_TAKER, STP_NONE,
    OrderBook,
)


class Model:
    """Reference semantics, written for clarity only."""

    def __init__(self, next_trade_id=1):
        self.book = []          # resting orders: dicts oid, owner, side, price, qty, seq
        self.seq = 0
        self.tid = next_trade_id

    # -- helpers
    def find(self, oid):
        return next((o for o in self.book if o["oid"] == oid), None)

    def makers(self, taker_side):
        opp = [o for o in self.book if o["side"] != taker_side]
        if taker_side == BUY:
            return sorted(opp, key=lambda o: (o["price"], o["seq"]))       # cheapest ask first
        return sorted(opp, key=lambda o: (-o["price"], o["seq"]))          # highest bid first

    @staticmethod
    def crosses(taker_side, limit, price):
        return limit is None or (price <= limit if taker_side == BUY else price >= limit)

    def rest(self, oid, owner, side, price, qty):
        self.seq += 1
        self.book.append(dict(oid=oid, owner=owner, side=side, price=price, qty=qty, seq=self.seq))
        return (EV_RESTED, oid, side, price, qty)

    def match(self, evs, oid, owner, side, limit, qty, stp):
        """Returns the remaining qty, or None if STP expired the taker."""
        for m in self.makers(side):
            if qty == 0 or not self.crosses(side, limit, m["price"]):
                break
            if owner is not None and stp != STP_NONE and m["owner"] == owner:
                if stp in (STP_EXPIRE_MAKER, STP_EXPIRE_BOTH):
                    self.book.remove(m)
                    evs.append((EV_DONE, m["oid"], EXPIRED, m["qty"], D_STP))
                if stp in (STP_EXPIRE_TAKER, STP_EXPIRE_BOTH):
                    evs.append((EV_DONE, oid, EXPIRED, qty, D_STP))
                    return None
                continue
            fill = min(qty, m["qty"])
            m["qty"] -= fill
            qty -= fill
            evs.append((EV_FILL, self.tid, oid, m["oid"], m["price"], fill, side, m["qty"]))
            self.tid += 1
            if m["qty"] == 0:
                self.book.remove(m)
                evs.append((EV_DONE, m["oid"], FILLED, 0))
        return qty

    # -- commands
    def limit(self, oid, owner, side, price, qty, tif=GTC, post_only=False, stp=STP_EXPIRE_MAKER):
        if qty <= 0 or price <= 0:
            return [(EV_DONE, oid, REJECTED, qty, D_INVALID)]
        if self.find(oid):
            return [(EV_DONE, oid, REJECTED, qty, D_DUPLICATE)]
        if side not in (BUY, SELL) or tif not in (GTC, IOC, FOK) or stp not in range(4):
            return [(EV_DONE, oid, REJECTED, qty, D_INVALID)]
        ms = self.makers(side)
        crossing = bool(ms) and self.crosses(side, price, ms[0]["price"])
        if post_only and crossing:
            return [(EV_DONE, oid, REJECTED, qty, D_POST_ONLY)]
        if tif == FOK:
            # the FOK rule: execute iff executing it as IOC would fill it completely
            trial = copy.deepcopy(self)
            if trial.match([], oid, owner, side, price, qty, stp) != 0:
                return [(EV_DONE, oid, EXPIRED, qty, D_FOK)]
        evs = []
        rem = self.match(evs, oid, owner, side, price, qty, stp)
        if rem is None:
            return evs
        if rem == 0:
            evs.append((EV_DONE, oid, FILLED, 0))
        elif tif == IOC:
            evs.append((EV_DONE, oid, EXPIRED, rem, D_IOC))
        else:
            evs.append(self.rest(oid, owner, side, price, rem))
        return evs

    def market(self, oid, owner, side, qty=None, quote_budget=None, stp=STP_EXPIRE_MAKER):
        if quote_budget is not None:
            if qty is not None or side != BUY or quote_budget <= 0 or stp not in range(4):
                return [(EV_DONE, oid, REJECTED, quote_budget, D_INVALID)]
            if self.find(oid):
                return [(EV_DONE, oid, REJECTED, quote_budget, D_DUPLICATE)]
            return self.market_budget(oid, owner, quote_budget, stp)
        if side not in (BUY, SELL) or stp not in range(4) or qty is None or qty <= 0:
            return [(EV_DONE, oid, REJECTED, qty, D_INVALID)]
        if self.find(oid):
            return [(EV_DONE, oid, REJECTED, qty, D_DUPLICATE)]
        evs = []
        rem = self.match(evs, oid, owner, side, None, qty, stp)
        if rem is None:
            return evs
        if rem == 0:
            evs.append((EV_DONE, oid, FILLED, 0))
        else:
            evs.append((EV_DONE, oid, EXPIRED, rem, D_MARKET if rem < qty else D_NO_LIQUIDITY))
        return evs

    def market_budget(self, oid, owner, budget, stp):
        evs, spent, broke = [], False, False
        for m in self.makers(BUY):
            if budget < m["price"]:
                broke = True
                break
            if owner is not None and stp != STP_NONE and m["owner"] == owner:
                if stp in (STP_EXPIRE_MAKER, STP_EXPIRE_BOTH):
                    self.book.remove(m)
                    evs.append((EV_DONE, m["oid"], EXPIRED, m["qty"], D_STP))
                if stp in (STP_EXPIRE_TAKER, STP_EXPIRE_BOTH):
                    evs.append((EV_DONE, oid, EXPIRED, budget, D_STP))
                    return evs
                continue
            fill = min(m["qty"], budget // m["price"])
            budget -= fill * m["price"]
            m["qty"] -= fill
            spent = True
            evs.append((EV_FILL, self.tid, oid, m["oid"], m["price"], fill, BUY, m["qty"]))
            self.tid += 1
            if m["qty"] == 0:
                self.book.remove(m)
                evs.append((EV_DONE, m["oid"], FILLED, 0))
            else:               # budget exhausted while this maker still has lots
                broke = True
                break
        if spent and (broke or budget == 0):
            evs.append((EV_DONE, oid, FILLED, budget))
        else:
            evs.append((EV_DONE, oid, EXPIRED, budget, D_MARKET if spent else D_NO_LIQUIDITY))
        return evs

    def cancel(self, oid):
        o = self.find(oid)
        if o is None:
            return []
        self.book.remove(o)
        return [(EV_DONE, oid, CANCELED, o["qty"])]

    def cancel_all(self, owner):
        return [ev for oid, *_ in self.snapshot() if self.find(oid)["owner"] == owner
                for ev in self.cancel(oid)]

    def amend(self, oid, new_qty):
        o = self.find(oid)
        if o is None or not 0 < new_qty < o["qty"]:
            return []
        o["qty"] = new_qty
        return [(EV_AMENDED, oid, new_qty)]

    def snapshot(self):
        bids = sorted((o for o in self.book if o["side"] == BUY), key=lambda o: (-o["price"], o["seq"]))
        asks = sorted((o for o in self.book if o["side"] == SELL), key=lambda o: (o["price"], o["seq"]))
        return [(o["oid"], o["owner"], o["side"], o["price"], o["qty"]) for o in bids + asks]


# ---------------------------------------------------------------------------- strategies
OWNERS = [None, 1, 2, 3]
oids = st.integers(1, 60)       # small range: duplicates, re-use after done, cancels that hit
prices = st.integers(95, 105)
qtys = st.integers(1, 12)

plain_limit = st.tuples(st.just("limit"), oids, st.sampled_from(OWNERS), st.sampled_from([BUY, SELL]),
                        prices, qtys)
option_limit = st.tuples(
    st.just("limit"), oids, st.sampled_from(OWNERS), st.sampled_from([BUY, SELL]), prices, qtys,
    st.sampled_from([GTC, GTC, IOC, FOK]), st.booleans(),
    st.sampled_from([STP_EXPIRE_MAKER, STP_EXPIRE_TAKER, STP_EXPIRE_BOTH, STP_NONE]))
market_qty = st.tuples(st.just("market"), oids, st.sampled_from(OWNERS), st.sampled_from([BUY, SELL]),
                       qtys, st.none(), st.sampled_from([STP_EXPIRE_MAKER, STP_EXPIRE_TAKER,
                                                         STP_EXPIRE_BOTH, STP_NONE]))
market_budget = st.tuples(st.just("market"), oids, st.sampled_from(OWNERS), st.just(BUY), st.none(),
                          st.integers(1, 3000), st.sampled_from([STP_EXPIRE_MAKER, STP_EXPIRE_TAKER,
                                                                  STP_EXPIRE_BOTH, STP_NONE]))
bad = st.one_of(
    st.tuples(st.just("limit"), oids, st.just(1), st.sampled_from([BUY, SELL, 2]), st.integers(-1, 101),
              st.integers(-2, 3)),
    st.tuples(st.just("limit"), oids, st.just(1), st.just(BUY), prices, qtys, st.sampled_from([GTC, 3]),
              st.just(False), st.sampled_from([STP_EXPIRE_MAKER, 4])),
    st.tuples(st.just("market"), oids, st.just(1), st.sampled_from([BUY, SELL]), st.integers(-1, 3),
              st.sampled_from([None, 0, 50]), st.just(STP_EXPIRE_MAKER)),
)
cancel = st.tuples(st.just("cancel"), oids)
cancel_all = st.tuples(st.just("cancel_all"), st.sampled_from(OWNERS))
amend = st.tuples(st.just("amend"), oids, st.integers(-1, 12))

command = st.one_of(plain_limit, plain_limit, plain_limit, option_limit, market_qty, market_budget,
                    cancel, cancel, cancel_all, amend, bad)


# ---------------------------------------------------------------------------- invariants
def check_book(book, model, ledger):
    snap = book.snapshot()
    assert snap == model.snapshot()
    assert len(book) == len(snap)
    bb, ba = book.best_bid(), book.best_ask()
    assert bb is None or ba is None or bb < ba, "crossed book"
    bids = [r for r in snap if r[2] == BUY]
    asks = [r for r in snap if r[2] == SELL]
    assert bb == (bids[0][3] if bids else None) and ba == (asks[0][3] if asks else None)
    # depth aggregates the snapshot
    d_bids, d_asks = book.depth(1000)
    for rows, levels in ((bids, d_bids), (asks, d_asks)):
        agg = {}
        for r in rows:
            q, c = agg.get(r[3], (0, 0))
            agg[r[3]] = (q + r[4], c + 1)
        assert [(p, q, c) for p, (q, c) in agg.items()] == levels
    for oid, owner, side, price, qty in snap:
        assert book.resting(oid) == (owner, side, price, qty)
        assert ledger[oid] == qty, "resting qty != placed - filled - amended away"


def account(evs, cmd, ledger, tid_before):
    """Quantity conservation: ``ledger[oid]`` = placed - filled - amended away, for every live
    order; an order's EV_RESTED / EV_DONE quantity must equal its ledger value, so placed =
    filled + resting + cancelled/expired. (Quote-budget market takers are in ticks*lots, not
    lots: only their makers are accounted.)"""
    if len(evs) == 1 and evs[0][0] == EV_DONE and evs[0][2] == REJECTED:
        return                                  # a reject changes nothing
    assert all(not (e[0] == EV_DONE and e[2] == REJECTED) for e in evs)
    name = cmd[0]
    if name == "limit":
        ledger[cmd[1]] = cmd[5]
    elif name == "market" and cmd[4] is not None:
        ledger[cmd[1]] = cmd[4]
    tid = tid_before
    for ev in evs:
        kind = ev[0]
        if kind == EV_FILL:
            _, trade_id, taker, maker, _price, qty, _side, maker_rem = ev
            assert trade_id == tid and qty > 0      # ids are consecutive, no gaps
            tid += 1
            if taker in ledger:
                ledger[taker] -= qty
            ledger[maker] -= qty
            assert ledger[maker] == maker_rem >= 0
        elif kind == EV_RESTED:
            assert ledger[ev[1]] == ev[4]
        elif kind == EV_AMENDED:
            ledger[ev[1]] = ev[2]
        elif kind == EV_DONE:
            if ev[1] in ledger:
                assert ledger.pop(ev[1]) == ev[3], (ev, cmd)
                assert ev[2] != FILLED or ev[3] == 0
            else:
                assert name == "market" and cmd[5] is not None and ev[1] == cmd[1]


def run_sequence(cmds, next_trade_id=1):
    book, model = OrderBook(next_trade_id), Model(next_trade_id)
    ledger = {}
    for cmd in cmds:
        name, args = cmd[0], cmd[1:]
        tid_before = book.next_trade_id
        got = getattr(book, name)(*args)
        want = getattr(model, name)(*args)
        assert got == want, (cmd, got, want)
        assert book.next_trade_id == model.tid
        account(got, cmd, ledger, tid_before)
        check_book(book, model, ledger)
        # price priority within one taker: buy fills never get cheaper, sell fills never dearer
        taker_fills = [e for e in got if e[0] == EV_FILL]
        if taker_fills:
            px = [e[4] for e in taker_fills]
            assert px == sorted(px, reverse=taker_fills[0][6] == SELL)
    assert set(ledger) == {r[0] for r in book.snapshot()}
    return book, model


# ---------------------------------------------------------------------------- properties
@settings(max_examples=700, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(command, max_size=80), st.integers(1, 10**6))
def test_core_matches_model(cmds, next_trade_id):
    run_sequence(cmds, next_trade_id)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(plain_limit, plain_limit, cancel, market_qty), max_size=60),
       st.lists(command, max_size=30))
def test_restore_from_snapshot_is_equivalent(prefix, suffix):
    book, _ = run_sequence(prefix)
    rebuilt = OrderBook(book.next_trade_id)
    for row in book.snapshot():
        rebuilt.restore(*row)
    assert rebuilt.snapshot() == book.snapshot() and len(rebuilt) == len(book)
    assert rebuilt.depth(100) == book.depth(100)
    for cmd in suffix:
        assert getattr(rebuilt, cmd[0])(*cmd[1:]) == getattr(book, cmd[0])(*cmd[1:]), cmd
        assert rebuilt.snapshot() == book.snapshot()


@settings(max_examples=100, deadline=None)
@given(st.lists(command, max_size=60))
def test_deterministic(cmds):
    a, b = OrderBook(), OrderBook()
    assert [getattr(a, c[0])(*c[1:]) for c in cmds] == [getattr(b, c[0])(*c[1:]) for c in cmds]


def test_long_random_runs_against_model():
    """Seeded long sequences on a narrow price band: deep levels, so head advancing, prefix
    cutting and tombstone compaction all happen, interleaved with every command kind."""
    rng = random.Random(7)
    for run in range(3):
        cmds, live = [], []
        for i in range(2500):
            u = rng.random()
            oid = i + 1
            if u < 0.55:
                side = rng.choice((BUY, SELL))
                price = 100 + rng.randint(-2, 2) + (1 if side == SELL else -1)
                if rng.random() < 0.85:
                    cmds.append(("limit", oid, rng.choice(OWNERS), side, price, rng.randint(1, 5)))
                else:
                    cmds.append(("limit", oid, rng.choice(OWNERS), side, price, rng.randint(1, 9),
                                 rng.choice((GTC, IOC, FOK)), rng.random() < 0.2, rng.randrange(4)))
                live.append(oid)
            elif u < 0.62:
                side = rng.choice((BUY, SELL))
                if side == BUY and rng.random() < 0.3:
                    cmds.append(("market", oid, rng.choice(OWNERS), BUY, None, rng.randint(1, 900),
                                 rng.randrange(4)))
                else:
                    cmds.append(("market", oid, rng.choice(OWNERS), side, rng.randint(1, 8),
                                 None, rng.randrange(4)))
            elif u < 0.95 and live:
                cmds.append(("cancel", live.pop(rng.randrange(len(live)))))
            elif u < 0.97:
                cmds.append(("amend", rng.choice(live) if live else 1, rng.randint(1, 4)))
            else:
                cmds.append(("cancel_all", rng.choice(OWNERS)))
        run_sequence(cmds, next_trade_id=1 + run * 1000)
