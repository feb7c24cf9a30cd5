"""Which markets this process owns, and the engines it runs for them (one owner per market).

Ownership is a PostgreSQL advisory lock per market, `pg_try_advisory_lock(7415, market_id)`, held on
a dedicated connection that stays open for the life of the process: if the process dies or the
connection drops, PostgreSQL frees the lock and another replica's poll takes the market over. On
acquiring a market we bump its fencing epoch in `trade.market_engine` (and advertise our URL there),
rebuild the book from the open orders in id order, and start its sequencer. Every batch commit
checks the epoch (see repository.commit_batch), so a replica that lost its lock without noticing
cannot commit again once a successor has claimed the market.

Replicas that do not own a market keep polling (TRADE_OWNER_POLL_SECONDS) to take it over, follow
halts/resumes made elsewhere, and learn the owner's URL so the API layer can forward order commands.
`Settings.trade_markets` limits the markets a replica may own ([] = all); `trade_engines=false` makes
a replica own none (API only).
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from typing import Any

import asyncpg

from ..common.markets import MarketConfigError, MarketSpec
from ..config import Settings
from ..db.database import DB_DOWN, Database
from ..wallet.ledger import ensure_user_accounts, system_accounts
from . import repository as repo
from .engine import MarketEngine

log = logging.getLogger("mycrypto.trading.registry")


class AccountCache:
    """user id -> {asset: account id}; accounts are never deleted, so entries never go stale."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self._accounts: dict[int, dict[str, int]] = {}

    async def pair(self, user_id: int, spec: MarketSpec) -> tuple[int, int]:
        """(base account, quote account) of the user in this market, creating them if missing."""
        mine = self._accounts.get(user_id)
        if mine is not None:
            base, quote = mine.get(spec.base), mine.get(spec.quote)
            if base is not None and quote is not None:
                return base, quote
        async with self.db.acquire() as conn:
            found = await ensure_user_accounts(conn, user_id, [spec.base, spec.quote])
        if len(self._accounts) > 200_000:   # bound memory; a refill is one query per user
            self._accounts.clear()
        self._accounts.setdefault(user_id, {}).update(found)
        return found[spec.base], found[spec.quote]


