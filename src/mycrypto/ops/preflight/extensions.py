"""The three preflight checks that come from the operations work (issue 15): WIRE THEM IN HERE.

    smoke            the critical user journeys against BASE_URL (register, confirm, sign in, deposit,
                     order placed and executed, history) - the launch checklist's smoke tests
    backup_restore   a backup of the database and a restore drill into a scratch database, proven
                     by `mycrypto verify` on the restored copy (needs database access)
    alert_rules      the Prometheus alert rules are valid and loaded

Each is an async function of the PreflightContext (ctx.base_url, ctx.options, ctx.settings with a
usable database_url when ctx.options.database, ctx.http: an httpx client on BASE_URL) returning
CheckResult lines (result.go / no_go / not_run). Until the operations functions are merged each
answers NOT_RUN, which counts as NO-GO: a launch cannot be called GO on lines nobody checked.
An operator who has checked one by other means passes `--skip smoke` (etc.); the report still
lists it, as SKIPPED.

To wire one, replace its body, e.g.:

    async def smoke(ctx):
        from ..smoke import run_smoke            # i15's module
        outcome = await run_smoke(ctx.base_url)
        return [go("smoke", j.name, j.detail) if j.ok else no_go("smoke", j.name, j.detail)
                for j in outcome.journeys]
"""
from __future__ import annotations

from .checks import PreflightContext
from .result import CheckResult, not_run

PENDING = "not built yet: comes with the operations work (issue 15)"


async def smoke(ctx: PreflightContext) -> list[CheckResult]:
    return [not_run("smoke", "smoke journeys", PENDING)]


async def backup_restore(ctx: PreflightContext) -> list[CheckResult]:
    return [not_run("backup_restore", "backup + restore drill", PENDING)]


async def alert_rules(ctx: PreflightContext) -> list[CheckResult]:
    return [not_run("alert_rules", "alert rules", PENDING)]
