"""The `mycrypto` command: run services, migrate, report, maintain.

Every command reads the same Settings. Commands that need the database use DATABASE_URL, or start
the embedded server in MYCRYPTO_PGDATA when it is unset. Expected failures (bad configuration,
unreachable database, failing migration, port in use) print one `error:` line and exit non-zero
(the shared helpers are in common/cli.py). Service packages add their own commands through a `cli.py`
exposing `register(group)`, imported explicitly here (SERVICE_COMMANDS).
"""
from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import click

from . import __version__
from .auth import cli as auth_cli
from .common.cli import database, fail, get_settings, run_async, with_connection
from .config import ConfigError, Settings
from .db.migrate import migrate, status
from .notify import cli as notify_cli
from .ops import cli as ops_cli
from .ops.preflight import cli as preflight_cli
from .sim import cli as sim_cli
from .trading import cli as trading_cli
from .wallet import cli as wallet_cli

# the services' own commands (each package's cli.py adds its group with `register(main)`)
SERVICE_COMMANDS = (auth_cli, wallet_cli, trading_cli, ops_cli, notify_cli, preflight_cli, sim_cli)


def check_chain_settings(settings: Settings) -> None:
    """A real chain's settings (CHAIN_ETH_*) that cannot work: one error line before listening."""
    from .wallet.chain import check_config

    try:
        check_config(settings)
    except ConfigError as exc:
        fail(str(exc), 2)


async def check_database(settings: Settings) -> None:
    """Connect once and close: an unreachable database becomes one `error:` line, not a startup traceback."""
    await with_connection(settings, lambda conn: conn.fetchval("SELECT 1"))


async def apply_migrations(settings: Settings, quiet: bool = False) -> int:
    def log(m: Any) -> None:
        if not quiet:
            click.echo(f"applied {m.filename}")

    applied = await with_connection(settings, lambda conn: migrate(conn, log=log))
    if not quiet and not applied:
        click.echo("database is up to date")
    return len(applied)


def ensure_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            fail(f"port {port} on {host} is already in use; stop the other process or set MYCRYPTO_PORT")


def run_server(settings: Settings, services: tuple[str, ...]) -> None:
    import uvicorn

    from .apps import create_app
    from .common.logging import configure_logging

    configure_logging(settings.log_level, settings.log_json)
    app = create_app(settings, services)
    # WebSocket streams (docs/streams.md): protocol pings keep idle connections alive through proxies and
    # find dead peers; frames above STREAM_MAX_FRAME_BYTES are refused by the server (close 1009)
    # (the sans-I/O websockets implementation: a fraction of the per-frame CPU of the legacy one, which
    # matters when one event goes to a thousand clients; bench/streams)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_config=None,
                            ws="websockets-sansio", ws_ping_interval=settings.stream_ping_interval_s,
                            ws_ping_timeout=settings.stream_ping_interval_s,
                            ws_max_size=settings.stream_max_frame_bytes,
                            lifespan="on", proxy_headers=settings.trust_proxy_headers,
                            server_header=False, date_header=False)
    server = uvicorn.Server(config)
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C after a clean shutdown
        pass
    if getattr(server, "started", False) is False:
        fail("the server did not start (see the log above)")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mycrypto")
def main() -> None:
    """MyCrypto exchange: run the services and operate the database."""


