"""`mycrypto preflight BASE_URL`: the launch checklist's Go/No-Go, as a command.

`run_preflight` runs every check in CHECKS order (or all but `skip`) and returns a PreflightReport:
one line per item with GO / NO-GO / NOT_RUN / SKIPPED and the reason (result.py). The CLI
(cli.py) prints the table, writes the JSON and Markdown reports and exits non-zero on NO-GO.
The checks are in checks.py; the three that the operations work supplies are in extensions.py.
"""
from __future__ import annotations

import time
from typing import Any

import httpx

from . import extensions
from .checks import (PreflightContext, PreflightOptions, check_cors, check_health, check_load, check_migrations,
                     check_query_budget, check_registration, check_security_headers, check_verify, guarded)
from .result import SKIPPED, CheckResult, PreflightReport

# name (for --skip) -> (what the line is about, check)
CHECKS: dict[str, tuple[str, Any]] = {
    "migrations": ("schema at head", check_migrations),
    "health": ("every service's health", check_health),
    "security_headers": ("security headers", check_security_headers),
    "cors": ("CORS policy", check_cors),
    "registration": ("registration toggle", check_registration),
    "smoke": ("smoke journeys", extensions.smoke),
    "load": ("short load run against the SLA", check_load),
    "db_queries": ("SQL statements within budget", check_query_budget),
    "backup_restore": ("backup + restore drill", extensions.backup_restore),
    "verify": ("books balance (mycrypto verify)", check_verify),
    "alert_rules": ("alert rules", extensions.alert_rules),
}

__all__ = ["CHECKS", "PreflightOptions", "PreflightReport", "run_preflight"]


async def run_preflight(base_url: str, options: PreflightOptions, settings: Any = None,
                        skip: frozenset[str] = frozenset()) -> PreflightReport:
    unknown = set(skip) - set(CHECKS)
    if unknown:
        raise ValueError(f"unknown check(s) to skip: {', '.join(sorted(unknown))}; known: {', '.join(CHECKS)}")
    started = time.perf_counter()
    results: list[CheckResult] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=options.timeout_s, follow_redirects=False) as http:
        ctx = PreflightContext(base_url=base_url, options=options, settings=settings, http=http)
        for name, (item, fn) in CHECKS.items():
            if name in skip:
                results.append(CheckResult(name, item, SKIPPED, "skipped by --skip"))
                continue
            results.extend(await guarded(name, fn, ctx))
    report = PreflightReport(base_url, results)
    report.seconds = time.perf_counter() - started
    return report
