"""Example-based tests of every rule of the matching core (mycrypto.trading.domain.matching)."""
import pytest

from mycrypto.trading.domain.matching import (
    BUY, CANCELED, D_DUPLICATE, D_FOK, D_INVALID, D_IOC, D_MARKET, D_NO_LIQUIDITY,
    D_POST_ONLY, D_STP, EV_AMENDED, EV_DONE, EV_FILL, EV_RESTED, EXPIRED, FILLED, FOK, GTC,
    IOC, REJECTED, SELL, STP_EXPIRE_BOTH, STP_EXPIRE_MAKER, STP_EXPIRE_TAKER, STP_NONE, Amend,
    Cancel, CancelAll, OrderBook, PlaceLimit, PlaceMarket,
)


def fills(evs):
    return [e for e in evs if e[0] == EV_FILL]


def book_with(*orders, next_trade_id=1):
    """orders: (oid, owner, side, price, qty) placed as plain GTC limits (must not cross)."""
    b = OrderBook(next_trade_id)
    for oid, owner, side, price, qty in orders:
        assert b.limit(oid, owner, side, price, qty) == [(EV_RESTED, oid, side, price, qty)]
    return b


# ---------------------------------------------------------------------------- basics
def test_empty_book():
    b = OrderBook()
    assert len(b) == 0
    assert b.best_bid() is None and b.best_ask() is None
    assert b.depth(5) == ([], [])
    assert b.snapshot() == []
    assert b.next_trade_id == 1
    assert b.resting(1) is None


def test_rest_and_inspect():
    b = book_with((1, "a", BUY, 100, 5), (2, "b", BUY, 101, 3), (3, "c", SELL, 105, 7),
                  (4, "d", BUY, 100, 2), (5, "e", SELL, 103, 1))
    assert len(b) == 5
    assert b.best_bid() == 101 and b.best_ask() == 103
    assert b.depth(10) == ([(101, 3, 1), (100, 7, 2)], [(103, 1, 1), (105, 7, 1)])
    assert b.depth(1) == ([(101, 3, 1)], [(103, 1, 1)])
    assert b.depth(0) == ([], [])
    assert b.resting(4) == ("d", BUY, 100, 2)
    assert b.snapshot() == [(2, "b", BUY, 101, 3), (1, "a", BUY, 100, 5), (4, "d", BUY, 100, 2),
                            (5, "e", SELL, 103, 1), (3, "c", SELL, 105, 7)]


def test_trade_at_maker_price_and_partial_fill_of_maker():
    b = book_with((1, "m", SELL, 100, 10))
    evs = b.limit(2, "t", BUY, 105, 4)
    assert evs == [(EV_FILL, 1, 2, 1, 100, 4, BUY, 6), (EV_DONE, 2, FILLED, 0)]
    assert b.resting(1) == ("m", SELL, 100, 6)
    assert b.depth(1) == ([], [(100, 6, 1)])
    assert b.next_trade_id == 2


def test_partial_fill_of_taker_rests_remainder():
    b = book_with((1, "m", SELL, 100, 3))
    evs = b.limit(2, "t", BUY, 100, 10)
    assert evs == [(EV_FILL, 1, 2, 1, 100, 3, BUY, 0), (EV_DONE, 1, FILLED, 0),
                   (EV_RESTED, 2, BUY, 100, 7)]
    assert b.snapshot() == [(2, "t", BUY, 100, 7)]
    assert b.best_ask() is None


def test_price_time_priority_and_multi_level_sweep():
    b = book_with((1, "a", SELL, 101, 2), (2, "b", SELL, 100, 3), (3, "c", SELL, 100, 4),
                  (4, "d", SELL, 102, 5), (5, "e", SELL, 101, 1))
    evs = b.limit(9, "t", BUY, 101, 9)
    # best price first (100), FIFO within it (2 then 3), then 101 (1 then 5); 102 not reached
    # taker wanted 9, got 3+4+2 = 9 -> filled before reaching order 5
    assert evs == [
        (EV_FILL, 1, 9, 2, 100, 3, BUY, 0), (EV_DONE, 2, FILLED, 0),
        (EV_FILL, 2, 9, 3, 100, 4, BUY, 0), (EV_DONE, 3, FILLED, 0),
        (EV_FILL, 3, 9, 1, 101, 2, BUY, 0), (EV_DONE, 1, FILLED, 0),
        (EV_DONE, 9, FILLED, 0),
    ]
    assert b.snapshot() == [(5, "e", SELL, 101, 1), (4, "d", SELL, 102, 5)]


