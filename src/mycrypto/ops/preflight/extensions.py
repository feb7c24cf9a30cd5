"""The three preflight checks built on the operations tools (ops/smoke.py, ops/backup.py, ops/alerts.py).

    smoke            the critical user journeys against BASE_URL (register, confirm, sign in, deposit,
                     order placed and executed, history): one line per smoke step
    backup_restore   a backup of the database and a restore drill into a scratch database, proven
                     by `mycrypto verify` and row counts on the restored copy (needs database access)
    alert_rules      the Prometheus alert rules pass `promtool check rules` and `promtool test rules`

Each is an async function of the PreflightContext returning CheckResult lines. A smoke step the
deployment does not offer (SKIP, e.g. no dev mailbox in production) is listed as SKIPPED, not counted.
"""
from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from .checks import PreflightContext, _db_missing
from .result import SKIPPED, CheckResult, go, no_go, not_run

# deploy/monitoring/ of the repository this package was installed from (editable install / the image)
REPO_ROOT = Path(__file__).resolve().parents[4]
ALERT_RULES = REPO_ROOT / "deploy" / "monitoring" / "alerts.yml"


async def smoke(ctx: PreflightContext) -> list[CheckResult]:
    from ..smoke import FAIL, SKIP, Account, run_smoke

    opts = ctx.options
    accounts = None
    if opts.smoke_accounts:
        accounts = (Account(*opts.smoke_accounts[0]), Account(*opts.smoke_accounts[1]))
    report = await asyncio.to_thread(run_smoke, ctx.base_url, accounts=accounts, timeout=opts.timeout_s * 2)
    lines = []
    for step in report.steps:
        reason = f"{step.detail} ({step.ms} ms)"
        if step.status == SKIP:
            lines.append(CheckResult("smoke", step.name, SKIPPED, reason))
        elif step.status == FAIL:
            lines.append(no_go("smoke", step.name, reason))
        else:
            lines.append(go("smoke", step.name, reason))
    return lines or [no_go("smoke", "smoke journeys", "the smoke run produced no steps")]


async def backup_restore(ctx: PreflightContext) -> list[CheckResult]:
    from ..backup import BackupError, create_backup, verify_backup
    from ..pgtools import ToolMissing

    item = "backup + restore drill"
    missing = _db_missing(ctx, "backup_restore", item)
    if missing:
        return [missing]
    dsn = ctx.settings.database_url
    with tempfile.TemporaryDirectory(prefix="mycrypto-preflight-") as tmp:
        try:
            backup = await create_backup(dsn, tmp, label="preflight")
        except (BackupError, ToolMissing, OSError) as exc:
            return [no_go("backup_restore", "backup", f"backup failed: {exc}")]
        lines = [go("backup_restore", "backup", f"{backup.size_bytes} bytes, {sum(backup.tables.values())} rows "
                    f"in {len(backup.tables)} tables, sha256 {backup.sha256[:12]}")
                 if backup.ledger_ok else
                 no_go("backup_restore", "backup", f"taken, but the source books do not balance "
                       f"({backup.ledger_problems} problems)")]
        drill = await verify_backup(backup.dump_path, dsn)
    for step in drill.steps:
        lines.append(go("backup_restore", f"restore drill: {step.name}", step.detail) if step.ok else
                     no_go("backup_restore", f"restore drill: {step.name}", step.detail))
    return lines


async def alert_rules(ctx: PreflightContext) -> list[CheckResult]:
    from ..alerts import check_alert_rules

    rules = Path(ctx.options.alert_rules) if ctx.options.alert_rules else ALERT_RULES
    if not rules.is_file():
        return [not_run("alert_rules", "alert rules", f"no rules file at {rules} (pass --alert-rules PATH)")]
    result = await asyncio.to_thread(check_alert_rules, rules)
    return [go("alert_rules", f"promtool {s.name}", s.detail[:200] or "ok") if s.ok else
            no_go("alert_rules", f"promtool {s.name}", s.detail[:300]) for s in result.steps]
