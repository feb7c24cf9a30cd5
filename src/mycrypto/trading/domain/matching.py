"""Pure, deterministic limit-order-book matching core (one ``OrderBook`` per market).

No I/O, no clock, no randomness, no Decimal, no floats: prices are integer ticks, quantities
integer lots. Tick/lot/min-notional validation happens *before* the core; the core only guards
its own invariants (bad input is REJECTED, never half-applied). Same commands -> same events.

Matching rules
    * Price-time priority: best price first, FIFO within a price level.
    * Trade price = the resting (maker) order's price.
    * Trade ids come from ``next_trade_id`` (a public int, given to the constructor so a
      restarted service continues the sequence); each fill consumes one id.
    * GTC rests its remainder; IOC expires it; FOK is all-or-nothing (see below); post-only is
      REJECTED, with nothing changed, if it would cross. Market orders never rest.
    * Market BUY by quote budget: ``quote_budget`` is in price_ticks * lots units. At each maker
      order the taker takes ``min(maker qty, remaining_budget // price)``; it stops when the
      budget cannot buy one lot at the next price or the book is empty.
    * Self-trade prevention (STP) applies when taker owner == maker owner and owner is not
      None (None never self-trade-checks):
        STP_EXPIRE_MAKER (default, as on Binance): the resting order is expired, matching
          continues. Default because the newest instruction (the taker) is the one the user
          means; the stale maker is the one to go.
        STP_EXPIRE_TAKER: the taker's remainder is expired, the maker is untouched.
        STP_EXPIRE_BOTH: the maker is expired, then the taker's remainder.
        STP_NONE: the self-trade happens.
    * FOK + STP rule: a FOK order executes iff executing it as an IOC order would fill it
      completely; otherwise it is EXPIRED with no fills and the book is unchanged (no maker
      is STP-expired either). Concretely, while checking liquidity within the limit price in
      priority order: with EXPIRE_MAKER same-owner makers do not count (they would be expired
      and skipped); with EXPIRE_TAKER/EXPIRE_BOTH counting stops at the first same-owner maker
      (the taker would be expired there); with STP_NONE they count like any other maker.

Events (plain tuples, first element is the kind; lists are returned in the order things happen)
    (EV_FILL, trade_id, taker_oid, maker_oid, price, qty, taker_side, maker_remaining_after)
        one per maker order touched.
    (EV_RESTED, oid, side, price, qty)
        the (remainder of a) limit order now rests on the book. Not emitted by ``restore``.
    (EV_DONE, oid, reason, remaining_qty)                  reason FILLED or CANCELED
    (EV_DONE, oid, reason, remaining_qty, detail)          reason EXPIRED or REJECTED
        the order left the book or finished. A fully filled maker gets (EV_DONE, FILLED)
        right after its last EV_FILL; the taker's EV_DONE (or EV_RESTED) comes last.
        ``remaining_qty`` is the unfilled quantity in lots; for a market BUY by quote budget it
        is the unspent budget (ticks*lots), and such an order is FILLED when the budget can no
        longer buy a lot at the next available price, EXPIRED when the book ran out first.
        ``detail`` is one of the D_* strings below.
    (EV_AMENDED, oid, new_qty)

Data structure (why it is fast)
    Per side: a dict ``key -> level`` and a plain sorted list of the keys of non-empty levels,
    sorted so that the BEST level is at the END (bids: key = price, ascending; asks:
    key = -price, ascending). Reading the best level is ``keys[-1]``, dropping it after a sweep
    is ``keys.pop()`` (O(1)); a new level is ``bisect.insort`` (a C memmove) or a plain append
    when it becomes the new best. Using -price for asks lets both sides share one matching
    loop: an order of the other side crosses iff ``keys[-1] >= limit_key``.
    A level is ONE list ``[live_count, live_qty, head, order, order, ...]``: the FIFO queue is
    ``level[head:]``; consuming the oldest order advances ``head`` instead of shifting the list,
    and the consumed prefix is cut off once it is longer than the rest (amortised O(1)). A new
    level is a single 4-item list literal (a deque costs ~5x more to create, and in a thin
    book nearly every resting order opens a level). An order is a list
    ``[qty, oid, owner, side, price]`` (lists are the cheapest mutable objects in CPython).
    ``_orders`` maps oid -> order for O(1) cancel: the newest order of a level is popped, the
    oldest advances ``head``, any other becomes a tombstone (qty 0) that matching skips; the
    level counters stay exact, and a level whose live count drops to 0 is dropped at once, so
    the key lists never hold empty levels. Tombstones are compacted away when they outnumber
    the live orders of a level. ``_orders`` is insertion-ordered and orders only ever join a
    level at its back, so within a level dict order == time priority (used by ``cancel_all``).
    ``limit()`` inlines matching and resting for plain GTC orders: the fast path; the general
    ``_take``/``_rest`` handle IOC/FOK/post-only/other STP modes and market orders.

Amend
    ``amend`` only reduces (0 < new_qty < remaining) and keeps time priority. An amend that
    cannot apply (order not resting, or new_qty out of range) returns [] and changes nothing:
    it deliberately emits no (EV_DONE, REJECTED), because the order is still on the book.
"""
from bisect import bisect_left, insort
from dataclasses import dataclass

