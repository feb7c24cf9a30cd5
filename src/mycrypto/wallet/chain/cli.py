"""Operator commands for real chains, added to the `mycrypto chain` group (docs/wallet.md "Operations").

    mycrypto chain reconcile [--json]                 node balances vs ledger custody; exit 1 on a difference
    mycrypto chain new-keys                           fresh hot key + deposit seed, encrypted, for the settings
    mycrypto chain encrypt-secret hot-key|deposit-seed   encrypt a key/mnemonic read from stdin
    mycrypto chain reencrypt-secret hot-key|deposit-seed the configured ciphertext (or one on stdin) under
                                                      the active data key (key rotation, docs/key-rotation.md)
    mycrypto chain alerts [--resolve ID]              open alerts (deep reorganisations, reverted sweeps...)
    mycrypto chain frozen                             credits frozen by a deep reorganisation
    mycrypto chain release-deposit ID | reverse-deposit ID   resolve a frozen credit
    mycrypto chain book-surplus ASSET AMOUNT --memo TEXT [--to fees|network_fees]
                                                      post coins that arrived without a user credit

The EVM code is imported inside the commands, so other `mycrypto` commands do not load it.
"""
from __future__ import annotations

import getpass
import json
import sys
from decimal import Decimal, InvalidOperation
from typing import Any

import click

from ...common.cli import database, fail, get_settings, with_pool
from ...common.money import fmt
from .adapter import ChainError


def _evm(settings: Any, db: Any) -> Any:
    from ...config import ConfigError

    if not settings.chain_eth_rpc_url.strip():
        fail("CHAIN_ETH_RPC_URL is not set: there is no real chain to work with")
    from .evm import build_evm_adapter

    try:
        return build_evm_adapter(settings, db)
    except ConfigError as exc:
        fail(str(exc))


async def run_reconcile(settings: Any, db: Any) -> Any:
    """The reconciliation report (also used by `mycrypto verify --chain`)."""
    adapter = _evm(settings, db)
    try:
        return await adapter.reconcile()
    finally:
        await adapter.close()


def register(group: click.Group) -> None:
    for command in (reconcile, new_keys, encrypt_secret_cmd, reencrypt_secret_cmd, alerts, frozen, release_deposit, reverse_deposit,
                    book_surplus):
        group.add_command(command)


def _run(ctx: click.Context, fn: Any) -> Any:
    settings = get_settings(ctx)
    with database(settings) as settings:
        return with_pool(settings, lambda db: fn(settings, db), expected=(ChainError,))


@click.command("reconcile")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def reconcile(ctx: click.Context, as_json: bool) -> None:
    """Compare the node's balances (hot, cold, deposit addresses) with the ledger's custody, per asset."""
    report = _run(ctx, run_reconcile)
    click.echo(json.dumps(report.as_dict(), indent=2) if as_json else report.render())
    if not report.ok:
        sys.exit(1)


@click.command("new-keys")
@click.pass_context
def new_keys(ctx: click.Context) -> None:
    """Generate a hot-wallet key and a deposit seed; print them encrypted (for .env / the secret store)."""
    from .evm import generate_keys

    settings = get_settings(ctx)
    keys = generate_keys(settings.data_keys)
    click.echo(f"# encrypted with data key id {settings.data_keys.active_id!r}: keep both (and back them up) "
               "or the keys are lost")
    for name in ("CHAIN_ETH_HOT_KEY", "CHAIN_ETH_DEPOSIT_SEED", "CHAIN_ETH_DEPOSIT_XPUB"):
        click.echo(f"{name}={keys[name]}")
    click.echo(f"# hot wallet address (send it ETH for network fees): {keys['hot_address']}")


@click.command("encrypt-secret")
@click.argument("kind", type=click.Choice(["hot-key", "deposit-seed"]))
@click.pass_context
def encrypt_secret_cmd(ctx: click.Context, kind: str) -> None:
    """Encrypt a hot-wallet key (hex) or a deposit mnemonic read from stdin; print the ciphertext."""
    from ...config import ConfigError
    from .evm import encrypt_secret

    settings = get_settings(ctx)
    secret = getpass.getpass(f"{kind}: ") if sys.stdin.isatty() else sys.stdin.read()
    try:
        click.echo(encrypt_secret(settings.data_keys, kind, secret))
    except ConfigError as exc:
        fail(str(exc))


