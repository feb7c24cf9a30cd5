"""Commit recovery: what to do when a batch's commit lost its connection (the outcome unknown to us).

Only the database knows whether such a commit landed, and its old backend may still be running it. So
the engine bumps its own epoch (`_refence`, waiting for a commit that holds the fence row; a commit
sent under the old epoch that arrives later writes nothing) and reads the committed update id that
bump returns: batches it covers are acknowledged as they are (a replay would execute them twice), the
rest are replayed, and when the database cannot be asked the clients get 503 order_outcome_unknown -
never "not executed" on a guess. Until a refence succeeds (`_unfenced`), nothing reads the database's
state (rebuild.py refences first). A moved epoch means another replica owns the market: give it up.
"""
from __future__ import annotations

import asyncio
import logging

from ...db.database import DatabaseUnavailable, Queryable
from .. import repository as repo
from ..errors import MarketUnavailable, OutcomeUnknown
from .state import EngineState, Prepared

log = logging.getLogger("mycrypto.trading.engine")

FENCE_QUERY_TIMEOUT = 5.0   # seconds to ask whether a batch whose connection failed committed


def _succeeded(task: asyncio.Future | None) -> bool:
    """The commit task finished and its commit returned (so it committed)."""
    return task is not None and task.done() and not task.cancelled() and task.exception() is None


class CommitRecovery(EngineState):
    async def _resolve_lost(self, batches: list[Prepared]) -> list:
        """Batches (in order) of which at least one lost its connection before answering. A batch whose
        commit returned committed, and so did every batch before it (the fence orders them). For the
        others `_refence` makes the committed update id final: those it covers are acknowledged with
        the outcomes computed for them, never replayed (that would execute them twice). The commands
        of batches that did not commit are returned to be replayed. If the database cannot be asked,
        the clients of the uncertain batches get OutcomeUnknown; if another replica took the market
        over, the market is given up."""
        self.dirty = True
        committed = 0   # batches up to this update id certainly committed
        for b in batches:
            if b.batch is not None and _succeeded(b.task):
                committed = b.update_id
        unsure = [b for b in batches if b.batch is not None and b.update_id > committed and b.sent]
        unknown = fenced_out = False
        if unsure:
            self._unfenced = True
            try:
                async with asyncio.timeout(FENCE_QUERY_TIMEOUT):
                    async with self._state_lock, self.db.acquire() as conn:
                        final = await self._refence(conn)
                fenced_out = final is None
            except Exception as exc:   # any failure: we cannot know
                final = None
                log.warning("cannot refence the market", extra={"market": self.spec.symbol, "reason": repr(exc)})
            if final is None:
                unknown = True
                log.error("batch outcome unknown", extra={"market": self.spec.symbol,
                                                          "batches": [b.update_id for b in unsure]})
            else:
                committed = max(committed, final)
        replay: list = []
        for b in batches:
            if b.batch is not None and b.update_id <= committed:
                log.warning("batch committed although its connection failed; acknowledged",
                            extra={"market": self.spec.symbol, "update_id": b.update_id})
                if not b.acked:
                    self._acknowledge(b, clean=False)
            elif unknown and b in unsure:
                self._fail(b.cmds, OutcomeUnknown())
            else:
                replay.extend(b.cmds)   # never sent, or the fence says it did not commit
        if fenced_out:   # another replica owns the market now
            self._fail(replay, MarketUnavailable())
            self._fenced_out()
            return []
        if not replay:
            # nothing follows that would rebuild: do it now, so the book and feed are true again
            try:
                await asyncio.wait_for(self.try_rebuild(), 2)
            except Exception:
                pass
        return replay

    async def _refence(self, conn: Queryable) -> int | None:
        """Bump our epoch (waiting for a commit that holds the fence row), so a lost commit that
        reaches the database later writes nothing; return the last committed update id, final from
        now on. None: the epoch moved - another replica owns the market, or (rarely) a refence of ours
        whose answer was lost bumped it: either way the market is given up and the registry takes it
        again with a rebuilt book. Errors: DatabaseUnavailable."""
        try:
            row = await repo.refence(conn, self.spec.id, self.epoch)
        except Exception as exc:
            raise DatabaseUnavailable(f"cannot refence the market: {exc!r}") from exc
        if row is None:
            return None
        self.epoch, committed = row
        self._unfenced = False
        return committed