class EngineRegistry:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.instance = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"
        self.url = (settings.trade_advertise_url or settings.base_url).rstrip("/")
        self.poll_s = settings.trade_owner_poll_s
        self.enabled = settings.trade_engines
        self.specs: dict[int, MarketSpec] = {}
        self.by_symbol: dict[str, MarketSpec] = {}
        self.invalid: dict[str, str] = {}       # symbol -> why this process refuses to run it
        self.engines: dict[int, MarketEngine] = {}
        self.fee_accounts: dict[str, int] = {}
        self.accounts = AccountCache(db)
        self._owners: dict[int, tuple[str, str, float]] = {}
        self._owners_read_at = -1e9
        self._owners_lock = asyncio.Lock()
        self._lock_conn: asyncpg.Connection | None = None
        self._task: asyncio.Task | None = None
        self._tick_lock = asyncio.Lock()
        self._closing = False
        # called with each engine this process starts owning, once it runs (e.g. the alert evaluator
        # starts beside it); a hook must not block
        self.engine_hooks: list[Callable[[MarketEngine], None]] = []
        # called with every batch any owned engine commits, and with a reset after each rebuild
        # (marketdata.events.CommittedBatch; alerts, streams). One list shared by every engine's feed:
        # a listener must only hand the event over, never block or await (see marketdata/feed.py)
        self.feed_listeners: list[Callable[[Any], None]] = []

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        await self.load_markets()
        async with self.db.acquire() as conn:
            system = await system_accounts(conn)
        self.fee_accounts = {asset: acc for (kind, asset), acc in system.items() if kind == "fees"}
        if self.enabled:
            try:
                await self.tick()
            except DB_DOWN:
                log.warning("could not take markets at start-up; will keep trying", exc_info=True)
        self._task = asyncio.create_task(self._poll_loop(), name="trade-ownership")

    async def stop(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        async with self._tick_lock:
            engines = list(self.engines.values())
            for engine in engines:
                await engine.stop()
            if engines:
                try:
                    async with self.db.acquire() as conn:
                        await repo.release_claim(conn, self.instance, [e.spec.id for e in engines])
                except Exception:  # shutting down; the lock release below is what counts
                    log.warning("could not mark market claims stale", exc_info=True)
            self.engines.clear()
            await self._close_lock_conn()

    async def _close_lock_conn(self) -> None:
        conn, self._lock_conn = self._lock_conn, None
        if conn is not None:
            try:
                await asyncio.wait_for(conn.close(), 5)   # closing the session frees every advisory lock
            except Exception:
                conn.terminate()

    async def load_markets(self) -> None:
        async with self.db.acquire() as conn:
            rows = await repo.load_markets(conn)
        specs = {}
        for row in rows:
            try:
                spec = repo.spec_from_row(row)
            except MarketConfigError as exc:
                self.invalid[row["symbol"]] = str(exc)
                log.error("market refused: sizes are not exact", extra={"market": row["symbol"], "reason": str(exc)})
                continue
            specs[spec.id] = spec
        self.specs = specs
        self.by_symbol = {s.symbol: s for s in specs.values()}

    def wanted(self) -> list[MarketSpec]:
        allowed = set(self.settings.trade_markets or [])
        return [s for s in self.specs.values() if not allowed or s.symbol in allowed]

    # ------------------------------------------------------------------ polling
    async def _poll_loop(self) -> None:
        while not self._closing:
            await asyncio.sleep(self.poll_s)
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # keep polling whatever happened; the next tick retries
                log.warning("ownership poll failed", exc_info=True)

    async def tick(self) -> None:
        """Refresh statuses and owners, take free markets, heartbeat, repair dirty engines."""
        async with self._tick_lock:
            if self._closing:
                return
            async with self.db.acquire() as conn:
                statuses = await repo.market_statuses(conn)
                self._owners = await repo.owners(conn)
            for market_id, status in statuses.items():
                self._apply_status(market_id, status)
            if not self.enabled:
                return
            if not await self._lock_conn_alive():
                self._lose_all("the advisory-lock connection was lost")
                try:
                    self._lock_conn = await asyncpg.connect(
                        self.db.dsn, timeout=5, server_settings={"application_name": "mycrypto-trade-owner"})
                except Exception:
                    log.warning("cannot open the advisory-lock connection", exc_info=True)
                    return
            conn = self._lock_conn
            for spec in self.wanted():
                if spec.id in self.engines:
                    continue
                if await repo.try_lock_market(conn, spec.id):
                    await self._take(spec)
            if self.engines:
                await repo.heartbeat(conn, self.instance, list(self.engines))
            for engine in list(self.engines.values()):
                await engine.try_rebuild()

    async def _lock_conn_alive(self) -> bool:
        conn = self._lock_conn
        if conn is None or conn.is_closed():
            return False
        try:
            await conn.fetchval("SELECT 1", timeout=5)
            return True
        except Exception:
            conn.terminate()
            self._lock_conn = None
            return False

    async def _take(self, spec: MarketSpec) -> None:
        conn = self._lock_conn
        assert conn is not None
        try:
            epoch, _ = await repo.claim_market(conn, spec.id, self.instance, self.url)
            fee_acc = self.fee_accounts[spec.quote]
            engine = MarketEngine(spec, self.db, fee_account=fee_acc, epoch=epoch,
                                  batch_max=self.settings.trade_batch_max, on_lost=self._on_lost)
            engine.feed.listeners = self.feed_listeners   # before start: its first rebuild is a reset
            await engine.start()
        except Exception:
            log.exception("could not start the engine; releasing the market", extra={"market": spec.symbol})
            try:
                await repo.unlock_market(conn, spec.id)
            except Exception:
                pass
            return
        self.engines[spec.id] = engine
        for hook in self.engine_hooks:
            try:
                hook(engine)
            except Exception:  # a hook's bug must not cost the market its engine
                log.exception("engine hook failed", extra={"market": spec.symbol})
        log.info("market taken", extra={"market": spec.symbol, "epoch": epoch, "open_orders": len(engine.orders)})

    def _on_lost(self, market_id: int) -> None:
        engine = self.engines.pop(market_id, None)
        if engine is not None:
            asyncio.get_running_loop().create_task(self._drop(engine))

    async def _drop(self, engine: MarketEngine) -> None:
        await engine.stop()
        await self.refresh_owners(force=True)
        conn = self._lock_conn
        if conn is not None and not conn.is_closed():
            try:
                await repo.unlock_market(conn, engine.spec.id)
            except Exception:
                pass

    def _lose_all(self, why: str) -> None:
        if self.engines:
            log.error("lost market ownership", extra={"reason": why, "markets": [e.spec.symbol for e in self.engines.values()]})
        for market_id in list(self.engines):
            engine = self.engines.pop(market_id)
            engine.accepting = False
            asyncio.get_running_loop().create_task(engine.stop())

    def _apply_status(self, market_id: int, status: str) -> None:
        spec = self.specs.get(market_id)
        if spec is None or spec.status == status:
            return
        spec = spec.with_status(status)
        self.specs[market_id] = spec
        self.by_symbol[spec.symbol] = spec
        engine = self.engines.get(market_id)
        if engine is not None:
            engine.set_status(status)

    def set_status(self, market_id: int, status: str) -> None:
        """Apply a halt/resume committed by this process at once (others follow at their next poll)."""
        self._apply_status(market_id, status)

    # ------------------------------------------------------------------ lookups
    def spec(self, symbol: str) -> MarketSpec | None:
        return self.by_symbol.get(symbol)

    def engine(self, market_id: int) -> MarketEngine | None:
        engine = self.engines.get(market_id)
        return engine if engine is not None and engine.accepting else None

    def engine_with_open_order(self, order_id: int) -> MarketEngine | None:
        for engine in self.engines.values():
            if order_id in engine.orders or order_id in engine.conds.orders:
                return engine
        return None

    async def refresh_owners(self, force: bool = False) -> None:
        """Re-read the owner directory (at most once a second unless forced): after losing a market,
        or when a command finds no live owner, so forwarding does not wait for the next poll."""
        started = asyncio.get_running_loop().time()
        async with self._owners_lock:   # a caller arriving during a refresh waits for its result
            if not force and started - self._owners_read_at < 1.0:
                return
            try:
                async with self.db.acquire() as conn:
                    self._owners = await repo.owners(conn)
                self._owners_read_at = asyncio.get_running_loop().time()
            except DB_DOWN:
                pass

    def owner_url(self, market_id: int) -> str | None:
        """The URL of the live owner of a market we do not own (None if unknown or stale)."""
        owner = self._owners.get(market_id)
        if owner is None:
            return None
        instance, url, age = owner
        if instance == self.instance or age > 3 * self.poll_s + 2:
            return None
        return url

    def status(self) -> dict[str, Any]:
        return {"instance": self.instance, "url": self.url,
                "owned": {e.spec.symbol: {"epoch": e.epoch, "open_orders": len(e.orders), "update_id": e.update_id,
                                          "queued": len(e._queue), **e.stats,
                                          "seconds": {k: round(v, 3) for k, v in e.timings.items()}}
                          for e in self.engines.values()},
                "refused": self.invalid}
