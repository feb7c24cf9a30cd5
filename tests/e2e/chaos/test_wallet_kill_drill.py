"""Fault drill 3 (CI size): the wallet service SIGKILLed during concurrent withdrawals and deposits.

`mycrypto serve wallet` on a private PostgreSQL; 8 workers request withdrawals with Idempotency-Keys (two
workers per user send the same keys, so concurrent duplicates are answered as replays) while deposits
arrive from the chain simulator. The process is SIGKILLed mid-load and started again; the requests whose
answer was lost are retried with their key. No deposit is credited twice or lost, no retry makes a second
withdrawal, no hold is lost, `mycrypto verify` passes. Longer run: `bench/chaos/run.py wallet`.
"""
from tests.support.drills.wallet import wallet_kill_drill
from tests.support.private_servers import require_binaries


async def test_wallet_sigkill_mid_load_credits_once_and_loses_no_hold():
    require_binaries()
    report = await wallet_kill_drill(users=4, workers=8, before_s=2, down_s=1, after_s=2)
    print(report.line())
    n = report.numbers
    assert n["server_errors"] == 0, n.get("unhandled")
    assert report.answers["statuses"].get("down:None", 0) > 0, "the kill cut no request: the drill proved nothing"
    assert n["settled_s"] is not None, "deposits/withdrawals did not settle after the restart"
    # deposits: each sent once, found once, credited once, posted once
    assert n["deposits_sent"] > 0
    assert n["deposit_rows"] == n["deposits_credited"] == n["deposit_postings"] == n["deposits_sent"], n
    assert n["deposit_amount_credited"] == n["deposit_amount_sent"]
    # withdrawals: every acknowledged one found; a retried or duplicated key never answered with another id
    assert report.acknowledged["withdrawal"] > 0
    assert report.found == report.acknowledged and report.lost == 0 and report.duplicates == 0
    assert report.answers["keys_with_two_ids"] == 0
    assert set(n["withdrawals_by_status"]) == {"confirmed"}, n["withdrawals_by_status"]
    # each withdrawal paid out on the chain exactly once, although the processor was killed mid-round
    assert n["chain_payouts"] == n["chain_payout_references"] == n["withdrawals_by_status"]["confirmed"], n
    # no lost hold: locked equals pending withdrawals and open orders (part of verify), books balance
    assert report.verify_ok, report.verify_output