@click.command("reencrypt-secret")
@click.argument("kind", type=click.Choice(["hot-key", "deposit-seed"]))
@click.pass_context
def reencrypt_secret_cmd(ctx: click.Context, kind: str) -> None:
    """Print CHAIN_ETH_HOT_KEY / CHAIN_ETH_DEPOSIT_SEED (or a ciphertext read from stdin) re-encrypted under
    the active data key: after a data-key rotation, before the old key is retired."""
    from ...config import ConfigError
    from .evm import reencrypt_secret

    settings = get_settings(ctx)
    token = "" if sys.stdin.isatty() else sys.stdin.read().strip()
    if not token:
        setting = settings.chain_eth_hot_key if kind == "hot-key" else settings.chain_eth_deposit_seed
        token = setting.get_secret_value().strip()
    if not token:
        fail(f"no {kind} ciphertext: pipe one in or set CHAIN_ETH_{'HOT_KEY' if kind == 'hot-key' else 'DEPOSIT_SEED'}")
    try:
        click.echo(reencrypt_secret(settings.data_keys, kind, token))
    except ConfigError as exc:
        fail(str(exc))


@click.command("alerts")
@click.option("--resolve", "resolve_id", type=int, help="Mark this alert as handled.")
@click.pass_context
def alerts(ctx: click.Context, resolve_id: int | None) -> None:
    """List open chain alerts (they keep the chain degraded in /health), or resolve one."""
    from .status import open_alerts, resolve_alert

    async def go(settings: Any, db: Any) -> Any:
        if resolve_id is not None:
            return await resolve_alert(db, resolve_id, getpass.getuser())
        return await open_alerts(db)

    result = _run(ctx, go)
    if resolve_id is not None:
        if not result:
            fail(f"no open alert {resolve_id}")
        click.echo(f"alert {resolve_id} resolved")
        return
    for a in result:
        click.echo(f"#{a['id']} {a['created_at']:%Y-%m-%d %H:%M:%S} {a['chain']} {a['kind']}: {a['message']}")
    click.echo(f"{len(result)} open alert(s)")


@click.command("frozen")
@click.pass_context
def frozen(ctx: click.Context) -> None:
    """Credits frozen by a deep reorganisation, waiting for an operator."""
    from .freezes import list_freezes

    rows = _run(ctx, lambda settings, db: list_freezes(db))
    for f in rows:
        click.echo(f"deposit {f['deposit_id']}: user {f['user_id']} {fmt(f['amount'])} {f['asset']} (held "
                   f"{fmt(f['held'])}) tx {f['txid']}:{f['vout']} - {f['reason']}")
    click.echo(f"{len(rows)} frozen credit(s); check each transaction on chain, then release-deposit or "
               "reverse-deposit")


def _resolve(ctx: click.Context, deposit_id: int, action: str) -> None:
    from .freezes import FreezeError, resolve

    async def go(settings: Any, db: Any) -> Any:
        try:
            return await resolve(db, deposit_id, action, getpass.getuser())
        except FreezeError as exc:
            fail(str(exc))

    r = _run(ctx, go)
    click.echo(f"deposit {deposit_id}: {r['resolution']} ({fmt(r['held'])} of {fmt(r['amount'])})")
    if r["shortfall"] > 0:
        click.echo(f"warning: {fmt(r['shortfall'])} had already been spent by the user: settle it with a manual "
                   "adjustment", err=True)


@click.command("release-deposit")
@click.argument("deposit_id", type=int)
@click.pass_context
def release_deposit(ctx: click.Context, deposit_id: int) -> None:
    """The frozen deposit's transaction is on chain after all: give the held amount back."""
    _resolve(ctx, deposit_id, "release")


@click.command("reverse-deposit")
@click.argument("deposit_id", type=int)
@click.pass_context
def reverse_deposit(ctx: click.Context, deposit_id: int) -> None:
    """The frozen deposit never arrived: take the held amount back to chain_in."""
    _resolve(ctx, deposit_id, "reverse")


@click.command("book-surplus")
@click.argument("asset")
@click.argument("amount")
@click.option("--memo", required=True, help="Why the coins are there (who sent them).")
@click.option("--to", "account", type=click.Choice(["fees", "network_fees"]), default="fees", show_default=True,
              help="network_fees: the exchange's own ETH for gas (e.g. the hot wallet's initial funding).")
@click.pass_context
def book_surplus(ctx: click.Context, asset: str, amount: str, memo: str, account: str) -> None:
    """Post coins found on chain without a user credit (at most the reconciliation's surplus)."""
    try:
        value = Decimal(amount)
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or value <= 0:
        fail("AMOUNT must be a positive decimal")

    async def go(settings: Any, db: Any) -> Any:
        from .evm.reconcile import SurplusRefused

        adapter = _evm(settings, db)
        try:
            return await adapter.book_surplus(asset.upper(), value, account, memo)
        except SurplusRefused as exc:
            fail(str(exc))
        finally:
            await adapter.close()

    posting_id = _run(ctx, go)
    click.echo(f"booked {fmt(value)} {asset.upper()} to {account} (posting {posting_id})")