__all__ = [
    "BUY", "SELL", "GTC", "IOC", "FOK",
    "STP_EXPIRE_MAKER", "STP_EXPIRE_TAKER", "STP_EXPIRE_BOTH", "STP_NONE",
    "EV_FILL", "EV_RESTED", "EV_DONE", "EV_AMENDED",
    "FILLED", "CANCELED", "EXPIRED", "REJECTED",
    "D_IOC", "D_FOK", "D_MARKET", "D_NO_LIQUIDITY", "D_STP", "D_POST_ONLY", "D_INVALID",
    "D_DUPLICATE",
    "OrderBook", "PlaceLimit", "PlaceMarket", "Cancel", "CancelAll", "Amend",
]

BUY, SELL = 0, 1
GTC, IOC, FOK = 0, 1, 2
STP_EXPIRE_MAKER, STP_EXPIRE_TAKER, STP_EXPIRE_BOTH, STP_NONE = 0, 1, 2, 3

EV_FILL, EV_RESTED, EV_DONE, EV_AMENDED = 0, 1, 2, 3
FILLED, CANCELED, EXPIRED, REJECTED = 0, 1, 2, 3

# detail (5th field) of EXPIRED / REJECTED
D_IOC = "ioc_remainder"            # EXPIRED: IOC limit remainder
D_FOK = "fok_not_fillable"         # EXPIRED: FOK could not be filled completely
D_MARKET = "market_remainder"      # EXPIRED: market order partly filled, book ran out
D_NO_LIQUIDITY = "no_liquidity"    # EXPIRED: market order, nothing traded (empty book, or a
                                   # quote budget below the price of one lot at the best ask)
D_STP = "self_trade_prevention"    # EXPIRED: maker or taker expired by STP
D_POST_ONLY = "post_only_would_take"   # REJECTED
D_INVALID = "invalid"              # REJECTED: qty/price/side/tif/stp out of range
D_DUPLICATE = "duplicate_oid"      # REJECTED: an order with this oid is resting

_TIFS = (GTC, IOC, FOK)
_STPS = (STP_EXPIRE_MAKER, STP_EXPIRE_TAKER, STP_EXPIRE_BOTH, STP_NONE)


# --------------------------------------------------------------------------- commands
@dataclass(frozen=True, slots=True)
class PlaceLimit:
    oid: int
    owner: object
    side: int
    price: int
    qty: int
    tif: int = GTC
    post_only: bool = False
    stp: int = STP_EXPIRE_MAKER


@dataclass(frozen=True, slots=True)
class PlaceMarket:
    oid: int
    owner: object
    side: int
    qty: int | None = None
    quote_budget: int | None = None
    stp: int = STP_EXPIRE_MAKER


@dataclass(frozen=True, slots=True)
class Cancel:
    oid: int


@dataclass(frozen=True, slots=True)
class CancelAll:
    owner: object


@dataclass(frozen=True, slots=True)
class Amend:
    oid: int
    new_qty: int


def _rejected(oid, qty, detail):
    return [(EV_DONE, oid, REJECTED, qty, detail)]


