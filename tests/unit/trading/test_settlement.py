"""Holds, fees and the event -> settlement mapping: every trade is one balanced posting, fees round up
cumulatively per order, and a buy's hold always covers what its fills consume."""
from decimal import Decimal as D

from hypothesis import given, settings, strategies as st

from mycrypto.common.markets import PPM, MarketSpec, ceil_div
from mycrypto.trading.domain.matching import BUY, SELL, OrderBook
from mycrypto.trading.domain.settlement import Batch, OrderState, buy_hold_needed, initial_hold, worst_price

SPEC = MarketSpec.build(id=1, symbol="BTC-USDT", base="BTC", quote="USDT", base_decimals=8, quote_decimals=8,
                        tick_size=D("0.01"), lot_size=D("0.00001"), min_qty=D("0.00001"), max_qty=D("9000"),
                        min_notional=D("0"), maker_fee=D("0.0008"), taker_fee=D("0.0010"))
FEE_ACC = 999


def order(oid, user, side, price, qty, **kw):
    o = OrderState(oid, user, side, 0, tif=0, post_only=False, stp=3, price=price, qty=qty, quote_qty=0,
                   base_acc=user * 10 + 1, quote_acc=user * 10 + 2, coid=None, created_ms=0, **kw)
    return o


def place(batch, book, o):
    batch.place_hold(o, initial_hold(SPEC, o.side, o.price, o.qty, 0), "X")
    batch.add_new(o)
    batch.apply(book.limit(o.id, o.user_id, o.side, o.price, o.qty, 0, False, 3), o, 1)


def test_initial_holds():
    assert initial_hold(SPEC, BUY, 5_000_000, 10_000, 0) == 5005 * 10**8     # 0.1 BTC @ 50000 + 0.1% fee
    assert initial_hold(SPEC, SELL, 5_000_000, 10_000, 0) == 10_000_000                   # 0.1 BTC
    assert initial_hold(SPEC, BUY, 0, 0, 100 * 10**8) == 100 * 10**8 + 10_000_000         # budget + 0.1%


def test_worst_price_walks_the_levels():
    asks = [(100, 5, 1), (101, 5, 2), (105, 10, 1)]
    assert worst_price(asks, 3) == (100, 3) and worst_price(asks, 6) == (101, 6)
    assert worst_price(asks, 30) == (105, 20) and worst_price([], 3) == (0, 0)


def test_a_fill_settles_buyer_seller_and_fees_in_one_posting():
    book, orders, avail = OrderBook(), {}, {12: 10**15, 21: 10**15}
    batch = Batch(SPEC, FEE_ACC, orders, avail)
    place(batch, book, order(1, 2, SELL, 5_000_000, 10_000))       # seller user 2 rests 0.1 BTC @ 50000
    place(batch, book, order(2, 1, BUY, 5_100_000, 4_000))         # buyer user 1 takes 0.04 @ 50000
    assert len(batch.trades) == 1
    (posting,) = batch.postings()
    legs = {(leg.account_id, leg.bucket): leg.amount for leg in posting.legs}
    assert posting.kind == "trade" and posting.ref_type == "trade" and posting.ref_id == "1:1"
    assert legs == {(12, "locked"): D("-2002"), (11, "available"): D("0.04"), (21, "locked"): D("-0.04"),
                    (22, "available"): D("1998.4"), (FEE_ACC, "available"): D("3.6")}
    # net hold changes of the batch: the seller locked 0.1 BTC; the buyer locked 2042.04 (0.04 @ 51000 +
    # fee) and, its order filled, got back what the fill did not use: net 2002, which the posting consumes
    holds = {h.account_id: h.amount for h in batch.hold_changes()}
    assert holds == {21: D("0.1"), 12: D("2002")}


def test_fees_round_up_cumulatively_per_order():
    o = order(1, 1, BUY, 100, 10)
    charged = [o.add_fee(x) for x in (400_000, 400_000, 400_000)]    # 0.4 unit each
    assert charged == [1, 0, 1] and o.fee == 2 == ceil_div(1_200_000, PPM)


@settings(max_examples=300, deadline=None)
@given(price=st.integers(1, 10_000), qty=st.integers(1, 2_000),
       fills=st.lists(st.tuples(st.integers(0, 100), st.integers(1, 300), st.booleans()), min_size=1, max_size=30))
def test_a_buy_hold_always_covers_its_fills_and_is_released_exactly(price, qty, fills):
    """Fills at any price <= the limit, as taker or maker, in any sizes: hold_rem never goes negative,
    resting releases keep it >= what the remainder may need, and closing releases all of it."""
    book, orders = OrderBook(), {}
    batch = Batch(SPEC, FEE_ACC, orders, {12: 10**30})
    buyer = order(1, 1, BUY, price, qty)
    batch.place_hold(buyer, initial_hold(SPEC, BUY, price, qty, 0), "USDT")
    batch.add_new(buyer)
    orders[1] = buyer
    seller_id = 100
    for discount, size, as_taker in fills:
        rem = buyer.remaining
        if not rem:
            break
        size = min(size, rem)
        px = max(1, price - discount)
        seller = order(seller_id, 2, SELL, px, size, hold_amount=size * SPEC.base_per_lot,
                       hold_rem=size * SPEC.base_per_lot, is_new=False)
        orders[seller_id] = seller
        seller_id += 1
        batch._fill(buyer if as_taker else seller, seller if as_taker else buyer, seller_id, px, size,
                    BUY if as_taker else SELL, 1)
        assert buyer.hold_rem >= 0
        assert buyer.hold_rem >= buy_hold_needed(SPEC, buyer, buyer.remaining)
        batch._release(buyer, buyer.hold_rem - buy_hold_needed(SPEC, buyer, buyer.remaining))   # as on EV_RESTED
    paid = sum(leg[4] for leg in batch.legs if leg[0] == buyer.quote_acc)
    # everything the order paid plus what is still held is exactly its original hold minus releases
    released = -(batch.holds[12] - buyer.hold_amount)
    assert paid + buyer.hold_rem + released == buyer.hold_amount
    assert buyer.fee == ceil_div(buyer.fee_exact, PPM)
    for posting in batch.postings():
        by_asset = {}
        for leg in posting.legs:
            by_asset[leg.asset] = by_asset.get(leg.asset, 0) + leg.amount
        assert all(v == 0 for v in by_asset.values())
