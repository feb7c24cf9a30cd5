"""Book rebuild: the market's book and order states loaded again from the database's open orders.

At start-up, after a refused or lost commit (`dirty`), and from the registry's tick while the database
was unreachable. A rebuild after an unknown outcome refences first (recovery.py), so a lost commit can
never land behind the rebuilt book's back; rebuilds and refences take turns on one lock.
"""
from __future__ import annotations

from ...db.database import DB_DOWN
from ...marketdata import repository as mdrepo
from .. import repository as repo
from ..conditional_repository import load_conditional_book
from ..domain.matching import OrderBook
from .state import EngineState

RECENT_TRADES_LOAD = 1000


class BookRebuild(EngineState):
    async def rebuild(self) -> None:
        """Load the book from the database's open orders in id (= time priority) order."""
        async with self._state_lock:
            await self._rebuild_locked()

    async def _rebuild_locked(self) -> None:
        async with self.db.acquire() as conn:
            if self._unfenced:
                if await self._refence(conn) is None:
                    raise repo.NotOwner()
            next_trade_id, update_id = await repo.engine_state(conn, self.spec.id)
            states = await repo.open_orders_for_rebuild(conn, self.spec)
            open_map = {o.id: o for o in states}
            conds = await load_conditional_book(conn, self.spec, open_map)
        book = OrderBook(next_trade_id)
        orders = {}
        for o in states:
            book.restore(o.id, o.user_id, o.side, o.price, o.remaining)
            orders[o.id] = o
        self.book, self.orders = book, orders
        self.conds = conds
        self.update_id = max(self.update_id, update_id)
        self._prepared_update_id = self.update_id
        self.dirty = False
        self.feed.rebuilt(book, self.update_id)   # stream clients holding a book resync

    async def try_rebuild(self) -> bool:
        """Rebuild if the book is dirty; False (and still dirty) while the database is unreachable."""
        if not self.dirty:
            return True
        try:
            async with self._state_lock:
                if self.dirty:   # (the sequencer may have rebuilt while we waited)
                    await self._rebuild_locked()
            return True
        except DB_DOWN:
            return False
        except repo.NotOwner:
            self._fenced_out()
            return False

    async def _load_market_data(self) -> None:
        async with self.db.acquire() as conn:
            recent = await mdrepo.recent_trade_tuples(conn, self.spec, RECENT_TRADES_LOAD)
            minutes = await mdrepo.minute_rows_24h(conn, self.spec)
        self.feed.reset(self.book, self.update_id, recent, minutes)

    def snapshot(self) -> list:
        """The book's canonical snapshot (for restart/takeover comparisons)."""
        return self.book.snapshot()