def test_sell_taker_sweeps_bids_best_first():
    b = book_with((1, "a", BUY, 99, 2), (2, "b", BUY, 100, 2), (3, "c", BUY, 98, 2))
    evs = b.limit(4, "t", SELL, 99, 10)
    assert fills(evs) == [(EV_FILL, 1, 4, 2, 100, 2, SELL, 0), (EV_FILL, 2, 4, 1, 99, 2, SELL, 0)]
    assert evs[-1] == (EV_RESTED, 4, SELL, 99, 6)
    assert b.best_bid() == 98 and b.best_ask() == 99


def test_limit_does_not_trade_through_its_price():
    b = book_with((1, "a", SELL, 101, 5))
    assert b.limit(2, "t", BUY, 100, 5) == [(EV_RESTED, 2, BUY, 100, 5)]
    assert b.best_bid() == 100 and b.best_ask() == 101


def test_trade_ids_continue_from_next_trade_id():
    b = book_with((1, "a", SELL, 100, 1), (2, "b", SELL, 100, 1), next_trade_id=1000)
    evs = b.limit(3, "t", BUY, 100, 2)
    assert [e[1] for e in fills(evs)] == [1000, 1001]
    assert b.next_trade_id == 1002
    b.limit(4, "c", SELL, 100, 1)
    assert fills(b.market(5, "t", BUY, qty=1)) == [(EV_FILL, 1002, 5, 4, 100, 1, BUY, 0)]
    assert b.next_trade_id == 1003


# ---------------------------------------------------------------------------- IOC / FOK / post-only
def test_ioc_fills_what_it_can_and_expires_the_rest():
    b = book_with((1, "a", SELL, 100, 3), (2, "a", SELL, 102, 3))
    evs = b.limit(3, "t", BUY, 101, 5, tif=IOC)
    assert evs == [(EV_FILL, 1, 3, 1, 100, 3, BUY, 0), (EV_DONE, 1, FILLED, 0),
                   (EV_DONE, 3, EXPIRED, 2, D_IOC)]
    assert b.resting(3) is None and len(b) == 1


def test_ioc_fully_filled_and_not_crossing():
    b = book_with((1, "a", SELL, 100, 3))
    assert b.limit(2, "t", BUY, 100, 3, tif=IOC)[-1] == (EV_DONE, 2, FILLED, 0)
    assert b.limit(3, "t", BUY, 100, 3, tif=IOC) == [(EV_DONE, 3, EXPIRED, 3, D_IOC)]
    assert len(b) == 0


def test_fok_all_or_nothing():
    b = book_with((1, "a", SELL, 100, 3), (2, "b", SELL, 101, 3), (3, "c", SELL, 102, 3))
    before = b.snapshot()
    # 7 available within 101? no: only 6 -> expired, book unchanged, no trade id used
    assert b.limit(4, "t", BUY, 101, 7, tif=FOK) == [(EV_DONE, 4, EXPIRED, 7, D_FOK)]
    assert b.snapshot() == before and b.next_trade_id == 1
    # 6 within 101: exactly fillable
    evs = b.limit(5, "t", BUY, 101, 6, tif=FOK)
    assert [e[5] for e in fills(evs)] == [3, 3] and evs[-1] == (EV_DONE, 5, FILLED, 0)
    assert b.snapshot() == [(3, "c", SELL, 102, 3)]
    # not crossing at all
    assert b.limit(6, "t", BUY, 101, 1, tif=FOK) == [(EV_DONE, 6, EXPIRED, 1, D_FOK)]
    assert b.limit(7, "t", SELL, 90, 1, tif=FOK) == [(EV_DONE, 7, EXPIRED, 1, D_FOK)]


