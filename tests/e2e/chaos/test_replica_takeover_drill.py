"""Fault drill 4 (CI size): two trade replicas on one database, the markets' owner SIGKILLed mid-load.

Replica A owns the markets (advisory locks), B forwards to it; both take orders. A is SIGKILLed: B takes
every market over within seconds and rebuilds the books; A, started again, stays a follower. Sampled
throughout: never two holders of a market's advisory lock, never a market listed as owned by both
replicas' admin engines endpoint. Every acknowledged order is in the database, the book B serves equals
the database's open orders, `mycrypto verify` passes. Longer run: `bench/chaos/run.py replicas`.
"""
from tests.support.drills.replicas import replica_takeover_drill
from tests.support.private_servers import require_binaries


async def test_owner_killed_the_other_replica_takes_over_and_never_two_owners():
    require_binaries()
    report = await replica_takeover_drill(users=4, workers=8, before_s=3, after_s=4)
    print(report.line())
    n = report.numbers
    assert n["server_errors"] == 0, n.get("unhandled")
    assert n["b_owned_before_kill"] == [], "B owned a market while A was alive"
    assert n["takeover_s"] is not None and n["takeover_s"] < 20, n
    assert n["first_ack_after_kill_s"] is not None and n["first_ack_after_kill_s"] < 20, n
    assert n["a_owned_after_restart"] == [], "the restarted old owner took a market back"
    assert n["monitor_samples"] > 10
    assert n["max_lock_holders"] == 1, "two sessions held one market's advisory lock"
    assert n["double_owned"] == [], n["double_owned"]
    assert n["owners_seen"]["BTC-USDT"] == ["A", "B"]
    assert n["book_equals_database"], n["book_diff"]
    assert report.acknowledged["order"] > 0
    assert report.found == report.acknowledged and report.lost == 0 and report.duplicates == 0
    assert report.verify_ok, report.verify_output
