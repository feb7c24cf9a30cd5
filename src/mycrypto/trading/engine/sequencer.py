"""The sequencer of one market: a single asyncio task that owns the market's OrderBook and commits
its commands in groups (docs/adr/0004-trade-group-commit.md).

HTTP handlers validate a request, `submit` a command with a future and await it. The loop takes
everything queued (up to TRADE_BATCH_MAX) as one batch, prepares it (prepare.py: reads, matching,
encoding), commits it with ONE call that is its own transaction while the next batch is prepared
(commit.py: trade.commit_batch - fence the epoch, apply the ledger, write orders, trades and candles),
and only then resolves the futures (acknowledged = committed) and publishes market data.

If the commit fails nothing was acknowledged. A refusal the data explains (`repository.RETRYABLE`: a
withdrawal raced the optimistic balance read, a client order id used concurrently on another market)
rebuilds the book from the database's open orders (rebuild.py) and replays the batch on the sequential
path (`_process`) with fresh balances. If the commit's CONNECTION fails (`db.database.DB_DOWN`: the
outcome unknown to us), recovery.py finds out what committed - never "not executed" on a guess, and
never a second execution. A database outage before the commit was sent fails the batch's commands
with 503 and rebuilds before the next batch. A lost epoch fence (another replica took over) stops
this engine.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from ...common.errors import AppError, DatabaseOutage, ServiceUnavailable
from ...db.database import DB_DOWN
from .. import repository as repo
from ..errors import MarketUnavailable, OutcomeUnknown
from .commit import CommitPipeline
from .prepare import BatchPreparation
from .rebuild import BookRebuild
from .recovery import CommitRecovery
from .state import Prepared

log = logging.getLogger("mycrypto.trading.engine")

MAX_ATTEMPTS = 3


class MarketEngine(BookRebuild, BatchPreparation, CommitPipeline, CommitRecovery):
    """Owns one market's book while this process holds the market (see trading.registry).
    The state it keeps is described in state.py; each job lives in the module its base class names."""

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        await self.rebuild()
        await self._load_market_data()
        self.accepting = True
        self._task = asyncio.create_task(self._run(), name=f"engine-{self.spec.symbol}")
        self._task.add_done_callback(self._sequencer_ended)

    def _sequencer_ended(self, task: asyncio.Task) -> None:
        """A sequencer that died of a bug must not leave the market hanging: give it up (the registry
        stops this engine and takes the market again, rebuilding from the database)."""
        if task.cancelled() or task.exception() is None or not self.accepting:
            return
        log.error("market sequencer crashed; releasing the market", exc_info=task.exception(),
                  extra={"market": self.spec.symbol})
        self._fenced_out()

    def _fenced_out(self) -> None:
        """Stop taking commands and hand the market back (another replica owns it, or we crashed);
        while stopping anyway, the registry is not told."""
        stopping = not self.accepting
        self.dirty = True
        self.accepting = False
        self._queue.fail_all(MarketUnavailable())
        if self.on_lost is not None and not stopping:
            self.on_lost(self.spec.id)

    async def stop(self) -> None:
        """Stop accepting, finish the batch in flight, fail what is still queued (503, not committed)."""
        self.accepting = False
        self._queue.wake()
        if self._task is not None:
            task, self._task = self._task, None
            try:
                await asyncio.wait_for(task, 30)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
            except Exception:
                pass   # crashed: logged by _sequencer_ended
        self._queue.fail_all(MarketUnavailable("The market engine is shutting down; retry shortly."))
        await self._close_connections()

    @property
    def sequencer_alive(self) -> bool:
        """The sequencer task is running (health and metrics read this)."""
        return self._task is not None and not self._task.done()

    def set_status(self, status: str) -> None:
        if status != self.spec.status:
            self.spec = self.spec.with_status(status)
            self.feed.spec = self.spec

    def submit(self, cmd: Any) -> asyncio.Future:
        if not self.accepting:
            raise MarketUnavailable("The market engine is not running here; retry shortly.")
        return self._queue.put(cmd)

    # ------------------------------------------------------------------ the loop
    # Pipelining (depth 2, commit.py): while batch N commits on one connection, batch N+1 is read and
    # matched and sent on the other. If N fails, N+1 writes nothing and both are replayed sequentially
    # from a rebuilt book (`_process`).
    async def _run(self) -> None:
        queue = self._queue
        inflight: Prepared | None = None
        prep: Prepared | None = None
        cmds: list = []
        try:
            while self.accepting:
                if not queue:
                    if inflight is not None:
                        await self._settle_or_replay(inflight, None)
                        inflight = None
                        continue
                    await queue.wait()
                    continue
                cmds = queue.take(self.batch_max)
                fresh = any(getattr(cmd, "fresh", False) for cmd in cmds)
                if inflight is not None and (self.dirty or fresh):
                    await self._settle_or_replay(inflight, None)
                    inflight = None
                if self.dirty or fresh:
                    await self._guarded_process(cmds)   # sequential: rebuild, fresh reads, retries
                    continue
                try:
                    prep = await self._prepare(cmds, self._conn_for_next(), pipelined=inflight is not None,
                                               previous=inflight)
                except Exception as exc:  # read failed or a bug: let the sequential path sort it out
                    if inflight is not None:
                        await self._settle_or_replay(inflight, None)
                        inflight = None
                    self.dirty = True
                    log.warning("pipelined prepare failed; replaying sequentially",
                                extra={"market": self.spec.symbol, "reason": repr(exc)})
                    queue.put_front(cmds)
                    continue
                if inflight is not None:
                    if not await self._settle_or_replay(inflight, prep):
                        inflight = None
                        continue
                inflight = prep
        except BaseException:
            # cancelled or crashed in the middle of a batch, a settlement or a replay: whatever is still
            # unanswered may have committed (answered commands are skipped). A settlement already
            # started is never run again (a replay may have reused its update id); a batch in flight
            # whose settlement has not started is settled below.
            pending = inflight if inflight is not None and not inflight.settling else None
            keep = {id(c) for c in pending.cmds} if pending is not None else set()
            in_hand = [*(inflight.cmds if inflight else ()), *(prep.cmds if prep else ()), *cmds]
            self._fail([c for c in in_hand if id(c) not in keep], OutcomeUnknown())
            raise
        finally:
            if inflight is not None and not inflight.settling:
                # stopping: let the commit in flight finish, then acknowledge it truthfully (a batch
                # whose commit already finished still has clients waiting for their answers)
                try:
                    await self._settle_or_replay(inflight, None)
                except BaseException:
                    self._fail(inflight.cmds, OutcomeUnknown())
                    raise
        # stopping: what is still queued was never executed (stop() fails it with 503)

    async def _process(self, cmds: list) -> None:
        """The sequential path: prepare, commit, acknowledge; rebuild and replay on refusal."""
        attempts = 0
        while True:
            attempts += 1
            prep = None
            try:
                if self.dirty:
                    await self.rebuild()
                prep = await self._prepare(cmds, self._conn_for_next(), pipelined=False, previous=None)
                if prep.task is not None:
                    await self._await_commit(prep)
            except repo.RETRYABLE as exc:
                self.dirty = True
                self.stats["retries"] += 1
                log.warning("batch refused by the database; rebuilding and replaying",
                            extra={"market": self.spec.symbol, "reason": str(exc), "attempt": attempts})
                if attempts < MAX_ATTEMPTS:
                    continue
                self.stats["failed_batches"] += 1
                try:
                    await asyncio.wait_for(self.try_rebuild(), 2)
                except TimeoutError:
                    pass
                self._fail(cmds, ServiceUnavailable("The order could not be committed; it was not executed."))
                return
            except repo.NotOwner:
                log.error("engine fenced out: another replica owns the market", extra={"market": self.spec.symbol})
                self._fail(cmds, MarketUnavailable())
                self._fenced_out()
                return
            except DB_DOWN as exc:
                self.dirty = True
                self._drop_connections()
                if prep is not None and prep.task is not None:
                    # the commit was sent: "not executed" only if the fence row says so
                    replay = await self._resolve_lost([prep])
                    if not replay:   # acknowledged (it committed) or failed as unknown
                        return
                    if attempts < MAX_ATTEMPTS:   # it did not commit, and the database answers again
                        self.stats["retries"] += 1
                        continue
                self.stats["failed_batches"] += 1
                log.error("database unavailable; batch not committed", extra={"market": self.spec.symbol,
                                                                             "reason": repr(exc)})
                # rebuild first (briefly), so a client told "not executed" never sees it on the book
                try:
                    await asyncio.wait_for(self.try_rebuild(), 2)
                except TimeoutError:
                    pass
                self._fail(cmds, DatabaseOutage("The database is unavailable; the order was not executed."))
                return
            break
        if not prep.acked:
            self._acknowledge(prep, clean=True)

    async def _guarded_process(self, cmds: list) -> None:
        try:
            await self._process(cmds)
        except Exception as exc:  # a bug: fail this batch, rebuild, keep serving the market
            log.exception("engine batch failed", extra={"market": self.spec.symbol})
            self.dirty = True
            try:
                await asyncio.wait_for(self.try_rebuild(), 2)
            except Exception:
                pass
            self._fail(cmds, exc if isinstance(exc, AppError) else
                       ServiceUnavailable("The order could not be processed; it was not executed."))