def test_fok_with_stp_expire_maker_does_not_count_own_orders():
    b = book_with((1, "me", SELL, 100, 5), (2, "x", SELL, 100, 3))
    before = b.snapshot()
    # 8 on the book but 5 are mine: a FOK for 4 cannot be filled -> nothing changes,
    # and my resting order is NOT expired either
    assert b.limit(3, "me", BUY, 100, 4, tif=FOK) == [(EV_DONE, 3, EXPIRED, 4, D_FOK)]
    assert b.snapshot() == before
    # a FOK for 3 is fillable: my order (first in the queue) is STP-expired, then 3 fill
    evs = b.limit(4, "me", BUY, 100, 3, tif=FOK)
    assert evs == [(EV_DONE, 1, EXPIRED, 5, D_STP), (EV_FILL, 1, 4, 2, 100, 3, BUY, 0),
                   (EV_DONE, 2, FILLED, 0), (EV_DONE, 4, FILLED, 0)]
    assert len(b) == 0


@pytest.mark.parametrize("stp", [STP_EXPIRE_TAKER, STP_EXPIRE_BOTH])
def test_fok_with_stp_expire_taker_counts_only_liquidity_before_own_order(stp):
    b = book_with((1, "x", SELL, 100, 2), (2, "me", SELL, 100, 5), (3, "y", SELL, 100, 9))
    before = b.snapshot()
    # the taker would be expired when it reaches order 2, after only 2 lots
    assert b.limit(4, "me", BUY, 100, 3, tif=FOK, stp=stp) == [(EV_DONE, 4, EXPIRED, 3, D_FOK)]
    assert b.snapshot() == before
    # 2 lots are reachable before my own order: fillable, STP never triggers
    evs = b.limit(5, "me", BUY, 100, 2, tif=FOK, stp=stp)
    assert fills(evs) == [(EV_FILL, 1, 5, 1, 100, 2, BUY, 0)] and evs[-1] == (EV_DONE, 5, FILLED, 0)
    assert b.resting(2) == ("me", SELL, 100, 5)


def test_fok_with_stp_none_counts_own_orders():
    b = book_with((1, "me", SELL, 100, 5))
    evs = b.limit(2, "me", BUY, 100, 5, tif=FOK, stp=STP_NONE)
    assert fills(evs) == [(EV_FILL, 1, 2, 1, 100, 5, BUY, 0)]


def test_post_only_rejected_if_it_would_take():
    b = book_with((1, "a", SELL, 100, 5), (2, "b", BUY, 98, 1))
    before = b.snapshot()
    assert b.limit(3, "t", BUY, 100, 1, post_only=True) == [(EV_DONE, 3, REJECTED, 1, D_POST_ONLY)]
    assert b.snapshot() == before
    assert b.limit(4, "t", BUY, 99, 1, post_only=True) == [(EV_RESTED, 4, BUY, 99, 1)]
    assert b.limit(5, "t", SELL, 99, 1, post_only=True) == [(EV_DONE, 5, REJECTED, 1, D_POST_ONLY)]
    # post-only is rejected even if the only liquidity it would hit is its owner's own
    assert b.limit(6, "a", BUY, 100, 1, post_only=True)[0][2] == REJECTED
    assert b.next_trade_id == 1


# ---------------------------------------------------------------------------- market
def test_market_by_qty():
    b = book_with((1, "a", SELL, 100, 2), (2, "b", SELL, 105, 2), (3, "c", BUY, 90, 1))
    evs = b.market(4, "t", BUY, qty=3)
    assert evs == [(EV_FILL, 1, 4, 1, 100, 2, BUY, 0), (EV_DONE, 1, FILLED, 0),
                   (EV_FILL, 2, 4, 2, 105, 1, BUY, 1), (EV_DONE, 4, FILLED, 0)]
    evs = b.market(5, "t", BUY, qty=5)      # only 1 left: remainder expires, never rests
    assert evs == [(EV_FILL, 3, 5, 2, 105, 1, BUY, 0), (EV_DONE, 2, FILLED, 0),
                   (EV_DONE, 5, EXPIRED, 4, D_MARKET)]
    assert b.market(6, "t", BUY, qty=5) == [(EV_DONE, 6, EXPIRED, 5, D_NO_LIQUIDITY)]
    assert b.market(7, "t", SELL, 2) == [(EV_FILL, 4, 7, 3, 90, 1, SELL, 0),
                                          (EV_DONE, 3, FILLED, 0), (EV_DONE, 7, EXPIRED, 1, D_MARKET)]
    assert len(b) == 0 and b.resting(5) is None


