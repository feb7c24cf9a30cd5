"""The alert evaluator of one market, running on the replica that owns the market, beside its engine.

Off the sequencer's path: the registry's feed listener (AlertService.on_committed) calls `on_committed`
after each committed batch of this market (see marketdata/feed.py), which only appends the batch's trade list to a queue (O(1)) and wakes this
evaluator's own task. The task runs the trades through the pure `MarketWatch` (trigger books: a trade
costs O(log n) per alert it fires, not O(alerts)) and writes the firings (alerts/firing.py).

Never twice, never lost:
- start (restart, takeover): read the market's persisted cursor (the last trade id evaluated), rebuild
  the watch as of that trade (its price, the candles closed before it, the active alerts), then catch
  up from trade.trade in id order before taking the live queue (duplicates skipped by id). Firings are
  conditional on the alert's last firing, so replaying what an earlier owner already did writes nothing.
- a gap between the last trade evaluated and the next queued one (a batch committed while nobody
  listened), or a queue that overflowed (the database was down for long), is read back from trade.trade.
- firings and the cursor commit together; if the database refuses, the same firings are retried
  (with backoff) before anything else is evaluated.

Alerts created or deleted anywhere reach the owner through PostgreSQL NOTIFY (alerts/service.py
dispatches them here), milliseconds after they were created: a new alert is first evaluated against
the trades committed since its creation that were already evaluated (MarketWatch.add backfills it,
from memory or from trade.trade), then watched, then marked adopted. Candles close on the next trade of a later bucket, or on a timer `grace_ms` after
their end when no trade comes.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ..common.markets import MarketSpec
from . import firing
from . import repository as repo
from .domain.conditions import Condition
from .domain.watch import Firing, MarketWatch, WatchedAlert

log = logging.getLogger("mycrypto.alerts.evaluator")

MAX_QUEUED = 200_000        # trades waiting in memory; beyond that they are read back from the database
CHUNK = 500                 # trades evaluated per slice: then the loop yields to the sequencers and
                            # HTTP handlers on the same event loop (a slice costs ~1-10 ms)
CATCH_UP_PAGE = CHUNK       # trades per catch-up query
CURSOR_EVERY_S = 1.0        # the cursor is saved at least this often while trades flow
IDLE_CHECK_S = 1.0          # wake at least this often (timer closes, ownership checks)
IDLE_BATCHING_S = 0.05      # without alerts, committed batches are taken at most this often
RETRY_MAX_S = 10.0


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class MarketEvaluator:
    def __init__(self, spec: MarketSpec, db: Any, settings: Any, *, is_current: Callable[[], bool],
                 on_fired: Callable[[], None] | None = None, grace_ms: int = 2000) -> None:
        self.spec = spec
        self.db = db
        self.settings = settings
        self.is_current = is_current
        self.on_fired = on_fired
        self.watch = MarketWatch(spec.tick_size, grace_ms)
        self.started = False
        self.fired = 0                       # firings written by this evaluator (tests, status)
        self.settled = 0                     # trades evaluated up to here AND their firings written
        self._batches: deque[list[tuple]] = deque()
        self._queued = 0
        self._overflow = False
        self._commands: deque[tuple[str, int]] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._stopping = False
        self._saved_position = -1
        self._saved_at = 0.0

    # ------------------------------------------------------------------ the engine's side (no await)
    def on_committed(self, trades: list[tuple], update_id: int, ms: int) -> None:
        """Feed listener: hand the committed batch's trades over (engine tuples; read later)."""
        if not trades:
            return
        if self._queued >= MAX_QUEUED:
            if not self._overflow:
                log.warning("alert evaluator queue full; will read the trades back from the database",
                            extra={"market": self.spec.symbol})
            self._overflow = True     # dropped: the catch-up reads them from trade.trade
            self._batches.clear()
            self._queued = 0
        else:
            self._batches.append(trades)
            self._queued += len(trades)
        self._wake.set()

    def command(self, op: str, alert_id: int = 0) -> None:
        """'c' an alert was created, 'd' deleted, 'resync' reload every active alert."""
        self._commands.append((op, alert_id))
        self._wake.set()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"alerts-{self.spec.symbol}")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 15)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
            except Exception:
                log.exception("alert evaluator ended with an error", extra={"market": self.spec.symbol})

    @property
    def done(self) -> bool:
        return self._task is not None and self._task.done()

    async def _run(self) -> None:
        delay = 0.2
        while not self._stopping:
            try:
                if not self.started:
                    await self._start()
                    self.started = True
                await self._loop()
                break
            except asyncio.CancelledError:
                raise
            except Exception:
                # database trouble (or a bug): keep the queue, retry; the cursor bounds what is redone
                log.exception("alert evaluator failed; retrying", extra={"market": self.spec.symbol})
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
        if self.started:
            try:   # finish what was handed over before stopping (a new owner would redo it otherwise)
                await self._drain()
                await self._save_cursor(force=True)
            except Exception:
                log.warning("alert evaluator could not finish its queue", exc_info=True,
                            extra={"market": self.spec.symbol})

    # ------------------------------------------------------------------ start and catch-up
    async def _start(self) -> None:
        self.watch = MarketWatch(self.spec.tick_size, self.watch.grace_ms)
        async with self.db.acquire() as conn:
            position = await repo.cursor(conn, self.spec.id)
            if position is None:   # no alert was ever created here: nothing before now matters
                position = await repo.max_trade_id(conn, self.spec.id)
            last = await repo.trade_at(conn, self.spec.id, position)
            self.watch.start(position, self._trade_tuple(last) if last is not None else None)
        self._saved_position = position
        await self._load(None)
        log.info("alert evaluator started", extra={"market": self.spec.symbol, "cursor": position,
                                                   "alerts": len(self.watch.alerts)})
        await self._catch_up(None)
        self.settled = self.watch.position

    def _trade_tuple(self, row: Any) -> tuple[int, int, int]:
        return row["id"], int(row["price"] / self.spec.tick_size), row["ms"]

    async def _catch_up(self, until: int | None) -> None:
        """Evaluate the committed trades after the position (up to `until`) read from trade.trade."""
        while until is None or self.watch.position < until:
            async with self.db.acquire() as conn:
                rows = await repo.trades_after(conn, self.spec.id, self.watch.position, CATCH_UP_PAGE)
            if until is not None:
                rows = [r for r in rows if r["id"] <= until]
            if not rows:
                return
            firings: list[Firing] = []
            for r in rows:
                firings.extend(self.watch.trade(*self._trade_tuple(r)))
            await self._write(firings)
            await asyncio.sleep(0)

    async def _load(self, alert_id: int | None, *, resync: bool = False) -> None:
        """(Re)load the market's active alerts (or one): new ones join the watch - backfilled against the
        trades already evaluated since they were created, the firings written - and are then adopted."""
        async with self.db.acquire() as conn:
            rows = await repo.active_alerts(conn, self.spec.id, alert_id)
            if resync:
                active = {r["id"] for r in rows}
                for gone in [a for a in self.watch.alerts if a not in active]:
                    self.watch.remove(gone)
            firings: list[Firing] = []
            added: list[int] = []
            for row in rows:
                if row["id"] in self.watch.alerts:
                    continue
                firings.extend(await self._add(conn, row))
                if not row["adopted"]:
                    added.append(row["id"])
        await self._write(firings)
        if added:
            async with self.db.acquire() as conn:
                await repo.adopt(conn, added)

    async def _add(self, conn: Any, row: dict) -> list[Firing]:
        """Watch one alert row (loading the candle history and past trades it needs); its backfill."""
        condition = Condition.from_row(row["condition"], row["direction"], row["level"], row["params"])
        alert = WatchedAlert(row["id"], condition, row["repeating"], row["cooldown_s"], row["since_trade_id"],
                             row["last_fired_seq"], row["last_fired_ms"], row["adopted"])
        back_to_ms = None
        if self.watch.backfills(alert):
            back_to_ms = self.watch.recent_ms(alert.since_trade_id)
            if back_to_ms is None:
                ref = await repo.trade_at(conn, self.spec.id, alert.since_trade_id)
                back_to_ms = ref["ms"] if ref is not None else None
        need = self.watch.needs_history(condition, back_to_ms)
        if need is not None:
            interval, count = need
            boundary = self.watch.history_boundary(interval)
            rows = [] if boundary is None else await repo.closed_candles(
                conn, self.spec.id, interval, boundary, self.watch.position, count)
            self.watch.load_history(interval, rows, count)
        trades = None
        if self.watch.needs_trades(alert):
            trades = await self._trades_since(conn, alert.since_trade_id)
        return self.watch.add(alert, trades)

    async def _trades_since(self, conn: Any, since: int) -> list[tuple[int, int, int]]:
        """The trade at or before `since` and every trade after it up to the position (id, ticks, ms)."""
        out: list[tuple[int, int, int]] = []
        ref = await repo.trade_at(conn, self.spec.id, since)
        if ref is not None:
            out.append(self._trade_tuple(ref))
        after = since
        while after < self.watch.position:
            rows = await repo.trades_after(conn, self.spec.id, after, CATCH_UP_PAGE)
            rows = [r for r in rows if r["id"] <= self.watch.position]
            if not rows:
                break
            out.extend(self._trade_tuple(r) for r in rows)
            after = rows[-1]["id"]
        return out

    # ------------------------------------------------------------------ the live loop
    async def _loop(self) -> None:
        while not self._stopping:
            if self._commands:
                await self._apply_commands()
            if self._overflow:
                self._overflow = False
                await self._catch_up(None)
                continue
            if self._batches:
                await self._evaluate_queued()
                if not self.watch.alerts:
                    # nothing to fire: only the position moves; take the batches in bigger groups
                    # rather than waking for every one of them
                    await asyncio.sleep(IDLE_BATCHING_S)
                continue
            if not self.is_current():
                log.info("alert evaluator stops: the engine is gone", extra={"market": self.spec.symbol})
                return
            await self._save_cursor()
            due = self.watch.next_due_ms()
            now = _now_ms()
            if due is not None and now >= due:
                await self._write(self.watch.close_due(now))
                continue
            timeout = IDLE_CHECK_S if due is None else min(IDLE_CHECK_S, (due - now) / 1000)
            self._wake.clear()
            if self._batches or self._commands or self._overflow or self._stopping:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), max(timeout, 0.001))
            except TimeoutError:
                pass

    async def _evaluate_queued(self) -> None:
        trades: list[tuple] = []
        while self._batches and len(trades) < CHUNK:
            batch = self._batches.popleft()
            self._queued -= len(batch)
            trades.extend(batch)
        watch = self.watch
        firings: list[Firing] = []
        for t in trades:
            if t[0] > watch.position + 1:
                # a gap: trades committed while nobody handed them over (read them back first)
                await self._write(firings)
                firings = []
                await self._catch_up(t[0] - 1)
            firings.extend(watch.trade(t[0], t[4], t[11]))
        await self._write(firings)
        await self._save_cursor()
        await asyncio.sleep(0)   # (a slice done: let the engine and requests run)

    async def _drain(self) -> None:
        while self._batches:
            await self._evaluate_queued()

    async def _write(self, firings: list[Firing]) -> None:
        """Persist firings with the cursor, retrying until the database takes them (evaluation waits)."""
        if not firings:
            self.settled = self.watch.position
            return
        delay = 0.2
        while True:
            try:
                n = await firing.record(self.db, self.settings, self.spec, firings, self.watch.position)
                break
            except Exception:
                if self._stopping and delay > RETRY_MAX_S / 2:
                    raise
                log.warning("could not record alert firings; retrying", exc_info=True,
                            extra={"market": self.spec.symbol, "firings": len(firings)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
        self._saved_position, self._saved_at = self.watch.position, time.monotonic()
        self.settled = self.watch.position
        self.fired += n
        if n and self.on_fired is not None:
            self.on_fired()

    async def _save_cursor(self, force: bool = False) -> None:
        position = self.watch.position
        if position == self._saved_position:
            return
        if not force and time.monotonic() - self._saved_at < CURSOR_EVERY_S:
            return
        async with self.db.acquire() as conn:
            await repo.save_cursor(conn, self.spec.id, position)
        self._saved_position, self._saved_at = position, time.monotonic()

    # ------------------------------------------------------------------ alert changes
    async def _apply_commands(self) -> None:
        while self._commands:
            op, alert_id = self._commands[0]
            if op == "d":
                self.watch.remove(alert_id)
            elif op == "c":
                await self._load(alert_id)
            else:
                await self._load(None, resync=True)
            self._commands.popleft()   # (only once done: a failure retries it)

    # ------------------------------------------------------------------ status
    def status(self) -> dict[str, Any]:
        return {"position": self.watch.position, "alerts": len(self.watch.alerts), "queued": self._queued,
                "series": len(self.watch.books), "fired": self.fired}

