"""Batch preparation: read what a batch needs, match it against the book, encode it and start its commit.

1. reads, in one query, the available balances of the accounts the batch's orders would hold (and,
   in one more, which of its client order ids already exist); order ids come in blocks of `ID_BLOCK`;
2. matches the commands in order (`matcher.BatchMatcher`: holds against a running in-memory copy of
   those balances, the matching core, settlements);
3. encodes the whole batch as the arguments of ONE trade.commit_batch call and starts that commit
   (commit.py) - the sequencer goes on while it runs.

With `pipelined`, the previous batch may still be committing: balances it touched come from its
in-memory result, and a command that looks short of funds is requeued to run after it (never refused
on a guess).
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

from ...marketdata.candles import batch_candles
from ...marketdata.feed import CAPTURED_PER_BATCH
from ...wallet.ledger import ledger_arguments
from .. import repository as repo
from ..domain.matching import BUY
from ..domain.settlement import Batch
from ..results import OrderResult
from ..conditional_repository import encode_conditions
from .commands import Place, PlaceOco
from .matcher import REQUEUE, BatchMatcher
from .state import EngineState, Prepared

ID_BLOCK = 1000


class BatchPreparation(EngineState):
    async def _prepare(self, cmds: list, slot: int, *, pipelined: bool, previous: Prepared | None) -> Prepared:
        """Read, match and encode a batch, and start its commit (Prepared.task); see the module docstring."""
        spec = self.spec
        n_place = 0
        accs: dict[int, int] = {}
        pairs = []
        for cmd in _placements(cmds):
            n_place += 1
            if cmd.intent.side == BUY:
                accs[cmd.quote_acc] = spec.quote_decimals
            else:
                accs[cmd.base_acc] = spec.base_decimals
            if cmd.intent.client_order_id is not None:
                pairs.append((cmd.user_id, cmd.intent.client_order_id))
        projected = previous.batch.avail if previous is not None and previous.batch is not None else {}
        avail: dict[int, int] = {}
        existing: dict[tuple[int, str], int] = dict(previous.coids) if previous is not None else {}
        timings = self.timings
        t0 = time.perf_counter()
        conn = await self._connection(slot)
        if n_place:
            if len(self._ids) < n_place:
                self._ids.extend(await repo.allocate_order_ids(conn, max(ID_BLOCK, n_place)))
            to_read = [a for a in accs if a not in projected]
            if to_read:
                avail = await repo.available_units(conn, to_read, accs)
            for a in accs:
                if a in projected:
                    avail[a] = projected[a]
            if pairs:
                existing.update(await repo.find_client_order_ids(conn, pairs))
        ms = time.time_ns() // 1_000_000
        t1 = time.perf_counter()
        timings["read"] += t1 - t0
        self.feed.set_clean(False)
        batch = Batch(spec, self.fee_account, self.orders, avail)
        outcomes: list[Any] = BatchMatcher(spec, self.book, self.orders, self._ids, batch, ms, existing=existing,
                                           defer_short=pipelined, conds=self.conds).run(cmds)
        if REQUEUE in outcomes:
            # short of funds on a projected balance: run again once the batch in flight has committed
            later = [cmd for cmd, o in zip(cmds, outcomes) if o is REQUEUE]
            for cmd in later:
                cmd.fresh = True
            self._queue.put_front(later)
            kept = [(cmd, o) for cmd, o in zip(cmds, outcomes) if o is not REQUEUE]
            cmds, outcomes = [c for c, _ in kept], [o for _, o in kept]
        coids = {(cmd.user_id, cmd.intent.client_order_id): o.order_id for cmd, o in zip(cmds, outcomes)
                 if type(cmd) is Place and cmd.intent.client_order_id is not None and isinstance(o, OrderResult)}
        if batch.empty:
            return Prepared(cmds, outcomes, None, self._prepared_update_id, ms, None, None, slot, None, coids)
        self._prepared_update_id += 1
        update_id = self._prepared_update_id
        postings = batch.postings()
        holds = batch.hold_changes()
        candles = batch_candles(batch.trades)
        args = repo.encode_batch(spec, self.epoch, update_id, batch.new_orders, list(batch.touched.values()),
                                 batch.trades, candles, ledger_arguments(postings, holds))
        conditions = encode_conditions(batch.new_orders, list(batch.touched.values()))
        if conditions is not None:   # stop / take-profit / OCO rows: the conditional commit (migration 055)
            args = (*args, *conditions)
        for o in batch.new_orders:
            o.is_new = False   # a later batch that changes it must UPDATE the row this batch inserts
        levels = self.book.depth(CAPTURED_PER_BATCH)   # published with this batch's commit
        captured = self.feed.capture(batch, self.book)  # its book diff and order updates (streams)
        t2 = time.perf_counter()
        timings["match"] += t2 - t1
        prep = Prepared(cmds, outcomes, batch, update_id, ms, None, args, slot, levels, coids, captured)
        prep.task = asyncio.create_task(self._execute(prep, t2))
        return prep


def _placements(cmds: list) -> list[Place]:
    """The placements of a batch (an OCO pair is two)."""
    out = []
    for cmd in cmds:
        t = type(cmd)
        if t is Place:
            out.append(cmd)
        elif t is PlaceOco:
            out.extend((cmd.limit, cmd.stop))
    return out
