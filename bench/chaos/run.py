"""Fault drills, long versions: PostgreSQL restarted (or crashed) mid-load, Redis down and hung, the wallet
SIGKILLed during withdrawals and deposits, the trade owner SIGKILLed with two replicas.

Each drill starts PRIVATE servers on loopback (its own `initdb` cluster, its own `redis-server`; the
machine's shared PostgreSQL and Redis are never touched), runs `mycrypto serve ...` child processes
against them, breaks something mid-load and prints what it proves: operations acknowledged vs found in
the database (lost must be 0), `mycrypto verify`, recovery seconds and the answers by phase. The same
drills, shorter, are the suite's tests/e2e/chaos/ (docs/operations.md, "Fault drills").

    .venv/bin/python bench/chaos/run.py                  # every drill, long versions
    .venv/bin/python bench/chaos/run.py postgres wallet  # some of them
    .venv/bin/python bench/chaos/run.py --json out.json  # also write the reports

Exit status 1 if any drill lost an acknowledged operation, doubled one, answered 500 or failed verify.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.support.drills.postgres import postgres_restart_drill  # noqa: E402
from tests.support.drills.redis import redis_down_drill  # noqa: E402
from tests.support.drills.replicas import replica_takeover_drill  # noqa: E402
from tests.support.drills.wallet import wallet_kill_drill  # noqa: E402
from tests.support.private_servers import missing_binaries  # noqa: E402

DRILLS = {
    "postgres": lambda: postgres_restart_drill(users=8, workers=16, before_s=10, down_s=10, after_s=10),
    "postgres-crash": lambda: postgres_restart_drill(users=8, workers=16, before_s=10, down_s=5, after_s=10,
                                                     crash=True),
    "redis": lambda: redis_down_drill(users=8, workers=8, before_s=5, down_s=10, hang_s=10, after_s=5),
    "wallet": lambda: wallet_kill_drill(users=8, workers=16, before_s=5, down_s=2, after_s=5, kills=3),
    "replicas": lambda: replica_takeover_drill(users=8, workers=16, before_s=10, after_s=10),
}


def passed(report) -> bool:   # noqa: ANN001
    return (report.lost == 0 and report.duplicates == 0 and report.verify_ok
            and report.numbers.get("server_errors", 0) == 0 and report.answers.get("keys_with_two_ids", 0) == 0)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("drills", nargs="*", metavar="DRILL", help=f"any of {', '.join(DRILLS)} (default: all)")
    parser.add_argument("--json", dest="json_path", help="write every report to this file")
    args = parser.parse_args()
    unknown = [d for d in args.drills if d not in DRILLS]
    if unknown:
        parser.error(f"unknown drill(s) {unknown}; choose from {list(DRILLS)}")
    missing = missing_binaries(redis=True)
    if missing:
        print("error: the drills need " + ", ".join(missing), file=sys.stderr)
        return 2
    reports, ok = [], True
    for name in args.drills or list(DRILLS):
        started = time.monotonic()
        report = await DRILLS[name]()
        seconds = time.monotonic() - started
        good = passed(report)
        ok = ok and good
        print(f"{'PASS' if good else 'FAIL'} {name} ({seconds:.0f} s)")
        print(json.dumps({k: v for k, v in report.as_dict().items()}, default=str, indent=2))
        if not report.verify_ok:
            print(report.verify_output)
        reports.append({**report.as_dict(), "drill_seconds": round(seconds, 1), "passed": good})
    print("\nsummary:")
    for r in reports:
        print(f"  {'PASS' if r['passed'] else 'FAIL'} {r['drill']:<18} acknowledged {sum(r['acknowledged'].values()):>6}"
              f"  found {sum(r['found'].values()):>6}  lost {r['lost']}  verify {'ok' if r['verify_ok'] else 'FAILED'}"
              f"  ({r['drill_seconds']} s)")
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(reports, default=str, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
