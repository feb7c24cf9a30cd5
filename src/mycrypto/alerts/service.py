"""Alert use cases (create, list, get, delete, history) and the evaluators of the markets this replica owns.

Every read and write is scoped to `principal.user_id`: another user's alert is simply not found (404),
never revealed. Creating needs a verified email (alerts send email) and the `trade` permission for API
keys; reading needs `read`. Limits: ALERTS_MAX_PER_USER active alerts per user (counted under a lock
on the user's row, so concurrent creations cannot overshoot) and a token bucket on writes.

Evaluation (alerts/evaluator.py) runs only where the market's engine runs: the engine registry calls
`engine_started(engine)` for each market this process takes, and one evaluator subscribes to that
engine's feed. Alert changes made on any replica reach the evaluators through PostgreSQL
LISTEN/NOTIFY on one connection per process; when that connection is (re)established every
evaluator reloads its alerts, so a notification missed while it was down is made up for.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from ..auth.principal import Principal
from ..common.bounds import MAX_DB_ID
from ..common.errors import AppError
from ..common.markets import MAX_PRICE_TICKS, MarketSpec
from ..trading.errors import InvalidParameter, MarketNotFound, UnknownMarket
from . import repository as repo
from .domain.conditions import AlertRuleError, check_price_band, parse_condition, parse_options
from .errors import AlertLimitReached, AlertNotFound, InvalidAlert
from .evaluator import MarketEvaluator
from .schemas import alert_dict, event_dict

log = logging.getLogger("mycrypto.alerts.service")

MAX_PAGE = 200
STATUSES = ("active", "triggered")
WRITE_RATE, WRITE_BURST = 0.5, 30     # alert creations per second per user (sustained, burst)
LISTEN_CHECK_S = 5.0


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


def _cursor(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    if not value.isascii() or not value.isdigit() or not 0 < int(value) <= MAX_DB_ID:
        raise InvalidParameter("The cursor is not valid.", code="invalid_cursor")
    return int(value)


def _limit(limit: int) -> int:
    if not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise InvalidParameter(f"limit must be between 1 and {MAX_PAGE}.", code="invalid_limit")
    return limit


def _page(rows: list, limit: int, render: Callable[[Any], dict[str, Any]]) -> Page:
    """Rows fetched with limit + 1 (newest first, keyset on id) -> the page and the next cursor."""
    return Page([render(r) for r in rows[:limit]], str(rows[limit - 1]["id"]) if len(rows) > limit else None)


def _alert_id(alert_id: int) -> int:
    if not 0 < alert_id <= MAX_DB_ID:
        raise AlertNotFound()
    return alert_id


class AlertService:
    def __init__(self, db: Any, settings: Any, registry: Any, *, limiter: Any = None,
                 wake: Callable[[], None] | None = None) -> None:
        self.db = db
        self.settings = settings
        self.registry = registry
        self.limiter = limiter
        self.wake = wake
        self.max_per_user = settings.alerts_max_per_user
        self.evaluators: dict[int, MarketEvaluator] = {}
        self._listen_task: asyncio.Task | None = None
        self._listening = asyncio.Event()
        self._closing = False

    # ------------------------------------------------------------------ markets
    def _spec(self, symbol: Any, *, for_path: bool = False) -> MarketSpec:
        spec = self.registry.spec(symbol) if isinstance(symbol, str) else None
        if spec is None:
            raise (MarketNotFound if for_path else UnknownMarket)()
        return spec

    def _symbol(self, market_id: int) -> str:
        spec = self.registry.specs.get(market_id)
        return spec.symbol if spec is not None else str(market_id)

    # ------------------------------------------------------------------ use cases
    async def create(self, principal: Principal, data: dict[str, Any]) -> dict[str, Any]:
        """Create an alert (201). Refusals: 400 invalid_* / alert_price_out_of_range, 409 alert_limit_reached."""
        principal.require_verified()
        principal.require("trade")
        spec = self._spec(data.get("symbol"))
        try:
            condition = parse_condition(data.get("condition"))
            options = parse_options(data)
        except AlertRuleError as err:
            raise InvalidAlert.from_rule(err) from None
        if self.limiter is not None:
            await self.limiter.check(f"alerts:write:{principal.user_id}", rate=WRITE_RATE, burst=WRITE_BURST)
        async with self.db.unit_of_work() as uow:
            conn = uow.conn
            await repo.lock_user(conn, principal.user_id)
            if await repo.count_active(conn, principal.user_id) >= self.max_per_user:
                raise AlertLimitReached(details={"max_active_alerts": self.max_per_user})
            last_id, last_price = await repo.last_trade(conn, spec.id)
            try:
                check_price_band(condition, last_price, spec.price(MAX_PRICE_TICKS))
            except AlertRuleError as err:
                raise InvalidAlert.from_rule(err) from None
            row = await repo.insert_alert(
                conn, user_id=principal.user_id, market_id=spec.id, condition=condition.type,
                direction=condition.direction, level=condition.level, params=condition.params(),
                repeating=options.repeat, cooldown_s=options.cooldown_s, notify_email=options.email,
                note=options.note, since_trade_id=last_id)
            await repo.notify(conn, spec.id, row["id"], "c")
            await uow.commit()
        return alert_dict(spec.symbol, row)

    async def list(self, principal: Principal, *, symbol: str | None = None, status: str | None = None,
                   limit: int = 50, cursor: str | None = None) -> Page:
        """My alerts (not deleted), newest first; `status` active or triggered."""
        principal.require("read")
        market_id = self._spec(symbol).id if symbol is not None else None
        if status is not None and status not in STATUSES:
            raise InvalidParameter(f"status must be one of {', '.join(STATUSES)}.", code="invalid_status")
        limit = _limit(limit)
        async with self.db.acquire() as conn:
            rows = await repo.list_alerts(conn, principal.user_id, market_id=market_id, status=status,
                                          before_id=_cursor(cursor), limit=limit + 1)
        return _page(rows, limit, lambda r: alert_dict(self._symbol(r["market_id"]), r))

    async def get(self, principal: Principal, alert_id: int) -> dict[str, Any]:
        principal.require("read")
        async with self.db.acquire() as conn:
            row = await repo.get_alert(conn, principal.user_id, _alert_id(alert_id))
        if row is None:
            raise AlertNotFound()
        return alert_dict(self._symbol(row["market_id"]), row)

    async def delete(self, principal: Principal, alert_id: int) -> dict[str, Any]:
        """Delete (stop) one of my alerts; its history stays."""
        principal.require("trade")
        async with self.db.unit_of_work() as uow:
            row = await repo.delete_alert(uow.conn, principal.user_id, _alert_id(alert_id))
            if row is None:
                raise AlertNotFound()
            await repo.notify(uow.conn, row["market_id"], row["id"], "d")
            await uow.commit()
        return alert_dict(self._symbol(row["market_id"]), row)

    async def history(self, principal: Principal, *, alert_id: int | None = None, symbol: str | None = None,
                      limit: int = 50, cursor: str | None = None) -> Page:
        """My alerts' firings, newest first (also those of deleted alerts)."""
        principal.require("read")
        market_id = self._spec(symbol).id if symbol is not None else None
        if alert_id is not None:
            _alert_id(alert_id)
        limit = _limit(limit)
        async with self.db.acquire() as conn:
            rows = await repo.history(conn, principal.user_id, alert_id=alert_id, market_id=market_id,
                                      before_id=_cursor(cursor), limit=limit + 1)
        return _page(rows, limit, lambda r: event_dict(self._symbol(r["market_id"]), r))

    # ------------------------------------------------------------------ evaluation
    def engine_started(self, engine: Any) -> None:
        """Registry hook: this process now runs the market's engine; evaluate its alerts beside it."""
        market_id = engine.spec.id

        def is_current() -> bool:
            return self.registry.engines.get(market_id) is engine and engine.accepting and not self._closing

        evaluator = MarketEvaluator(engine.spec, self.db, self.settings, is_current=is_current, on_fired=self.wake)
        self.evaluators[market_id] = evaluator
        evaluator.start()

    def on_committed(self, event: Any) -> None:
        """Registry feed listener (marketdata.events.CommittedBatch): hand a market's committed trades
        to its evaluator (O(1), on the sequencer's path)."""
        if event.trades:
            evaluator = self.evaluators.get(event.spec.id)
            if evaluator is not None:
                evaluator.on_committed(event.trades, event.update_id, event.ms)

    async def start(self) -> None:
        """Listen for alert changes (before any evaluator loads its alerts, so none is missed)."""
        self._listen_task = asyncio.create_task(self._listen(), name="alerts-listen")
        try:
            await asyncio.wait_for(self._listening.wait(), 10)
        except TimeoutError:
            log.warning("not listening for alert changes yet; evaluators will resync once connected")

    async def stop(self) -> None:
        self._closing = True
        evaluators = list(self.evaluators.values())
        self.evaluators.clear()
        await asyncio.gather(*(e.stop() for e in evaluators), return_exceptions=True)
        if self._listen_task is not None:
            self._listen_task.cancel()
            try:
                await self._listen_task
            except (asyncio.CancelledError, Exception):
                pass

    def _on_notify(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        try:
            market, alert, op = payload.split(":")
            evaluator = self.evaluators.get(int(market))
        except ValueError:
            log.warning("malformed alert notification", extra={"payload": payload[:100]})
            return
        if evaluator is not None and not evaluator.done:
            evaluator.command(op, int(alert))

    async def _listen(self) -> None:
        delay = 0.5
        while not self._closing:
            conn = None
            try:
                conn = await asyncpg.connect(self.db.dsn, timeout=10,
                                             server_settings={"application_name": "mycrypto-alerts-listen"})
                await conn.add_listener(repo.NOTIFY_CHANNEL, self._on_notify)
                for evaluator in list(self.evaluators.values()):
                    evaluator.command("resync")   # whatever changed while nobody listened
                self._listening.set()
                delay = 0.5
                while not self._closing:
                    await asyncio.sleep(LISTEN_CHECK_S)
                    await conn.fetchval("SELECT 1", timeout=LISTEN_CHECK_S)   # a dead connection shows here
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._listening.clear()
                log.warning("alert change listener lost; reconnecting", extra={"reason": repr(exc)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            finally:
                if conn is not None and not conn.is_closed():
                    conn.terminate()

    def status(self) -> dict[str, Any]:
        return {self._symbol(mid): e.status() for mid, e in self.evaluators.items()}


__all__ = ["AlertService", "Page", "AppError"]