def test_market_by_quote_budget():
    b = book_with((1, "a", SELL, 100, 3), (2, "b", SELL, 150, 10))
    # budget 700: 3 lots @100 = 300, then 400 // 150 = 2 lots @150 = 300, 100 left (< 150)
    evs = b.market(3, "t", BUY, quote_budget=700)
    assert evs == [(EV_FILL, 1, 3, 1, 100, 3, BUY, 0), (EV_DONE, 1, FILLED, 0),
                   (EV_FILL, 2, 3, 2, 150, 2, BUY, 8), (EV_DONE, 3, FILLED, 100)]
    assert b.resting(2) == ("b", SELL, 150, 8)
    # budget larger than the whole book: everything bought, leftover reported, EXPIRED
    evs = b.market(4, "t", BUY, quote_budget=2000)
    assert fills(evs) == [(EV_FILL, 3, 4, 2, 150, 8, BUY, 0)]
    assert evs[-1] == (EV_DONE, 4, EXPIRED, 2000 - 1200, D_MARKET)
    # empty book
    assert b.market(5, "t", BUY, quote_budget=10) == [(EV_DONE, 5, EXPIRED, 10, D_NO_LIQUIDITY)]


def test_market_quote_budget_exact_and_too_small():
    b = book_with((1, "a", SELL, 100, 3))
    assert b.market(2, "t", BUY, quote_budget=99) == [(EV_DONE, 2, EXPIRED, 99, D_NO_LIQUIDITY)]
    evs = b.market(3, "t", BUY, quote_budget=200)
    assert evs == [(EV_FILL, 1, 3, 1, 100, 2, BUY, 1), (EV_DONE, 3, FILLED, 0)]


@pytest.mark.parametrize("kwargs", [dict(), dict(qty=0), dict(qty=-1), dict(qty=1, quote_budget=5),
                                    dict(quote_budget=0)])
def test_market_invalid(kwargs):
    b = book_with((1, "a", SELL, 100, 3))
    evs = b.market(2, "t", BUY, **kwargs)
    assert len(evs) == 1 and evs[0][:3] == (EV_DONE, 2, REJECTED) and evs[0][4] == D_INVALID
    assert b.snapshot() == [(1, "a", SELL, 100, 3)]


def test_market_sell_by_quote_budget_rejected():
    b = book_with((1, "a", BUY, 100, 3))
    assert b.market(2, "t", SELL, quote_budget=500)[0][2] == REJECTED
    assert len(b) == 1


# ---------------------------------------------------------------------------- STP
def test_stp_default_is_expire_maker():
    b = book_with((1, "me", SELL, 100, 2), (2, "x", SELL, 100, 3))
    evs = b.limit(3, "me", BUY, 100, 4)
    assert evs == [(EV_DONE, 1, EXPIRED, 2, D_STP), (EV_FILL, 1, 3, 2, 100, 3, BUY, 0),
                   (EV_DONE, 2, FILLED, 0), (EV_RESTED, 3, BUY, 100, 1)]


def test_stp_expire_maker_explicit_and_market():
    b = book_with((1, "me", SELL, 100, 2), (2, "x", SELL, 101, 3))
    evs = b.market(3, "me", BUY, qty=1, stp=STP_EXPIRE_MAKER)
    assert evs == [(EV_DONE, 1, EXPIRED, 2, D_STP), (EV_FILL, 1, 3, 2, 101, 1, BUY, 2),
                   (EV_DONE, 3, FILLED, 0)]


