"""Fault drill 1 (CI size): PostgreSQL restarted mid-load under `mycrypto serve all`.

Real processes on loopback: a private PostgreSQL cluster (never the shared one), the platform as a child
process, crossing orders and withdrawals from 8 workers. While the database is down every answer is a
503 with a reason (no 500) and /health says so; after it is back the platform recovers by itself within
seconds; every acknowledged order and withdrawal is in the database and `mycrypto verify` passes.
The longer run is `bench/chaos/run.py postgres` (docs/operations.md, "Fault drills").
"""
from tests.support.drills.postgres import postgres_restart_drill
from tests.support.private_servers import require_binaries

# what "unavailable" may say while the database is away: each a stable reason, none a 500
OUTAGE_CODES = {"database_unavailable", "market_unavailable", "order_outcome_unknown", "service_unavailable"}


async def test_postgres_restart_mid_load_loses_no_acknowledged_operation():
    require_binaries()
    report = await postgres_restart_drill(users=4, workers=8, before_s=3, down_s=3, after_s=3)
    print(report.line())
    assert report.numbers["server_errors"] == 0, report.numbers.get("unhandled")
    down = {key: n for key, n in report.answers["codes"].items() if key.startswith("down:")}
    assert down, "no request was refused while the database was down"
    assert {key.split(":")[1] for key in down} == {"503"}, down
    assert {key.split(":")[2] for key in down} <= OUTAGE_CODES, down
    assert any(key.endswith(":database_unavailable") for key in down), down
    assert (503, "down") in report.numbers["health_while_down"], report.numbers["health_while_down"]
    # self-recovery: writes are acknowledged again and /health is 200 within seconds of the database's return
    assert report.numbers["recovery_first_ack_s"] is not None and report.numbers["recovery_first_ack_s"] < 20
    assert report.numbers["recovery_health_s"] is not None and report.numbers["recovery_health_s"] < 20
    assert report.answers["statuses"].get("after:201", 0) > 0
    assert report.numbers["platform_alive"]
    # nothing acknowledged is lost, nothing is doubled, the books balance
    assert report.acknowledged["order"] > 0 and report.acknowledged["withdrawal"] > 0
    assert report.found == report.acknowledged and report.lost == 0
    assert report.duplicates == 0
    assert report.verify_ok, report.verify_output
