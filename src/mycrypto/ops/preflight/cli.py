"""`mycrypto preflight BASE_URL`: print the GO / NO-GO table, write JSON + Markdown, exit 1 on NO-GO.

    mycrypto preflight http://127.0.0.1:8000
    mycrypto preflight http://127.0.0.1:8000 --expect-registration open --allowed-origin https://app.example.com
    mycrypto preflight https://exchange.example.com --skip load --skip smoke     # remote: no load run from here
    mycrypto preflight http://127.0.0.1:8000 --no-database --skip migrations --skip verify

Database checks (migrations, verify, statement budget, and the backup drill) use DATABASE_URL, or
the embedded server in MYCRYPTO_PGDATA when it is unset and BASE_URL is this machine (a remote
target's database is never guessed: without DATABASE_URL those lines are NOT_RUN).
Exit status: 0 GO, 1 NO-GO (any NO-GO or NOT_RUN line), 2 bad usage or configuration.
"""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from urllib.parse import urlsplit

import click

from ...common.cli import database as db_context   # `database` is this command's --database flag
from ...common.cli import fail, get_settings


def register(group: click.Group) -> None:
    group.add_command(preflight)


@click.command()
@click.argument("base_url")
@click.option("--skip", "skip", multiple=True, metavar="CHECK",
              help="Leave a check out (listed as SKIPPED, not counted): migrations, health, security_headers, cors, "
                   "registration, smoke, load, db_queries, backup_restore, verify, alert_rules. Repeatable.")
@click.option("--database/--no-database", default=True, show_default=True,
              help="Run the checks that need the database (DATABASE_URL or the embedded one).")
@click.option("--expect-registration", type=click.Choice(["open", "closed"]), default=None,
              help="Require sign-up to be open or closed (default: report the state only).")
@click.option("--allowed-origin", default=None, help="A browser origin the CORS policy must allow.")
@click.option("--load-seconds", type=float, default=5.0, show_default=True, help="Length of the load run.")
@click.option("--load-rps", type=float, default=1000.0, show_default=True, help="Request rate of the load run.")
@click.option("--sla-p95-ms", type=float, default=200.0, show_default=True, help="p95 target of the load run.")
@click.option("--smoke-accounts", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Env file from `mycrypto smoke provision`: the smoke journeys sign in as those two accounts "
                   "(needed where registration is closed or there is no dev mailbox).")
@click.option("--alert-rules", type=click.Path(dir_okay=False), default=None,
              help="Prometheus rules file (default: deploy/monitoring/alerts.yml of this checkout).")
@click.option("--out-dir", type=click.Path(path_type=Path), default=Path("var/preflight"), show_default=True,
              help="Where preflight-<time>.json and .md are written.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report instead of the table.")
@click.pass_context
def preflight(ctx: click.Context, base_url: str, skip: tuple[str, ...], database: bool,
              expect_registration: str | None, allowed_origin: str | None, load_seconds: float, load_rps: float,
              sla_p95_ms: float, smoke_accounts: str | None, alert_rules: str | None, out_dir: Path,
              as_json: bool) -> None:
    """The launch Go/No-Go against BASE_URL: migrations, health, headers, CORS, registration, smoke, load,
    SQL budget, backup drill, verify, alert rules. NOT_RUN counts as NO-GO unless --skip'ped."""
    from . import CHECKS, PreflightOptions, run_preflight
    from .checks import LOOPBACK

    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        fail(f"BASE_URL must look like http://127.0.0.1:8000 (got {base_url!r})", 2)
    unknown = sorted(set(skip) - set(CHECKS))
    if unknown:
        fail(f"unknown check(s) for --skip: {', '.join(unknown)} (known: {', '.join(CHECKS)})", 2)
    if load_seconds <= 0 or load_rps <= 0:
        fail("--load-seconds and --load-rps must be positive", 2)
    accounts = None
    if smoke_accounts:
        from ..smoke_accounts import read_env_file

        values = read_env_file(smoke_accounts)
        try:
            accounts = ((values["SMOKE_EMAIL_A"], values["SMOKE_PASSWORD_A"]),
                        (values["SMOKE_EMAIL_B"], values["SMOKE_PASSWORD_B"]))
        except KeyError as exc:
            fail(f"{smoke_accounts} lacks {exc.args[0]} (write it with `mycrypto smoke provision`)", 2)
    settings = get_settings(ctx)
    base = base_url.rstrip("/")
    if database and settings.database_url is None and parts.hostname not in LOOPBACK:
        # the embedded database is this machine's, not the remote target's: check nothing rather than
        # the wrong database (the database lines then say NOT_RUN: set DATABASE_URL)
        database = False
    options = PreflightOptions(database=database, expect_registration=expect_registration,
                               allowed_origin=allowed_origin, load_seconds=load_seconds, load_rps=load_rps,
                               sla_p95_ms=sla_p95_ms, smoke_accounts=accounts, alert_rules=alert_rules)
    if database:
        with db_context(settings) as settings:
            report = asyncio.run(run_preflight(base, options, settings, frozenset(skip)))
    else:
        report = asyncio.run(run_preflight(base, options, None, frozenset(skip)))
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"preflight-{report.started_at:%Y%m%d-%H%M%S}"
    stem.with_suffix(".json").write_text(report.to_json())
    stem.with_suffix(".md").write_text(report.render_markdown())
    click.echo(report.to_json() if as_json else report.render_table())
    if not as_json:
        click.echo(f"reports: {stem}.json, {stem}.md")
    sys.exit(0 if report.verdict == "GO" else 1)
