"""What a market's owner publishes after each committed batch: one event model for every consumer.

The engine captures, right after matching a batch (trading/engine/prepare.py, while the book is exactly
as the batch leaves it), the price levels the batch changed and copies of the orders it changed
(`capture`). After the batch's commit the feed wraps that into a `CommittedBatch` and hands it to the
registry's feed listeners (alerts, streams). `update_id` is the market's book sequence: strictly
increasing and gap-free over committed batches, the same number REST depth reports (`seq`,
`lastUpdateId`). A rebuild of the book (start-up, takeover, a refused commit) is published as a
`CommittedBatch` with `reset=True` and no changes: a consumer holding a book must resync.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from ..common.markets import MarketSpec

BUY = 0


@dataclass(slots=True)
class Captured:
    """The batch's changes: levels as (price ticks, qty lots after the batch; 0 = gone), order copies."""

    bids: list[tuple[int, int]]
    asks: list[tuple[int, int]]
    orders: list[Any]                 # copies of the changed OrderStates (frozen at capture time)
    users: frozenset[int]             # users whose orders, fills or holds changed


@dataclass(slots=True)
class CommittedBatch:
    spec: MarketSpec
    update_id: int
    ms: int
    trades: list[tuple] = field(default_factory=list)   # engine trade tuples (see settlement.Batch.trades)
    captured: Captured | None = None
    reset: bool = False               # the book was rebuilt: consumers holding a book resync

    @property
    def prev_update_id(self) -> int:
        return self.update_id - 1


def capture(batch: Any, book: Any) -> Captured:
    """The levels and orders `batch` changed, read from `book` as the batch left it (O(changes))."""
    touched: set[tuple[int, int]] = set()
    orders = []
    users = set()
    for o in batch.new_orders:
        orders.append(copy.copy(o))
        users.add(o.user_id)
        if o.kind == 0 and o.price:
            touched.add((o.side, o.price))
    for o in batch.touched.values():
        orders.append(copy.copy(o))
        users.add(o.user_id)
        if o.kind == 0 and o.price:
            touched.add((o.side, o.price))
    for t in batch.trades:
        touched.add((1 - t[3], t[4]))     # the maker's level
        users.add(t[7])
        users.add(t[8])
    bids, asks = [], []
    for side, price in sorted(touched, key=lambda sp: (sp[0], -sp[1] if sp[0] == BUY else sp[1])):
        (bids if side == BUY else asks).append((price, book.level_qty(side, price)))
    return Captured(bids, asks, orders, frozenset(users))
