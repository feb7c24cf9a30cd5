"""`mycrypto market ...`: list markets and their owners, halt and resume trading (audit-logged).

A halt/resume is a database change; the engine that owns the market applies it at its next ownership
poll (TRADE_OWNER_POLL_SECONDS, default 1 s). Orders are then refused with `market_halted`; cancels
keep working.
"""
from __future__ import annotations

from typing import Any

import click

from ..common.cli import database, fail, get_settings, run_async, with_connection


def register(group: click.Group) -> None:
    @group.group()
    def market() -> None:
        """Markets: list, halt, resume."""

    @market.command("list")
    @click.pass_context
    def list_markets(ctx: click.Context) -> None:
        """Markets, their status and the replica that owns each one."""
        settings = get_settings(ctx)

        async def go(conn: Any) -> list[Any]:
            return await conn.fetch(
                "SELECT m.symbol, m.status::text AS status, e.owner_instance, e.owner_url, e.epoch, "
                "round(extract(epoch FROM now() - e.heartbeat_at))::int AS age FROM trade.market m "
                "LEFT JOIN trade.market_engine e ON e.market_id = m.id ORDER BY m.id")

        with database(settings) as settings:
            rows = run_async(lambda: with_connection(settings, go))
        for r in rows:
            owner = f"{r['owner_instance']} {r['owner_url']} epoch {r['epoch']} (heartbeat {r['age']}s ago)" \
                if r["owner_instance"] else "no owner yet"
            click.echo(f"{r['symbol']:<10} {r['status']:<8} {owner}")

    def _set(ctx: click.Context, symbol: str, status: str, reason: str | None) -> None:
        from ..auth.audit import record

        settings = get_settings(ctx)

        async def go(conn: Any) -> str | None:
            async with conn.transaction():
                previous = await conn.fetchval("SELECT status::text FROM trade.market WHERE symbol = $1 FOR UPDATE",
                                               symbol)
                if previous is None:
                    return None
                await conn.execute("UPDATE trade.market SET status = $2::trade.market_status, updated_at = now() "
                                   "WHERE symbol = $1", symbol, status)
                await record(conn, "market_halted" if status == "halted" else "market_resumed",
                             details={"symbol": symbol, "previous": previous, "reason": reason, "via": "cli"})
            return previous

        with database(settings) as settings:
            previous = run_async(lambda: with_connection(settings, go))
        if previous is None:
            fail(f"unknown market {symbol}")
        click.echo(f"{symbol}: {previous} -> {status} (owners apply it within their poll interval)")

    @market.command()
    @click.argument("symbol")
    @click.option("--reason", default=None, help="Why (kept in the audit log).")
    @click.pass_context
    def halt(ctx: click.Context, symbol: str, reason: str | None) -> None:
        """Halt SYMBOL: new orders are refused (market_halted); cancels are allowed."""
        _set(ctx, symbol.upper(), "halted", reason)

    @market.command()
    @click.argument("symbol")
    @click.option("--reason", default=None, help="Why (kept in the audit log).")
    @click.pass_context
    def resume(ctx: click.Context, symbol: str, reason: str | None) -> None:
        """Resume trading on SYMBOL."""
        _set(ctx, symbol.upper(), "trading", reason)
