"""Helpers shared by the wallet tests (all tiers): app/client fixtures, 2FA, simulator, CLI, books.

Users come from `tests.support.factories` (the auth flow is covered by the auth tests). 2FA is
switched on by writing the encrypted TOTP secret exactly as the auth service stores it, and codes
are generated with pyotp, so `auth.totp.check_second_factor` runs for real.
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pyotp
from asgi_lifespan import LifespanManager

from mycrypto.apps import create_app
from mycrypto.auth.totp import TOTP_PURPOSE
from mycrypto.common.crypto import encrypt
from mycrypto.ops.verify import verify_books
from tests.conftest import make_settings

MYCRYPTO = [sys.executable, "-m", "mycrypto.cli"]


def wallet_settings(db_dsn: str, **overrides: Any) -> Any:
    """Test settings with the background watcher off: tests drive it with `run_once()`."""
    values: dict[str, Any] = {"wallet_watch_interval_s": 0, "rate_limits_enabled": False}
    values.update(overrides)
    return make_settings(db_dsn, **values)


async def started_app(settings: Any, services: tuple[str, ...] = ("wallet",)
                      ) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """The wallet service app as `mycrypto serve wallet` runs it (other services' engines stay out)."""
    app = create_app(settings, services, access_log=False)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
            yield app, c


def parts(app: Any) -> Any:
    """The wired wallet components of a running app (wallet, withdrawals, chain, watcher, processor)."""
    return app.state.container.wallet


async def enable_2fa(db: Any, settings: Any, user_id: int) -> str:
    secret = pyotp.random_base32()
    enc = encrypt(settings.data_keys, TOTP_PURPOSE, secret)
    await db.execute("UPDATE auth.app_user SET totp_secret_enc = $2, totp_enabled_at = now(), totp_last_step = NULL "
                     "WHERE id = $1", user_id, enc)
    return secret


async def fresh_code(db: Any, user_id: int, secret: str) -> str:
    """A code that is not a replay: forget the last used step (two codes in one 30 s step otherwise clash)."""
    await db.execute("UPDATE auth.app_user SET totp_last_step = NULL WHERE id = $1", user_id)
    return pyotp.TOTP(secret).now()


async def balances(db: Any, user_id: int) -> dict[str, tuple[Decimal, Decimal]]:
    rows = await db.fetch("SELECT asset, available, locked FROM wallet.account WHERE kind = 'user' AND user_id = $1",
                          user_id)
    return {r["asset"]: (r["available"], r["locked"]) for r in rows}


async def ledger_state(db: Any) -> tuple[Any, ...]:
    """Everything money-related, to prove that a refused request changed nothing."""
    accounts = await db.fetch("SELECT id, available, locked FROM wallet.account ORDER BY id")
    counts = await db.fetchrow(
        "SELECT (SELECT count(*) FROM wallet.posting) p, (SELECT count(*) FROM wallet.posting_leg) l, "
        "(SELECT count(*) FROM wallet.withdrawal) w, (SELECT count(*) FROM wallet.deposit) d")
    return tuple(tuple(r) for r in accounts) + (tuple(counts),)


async def assert_books_ok(db: Any) -> None:
    async with db.acquire() as conn:
        report = await verify_books(conn)
    assert report.ok, report.render()


def run_cli(*args: str, dsn: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "AMQP_URL", "SMTP_URL")}
    full_env.update({"DATABASE_URL": dsn, "LOG_LEVEL": "WARNING", **env})
    return subprocess.run(MYCRYPTO + list(args), capture_output=True, text=True, env=full_env, timeout=timeout)


# ---------------------------------------------------------------------------------------- order-like holds
# The trade engine holds funds for open orders; verify checks `locked` against trade.spot_order. These
# helpers do what it does (order row + hold, or settlement posting + order update, in one transaction),
# so wallet tests can mix order holds with withdrawals without depending on the engine.
_MARKET_FOR_HOLD = {"BTC": ("BTC-USDT", "sell"), "USDT": ("BTC-USDT", "buy"), "ETH": ("ETH-USDT", "sell")}


