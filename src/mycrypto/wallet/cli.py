"""Wallet commands: the chain simulator (`mycrypto chain ...`), `mycrypto wallet scan`.

    mycrypto chain send --to ADDRESS --asset BTC --amount 0.5 a transfer from outside (mempool)
    mycrypto chain mine N [--chain bitcoin]                   add N blocks (confirmations)
    mycrypto chain status                                     heights, mempool, refusals
    mycrypto chain refuse-broadcasts CHAIN [--reason TEXT]    make withdrawals on CHAIN fail
    mycrypto chain accept-broadcasts CHAIN                    undo the above
    mycrypto wallet scan                                      one round of watcher + withdrawal processor
    mycrypto chain reconcile | alerts | frozen | ...          real chains (wallet/chain/cli.py)

The simulator commands work only outside production with CHAIN_SIMULATOR=true and no CHAIN_ADAPTER.
`mycrypto verify` (the books, optionally with `--chain`) is an ops command (ops/cli.py).
"""
from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from ..common.cli import database, fail, get_settings, with_pool
from ..common.money import fmt, parse_amount
from ..config import Settings
from ..db.database import Database
from .chain import ChainError, real_chains
from .chain.cli import register as register_chain_tools

T = TypeVar("T")


def register(group: click.Group) -> None:
    register_chain_tools(chain)   # reconcile, keys, alerts, frozen credits
    group.add_command(chain)
    group.add_command(wallet)


# ---------------------------------------------------------------------------------------- chain simulator
def _simulator_settings(ctx: click.Context) -> Settings:
    settings = get_settings(ctx)
    if not settings.dev_tools_enabled:
        fail("the chain simulator is not available in production")
    if settings.chain_adapter:
        fail(f"CHAIN_ADAPTER={settings.chain_adapter} is configured; the simulator is not in use")
    if not settings.chain_simulator:
        fail("the chain simulator is disabled (CHAIN_SIMULATOR=false)")
    return settings


def _with_db(settings: Settings, fn: Callable[[Database], Awaitable[T]]) -> T:
    return with_pool(settings, fn, expected=(ChainError,))


@click.group()
def chain() -> None:
    """The built-in chain simulator (development and tests) and real-chain operations (reconcile...)."""


@chain.command("send")
@click.option("--to", "address", required=True, help="Destination address (e.g. a user's deposit address).")
@click.option("--asset", required=True, help="Asset code, e.g. BTC.")
@click.option("--amount", required=True, help="Plain decimal, e.g. 0.5.")
@click.pass_context
def chain_send(ctx: click.Context, address: str, asset: str, amount: str) -> None:
    """Create an incoming transfer (0 confirmations until the next `mine`)."""
    from .chain.simulator import SimulatorChain

    settings = _simulator_settings(ctx)

    async def go(db: Database) -> Any:
        decimals = await db.fetchval("SELECT decimals FROM wallet.asset WHERE code = $1", asset.upper())
        if decimals is None:
            fail(f"unknown asset {asset!r}")
        if await db.fetchval("SELECT chain FROM wallet.asset WHERE code = $1", asset.upper()) in real_chains(settings):
            fail(f"{asset.upper()} is on a real node (CHAIN_ETH_RPC_URL): send real coins to the address")
        value = parse_amount(amount, max_decimals=decimals)
        return await SimulatorChain(db).send(asset.upper(), address, value)

    with database(settings) as settings:
        sent = _with_db(settings, go)
    click.echo(f"sent {fmt(sent.amount)} {sent.asset} to {sent.address} on {sent.chain}: "
               f"txid {sent.txid} vout {sent.vout} (0 confirmations; run `mycrypto chain mine N`)")


@chain.command("mine")
@click.argument("blocks", type=click.IntRange(1, 10_000))
@click.option("--chain", "chain_name", default=None, help="Only this chain (default: every chain).")
@click.pass_context
def chain_mine(ctx: click.Context, blocks: int, chain_name: str | None) -> None:
    """Mine BLOCKS blocks: mempool transfers get their first confirmation, others one more per block."""
    from .chain.simulator import SimulatorChain

    settings = _simulator_settings(ctx)
    with database(settings) as settings:
        results = _with_db(settings, lambda db: SimulatorChain(db).mine(blocks, chain_name))
    for r in results:
        click.echo(f"{r['chain']}: height {r['height']} (+{blocks}), {r['mined_transfers']} transfer(s) mined")


@chain.command("status")
@click.pass_context
def chain_status(ctx: click.Context) -> None:
    """Chain heights, mempool sizes and broadcast refusals."""
    from .chain.simulator import SimulatorChain

    settings = _simulator_settings(ctx)
    with database(settings) as settings:
        rows = _with_db(settings, lambda db: SimulatorChain(db).status())
    for r in rows:
        refusing = f", refusing broadcasts: {r['refuse_broadcasts']}" if r["refuse_broadcasts"] else ""
        click.echo(f"{r['chain']}: height {r['height']}, {r['mempool']} in mempool, "
                   f"{r['transfers']} transfer(s){refusing}")


@chain.command("refuse-broadcasts")
@click.argument("chain_name")
@click.option("--reason", default="refused by the simulator", show_default=True)
@click.pass_context
def chain_refuse(ctx: click.Context, chain_name: str, reason: str) -> None:
    """Make every withdrawal broadcast on CHAIN_NAME fail (its hold is released)."""
    from .chain.simulator import SimulatorChain

    settings = _simulator_settings(ctx)
    with database(settings) as settings:
        _with_db(settings, lambda db: SimulatorChain(db).refuse_broadcasts(chain_name, reason))
    click.echo(f"{chain_name}: broadcasts are now refused ({reason})")


@chain.command("accept-broadcasts")
@click.argument("chain_name")
@click.pass_context
def chain_accept(ctx: click.Context, chain_name: str) -> None:
    """Accept broadcasts on CHAIN_NAME again."""
    from .chain.simulator import SimulatorChain

    settings = _simulator_settings(ctx)
    with database(settings) as settings:
        _with_db(settings, lambda db: SimulatorChain(db).refuse_broadcasts(chain_name, None))
    click.echo(f"{chain_name}: broadcasts are accepted")


# ---------------------------------------------------------------------------------------- wallet
@click.group()
def wallet() -> None:
    """Wallet operations."""


@wallet.command("scan")
@click.pass_context
def wallet_scan(ctx: click.Context) -> None:
    """Run one round of the withdrawal processor and the deposit watcher, and print what it did."""
    from .api import build_components

    settings = get_settings(ctx)

    async def go(db: Database) -> dict[str, Any]:
        parts = build_components(db, settings)
        if parts.chain is None:
            fail("no chain adapter is configured (set CHAIN_ADAPTER, or CHAIN_SIMULATOR=true outside production)")
        try:
            return await parts.run_once()
        finally:
            await parts.chain.close()  # type: ignore[union-attr]

    with database(settings) as settings:
        result = _with_db(settings, go)
    click.echo(json.dumps(result, indent=2))
