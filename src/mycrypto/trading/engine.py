"""The sequencer of one market: a single asyncio task that owns the market's OrderBook and commits
its commands in groups (docs/adr/0004-trade-group-commit.md).

HTTP handlers validate a request, `submit` a command with a future and await it. The loop takes
everything queued (up to TRADE_BATCH_MAX) as one batch:

1. reads, in one query, the available balances of the accounts the batch's orders would hold (and,
   in one more, which of its client order ids already exist);
2. for each command, checks and places the hold against a running in-memory copy of those balances,
   runs the matching core and maps its events to settlements (`domain.settlement.Batch`);
3. writes the whole batch with ONE call that is its own transaction (`repository.commit_batch` ->
   trade.commit_batch: fence the epoch, apply the ledger - the same wallet.apply_changes every balance
   change goes through - insert/update orders, insert trades, upsert candles);
4. only then resolves the futures (acknowledged = committed) and publishes market data.

If the commit fails nothing was acknowledged. A refusal the data explains (a withdrawal raced the
optimistic balance read -> InsufficientFunds, a client order id used concurrently on another market
-> unique violation) rebuilds the book from the database's open orders and replays the batch once
more with fresh balances. If the commit's CONNECTION fails (the outcome unknown to us), the engine
bumps its own epoch - a late commit is then refused - and the update id that bump returns says what
committed (`_resolve_lost`): committed batches are acknowledged as they are, the rest replayed, and
when the database cannot be asked the clients get 503 order_outcome_unknown - never "not executed" on
a guess, and never a second execution. A database outage before the commit was sent
fails the batch's commands with 503 and rebuilds before the next batch. A lost epoch fence (another
replica took over) stops this engine.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from ..common.errors import AppError, ServiceUnavailable
from ..common.markets import MarketSpec
from ..db.database import DatabaseUnavailable
from ..marketdata.candles import batch_candles
from ..marketdata.feed import CAPTURED_PER_BATCH, MarketFeed
from ..wallet.errors import InsufficientFunds
from ..wallet.ledger import ledger_arguments
from . import repository as repo
from .domain.matching import BUY, EV_DONE, EXPIRED, IOC, D_IOC, D_MARKET, D_NO_LIQUIDITY, OrderBook
from .domain.rules import LIMIT, OrderIntent, OrderRuleError, check_notional
from .domain.settlement import Batch, InsufficientHold, OrderState, SettlementError, initial_hold, worst_price
from .errors import (EngineOverloaded, InvalidAmend, InvalidOrder, MarketHalted, MarketUnavailable, OrderNotFound,
                     OrderNotOpen, OutcomeUnknown, PostOnlyWouldTake)
from .results import OrderResult, result_from_state

log = logging.getLogger("mycrypto.trading.engine")

DB_DOWN = (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError,
           asyncpg.TooManyConnectionsError, asyncpg.AdminShutdownError, DatabaseUnavailable, TimeoutError)
RETRYABLE = (InsufficientFunds, asyncpg.UniqueViolationError, asyncpg.DeadlockDetectedError,
             asyncpg.SerializationError)
MAX_ATTEMPTS = 3
MAX_RESENDS = 5   # a batch that lost the race to the sequence fence is sent again at most this often
ID_BLOCK = 1000
MAX_QUEUE = 20_000
RECENT_TRADES_LOAD = 1000
FENCE_QUERY_TIMEOUT = 5.0   # seconds to ask whether a batch whose connection failed committed


# ---------------------------------------------------------------------------- commands
@dataclass(slots=True)
class Place:
    user_id: int
    intent: OrderIntent
    base_acc: int
    quote_acc: int
    future: asyncio.Future = field(default=None)  # type: ignore[assignment]
    fresh: bool = False   # requeued after a projected balance looked short: decide on fresh reads


@dataclass(slots=True)
class Cancel:
    user_id: int
    order_id: int
    future: asyncio.Future = field(default=None)  # type: ignore[assignment]


@dataclass(slots=True)
class CancelAll:
    user_id: int
    future: asyncio.Future = field(default=None)  # type: ignore[assignment]


@dataclass(slots=True)
class Amend:
    user_id: int
    order_id: int
    new_qty_lots: int
    future: asyncio.Future = field(default=None)  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Duplicate:
    """The client order id already names order `order_id` of this user (the service loads it)."""

    order_id: int


@dataclass(frozen=True, slots=True)
class _SameAs:
    index: int


def _succeeded(task: asyncio.Future | None) -> bool:
    """The commit task finished and its commit returned (so it committed)."""
    return task is not None and task.done() and not task.cancelled() and task.exception() is None


_REQUEUE = object()   # outcome: short of funds on a projected balance; retried after the batch in flight


@dataclass(slots=True)
class Prepared:
    """A matched batch: its commands and outcomes, its commit in flight (None: nothing to write)."""

    cmds: list
    outcomes: list
    batch: Batch | None
    update_id: int
    ms: int
    task: asyncio.Task | None
    args: tuple | None               # the encoded commit (kept to resend after a fence race)
    slot: int                        # which of the engine's two connections it commits on
    levels: tuple | None             # depth captured right after this batch (published at its commit)
    coids: dict[tuple[int, str], int]  # client order ids this batch places -> order id
    acked: bool = False              # acknowledged already (by its commit task, see _execute)
    sent: bool = False               # its commit reached a connection (it may have landed)
    settling: bool = False           # its settlement has started (_settle_or_replay)


class MarketEngine:
    """Owns one market's book while this process holds the market (see trading.registry)."""

    def __init__(self, spec: MarketSpec, db: Any, *, fee_account: int, epoch: int, batch_max: int = 500,
                 on_lost: Callable[[int], None] | None = None) -> None:
        self.spec = spec
        self.db = db
        self.fee_account = fee_account
        self.epoch = epoch
        self.batch_max = batch_max
        self.on_lost = on_lost
        self.book = OrderBook()
        self.orders: dict[int, OrderState] = {}
        self.update_id = 0
        self.feed = MarketFeed(spec)
        self.dirty = True             # the book must be rebuilt from the database before the next batch
        self.accepting = False
        self.stats = {"batches": 0, "commands": 0, "retries": 0, "failed_batches": 0, "resends": 0}
        # seconds per phase: reads, matching+encoding, write (send to commit, including the wait for
        # the previous pipelined batch)
        self.timings = {"read": 0.0, "match": 0.0, "write": 0.0}
        self._queue: deque = deque()
        self._wake = asyncio.Event()
        self._ids: deque[int] = deque()
        self._task: asyncio.Task | None = None
        # The sequencer's own two connections (batches alternate between them so one can commit while
        # the next is read and sent), without the pool's acquire/reset round trips; re-opened after a failure.
        self._conns: list[asyncpg.Connection | None] = [None, None]
        self._slot = 0
        self._prepared_update_id = 0   # update id of the last batch sent (committed or in flight)
        # a commit whose connection was lost may still land: the epoch must be bumped (refencing it
        # out) before the database's state is read again
        self._unfenced = False
        # rebuilds (the sequencer's and the registry's) and refences run one at a time
        self._state_lock = asyncio.Lock()

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
        self._fail_queued(MarketUnavailable())
        if self.on_lost is not None and not stopping:
            self.on_lost(self.spec.id)

    async def stop(self) -> None:
        """Stop accepting, finish the batch in flight, fail what is still queued (503, not committed)."""
        self.accepting = False
        self._wake.set()
        if self._task is not None:
            task, self._task = self._task, None
            try:
                await asyncio.wait_for(task, 30)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
            except Exception:
                pass   # crashed: logged by _sequencer_ended
        self._fail_queued(MarketUnavailable("The market engine is shutting down; retry shortly."))
        conns, self._conns = self._conns, [None, None]
        for conn in conns:
            if conn is not None and not conn.is_closed():
                try:
                    await asyncio.wait_for(conn.close(), 5)
                except Exception:
                    conn.terminate()

    async def _connection(self, slot: int) -> asyncpg.Connection:
        conn = self._conns[slot]
        if conn is None or conn.is_closed():
            db = self.db
            # enable_seqscan off: every statement of the sequencer names rows by key, and a plan cached
            # while a table was small must not stay a full scan as it grows (migration 015)
            settings = {"application_name": "mycrypto-trade-engine", "enable_seqscan": "off"}
            if getattr(db, "statement_timeout_ms", None):
                settings["statement_timeout"] = str(db.statement_timeout_ms)
            conn = self._conns[slot] = await asyncpg.connect(db.dsn, timeout=10, server_settings=settings)
        return conn

    def _drop_connections(self) -> None:
        conns, self._conns = self._conns, [None, None]
        for conn in conns:
            if conn is not None and not conn.is_closed():
                conn.terminate()

    def set_status(self, status: str) -> None:
        if status != self.spec.status:
            self.spec = self.spec.with_status(status)
            self.feed.spec = self.spec

    def submit(self, cmd: Any) -> asyncio.Future:
        if not self.accepting:
            raise MarketUnavailable("The market engine is not running here; retry shortly.")
        if len(self._queue) >= MAX_QUEUE:
            raise EngineOverloaded()
        fut = asyncio.get_running_loop().create_future()
        cmd.future = fut
        self._queue.append(cmd)
        self._wake.set()
        return fut

    def snapshot(self) -> list:
        """The book's canonical snapshot (for restart/takeover comparisons)."""
        return self.book.snapshot()

    # ------------------------------------------------------------------ rebuild
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
        book = OrderBook(next_trade_id)
        orders = {}
        for o in states:
            book.restore(o.id, o.user_id, o.side, o.price, o.remaining)
            orders[o.id] = o
        self.book, self.orders = book, orders
        self.update_id = max(self.update_id, update_id)
        self._prepared_update_id = self.update_id
        self.dirty = False
        self.feed.book = book
        self.feed.update_id = self.update_id
        self.feed._invalidate(trades=False)
        self.feed.set_clean(True)

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
        from ..marketdata import repository as mdrepo

        async with self.db.acquire() as conn:
            recent = await mdrepo.recent_trade_tuples(conn, self.spec, RECENT_TRADES_LOAD)
            minutes = await mdrepo.minute_rows_24h(conn, self.spec)
        self.feed.reset(self.book, self.update_id, recent, minutes)

    # ------------------------------------------------------------------ the loop
    # Pipelining (depth 2): while batch N commits on one connection, batch N+1 is read and matched and
    # sent on the other. The database commits N+1 only right after N (trade.commit_batch's sequence
    # fence), so acknowledgements stay "after the commit that contains the order". If N fails, N+1
    # writes nothing and both are replayed sequentially from a rebuilt book (`_process`).
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
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                n = min(len(queue), self.batch_max)
                cmds = [queue.popleft() for _ in range(n)]
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
                    self._requeue_front(cmds)
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

    def _conn_for_next(self) -> int:
        self._slot ^= 1
        return self._slot

    def _requeue_front(self, cmds: list) -> None:
        for cmd in reversed(cmds):
            self._queue.appendleft(cmd)

    async def _settle_or_replay(self, prep: Prepared, successor: Prepared | None) -> bool:
        """Wait for `prep`'s commit. Success: publish and acknowledge (True). Failure: nothing of it or
        of `successor` (whose commit then writes nothing) was committed - replay both, in order, on the
        sequential path (False)."""
        prep.settling = True
        try:
            if prep.task is not None:
                await self._await_commit(prep)
        except Exception as exc:
            self.dirty = True
            self.stats["retries"] += 1
            batches = [prep]
            lost = isinstance(exc, DB_DOWN)   # its commit may have landed (and then its successor's)
            if successor is not None:
                if successor.task is not None:
                    try:
                        await successor.task
                    except DB_DOWN:   # the successor's commit may still land (on a fence a replay reuses)
                        lost = True
                    except Exception:  # SequenceGap (or the same refusal): nothing was written
                        pass
                batches.append(successor)
            if lost:
                cmds = await self._resolve_lost(batches)
            else:   # the database refused it: rolled back, and the successor wrote nothing
                cmds = [cmd for b in batches for cmd in b.cmds]
            log.warning("pipelined batch failed; replaying what did not commit", extra={"market": self.spec.symbol,
                                                                          "reason": repr(exc), "replayed": len(cmds)})
            if cmds:
                await self._guarded_process(cmds)
            return False
        if not prep.acked:
            self._acknowledge(prep, clean=successor is None)
        return True

    async def _await_commit(self, prep: Prepared) -> None:
        """Await a batch's commit. Two connections race to the database, so a successor can reach the
        sequence fence before its predecessor: it then writes nothing (SequenceGap) although the
        predecessor committed - send it again rather than replaying everything."""
        for _ in range(MAX_RESENDS):
            try:
                await prep.task
                return
            except repo.SequenceGap:
                if self.update_id != prep.update_id - 1:
                    raise   # the predecessor really did not commit
                self.stats["resends"] += 1
                prep.task = asyncio.create_task(self._execute(prep, time.perf_counter()))
        await prep.task

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

    async def _refence(self, conn: asyncpg.Connection) -> int | None:
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

    def _fail(self, cmds: list, exc: BaseException) -> None:
        for cmd in cmds:
            fut = cmd.future
            if fut is not None and not fut.done():
                fut.set_exception(exc)

    def _fail_queued(self, exc: BaseException) -> None:
        cmds = list(self._queue)
        self._queue.clear()
        self._fail(cmds, exc)

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
            except RETRYABLE as exc:
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
                self._fail(cmds, ServiceUnavailable("The database is unavailable; the order was not executed."))
                return
            break
        if not prep.acked:
            self._acknowledge(prep, clean=True)

    def _acknowledge(self, prep: Prepared, *, clean: bool) -> None:
        """The batch is committed: publish its market data, then resolve its futures."""
        prep.acked = True
        self.stats["batches"] += 1
        self.stats["commands"] += len(prep.cmds)
        if prep.batch is not None:
            self.update_id = prep.update_id
            self.feed.committed(prep.batch.trades, prep.update_id, prep.ms, self.book, prep.levels, clean=clean)
        elif clean:
            # every command was refused (or changed nothing): the book is as committed, so readers
            # waiting for a clean feed must not wait for the next batch (issue 6 fix)
            self.feed.set_clean(True)
        for cmd, outcome in zip(prep.cmds, prep.outcomes):
            fut = cmd.future
            if fut is None or fut.done():
                continue
            if isinstance(outcome, BaseException):
                fut.set_exception(outcome)
            else:
                fut.set_result(outcome)

    async def _execute(self, prep: Prepared, started: float) -> None:
        """Commit a prepared batch. When its predecessor is already acknowledged, acknowledge it right
        here: the sequencer would only notice this task's end one more pass of the event loop later,
        which under load is milliseconds of every client's latency. Otherwise the sequencer does it."""
        conn = await self._connection(prep.slot)
        prep.sent = True
        await repo.execute_batch(conn, self.spec, prep.args)
        self.timings["write"] += time.perf_counter() - started
        if self.update_id == prep.update_id - 1 and not prep.acked:
            # clean: no later batch has been matched into the book yet
            self._acknowledge(prep, clean=self._prepared_update_id == prep.update_id)

    async def _prepare(self, cmds: list, slot: int, *, pipelined: bool, previous: Prepared | None) -> Prepared:
        """Read, match and encode a batch, and start its commit (Prepared.task). With `pipelined`, the
        previous batch may still be committing: balances it touched come from its in-memory result, and
        a command that looks short of funds is requeued to run after it (never refused on a guess)."""
        spec = self.spec
        n_place = 0
        accs: dict[int, int] = {}
        pairs = []
        for cmd in cmds:
            if type(cmd) is Place:
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
        outcomes: list[Any] = []
        seen: dict[tuple[int, str], int] = {}   # (user, client order id) -> index of its first command
        for cmd in cmds:
            t = type(cmd)
            try:
                if t is Place:
                    coid = cmd.intent.client_order_id
                    if coid is not None:
                        key = (cmd.user_id, coid)
                        if key in existing:
                            outcomes.append(Duplicate(existing[key]))
                            continue
                        first = seen.get(key)
                        if first is not None:
                            outcomes.append(_SameAs(first))   # resolved to the first order's id below
                            continue
                        seen[key] = len(outcomes)
                    outcomes.append(self._place(cmd, batch, ms, defer_short=pipelined))
                elif t is Cancel:
                    outcomes.append(self._cancel(cmd, batch, ms))
                elif t is Amend:
                    outcomes.append(self._amend(cmd, batch, ms))
                elif t is CancelAll:
                    outcomes.append(self._cancel_all(cmd, batch, ms))
                else:
                    raise TypeError(f"unknown command {cmd!r}")
            except AppError as exc:
                outcomes.append(exc)
        # duplicates of an order placed earlier in this same batch
        for i, outcome in enumerate(outcomes):
            if type(outcome) is _SameAs:
                first = outcomes[outcome.index]
                outcomes[i] = (first if first is _REQUEUE else
                               Duplicate(first.order_id) if isinstance(first, OrderResult) else first)
        if _REQUEUE in outcomes:
            # short of funds on a projected balance: run again once the batch in flight has committed
            later = [cmd for cmd, o in zip(cmds, outcomes) if o is _REQUEUE]
            for cmd in later:
                cmd.fresh = True
            self._requeue_front(later)
            kept = [(cmd, o) for cmd, o in zip(cmds, outcomes) if o is not _REQUEUE]
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
        for o in batch.new_orders:
            o.is_new = False   # a later batch that changes it must UPDATE the row this batch inserts
        levels = self.book.depth(CAPTURED_PER_BATCH)   # published with this batch's commit
        t2 = time.perf_counter()
        timings["match"] += t2 - t1
        prep = Prepared(cmds, outcomes, batch, update_id, ms, None, args, slot, levels, coids)
        prep.task = asyncio.create_task(self._execute(prep, t2))
        return prep

    # ------------------------------------------------------------------ commands
    def _next_id(self) -> int:
        return self._ids.popleft()

    def _place(self, cmd: Place, batch: Batch, ms: int, defer_short: bool = False) -> Any:
        spec = self.spec
        if spec.halted:
            raise MarketHalted()
        it = cmd.intent
        book = self.book
        side = it.side
        limit_price = it.price_ticks
        if it.kind == LIMIT:
            if it.post_only:
                best = book.best_ask() if side == BUY else book.best_bid()
                if best is not None and (best <= limit_price if side == BUY else best >= limit_price):
                    raise PostOnlyWouldTake()
        elif it.qty_lots:
            # market by base quantity: the notional rule is checked against the best opposite price
            bids, asks = book.depth(1)
            top = asks if side == BUY else bids
            if top:
                try:
                    check_notional(spec, spec.cost_units(top[0][0], it.qty_lots))
                except OrderRuleError as err:
                    raise InvalidOrder.from_rule(err) from None
                if side == BUY:
                    limit_price = self._worst_ask(it.qty_lots)
        oid = self._next_id()
        order = OrderState(oid, cmd.user_id, side, it.kind, tif=it.tif, post_only=it.post_only, stp=it.stp,
                           price=it.price_ticks, qty=it.qty_lots, quote_qty=it.quote_units, base_acc=cmd.base_acc,
                           quote_acc=cmd.quote_acc, coid=it.client_order_id, created_ms=ms, limit_price=limit_price)
        hold = initial_hold(spec, side, limit_price, it.qty_lots, it.quote_units)
        try:
            batch.place_hold(order, hold, spec.quote if side == BUY else spec.base)
        except InsufficientHold as exc:
            self._ids.appendleft(oid)   # unused: keep ids dense-ish and in order
            if defer_short:
                return _REQUEUE
            raise InsufficientFunds(f"Insufficient {exc.asset} balance.", details={"asset": exc.asset}) from None
        batch.add_new(order)
        if it.kind == LIMIT:
            evs = book.limit(oid, cmd.user_id, side, it.price_ticks, it.qty_lots, it.tif, it.post_only, it.stp)
        elif it.quote_units:
            budget = it.quote_units // spec.quote_per_ticklot
            evs = (book.market(oid, cmd.user_id, BUY, quote_budget=budget, stp=it.stp) if budget
                   else [(EV_DONE, oid, EXPIRED, 0, D_NO_LIQUIDITY)])
        elif side == BUY:
            # executed as IOC at the deepest price needed: the hold above bounds its cost
            evs = (book.limit(oid, cmd.user_id, BUY, limit_price, it.qty_lots, IOC, False, it.stp) if limit_price
                   else [(EV_DONE, oid, EXPIRED, it.qty_lots, D_NO_LIQUIDITY)])
        else:
            evs = book.market(oid, cmd.user_id, side, qty=it.qty_lots, stp=it.stp)
        fills: list[tuple] = []
        batch.apply(evs, order, ms, fills)
        if order.kind != LIMIT and order.reason == D_IOC:
            order.reason = D_MARKET
        if order.status == "rejected":
            raise SettlementError(f"engine rejected validated order {oid}: {evs}")
        return result_from_state(spec, order, fills)

    def _worst_ask(self, qty_lots: int) -> int:
        n = 16
        while True:
            _, asks = self.book.depth(n)
            price, available = worst_price(asks, qty_lots)
            if available >= qty_lots or len(asks) < n:
                return price
            n *= 4

    def _owned(self, user_id: int, order_id: int) -> OrderState:
        order = self.orders.get(order_id)
        if order is None or order.user_id != user_id:
            raise OrderNotOpen() if order is None else OrderNotFound()
        return order

    def _cancel(self, cmd: Cancel, batch: Batch, ms: int) -> OrderResult:
        order = self._owned(cmd.user_id, cmd.order_id)
        batch.apply(self.book.cancel(order.id), None, ms)
        return result_from_state(self.spec, order)

    def _cancel_all(self, cmd: CancelAll, batch: Batch, ms: int) -> list[OrderResult]:
        evs = self.book.cancel_all(cmd.user_id)
        orders = [self.orders[ev[1]] for ev in evs]
        batch.apply(evs, None, ms)
        return [result_from_state(self.spec, o) for o in orders]

    def _amend(self, cmd: Amend, batch: Batch, ms: int) -> OrderResult:
        order = self._owned(cmd.user_id, cmd.order_id)
        new_rem = cmd.new_qty_lots - order.filled
        evs = self.book.amend(order.id, new_rem) if new_rem > 0 else []
        if not evs:
            raise InvalidAmend()
        batch.apply(evs, None, ms)
        return result_from_state(self.spec, order)
