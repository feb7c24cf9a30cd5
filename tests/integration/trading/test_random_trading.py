"""Property: after random trading between many users (every order type, TIF, STP mode, cancels,
amends, concurrent bursts that share group-commit batches), the books prove themselves: `mycrypto
verify`'s invariants hold, and the engine's book equals the one rebuilt from the database."""
import asyncio
from decimal import Decimal as D

from asgi_lifespan import LifespanManager
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from mycrypto.apps import create_app
from mycrypto.auth.principal import Principal
from mycrypto.common.errors import AppError
from mycrypto.db.database import Database
from mycrypto.trading.schemas import PlaceOrderRequest
from tests.conftest import make_settings
from tests.e2e.trading.kit import check_books
from tests.integration.trading.test_group_commit import engine_of, fresh_snapshot
from tests.support.factories import create_user, fund

N_USERS = 6
MARKETS = {"BTC-USDT": (50000, "0.01", "0.00001"), "ETH-BTC": (0.05, "0.00001", "0.001")}

action = st.tuples(
    st.sampled_from(["limit", "limit", "limit", "market", "market_quote", "cancel", "amend", "cancel_all"]),
    st.integers(0, N_USERS - 1),
    st.sampled_from(list(MARKETS)),
    st.sampled_from(["buy", "sell"]),
    st.integers(-6, 6),                 # price offset in ticks*100
    st.integers(1, 400),                # quantity in lots*10
    st.sampled_from(["GTC", "GTC", "IOC", "FOK"]),
    st.sampled_from(["expire_maker", "expire_taker", "expire_both", "none"]),
    st.booleans(),                      # post_only
    st.booleans(),                      # run concurrently with the previous action
)


def _principal(user_id):
    return Principal(user_id=user_id, role="user", email=f"p{user_id}@example.com", email_verified=True,
                     totp_enabled=False)


async def _scenario(dsn, actions):
    settings = make_settings(dsn)
    db = Database(dsn, min_size=1, max_size=3)
    await db.connect()
    try:
        users = []
        for _ in range(N_USERS):
            uid = await create_user(db)
            for asset, amount in (("USDT", "400000"), ("BTC", "8"), ("ETH", "100")):
                await fund(db, uid, asset, amount)
            users.append(uid)
        app = create_app(settings, access_log=False)
        async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
            service = app.state.container.trade
            placed: list[tuple[int, int, str]] = []   # (user, order id, symbol)
            pending = []

            async def run(a):
                kind, ui, sym, side, off, qty, tif, stp, post_only, _ = a
                uid = users[ui]
                mid, tick, lot = MARKETS[sym]
                price = format(D(str(mid)) + off * 100 * D(tick), "f")
                quantity = format(qty * 10 * D(lot), "f")
                p = _principal(uid)
                try:
                    if kind == "limit":
                        r = await service.place_order(p, PlaceOrderRequest(sym, side, "limit", quantity, price,
                                                                           time_in_force=tif, stp=stp,
                                                                           post_only=post_only and tif == "GTC"))
                        placed.append((uid, r.order_id, sym))
                    elif kind == "market":
                        await service.place_order(p, PlaceOrderRequest(sym, side, "market", quantity, stp=stp))
                    elif kind == "market_quote":
                        budget = format(D(quantity) * D(price), "f")
                        await service.place_order(p, PlaceOrderRequest(sym, "buy", "market", quote_quantity=budget[:12]))
                    elif kind == "cancel" and placed:
                        u, oid, _s = placed[(off * 7 + qty) % len(placed)]
                        await service.cancel_order(_principal(u), order_id=oid)
                    elif kind == "amend" and placed:
                        u, oid, s = placed[(off * 7 + qty) % len(placed)]
                        await service.amend_order(_principal(u), oid, format(qty * D(MARKETS[s][2]), "f"))
                    elif kind == "cancel_all":
                        await service.cancel_all(p, sym)
                except AppError as exc:
                    assert exc.http_status < 500, exc   # refusals are fine (funds, not open, FOK...), bugs are not

            # a resting ladder on both sides so random orders trade, sweep levels and self-match
            seed = [("limit", i, sym, side, (k + 1) * (1 if side == "sell" else -1), 50 + 30 * k, "GTC",
                     "expire_maker", False, True)
                    for sym in MARKETS for i in range(N_USERS) for k in range(2) for side in ("buy", "sell")]
            for a in seed + list(actions):
                if a[-1] and pending:
                    pending.append(asyncio.ensure_future(run(a)))
                    continue
                if pending:
                    await asyncio.gather(*pending)
                pending = [asyncio.ensure_future(run(a))]
            await asyncio.gather(*pending)
            for sym in MARKETS:
                assert engine_of(app, sym).snapshot() == await fresh_snapshot(app, sym), sym
        await check_books(db)
    finally:
        await db.close()


@hsettings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(actions=st.lists(action, min_size=10, max_size=80))
def test_random_trading_keeps_the_books_true(test_databases, actions):
    dsn = test_databases.new_clone()
    try:
        asyncio.run(_scenario(dsn, actions))
    finally:
        test_databases.drop_later(dsn)
