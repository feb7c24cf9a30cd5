"""Commit recovery (engine/recovery.py) on its own, on real PostgreSQL: given batches whose commit may
or may not have landed, the engine replays only what the fence says did not commit, refences before it
trusts the database, and gives the market up when another replica moved the epoch. (The end-to-end
cases - a real lost answer, a real commit queued on a lock - are in test_lost_commit.py.)"""
import asyncio

from mycrypto.trading.domain.settlement import Batch
from mycrypto.trading.engine import Cancel
from mycrypto.trading.engine.state import Prepared
from mycrypto.trading.errors import MarketUnavailable, OutcomeUnknown
from tests.e2e.trading.kit import make_trader
from tests.integration.trading.test_group_commit import engine_of, principal
from tests.integration.trading.test_lost_commit import buy


def _batch(engine, *, sent: bool) -> Prepared:
    """A batch after the last committed one, with one unanswered command and nothing in flight."""
    cmd = Cancel(user_id=1, order_id=1)
    cmd.future = asyncio.get_running_loop().create_future()
    prep = Prepared([cmd], [None], Batch(engine.spec, engine.fee_account, {}, {}), engine.update_id + 1, 0,
                    None, None, 0, None, {})
    prep.sent = sent
    return prep


async def _epoch(db, engine) -> int:
    return await db.fetchval("SELECT epoch FROM trade.market_engine WHERE market_id = $1", engine.spec.id)


async def test_a_batch_never_sent_is_replayed_without_asking_the_database(app, db):
    engine = engine_of(app)
    epoch = await _epoch(db, engine)
    prep = _batch(engine, sent=False)
    assert await engine._resolve_lost([prep]) == prep.cmds
    assert await _epoch(db, engine) == epoch == engine.epoch     # no refence was needed
    assert not prep.cmds[0].future.done()                        # left for the replay to answer


async def test_a_sent_batch_the_fence_did_not_record_is_replayed_after_a_refence(app, db, settings):
    engine = engine_of(app)
    epoch = await _epoch(db, engine)
    prep = _batch(engine, sent=True)
    assert await engine._resolve_lost([prep]) == prep.cmds       # not committed: replay it
    assert await _epoch(db, engine) == epoch + 1 == engine.epoch  # a late commit of it is refused now
    assert not prep.acked
    # the engine carries on under the new epoch
    u = await make_trader(db, settings, {"USDT": "100000"})
    placed = await app.state.container.trade.place_order(principal(u.user_id), buy())
    assert placed.status == "new" and engine.accepting


async def test_when_another_replica_moved_the_epoch_the_market_is_given_up(app, db):
    """The sent batch may have committed before the takeover: its client is told the outcome is unknown;
    the batch that was never sent was not executed, and this replica no longer owns the market."""
    engine = engine_of(app)
    await db.execute("UPDATE trade.market_engine SET epoch = epoch + 1 WHERE market_id = $1", engine.spec.id)
    sent, unsent = _batch(engine, sent=True), _batch(engine, sent=False)
    unsent.update_id += 1
    assert await engine._resolve_lost([sent, unsent]) == []
    assert isinstance(sent.cmds[0].future.exception(), OutcomeUnknown)
    assert isinstance(unsent.cmds[0].future.exception(), MarketUnavailable)
    assert not engine.accepting