def test_stp_expire_taker():
    b = book_with((1, "x", SELL, 100, 2), (2, "me", SELL, 100, 5), (3, "y", SELL, 100, 1))
    evs = b.limit(4, "me", BUY, 100, 10, stp=STP_EXPIRE_TAKER)
    assert evs == [(EV_FILL, 1, 4, 1, 100, 2, BUY, 0), (EV_DONE, 1, FILLED, 0),
                   (EV_DONE, 4, EXPIRED, 8, D_STP)]
    assert b.snapshot() == [(2, "me", SELL, 100, 5), (3, "y", SELL, 100, 1)]   # GTC did not rest


def test_stp_expire_both():
    b = book_with((1, "me", BUY, 100, 5), (2, "x", BUY, 100, 1))
    evs = b.limit(3, "me", SELL, 100, 10, stp=STP_EXPIRE_BOTH)
    assert evs == [(EV_DONE, 1, EXPIRED, 5, D_STP), (EV_DONE, 3, EXPIRED, 10, D_STP)]
    assert b.snapshot() == [(2, "x", BUY, 100, 1)]


def test_stp_none_allows_self_trade():
    b = book_with((1, "me", BUY, 100, 5))
    evs = b.limit(2, "me", SELL, 100, 2, stp=STP_NONE)
    assert evs == [(EV_FILL, 1, 2, 1, 100, 2, SELL, 3), (EV_DONE, 2, FILLED, 0)]


def test_owner_none_never_self_trade_checks():
    b = book_with((1, None, BUY, 100, 5))
    evs = b.limit(2, None, SELL, 100, 2, stp=STP_EXPIRE_BOTH)
    assert fills(evs) == [(EV_FILL, 1, 2, 1, 100, 2, SELL, 3)]
    evs = b.limit(3, None, SELL, 100, 1)
    assert fills(evs) == [(EV_FILL, 2, 3, 1, 100, 1, SELL, 2)]


def test_stp_expire_maker_last_order_of_level_continues_to_next_level():
    b = book_with((1, "me", SELL, 100, 2), (2, "x", SELL, 101, 3))
    evs = b.limit(3, "me", BUY, 101, 3)
    assert evs == [(EV_DONE, 1, EXPIRED, 2, D_STP), (EV_FILL, 1, 3, 2, 101, 3, BUY, 0),
                   (EV_DONE, 2, FILLED, 0), (EV_DONE, 3, FILLED, 0)]


def test_stp_on_quote_budget_market():
    b = book_with((1, "me", SELL, 100, 2), (2, "x", SELL, 100, 3))
    evs = b.market(3, "me", BUY, quote_budget=250, stp=STP_EXPIRE_TAKER)
    assert evs == [(EV_DONE, 3, EXPIRED, 250, D_STP)]
    evs = b.market(4, "me", BUY, quote_budget=250)
    assert evs == [(EV_DONE, 1, EXPIRED, 2, D_STP), (EV_FILL, 1, 4, 2, 100, 2, BUY, 1),
                   (EV_DONE, 4, FILLED, 50)]


# ---------------------------------------------------------------------------- cancel / amend
def test_cancel():
    b = book_with((1, "a", BUY, 100, 5), (2, "a", BUY, 100, 3))
    assert b.cancel(1) == [(EV_DONE, 1, CANCELED, 5)]
    assert b.cancel(1) == []
    assert b.cancel(99) == []
    assert b.depth(1) == ([(100, 3, 1)], [])
    assert b.cancel(2) == [(EV_DONE, 2, CANCELED, 3)]
    assert b.best_bid() is None and len(b) == 0


def test_cancel_after_partial_fill_reports_remaining():
    b = book_with((1, "a", SELL, 100, 5))
    b.limit(2, "t", BUY, 100, 2)
    assert b.cancel(1) == [(EV_DONE, 1, CANCELED, 3)]
    assert b.cancel(2) == []    # the taker was fully filled, never rested