@main.command()
@click.option("--host", default=None, help="Interface to bind (default MYCRYPTO_HOST, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default MYCRYPTO_PORT, 8000).")
@click.pass_context
def up(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Migrate and run everything in one process (embedded PostgreSQL when DATABASE_URL is unset)."""
    settings = get_settings(ctx)
    check_chain_settings(settings)
    settings = settings.model_copy(update={k: v for k, v in (("host", host), ("port", port)) if v})
    ensure_port_free(settings.host, settings.port)
    with database(settings) as settings:
        run_async(lambda: apply_migrations(settings))
        click.echo(f"MyCrypto is running at {settings.base_url}/  (API docs: {settings.base_url}/api/docs)"
                   "  - press Ctrl-C to stop")
        run_server(settings, ("auth", "wallet", "trade", "frontend"))
    click.echo("stopped")


@main.command()
@click.argument("service", type=click.Choice(["auth", "wallet", "trade", "frontend", "notifier", "all"]))
@click.option("--host", default=None)
@click.option("--port", type=int, default=None)
@click.option("--migrate/--no-migrate", "do_migrate", default=False, help="Apply pending migrations first.")
@click.pass_context
def serve(ctx: click.Context, service: str, host: str | None, port: int | None, do_migrate: bool) -> None:
    """Run one service (as deployed) or all of them."""
    settings = get_settings(ctx)
    if service in ("wallet", "all"):
        check_chain_settings(settings)
    settings = settings.model_copy(update={k: v for k, v in (("host", host), ("port", port)) if v})
    with database(settings) as settings:
        if do_migrate:
            run_async(lambda: apply_migrations(settings))
        else:
            run_async(lambda: check_database(settings))
        if service == "notifier":
            from .notify.worker import run_notifier

            # /health/* and /metrics of the notifier on MYCRYPTO_PORT (notify/health.py)
            ensure_port_free(settings.host, settings.port)
            run_async(lambda: run_notifier(settings, health_port=settings.port))
            return
        ensure_port_free(settings.host, settings.port)
        services = ("auth", "wallet", "trade", "frontend") if service == "all" else (service,)
        run_server(settings, services)


@main.command("migrate")
@click.option("--status", "show_status", is_flag=True, help="List applied and pending migrations; apply nothing.")
@click.pass_context
def migrate_cmd(ctx: click.Context, show_status: bool) -> None:
    """Apply pending numbered migrations, each in its own transaction."""
    settings = get_settings(ctx)
    with database(settings) as settings:
        if not show_status:
            run_async(lambda: apply_migrations(settings))
            return
        states = run_async(lambda: with_connection(settings, status))
        for s in states:
            when = s.applied_at.strftime("%Y-%m-%d %H:%M:%S") if s.applied_at else ""
            click.echo(f"{s.version}-{s.name:<32} {s.status:<8} {when}")
        bad = [s for s in states if s.status in ("changed", "missing")]
        if bad:
            fail("applied migrations differ from the files: " + ", ".join(f"{s.version} {s.status}" for s in bad))


@main.group()
def db() -> None:
    """Database reports."""


@db.command("report")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def db_report(ctx: click.Context, as_json: bool) -> None:
    """Slow queries, table sizes, bloat, index usage and connections (SQL functions from 005)."""
    from .ops.dbreport import collect_report, render_report

    settings = get_settings(ctx)
    with database(settings) as settings:
        report = run_async(lambda: with_connection(settings, collect_report))
    click.echo(json.dumps(report, indent=2, default=str) if as_json else render_report(report))


@main.command()
@click.option("--token-keep", default="7 days", show_default=True, help="Keep expired tokens this long.")
@click.option("--outbox-keep", default="3 days", show_default=True, help="Keep relayed outbox rows this long.")
@click.pass_context
def maintenance(ctx: click.Context, token_keep: str, outbox_keep: str) -> None:
    """Purge expired tokens, prune the relayed outbox, analyze hot tables (from migration 006)."""
    settings = get_settings(ctx)

    async def go(conn: Any) -> list[Any]:
        return await conn.fetch("SELECT task, rows_affected FROM ops.run_maintenance($1::text::interval, $2::text::interval)",
                                token_keep, outbox_keep)

    with database(settings) as settings:
        rows = run_async(lambda: with_connection(settings, go))
    for row in rows:
        click.echo(f"{row['task']:<24} {row['rows_affected']}")


@main.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="docs/api", show_default=True)
@click.option("--check", is_flag=True, help="Exit 1 if the files differ from what would be written.")
@click.pass_context
def apidocs(ctx: click.Context, out_dir: str, check: bool) -> None:
    """Write the OpenAPI document and a Markdown summary of every endpoint (from the app itself)."""
    from .apps import openapi_document
    from .ops.apidocs import render_files

    files = render_files(openapi_document(get_settings(ctx)))
    out = Path(out_dir)
    stale = [name for name, text in files.items() if not (out / name).is_file() or (out / name).read_text() != text]
    if check:
        if stale:
            fail(f"{', '.join(stale)} in {out_dir} are out of date: run `mycrypto apidocs`")
        click.echo(f"{out_dir} is up to date")
        return
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text)
    click.echo(f"wrote {', '.join(str(out / n) for n in files)}")


for _commands in SERVICE_COMMANDS:
    _commands.register(main)

if __name__ == "__main__":
    main()
