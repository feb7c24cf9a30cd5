"""Operations commands: the books check, backups and restore drills, the integrity gate, smoke tests, alert rules.

    mycrypto verify [--json] [--chain]             prove the books (+ reconcile the real chain); exit 1 on a problem
    mycrypto backup [--out DIR]                    pg_dump -Fc + manifest (exit 3: the books did not balance)
    mycrypto backup check FILE.dump                size, SHA-256 and archive readable (no database touched)
    mycrypto backup verify FILE.dump               restore drill in a scratch database: verify + row counts
    mycrypto restore FILE.dump --database NAME     restore into a named database (checked first)
    mycrypto integrity [--record] [--expect M]     mycrypto verify + count consistency (post-deploy gate)
    mycrypto smoke BASE_URL [--accounts FILE]      the critical journeys against any deployment
    mycrypto smoke provision --operator EMAIL      create + fund the two smoke accounts through the ledger
    mycrypto alerts check [RULES]                  promtool check rules (+ promtool test rules)

Each is thin over a module of this package that returns structured results (ops/verify.py, ops/backup.py,
ops/integrity.py, ops/smoke.py, ops/alerts.py); see docs/operations.md. (`mycrypto apidocs` builds the app,
so it is the composition root's command: mycrypto/cli.py.)
"""
from __future__ import annotations

import json
import sys
from decimal import Decimal, InvalidOperation
from typing import Any

import click

from ..common.cli import database, fail, get_settings, run_async, with_connection, with_pool
from ..wallet.chain import ChainError

EXIT_FLAGGED = 3   # the backup was written, but the books of the source did not balance


def register(group: click.Group) -> None:
    group.add_command(verify)
    group.add_command(backup)
    group.add_command(restore)
    group.add_command(integrity)
    group.add_command(smoke)
    group.add_command(alerts)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


# ------------------------------------------------------------------------------------------ verify
@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--chain", "with_chain", is_flag=True,
              help="Also reconcile the real chain's balances with the ledger (`mycrypto chain reconcile`).")
@click.pass_context
def verify(ctx: click.Context, as_json: bool, with_chain: bool) -> None:
    """Prove the books: balanced postings, balances = ledger, sums = 0, nothing negative, locked = holds."""
    from .verify import verify_books

    settings = get_settings(ctx)
    with database(settings) as settings:
        report = run_async(lambda: with_connection(settings, verify_books))
        chain_report = None
        if with_chain:
            from ..wallet.chain.cli import run_reconcile

            chain_report = with_pool(settings, lambda db: run_reconcile(settings, db), expected=(ChainError,))
    if as_json:
        out = report.as_dict()
        if chain_report is not None:
            out["chain"] = chain_report.as_dict()
        click.echo(json.dumps(out, indent=2))
    else:
        click.echo(report.render())
        if chain_report is not None:
            click.echo("\n" + chain_report.render())
    if not report.ok or (chain_report is not None and not chain_report.ok):
        sys.exit(1)


# ------------------------------------------------------------------------------------------ backup
@click.group(invoke_without_command=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="var/backups", show_default=True,
              help="Directory for the .dump and .manifest.json.")