async def place_order_hold(db: Any, user_id: int, asset: str, amount: Decimal) -> int:
    from mycrypto.wallet.domain.ledger import Hold
    from mycrypto.wallet.ledger import apply_changes, ensure_user_accounts

    symbol, side = _MARKET_FOR_HOLD[asset]
    async with db.unit_of_work() as uow:
        accounts = await ensure_user_accounts(uow.conn, user_id, [asset])
        await apply_changes(uow.conn, holds=[Hold(accounts[asset], amount)])
        order_id = await uow.conn.fetchval(
            "INSERT INTO trade.spot_order (user_id, market_id, side, type, price, quantity, hold_asset, hold_amount, "
            "hold_remaining) SELECT $1, id, $2::trade.order_side, 'limit', 1, 1, $3, $4, $4 FROM trade.market "
            "WHERE symbol = $5 RETURNING id", user_id, side, asset, amount, symbol)
        await uow.commit()
    return order_id


async def cancel_order_hold(db: Any, order_id: int) -> None:
    from mycrypto.wallet.domain.ledger import Hold
    from mycrypto.wallet.ledger import apply_changes, ensure_user_accounts

    async with db.unit_of_work() as uow:
        row = await uow.conn.fetchrow("SELECT user_id, hold_asset, hold_remaining FROM trade.spot_order "
                                      "WHERE id = $1 AND status IN ('new', 'partially_filled') FOR UPDATE", order_id)
        if row is None:
            return
        accounts = await ensure_user_accounts(uow.conn, row["user_id"], [row["hold_asset"]])
        if row["hold_remaining"]:
            await apply_changes(uow.conn, holds=[Hold(accounts[row["hold_asset"]], -row["hold_remaining"])])
        await uow.conn.execute("UPDATE trade.spot_order SET status = 'canceled', hold_remaining = 0 WHERE id = $1",
                               order_id)
        await uow.commit()


async def settle_trade(db: Any, *, buyer: int, seller: int, qty: Decimal, price: Decimal, buyer_fee: Decimal,
                       seller_fee: Decimal, symbol: str = "BTC-USDT", trade_id: int | None = None) -> int:
    """A filled trade as the engine records it: both orders' holds consumed, fees in the quote asset,
    one posting (kind 'trade', ref 'trade:<market_id>:<trade_id>') and the trade row. Returns the posting id."""
    from mycrypto.wallet.domain.ledger import LOCKED, Leg, Posting
    from mycrypto.wallet.ledger import apply_changes, ensure_user_accounts, system_accounts

    base, quote = symbol.split("-")
    cost = qty * price
    buy_order = await place_order_hold(db, buyer, quote, cost + buyer_fee)
    sell_order = await place_order_hold(db, seller, base, qty)
    async with db.unit_of_work() as uow:
        c = uow.conn
        market_id = await c.fetchval("SELECT id FROM trade.market WHERE symbol = $1", symbol)
        tid = trade_id or await c.fetchval("SELECT coalesce(max(id), 0) + 1 FROM trade.trade WHERE market_id = $1",
                                           market_id)
        b = await ensure_user_accounts(c, buyer, [base, quote])
        s = await ensure_user_accounts(c, seller, [base, quote])
        fees = (await system_accounts(c))[("fees", quote)]
        legs = [Leg(b[quote], quote, -(cost + buyer_fee), LOCKED), Leg(s[quote], quote, cost - seller_fee),
                Leg(s[base], base, -qty, LOCKED), Leg(b[base], base, qty)]
        if buyer_fee + seller_fee:
            legs.append(Leg(fees, quote, buyer_fee + seller_fee))
        [pid] = await apply_changes(c, [Posting("trade", "trade", f"{market_id}:{tid}", tuple(legs))])
        await c.execute("UPDATE trade.spot_order SET status = 'filled', hold_remaining = 0 WHERE id = ANY($1::bigint[])",
                        [buy_order, sell_order])
        await c.execute(
            "INSERT INTO trade.trade (market_id, id, taker_order_id, maker_order_id, taker_side, price, quantity, "
            "quote_quantity, buyer_user_id, seller_user_id, buyer_fee, seller_fee, fee_asset, posting_id) "
            "VALUES ($1, $2, $3, $4, 'buy', $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            market_id, tid, buy_order, sell_order, price, qty, cost, buyer, seller, buyer_fee, seller_fee, quote, pid)
        await uow.commit()
    return pid
