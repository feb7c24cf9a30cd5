"""Fault drill 2 (CI size): Redis killed, restarted, then hung while people log in and trade.

A private redis-server (never the shared one) backs the rate limiter of `mycrypto serve all`. Without it,
login and trading go on with in-process rate limits (which still refuse a flood), /health is `degraded`
(200) with `checks.cache: down` and the fallback named, /metrics shows it; a hung Redis does not make each
request wait for the socket timeout; after Redis returns the buckets live in it again. Longer run:
`bench/chaos/run.py redis`.
"""
from tests.support.drills.redis import redis_down_drill
from tests.support.private_servers import require_binaries


async def test_redis_down_degrades_login_and_trading_instead_of_failing_them():
    require_binaries(redis=True)
    report = await redis_down_drill(users=4, workers=4, before_s=1.5, down_s=3, hang_s=2, after_s=1)
    print(report.line())
    n = report.numbers
    assert n["server_errors"] == 0, n.get("unhandled")
    # login goes on while Redis is dead and while it hangs; the in-process fallback still limits a flood
    assert n["logins"]["down"] == {"200": 4}, n["logins"]
    # while it hangs the in-process per-IP login bucket (already drained by the flood above) may refuse
    # one or two with 429 - a limit, never an error; most logins go through
    assert set(n["logins"]["hung"]) <= {"200", "429"} and n["logins"]["hung"].get("200", 0) >= 4, n["logins"]
    assert n["flood_statuses"].get("429", 0) > 0, n["flood_statuses"]
    # a hung Redis costs one socket timeout (2 s) now and then, not one per limiter hit (a login makes two)
    assert n["login_p50_s"]["hung"] < 1.5, n["login_p50_s"]
    assert n["logins_slower_than_2s"]["hung"] <= 2, n["logins_slower_than_2s"]
    # visible: health degraded (not 503) with the fallback named; metrics say Redis is down and count fallbacks
    status, state, cache, fallbacks = n["health_down"]
    assert (status, state, cache) == (200, "degraded", "down") and "in-memory" in fallbacks["cache"]
    assert n["health_hung"] == [200, "degraded", "down"]
    assert n["metrics_down"]["mycrypto_redis_up"] == 0
    assert n["metrics_down"]["mycrypto_rate_limit_fallbacks_total"] > 0
    # Redis back: health ok and the buckets are in Redis again, within seconds
    assert n["redis_keys_before"] > 0
    assert n["recovery_health_s"] is not None and n["recovery_health_s"] < 20
    assert n["recovery_limiter_in_redis_s"] is not None and n["recovery_limiter_in_redis_s"] < 20
    # trading never stopped, nothing acknowledged is lost, the books balance
    for phase in ("before", "down", "hung", "after"):
        assert report.answers["statuses"].get(f"{phase}:201", 0) > 0, report.answers
    assert report.found == report.acknowledged and report.lost == 0 and report.duplicates == 0
    assert report.verify_ok, report.verify_output