@click.option("--label", default=None, help="Name used in the file names (default: the database name).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def backup(ctx: click.Context, out_dir: str, label: str | None, as_json: bool) -> None:
    """Back up the database: pg_dump custom format + a manifest (sizes, row counts, SHA-256, ledger check)."""
    if ctx.invoked_subcommand is not None:
        return
    from .backup import BackupError, create_backup
    from .pgtools import ToolMissing

    settings = get_settings(ctx)
    with database(settings) as settings:
        try:
            result = run_async(lambda: create_backup(settings.database_url, out_dir, label=label,
                                                     bin_dir=settings.pg_bin_dir))
        except (BackupError, ToolMissing) as exc:
            fail(str(exc))
    if as_json:
        _echo_json(result.as_dict())
    else:
        rows = sum(result.tables.values())
        click.echo(f"backup   {result.dump_path}  ({result.size_bytes} bytes, sha256 {result.sha256[:16]}...)")
        click.echo(f"manifest {result.manifest_path}  ({len(result.tables)} tables, {rows} rows)")
    if not result.ledger_ok:
        click.echo(f"WARNING: the books of the source database do not balance ({result.ledger_problems} "
                   "discrepancies; see `mycrypto verify`). The backup is flagged ledger.ok=false.", err=True)
        sys.exit(EXIT_FLAGGED)


@backup.command("check")
@click.argument("dump", type=click.Path())
@click.pass_context
def backup_check(ctx: click.Context, dump: str) -> None:
    """Check a backup's files against its manifest (size, SHA-256, archive readable); touches no database."""
    from .backup import BackupError, check_backup
    from .pgtools import ToolMissing

    settings = get_settings(ctx)
    try:
        manifest = run_async(lambda: check_backup(dump, bin_dir=settings.pg_bin_dir))
    except (BackupError, ToolMissing) as exc:
        fail(str(exc))
    ledger = "balanced" if manifest["ledger"]["ok"] else "DID NOT BALANCE"
    click.echo(f"ok: {dump} matches its manifest ({manifest['size_bytes']} bytes, {manifest['toc_entries']} "
               f"archive entries, taken {manifest['snapshot_at']}, books {ledger})")


@backup.command("verify")
@click.argument("dump", type=click.Path())
@click.option("--server-url", default=None,
              help="PostgreSQL server for the scratch database (default: DATABASE_URL's server).")
@click.option("--keep", is_flag=True, help="Keep the scratch database (its name is printed).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def backup_verify(ctx: click.Context, dump: str, server_url: str | None, keep: bool, as_json: bool) -> None:
    """Restore drill: restore into a scratch database, run `mycrypto verify` there, compare row counts."""
    from .backup import verify_backup

    settings = get_settings(ctx)
    with database(settings) as settings:
        result = run_async(lambda: verify_backup(dump, server_url or settings.database_url, keep=keep,
                                                 bin_dir=settings.pg_bin_dir))
    if as_json:
        _echo_json(result.as_dict())
    else:
        for step in result.steps:
            click.echo(f"{'PASS' if step.ok else 'FAIL'}  {step.name:<14} {step.detail}")
        click.echo("RESULT: the backup restores and verifies" if result.ok else "RESULT: FAILED")
    if not result.ok:
        sys.exit(1)


@click.command()
@click.argument("dump", type=click.Path())
@click.option("--database", "name", required=True, help="Database to restore into (created if missing).")
@click.option("--server-url", default=None, help="PostgreSQL server (default: DATABASE_URL's server).")
@click.option("--replace", is_flag=True, help="Drop and recreate the database if it already holds tables.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def restore(ctx: click.Context, dump: str, name: str, server_url: str | None, replace: bool, as_json: bool) -> None:
    """Restore a backup into a named database; the files are checked before the target is touched."""
    from .backup import BackupError, restore_backup, with_database
    from .pgtools import ToolMissing

    settings = get_settings(ctx)
    with database(settings) as settings:
        target = with_database(server_url or settings.database_url, name)
        try:
            result = run_async(lambda: restore_backup(dump, target, replace=replace, bin_dir=settings.pg_bin_dir))
        except (BackupError, ToolMissing) as exc:
            fail(str(exc))
    if as_json:
        _echo_json(result.as_dict())
    else:
        click.echo(f"restored {dump} into {name}: {len(result.tables)} tables, {sum(result.tables.values())} rows")
        for table, (expected, got) in result.mismatches.items():
            click.echo(f"  MISMATCH {table}: manifest {expected}, restored {got}")
    if not result.ok:
        fail("row counts differ from the manifest")


# ------------------------------------------------------------------------------------------ integrity
@click.command()
@click.option("--record", is_flag=True, help="Store the result in ops.integrity_run (exported as metrics).")
@click.option("--expect", "expect_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="A backup manifest or saved --json report: counts must not be lower than there.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def integrity(ctx: click.Context, record: bool, expect_path: str | None, as_json: bool) -> None:
    """Post-deploy data gate: `mycrypto verify` + users/orders/trades counts consistent with the ledger."""
    from .integrity import load_expectation, record as store, run_integrity

    settings = get_settings(ctx)
    expect = None
    if expect_path:
        try:
            expect = load_expectation(expect_path)
        except (ValueError, KeyError, OSError) as exc:
            fail(str(exc))

    async def go(conn: Any) -> Any:
        report = await run_integrity(conn, expect)
        if record:
            await store(conn, report)
        return report

    with database(settings) as settings:
        report = run_async(lambda: with_connection(settings, go))
    click.echo(json.dumps(report.as_dict(), indent=2, default=str) if as_json else report.render())
    if not report.ok:
        sys.exit(1)


# ------------------------------------------------------------------------------------------ smoke
class _SmokeGroup(click.Group):
    """`mycrypto smoke BASE_URL ...` runs the tests; `mycrypto smoke provision ...` is a subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_SmokeGroup)
def smoke() -> None:
    """Smoke tests against any deployment: `mycrypto smoke BASE_URL` (see `mycrypto smoke run --help`)."""


@smoke.command("run")
@click.argument("base_url")
@click.option("--accounts", "accounts_file", type=click.Path(dir_okay=False), default=None,
              help="Env file from `mycrypto smoke provision` (SMOKE_EMAIL_A/_PASSWORD_A/_B...).")
@click.option("--email-a", envvar="SMOKE_EMAIL_A", default=None, help="Smoke account A (env SMOKE_EMAIL_A).")
@click.option("--password-a", envvar="SMOKE_PASSWORD_A", default=None, help="(env SMOKE_PASSWORD_A)")
@click.option("--email-b", envvar="SMOKE_EMAIL_B", default=None, help="Smoke account B (env SMOKE_EMAIL_B).")
@click.option("--password-b", envvar="SMOKE_PASSWORD_B", default=None, help="(env SMOKE_PASSWORD_B)")
@click.option("--market", default="BTC-USDT", show_default=True, help="Market for the order journeys.")
@click.option("--no-register", is_flag=True, help="Do not sign up a throwaway account.")
@click.option("--email-domain", default="example.com", show_default=True,
              help="Domain of the throwaway sign-up addresses.")
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Seconds per HTTP request.")
@click.option("--header", "headers", multiple=True, metavar="'NAME: VALUE'",
              help="Extra header on every request, e.g. 'X-Test-Green: true' to test the canary color.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON at the end.")
def smoke_run(base_url: str, accounts_file: str | None, email_a: str | None, password_a: str | None,
              email_b: str | None, password_b: str | None, market: str, no_register: bool, email_domain: str,
              timeout: float, headers: tuple[str, ...], as_json: bool) -> None:
    """Run the critical journeys; one verdict line per step; exit 1 if any step failed."""
    from .smoke import Account, run_smoke
    from .smoke_accounts import read_env_file

    if accounts_file:
        values = read_env_file(accounts_file)
        email_a, password_a = values.get("SMOKE_EMAIL_A", email_a), values.get("SMOKE_PASSWORD_A", password_a)
        email_b, password_b = values.get("SMOKE_EMAIL_B", email_b), values.get("SMOKE_PASSWORD_B", password_b)
    accounts = None
    if email_a and password_a and email_b and password_b:
        accounts = (Account(email_a, password_a), Account(email_b, password_b))
    extra = {}
    for header in headers:
        name, sep, value = header.partition(":")
        if not sep or not name.strip():
            raise click.BadParameter(f"{header!r} is not 'NAME: VALUE'", param_hint="--header")
        extra[name.strip()] = value.strip()
    report = run_smoke(base_url, accounts=accounts, market=market, register=not no_register,
                       email_domain=email_domain, timeout=timeout, headers=extra,
                       emit=None if as_json else (lambda step: click.echo(step.line())))
    if as_json:
        _echo_json(report.as_dict())
    else:
        failed = [s.name for s in report.steps if s.status == "FAIL"]
        click.echo("SMOKE: PASS" if report.ok else f"SMOKE: FAIL ({', '.join(failed)})")
    sys.exit(0 if report.ok else 1)


@smoke.command("provision")
@click.option("--operator", "operator_email", required=True, help="Existing account that pays for the funds.")
@click.option("--email-a", default="smoke-a@example.com", show_default=True)
@click.option("--email-b", default="smoke-b@example.com", show_default=True)
@click.option("--fund", "funds", multiple=True, default=("BTC=0.01", "USDT=500"), show_default=True,
              help="ASSET=AMOUNT each smoke account is topped up to (repeatable).")
@click.option("--password", default=None, help="Password for new accounts (default: random).")
@click.option("--reset-password", is_flag=True, help="Set a new password on existing smoke accounts.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False), default="var/smoke-accounts.env",
              show_default=True, help="Where to write the credentials (mode 600).")
@click.pass_context
def smoke_provision(ctx: click.Context, operator_email: str, email_a: str, email_b: str, funds: tuple[str, ...],
                    password: str | None, reset_password: bool, out_file: str) -> None:
    """Create the two smoke accounts (verified) and fund them from an operator account through the ledger."""
    from ..auth.accounts import Rejected, normalise_email
    from .smoke_accounts import ProvisionError, provision, write_env_file

    settings = get_settings(ctx)
    try:   # the addresses must be ones the login endpoint accepts
        email_a, email_b = normalise_email(email_a), normalise_email(email_b)
    except Rejected as exc:
        fail(f"{exc.code}: {exc.message}")
    targets: dict[str, Decimal] = {}
    for item in funds:
        asset, _, amount = item.partition("=")
        try:
            value = Decimal(amount)
        except InvalidOperation:
            value = Decimal(-1)
        if not asset or not value.is_finite() or value <= 0:
            fail(f"--fund {item!r}: expected ASSET=AMOUNT with a positive decimal amount")
        targets[asset.strip().upper()] = value

    async def go(conn: Any) -> Any:
        return await provision(conn, settings, emails=(email_a, email_b), operator_email=operator_email,
                               targets=targets, password=password, reset_password=reset_password)

    with database(settings) as settings:
        try:
            result = run_async(lambda: with_connection(settings, go))
        except ProvisionError as exc:
            fail(str(exc))
    write_env_file(out_file, result)
    for email, secret in result.accounts:
        click.echo(f"account {email}: {'created/reset' if secret else 'kept (password unchanged)'}")
    for email, asset, amount in result.funded:
        click.echo(f"funded  {email}: +{amount.normalize():f} {asset} from {operator_email}")
    click.echo(f"credentials written to {out_file}")


# ------------------------------------------------------------------------------------------ alerts
@click.group()
def alerts() -> None:
    """Prometheus alert rules (deploy/monitoring)."""


@alerts.command("check")
@click.argument("rules", type=click.Path(), default="deploy/monitoring/alerts.yml")
@click.option("--tests", "tests_file", type=click.Path(), default=None,
              help="promtool unit tests (default: alerts.test.yml beside the rules, if present).")
@click.option("--json", "as_json", is_flag=True)
def alerts_check(rules: str, tests_file: str | None, as_json: bool) -> None:
    """`promtool check rules` and `promtool test rules`; exit 1 on any problem (or no promtool)."""
    from .alerts import check_alert_rules

    result = check_alert_rules(rules, tests_file)
    if as_json:
        _echo_json(result.as_dict())
    else:
        for step in result.steps:
            click.echo(f"{'PASS' if step.ok else 'FAIL'}  {step.name:<12} {step.detail}")
    if not result.ok:
        sys.exit(1)