def test_cancel_middle_of_level_keeps_fifo():
    b = book_with(*[(i, "a", SELL, 100, 1) for i in range(1, 6)])
    assert b.cancel(3) and b.cancel(2)
    assert [e[3] for e in fills(b.limit(9, "t", BUY, 100, 3))] == [1, 4, 5]
    assert len(b) == 0


def test_cancel_all_in_priority_order():
    b = book_with((1, "a", BUY, 99, 1), (2, "b", BUY, 100, 1), (3, "a", SELL, 105, 1),
                  (4, "a", BUY, 100, 1), (5, "a", SELL, 104, 1), (6, "a", BUY, 99, 1),
                  (7, "b", SELL, 104, 1))
    evs = b.cancel_all("a")
    assert evs == [(EV_DONE, 4, CANCELED, 1), (EV_DONE, 1, CANCELED, 1), (EV_DONE, 6, CANCELED, 1),
                   (EV_DONE, 5, CANCELED, 1), (EV_DONE, 3, CANCELED, 1)]
    assert b.snapshot() == [(2, "b", BUY, 100, 1), (7, "b", SELL, 104, 1)]
    assert b.cancel_all("a") == [] and b.cancel_all("nobody") == []


def test_amend_reduces_and_keeps_priority():
    b = book_with((1, "a", SELL, 100, 5), (2, "b", SELL, 100, 5))
    assert b.amend(1, 2) == [(EV_AMENDED, 1, 2)]
    assert b.resting(1) == ("a", SELL, 100, 2)
    assert b.depth(1) == ([], [(100, 7, 2)])
    evs = b.limit(3, "t", BUY, 100, 3)
    assert fills(evs) == [(EV_FILL, 1, 3, 1, 100, 2, BUY, 0), (EV_FILL, 2, 3, 2, 100, 1, BUY, 4)]


@pytest.mark.parametrize("new_qty", [0, -1, 5, 6])
def test_amend_invalid_changes_nothing(new_qty):
    b = book_with((1, "a", SELL, 100, 5))
    assert b.amend(1, new_qty) == []
    assert b.amend(42, 1) == []
    assert b.snapshot() == [(1, "a", SELL, 100, 5)]


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("args", [
    (2, "x", BUY, 100, 0), (2, "x", BUY, 100, -3), (2, "x", BUY, 0, 1), (2, "x", BUY, -5, 1),
    (2, "x", 7, 100, 1),
])
def test_limit_invalid_rejected(args):
    b = book_with((1, "a", SELL, 101, 5))
    before = b.snapshot()
    evs = b.limit(*args)
    assert len(evs) == 1 and evs[0][:3] == (EV_DONE, 2, REJECTED) and evs[0][4] == D_INVALID
    assert b.snapshot() == before and b.next_trade_id == 1


@pytest.mark.parametrize("kwargs", [dict(tif=9), dict(stp=9), dict(tif=-1), dict(stp=-1)])
def test_limit_invalid_options_rejected(kwargs):
    b = book_with((1, "a", SELL, 101, 5))
    evs = b.limit(2, "x", BUY, 101, 1, **kwargs)
    assert evs == [(EV_DONE, 2, REJECTED, 1, D_INVALID)]
    assert len(b) == 1


def test_duplicate_resting_oid_rejected():
    b = book_with((1, "a", SELL, 101, 5))
    assert b.limit(1, "a", BUY, 90, 1) == [(EV_DONE, 1, REJECTED, 1, D_DUPLICATE)]
    assert b.limit(1, "a", BUY, 101, 1, tif=IOC) == [(EV_DONE, 1, REJECTED, 1, D_DUPLICATE)]
    assert b.market(1, "b", BUY, qty=1) == [(EV_DONE, 1, REJECTED, 1, D_DUPLICATE)]
    assert b.snapshot() == [(1, "a", SELL, 101, 5)]
    # once it is gone, the oid may be used again (uniqueness is the caller's business)
    b.cancel(1)
    assert b.limit(1, "a", BUY, 90, 1) == [(EV_RESTED, 1, BUY, 90, 1)]


