"""The firing transaction on real PostgreSQL (alerts/firing.py): conditional, so the same crossing
recorded twice - by a replay, or by two owners at once during a takeover - writes one history row,
one email and one stream event; older crossings and deleted alerts write nothing."""
import asyncio
from decimal import Decimal as D

from mycrypto.alerts import firing
from mycrypto.alerts import repository as repo
from mycrypto.alerts.domain.watch import Firing
from mycrypto.trading import repository as trade_repo
from tests.support.factories import create_user


async def setup(db, *, repeating=True, cooldown_s=0):
    user_id = await create_user(db)
    async with db.acquire() as conn:
        rows = await trade_repo.load_markets(conn)
        spec = next(trade_repo.spec_from_row(r) for r in rows if r["symbol"] == "BTC-USDT")
        alert = await repo.insert_alert(conn, user_id=user_id, market_id=spec.id, condition="price", direction="above",
                                        level=D(50000), params={}, repeating=repeating, cooldown_s=cooldown_s,
                                        notify_email=True, note="", since_trade_id=0)
    return spec, alert


async def written(db, alert_id):
    events = await db.fetchval("SELECT count(*) FROM trade.price_alert_event WHERE alert_id = $1", alert_id)
    stream = await db.fetchval("SELECT count(*) FROM ops.outbox WHERE topic = 'stream.user.alert_triggered' "
                               "AND (payload->'event'->>'alert_id')::bigint = $1", alert_id)
    emails = await db.fetchval("SELECT count(*) FROM ops.outbox WHERE topic = 'email.price_alert'")
    return events, stream, emails


def fired_at(alert_id, seq, ms=1_700_000_000_000):
    return Firing(alert_id, seq, seq, D(50001), None, ms)


async def test_the_same_crossing_recorded_twice_at_once_is_written_once(db, settings):
    spec, alert = await setup(db)
    results = await asyncio.gather(*(firing.record(db, settings, spec, [fired_at(alert["id"], 5)], 5)
                                     for _ in range(4)))
    assert sorted(results) == [0, 0, 0, 1]
    assert await written(db, alert["id"]) == (1, 1, 1)
    # a replay of it, and of an older crossing, writes nothing; a later one fires (repeating, no cooldown)
    assert await firing.record(db, settings, spec, [fired_at(alert["id"], 5), fired_at(alert["id"], 4)], 5) == 0
    assert await firing.record(db, settings, spec, [fired_at(alert["id"], 6)], 6) == 1
    assert await written(db, alert["id"]) == (2, 2, 2)
    row = await db.fetchrow("SELECT fire_count, last_fired_seq, status FROM trade.price_alert WHERE id = $1",
                            alert["id"])
    assert tuple(row) == (2, 6, "active")
    assert await db.fetchval("SELECT last_trade_id FROM trade.alert_cursor WHERE market_id = $1", spec.id) == 6


async def test_one_shot_cooldown_and_deleted(db, settings):
    spec, once = await setup(db, repeating=False)
    assert await firing.record(db, settings, spec, [fired_at(once["id"], 1), fired_at(once["id"], 2)], 2) == 1
    assert await db.fetchval("SELECT status FROM trade.price_alert WHERE id = $1", once["id"]) == "triggered"
    _, slow = await setup(db, cooldown_s=60)
    t = 1_700_000_000_000
    fires = [fired_at(slow["id"], 1, t), fired_at(slow["id"], 2, t + 59_999), fired_at(slow["id"], 3, t + 60_000)]
    assert await firing.record(db, settings, spec, fires, 3) == 2          # the second is inside the cooldown
    _, gone = await setup(db)
    await db.execute("UPDATE trade.price_alert SET status = 'deleted', deleted_at = now() WHERE id = $1", gone["id"])
    assert await firing.record(db, settings, spec, [fired_at(gone["id"], 9)], 9) == 0
    assert await written(db, gone["id"]) == (0, 0, 3)
    # the cursor never moves back (an old owner finishing late)
    await firing.record(db, settings, spec, [fired_at(gone["id"], 10)], 4)
    assert await db.fetchval("SELECT last_trade_id FROM trade.alert_cursor WHERE market_id = $1", spec.id) == 9