class OrderBook:
    """The order book of one market. Not thread-safe: drive it from one task/thread."""

    __slots__ = ("_bk", "_bl", "_ak", "_al", "_orders", "next_trade_id")

    def __init__(self, next_trade_id: int = 1):
        self._bk = []        # bid level keys (= price), ascending: best bid at the end
        self._bl = {}        # bid key -> level [live_count, live_qty, head, order...]
        self._ak = []        # ask level keys (= -price), ascending: best ask at the end
        self._al = {}        # ask key -> level
        self._orders = {}    # oid -> order [qty, oid, owner, side, price] (resting only)
        self.next_trade_id = next_trade_id

    # ------------------------------------------------------------------ commands
    def limit(self, oid, owner, side, price, qty, tif=GTC, post_only=False,
              stp=STP_EXPIRE_MAKER):
        """Place a limit order (price in ticks > 0, qty in lots > 0); returns its events.

        ``tif`` GTC/IOC/FOK, ``post_only``, ``stp`` one of STP_*; falsy values (None/False)
        mean the defaults. ``owner`` is any hashable compared with == for STP (None: no STP).
        """
        orders = self._orders
        if qty <= 0 or price <= 0:
            return _rejected(oid, qty, D_INVALID)
        if oid in orders:
            return _rejected(oid, qty, D_DUPLICATE)
        if tif or post_only or stp:
            return self._limit_options(oid, owner, side, price, qty, tif, post_only, stp)
        # Hot path (plain GTC, STP_EXPIRE_MAKER): matching and resting are inlined here, as
        # one call per command is measurably cheaper than three; _take/_rest are the general
        # versions of the same code and the property tests check both paths against a model.
        if side == BUY:
            okeys = self._ak
            olevels = self._al
            lim = -price
            sgn = -1
            keys = self._bk
            levels = self._bl
            k = price
        elif side == SELL:
            okeys = self._bk
            olevels = self._bl
            lim = price
            sgn = 1
            keys = self._ak
            levels = self._al
            k = -price
        else:
            return _rejected(oid, qty, D_INVALID)
        if okeys and okeys[-1] >= lim:
            evs = []
            tid = self.next_trade_id
            while True:
                ok = okeys[-1]
                lvl = olevels[ok]
                cnt = lvl[0]
                lq = lvl[1]
                h = lvl[2]
                px = ok * sgn
                while True:             # cnt > 0 here: the level has a live order
                    mo = lvl[h]
                    mq = mo[0]
                    if not mq:          # tombstone of a cancelled order
                        h += 1
                        continue
                    if mo[2] == owner and owner is not None:   # STP: expire the maker
                        h += 1
                        del orders[mo[1]]
                        cnt -= 1
                        lq -= mq
                        evs.append((EV_DONE, mo[1], EXPIRED, mq, D_STP))
                        if not cnt:
                            break
                        continue
                    if qty < mq:        # taker done, maker partly filled
                        mq -= qty
                        mo[0] = mq
                        lq -= qty
                        evs.append((EV_FILL, tid, oid, mo[1], px, qty, side, mq))
                        tid += 1
                        qty = 0
                        break
                    h += 1              # maker fully filled
                    del orders[mo[1]]
                    evs.append((EV_FILL, tid, oid, mo[1], px, mq, side, 0))
                    evs.append((EV_DONE, mo[1], FILLED, 0))
                    tid += 1
                    qty -= mq
                    lq -= mq
                    cnt -= 1
                    if not cnt or not qty:
                        break
                if cnt:                 # level survives, so the taker is filled
                    lvl[0] = cnt
                    lvl[1] = lq
                    if h > 35 and h + h > len(lvl):
                        del lvl[3:h]    # drop the consumed prefix (amortised O(1))
                        h = 3
                    lvl[2] = h
                    break
                del olevels[ok]
                okeys.pop()
                if not qty or not okeys or okeys[-1] < lim:
                    break
            self.next_trade_id = tid
            if not qty:
                evs.append((EV_DONE, oid, FILLED, 0))
                return evs
        else:
            evs = None
        # rest the remainder
        o = [qty, oid, owner, side, price]
        orders[oid] = o
        lvl = levels.get(k)
        if lvl is None:
            levels[k] = [1, qty, 3, o]
            if not keys or k > keys[-1]:
                keys.append(k)          # new best level: no search needed
            else:
                insort(keys, k)
        else:
            lvl[0] += 1
            lvl[1] += qty
            lvl.append(o)
        if evs is None:
            return [(EV_RESTED, oid, side, price, qty)]
        evs.append((EV_RESTED, oid, side, price, qty))
        return evs

    def _limit_options(self, oid, owner, side, price, qty, tif, post_only, stp):
        """limit() with IOC/FOK, post-only or a non-default STP mode (already checked:
        qty, price, duplicate oid)."""
        tif = tif or GTC                # falsy (None/False) means the default, as on the
        stp = stp or STP_EXPIRE_MAKER   # hot path, which only tests truthiness
        if side == BUY:
            okeys, lim = self._ak, -price
        elif side == SELL:
            okeys, lim = self._bk, price
        else:
            return _rejected(oid, qty, D_INVALID)
        if tif not in _TIFS or stp not in _STPS:
            return _rejected(oid, qty, D_INVALID)
        if not okeys or okeys[-1] < lim:            # does not cross
            if tif:
                return [(EV_DONE, oid, EXPIRED, qty, D_FOK if tif == FOK else D_IOC)]
            return self._rest(oid, owner, side, price, qty, [])
        if post_only:
            return _rejected(oid, qty, D_POST_ONLY)
        if tif == FOK and not self._fok_fillable(side, lim, qty, owner, stp):
            return [(EV_DONE, oid, EXPIRED, qty, D_FOK)]
        evs = []
        rem = self._take(evs, oid, owner, side, lim, qty, stp)
        if rem is None:             # taker expired by STP (its event is already in evs)
            return evs
        if not rem:
            evs.append((EV_DONE, oid, FILLED, 0))
            return evs
        if tif:                     # IOC (a FOK that got here is filled completely)
            evs.append((EV_DONE, oid, EXPIRED, rem, D_IOC))
            return evs
        return self._rest(oid, owner, side, price, rem, evs)

    def market(self, oid, owner, side, qty=None, quote_budget=None, stp=STP_EXPIRE_MAKER):
        """Market order by base ``qty`` (lots), or BUY by ``quote_budget`` (ticks*lots).
        Never rests: any remainder is EXPIRED."""
        stp = stp or STP_EXPIRE_MAKER   # falsy (None/False) means the default, as in limit()
        if stp not in _STPS or (side != BUY and side != SELL):
            return _rejected(oid, qty if quote_budget is None else quote_budget, D_INVALID)
        if quote_budget is not None:
            if qty is not None or side != BUY or quote_budget <= 0:
                return _rejected(oid, quote_budget, D_INVALID)
            if oid in self._orders:
                return _rejected(oid, quote_budget, D_DUPLICATE)
            return self._take_budget(oid, owner, quote_budget, stp)
        if qty is None or qty <= 0:
            return _rejected(oid, qty, D_INVALID)
        if oid in self._orders:
            return _rejected(oid, qty, D_DUPLICATE)
        okeys = self._ak if side == BUY else self._bk
        if not okeys:
            return [(EV_DONE, oid, EXPIRED, qty, D_NO_LIQUIDITY)]
        evs = []
        # limit key = the worst key on the book: every level crosses
        rem = self._take(evs, oid, owner, side, okeys[0], qty, stp)
        if rem is None:
            return evs
        if not rem:
            evs.append((EV_DONE, oid, FILLED, 0))
        else:
            evs.append((EV_DONE, oid, EXPIRED, rem, D_MARKET if rem < qty else D_NO_LIQUIDITY))
        return evs

    def cancel(self, oid):
        """Cancel a resting order: [(EV_DONE, oid, CANCELED, remaining)], or [] if not resting."""
        o = self._orders.pop(oid, None)
        if o is None:
            return []
        rem = o[0]
        # inlined _unlink (cancel is a third of all commands)
        if o[3] == BUY:
            keys = self._bk
            levels = self._bl
            k = o[4]
        else:
            keys = self._ak
            levels = self._al
            k = -o[4]
        lvl = levels[k]
        c = lvl[0] - 1
        if not c:
            del levels[k]
            if keys[-1] == k:
                keys.pop()
            else:
                del keys[bisect_left(keys, k)]
        else:
            lvl[0] = c
            lvl[1] -= rem
            if lvl[-1] is o:
                lvl.pop()
            else:
                self._unlink_slow(lvl, o, c)
        return [(EV_DONE, oid, CANCELED, rem)]

    def cancel_all(self, owner):
        """Cancel every resting order of ``owner``; events in priority order (bids best-first,
        then asks best-first, FIFO within a level)."""
        orders = self._orders
        # dict order == time priority within a level, and sort() is stable
        mine = [o for o in orders.values() if o[2] == owner]
        mine.sort(key=lambda o: (o[3], -o[4] if o[3] == BUY else o[4]))
        evs = []
        for o in mine:
            oid = o[1]
            del orders[oid]
            rem = o[0]
            self._unlink(o, rem)
            evs.append((EV_DONE, oid, CANCELED, rem))
        return evs

    def amend(self, oid, new_qty):
        """Reduce a resting order's quantity in place, keeping its time priority.
        [(EV_AMENDED, oid, new_qty)] if 0 < new_qty < remaining, else [] (nothing changes)."""
        o = self._orders.get(oid)
        if o is None or not 0 < new_qty < o[0]:
            return []
        lvl = (self._bl[o[4]] if o[3] == BUY else self._al[-o[4]])
        lvl[1] -= o[0] - new_qty
        o[0] = new_qty
        return [(EV_AMENDED, oid, new_qty)]

    def submit(self, command):
        """Dispatch a command dataclass (PlaceLimit, PlaceMarket, Cancel, CancelAll, Amend) or
        a tuple ``(name, *args)`` with name in limit/market/cancel/cancel_all/amend."""
        run = _SUBMIT.get(type(command))
        if run is not None:
            return run(self, command)
        if type(command) is tuple and command and command[0] in _TUPLE_COMMANDS:
            return getattr(self, command[0])(*command[1:])
        raise TypeError(f"unknown command: {command!r}")

    def restore(self, oid, owner, side, price, qty):
        """Append a resting order at the back of its level WITHOUT matching and without
        events (rebuild after a restart, in original priority order). Raises ValueError on
        input that would corrupt the book (duplicate oid, bad side/price/qty, crossing)."""
        if oid in self._orders:
            raise ValueError(f"duplicate oid {oid!r}")
        if side not in (BUY, SELL) or price <= 0 or qty <= 0:
            raise ValueError(f"invalid order {oid!r}: side={side!r} price={price!r} qty={qty!r}")
        okeys = self._ak if side == BUY else self._bk
        if okeys and okeys[-1] >= (-price if side == BUY else price):
            raise ValueError(f"order {oid!r} would cross the book")
        self._rest(oid, owner, side, price, qty, [])

    # ------------------------------------------------------------------ inspection
    def best_bid(self):
        return self._bk[-1] if self._bk else None

    def best_ask(self):
        return -self._ak[-1] if self._ak else None

    def depth(self, levels):
        """(bids best-first, asks best-first), each a list of (price, total_qty, order_count)."""
        bl, al = self._bl, self._al
        bids = [(k, bl[k][1], bl[k][0]) for k in reversed(self._bk[-levels:])] if levels > 0 else []
        asks = [(-k, al[k][1], al[k][0]) for k in reversed(self._ak[-levels:])] if levels > 0 else []
        return bids, asks

    def level_qty(self, side, price):
        """Total resting quantity at one price on one side (0: no level there)."""
        lvl = self._bl.get(price) if side == BUY else self._al.get(-price)
        return lvl[1] if lvl is not None else 0

    def resting(self, oid):
        """(owner, side, price, remaining_qty) of a resting order, or None."""
        o = self._orders.get(oid)
        return None if o is None else (o[2], o[3], o[4], o[0])

    def snapshot(self):
        """Every resting order as (oid, owner, side, price, qty): bids best-first, then asks
        best-first, FIFO within a level (canonical: equal books give equal snapshots)."""
        out = []
        for keys, levels in ((self._bk, self._bl), (self._ak, self._al)):
            for k in reversed(keys):
                lvl = levels[k]
                for o in lvl[lvl[2]:]:
                    if o[0]:
                        out.append((o[1], o[2], o[3], o[4], o[0]))
        return out

    def __len__(self):
        return len(self._orders)

    def __repr__(self):
        return (f"<OrderBook orders={len(self._orders)} bid={self.best_bid()} "
                f"ask={self.best_ask()} next_trade_id={self.next_trade_id}>")

    # ------------------------------------------------------------------ internals
    def _rest(self, oid, owner, side, price, qty, evs):
        """Put an order at the back of its level; appends and returns EV_RESTED in ``evs``."""
        o = [qty, oid, owner, side, price]
        self._orders[oid] = o
        if side == BUY:
            keys, levels, k = self._bk, self._bl, price
        else:
            keys, levels, k = self._ak, self._al, -price
        lvl = levels.get(k)
        if lvl is None:
            levels[k] = [1, qty, 3, o]
            if not keys or k > keys[-1]:
                keys.append(k)
            else:
                insort(keys, k)
        else:
            lvl[0] += 1
            lvl[1] += qty
            lvl.append(o)
        evs.append((EV_RESTED, oid, side, price, qty))
        return evs

    def _unlink(self, o, rem):
        """Remove order ``o`` (already popped from _orders, ``rem`` = its qty) from its level."""
        if o[3] == BUY:
            keys, levels, k = self._bk, self._bl, o[4]
        else:
            keys, levels, k = self._ak, self._al, -o[4]
        lvl = levels[k]
        c = lvl[0] - 1
        if not c:
            # last live order: drop the level (and any tombstones in it) at once
            del levels[k]
            if keys[-1] == k:
                keys.pop()
            else:
                del keys[bisect_left(keys, k)]
            return
        lvl[0] = c
        lvl[1] -= rem
        if lvl[-1] is o:            # newest order of the level: O(1) real removal
            lvl.pop()
        else:
            self._unlink_slow(lvl, o, c)

    @staticmethod
    def _unlink_slow(lvl, o, c):
        """Remove live order ``o`` (not the last one) from ``lvl``, which keeps ``c`` live orders."""
        h = lvl[2]
        if lvl[h] is o:             # oldest: advance the head
            h += 1
            if h > 35 and h + h > len(lvl):
                del lvl[3:h]        # drop the consumed prefix (amortised O(1))
                h = 3
            lvl[2] = h
        else:                       # middle: tombstone, skipped by matching
            o[0] = 0
            if len(lvl) - h > 2 * c + 16:
                # tombstones outnumber live orders: compact (amortised O(1) per cancel),
                # so place/cancel churn behind a long-lived order cannot grow memory
                lvl[3:] = [x for x in lvl[h:] if x[0]]
                lvl[2] = 3

    def _take(self, evs, oid, owner, side, lim, qty, stp):
        """Match a taker of ``side`` against the other side's levels with key >= ``lim``.
        Appends events to ``evs``; returns the unfilled qty, or None if STP expired the taker
        (its EV_DONE is already in ``evs``)."""
        if side == BUY:
            keys, levels, sgn = self._ak, self._al, -1
        else:
            keys, levels, sgn = self._bk, self._bl, 1
        orders = self._orders
        tid = self.next_trade_id
        chk = owner is not None and stp != STP_NONE
        killed = False
        while keys:
            k = keys[-1]
            if k < lim:
                break
            lvl = levels[k]
            h = lvl[2]
            cnt = lvl[0]
            lq = lvl[1]
            px = k * sgn
            while True:                 # cnt > 0 here: the level has a live order
                mo = lvl[h]
                mq = mo[0]
                if not mq:              # tombstone of a cancelled order
                    h += 1
                    continue
                if chk and mo[2] == owner:
                    if stp != STP_EXPIRE_TAKER:     # EXPIRE_MAKER / EXPIRE_BOTH
                        h += 1
                        del orders[mo[1]]
                        cnt -= 1
                        lq -= mq
                        evs.append((EV_DONE, mo[1], EXPIRED, mq, D_STP))
                    if stp != STP_EXPIRE_MAKER:     # EXPIRE_TAKER / EXPIRE_BOTH
                        evs.append((EV_DONE, oid, EXPIRED, qty, D_STP))
                        killed = True
                        break
                    if not cnt:
                        break
                    continue
                if qty < mq:            # taker exhausted, maker partly filled
                    mq -= qty
                    mo[0] = mq
                    lq -= qty
                    evs.append((EV_FILL, tid, oid, mo[1], px, qty, side, mq))
                    tid += 1
                    qty = 0
                    break
                # maker fully filled
                h += 1
                del orders[mo[1]]
                evs.append((EV_FILL, tid, oid, mo[1], px, mq, side, 0))
                evs.append((EV_DONE, mo[1], FILLED, 0))
                tid += 1
                qty -= mq
                lq -= mq
                cnt -= 1
                if not cnt or not qty:
                    break
            if cnt:
                # live orders remain here, so the taker is done (filled, or killed by STP)
                lvl[0] = cnt
                lvl[1] = lq
                if h > 35 and h + h > len(lvl):
                    del lvl[3:h]        # drop the consumed prefix (amortised O(1))
                    h = 3
                lvl[2] = h
                break
            del levels[k]
            keys.pop()
            if killed or not qty:
                break
        self.next_trade_id = tid
        return None if killed else qty

    def _take_budget(self, oid, owner, budget, stp):
        """Market BUY spending up to ``budget`` (ticks*lots) against the asks."""
        keys, levels, orders = self._ak, self._al, self._orders
        tid = self.next_trade_id
        chk = owner is not None and stp != STP_NONE
        evs = []
        spent_any = False
        broke = False       # stopped because the budget cannot buy a lot at the next price
        while keys:
            k = keys[-1]
            px = -k
            if budget < px:
                broke = True
                break
            lvl = levels[k]
            h = lvl[2]
            while lvl[0] and budget >= px:
                mo = lvl[h]
                mq = mo[0]
                if not mq:
                    h += 1
                    continue
                if chk and mo[2] == owner:
                    if stp != STP_EXPIRE_TAKER:
                        h += 1
                        del orders[mo[1]]
                        lvl[0] -= 1
                        lvl[1] -= mq
                        evs.append((EV_DONE, mo[1], EXPIRED, mq, D_STP))
                    if stp != STP_EXPIRE_MAKER:
                        evs.append((EV_DONE, oid, EXPIRED, budget, D_STP))
                        if lvl[0]:
                            lvl[2] = h
                        else:
                            del levels[k]
                            keys.pop()
                        self.next_trade_id = tid
                        return evs
                    continue
                can = budget // px
                fill = mq if mq <= can else can
                budget -= fill * px
                lvl[1] -= fill
                spent_any = True
                if fill < mq:
                    mo[0] = mq - fill
                    evs.append((EV_FILL, tid, oid, mo[1], px, fill, BUY, mq - fill))
                    tid += 1
                else:
                    h += 1
                    del orders[mo[1]]
                    lvl[0] -= 1
                    evs.append((EV_FILL, tid, oid, mo[1], px, fill, BUY, 0))
                    evs.append((EV_DONE, mo[1], FILLED, 0))
                    tid += 1
            if lvl[0]:
                if h > 35 and h + h > len(lvl):
                    del lvl[3:h]    # drop the consumed prefix (amortised O(1))
                    h = 3
                lvl[2] = h
                broke = True        # live orders left at this price: the budget ran out
                break
            del levels[k]
            keys.pop()
        self.next_trade_id = tid
        if spent_any and (broke or not budget):
            evs.append((EV_DONE, oid, FILLED, budget))
        else:
            evs.append((EV_DONE, oid, EXPIRED, budget, D_MARKET if spent_any else D_NO_LIQUIDITY))
        return evs

    def _fok_fillable(self, side, lim, qty, owner, stp):
        """Would ``qty`` be filled completely by levels with key >= lim (see the FOK+STP rule)?"""
        if side == BUY:
            keys, levels = self._ak, self._al
        else:
            keys, levels = self._bk, self._bl
        chk = owner is not None and stp != STP_NONE
        for k in reversed(keys):
            if k < lim:
                return False
            lvl = levels[k]
            if not chk:
                qty -= lvl[1]
                if qty <= 0:
                    return True
                continue
            for o in lvl[lvl[2]:]:
                q = o[0]
                if not q:
                    continue
                if o[2] == owner:
                    if stp == STP_EXPIRE_MAKER:
                        continue
                    return False
                qty -= q
                if qty <= 0:
                    return True
        return False


_TUPLE_COMMANDS = frozenset(("limit", "market", "cancel", "cancel_all", "amend"))
# OrderBook.submit's dispatch: command type -> how the book runs it
_SUBMIT = {
    PlaceLimit: lambda book, c: book.limit(c.oid, c.owner, c.side, c.price, c.qty, c.tif, c.post_only, c.stp),
    PlaceMarket: lambda book, c: book.market(c.oid, c.owner, c.side, c.qty, c.quote_budget, c.stp),
    Cancel: lambda book, c: book.cancel(c.oid),
    CancelAll: lambda book, c: book.cancel_all(c.owner),
    Amend: lambda book, c: book.amend(c.oid, c.new_qty),
}