# ---------------------------------------------------------------------------- restore / snapshot
def test_restore_rebuilds_identical_book():
    b = OrderBook()
    for i, (side, price, qty) in enumerate([(BUY, 100, 5), (SELL, 103, 2), (BUY, 100, 1),
                                            (BUY, 101, 4), (SELL, 103, 6), (SELL, 104, 1)]):
        b.limit(i + 1, f"u{i % 2}", side, price, qty)
    b.limit(10, "z", SELL, 100, 6)      # partial fills: 101 x4, 100 x2 (of order 1)
    b.cancel(2)
    snap = b.snapshot()
    r = OrderBook(next_trade_id=b.next_trade_id)
    for oid, owner, side, price, qty in snap:     # snapshot order == priority order per level
        assert r.restore(oid, owner, side, price, qty) is None
    assert r.snapshot() == snap
    assert r.depth(5) == b.depth(5) and len(r) == len(b)
    # and both behave identically afterwards
    assert b.limit(20, "q", BUY, 104, 20) == r.limit(20, "q", BUY, 104, 20)
    assert b.limit(21, "q", SELL, 1, 50) == r.limit(21, "q", SELL, 1, 50)
    assert b.snapshot() == r.snapshot() and b.next_trade_id == r.next_trade_id


def test_restore_then_trade_identically():
    b = OrderBook()
    b.limit(1, "a", BUY, 100, 5)
    b.limit(2, "b", BUY, 100, 3)
    b.limit(3, "c", SELL, 102, 4)
    r = OrderBook(next_trade_id=b.next_trade_id)
    for row in b.snapshot():
        r.restore(*row)
    assert b.limit(4, "q", SELL, 100, 6) == r.limit(4, "q", SELL, 100, 6)
    assert b.snapshot() == r.snapshot()


def test_restore_emits_nothing_and_guards_its_input():
    r = OrderBook()
    r.restore(1, "a", BUY, 100, 5)
    with pytest.raises(ValueError):
        r.restore(1, "a", BUY, 99, 5)           # duplicate
    with pytest.raises(ValueError):
        r.restore(2, "a", SELL, 100, 5)         # would cross
    with pytest.raises(ValueError):
        r.restore(3, "a", SELL, 101, 0)         # bad qty
    with pytest.raises(ValueError):
        r.restore(4, "a", 5, 101, 1)            # bad side
    assert r.snapshot() == [(1, "a", BUY, 100, 5)]


# ---------------------------------------------------------------------------- submit
def test_submit_dataclasses_and_tuples():
    b = OrderBook()
    assert b.submit(PlaceLimit(1, "a", SELL, 100, 5)) == [(EV_RESTED, 1, SELL, 100, 5)]
    assert b.submit(PlaceLimit(2, "b", BUY, 100, 1, tif=IOC)) == [
        (EV_FILL, 1, 2, 1, 100, 1, BUY, 4), (EV_DONE, 2, FILLED, 0)]
    assert b.submit(Amend(1, 3)) == [(EV_AMENDED, 1, 3)]
    assert b.submit(PlaceMarket(3, "b", BUY, qty=1))[-1] == (EV_DONE, 3, FILLED, 0)
    assert b.submit(PlaceMarket(4, "b", BUY, quote_budget=100))[-1] == (EV_DONE, 4, FILLED, 0)
    assert b.submit(("limit", 5, "c", SELL, 101, 2, GTC, False, STP_EXPIRE_MAKER)) == [
        (EV_RESTED, 5, SELL, 101, 2)]
    assert b.submit(("amend", 5, 1)) == [(EV_AMENDED, 5, 1)]
    assert b.submit(Cancel(1)) == [(EV_DONE, 1, CANCELED, 1)]
    assert b.submit(("market", 6, "z", BUY, 1)) == [(EV_FILL, 4, 6, 5, 101, 1, BUY, 0),
                                                    (EV_DONE, 5, FILLED, 0), (EV_DONE, 6, FILLED, 0)]
    b.submit(("limit", 7, "c", BUY, 90, 2))
    assert b.submit(CancelAll("c")) == [(EV_DONE, 7, CANCELED, 2)]
    assert b.submit(("cancel", 7)) == [] and b.submit(("cancel_all", "c")) == []
    with pytest.raises(TypeError):
        b.submit(("explode", 1))
    with pytest.raises(TypeError):
        b.submit(object())
    with pytest.raises(AttributeError):         # commands are frozen
        PlaceLimit(1, "a", SELL, 100, 5).qty = 6


# ---------------------------------------------------------------------------- internals under churn
def test_tombstones_compacted_and_fifo_kept_in_a_deep_level():
    b = OrderBook()
    n = 400
    for i in range(1, n + 1):
        b.limit(i, "m", SELL, 100, 1)
    # cancel every order except every 10th, from the middle outwards (creates tombstones)
    keep = [i for i in range(1, n + 1) if i % 10 == 0]
    for i in range(2, n):
        if i % 10:
            assert b.cancel(i) == [(EV_DONE, i, CANCELED, 1)]
    b.cancel(1)
    level = b._al[-100]
    assert level[0] == len(keep)
    assert len(level) - level[2] <= 2 * len(keep) + 16 + 1      # compaction kept it bounded
    assert [row[0] for row in b.snapshot()] == keep
    # consume them one by one (head advances, prefix gets cut) and check FIFO
    got = []
    for j, _ in enumerate(keep):
        got += [e[3] for e in fills(b.limit(10_000 + j, "t", BUY, 100, 1))]
    assert got == keep and len(b) == 0 and b.best_ask() is None


def test_head_prefix_is_cut_in_a_long_lived_level():
    b = OrderBook()
    for i in range(1, 201):
        b.limit(i, "m", BUY, 100, 1)
    for j in range(150):
        b.market(1000 + j, "t", SELL, qty=1)
    level = b._bl[100]
    assert level[0] == 50 and len(level) - 3 <= 100      # consumed prefix was dropped
    assert [row[0] for row in b.snapshot()] == list(range(151, 201))
    for i in range(151, 201, 2):                          # cancel at head / tail / middle
        b.cancel(i)
    assert [row[0] for row in b.snapshot()] == list(range(152, 201, 2))
    assert b.depth(1) == ([(100, 25, 25)], [])


def test_cancelling_the_oldest_orders_keeps_a_level_bounded():
    b = OrderBook()
    for i in range(1, 301):
        b.limit(i, "m", SELL, 100, 1)
    for i in range(1, 251):                 # always the head of the level
        assert b.cancel(i) == [(EV_DONE, i, CANCELED, 1)]
    level = b._al[-100]
    assert level[0] == 50 and len(level) - 3 <= 100
    assert [row[0] for row in b.snapshot()] == list(range(251, 301))
    assert [e[3] for e in fills(b.market(999, "t", BUY, qty=3))] == [251, 252, 253]


def test_falsy_options_mean_defaults_everywhere():
    """None/False for tif/stp behave exactly like GTC/STP_EXPIRE_MAKER on every path."""
    for kwargs in (dict(tif=None), dict(stp=None), dict(tif=None, stp=None, post_only=None)):
        b = book_with((1, "me", SELL, 100, 2), (2, "x", SELL, 100, 3))
        assert b.limit(3, "me", BUY, 100, 4, **kwargs) == [
            (EV_DONE, 1, EXPIRED, 2, D_STP), (EV_FILL, 1, 3, 2, 100, 3, BUY, 0),
            (EV_DONE, 2, FILLED, 0), (EV_RESTED, 3, BUY, 100, 1)]
    b = book_with((1, "me", SELL, 100, 2), (2, "x", SELL, 100, 3))
    assert b.limit(3, "me", BUY, 100, 1, tif=IOC, stp=None)[0] == (EV_DONE, 1, EXPIRED, 2, D_STP)
    b = book_with((1, "me", SELL, 100, 2), (2, "x", SELL, 100, 3))
    assert b.market(3, "me", BUY, qty=1, stp=None)[:2] == [
        (EV_DONE, 1, EXPIRED, 2, D_STP), (EV_FILL, 1, 3, 2, 100, 1, BUY, 2)]
