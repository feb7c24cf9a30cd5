"""Smoke tests as in production: registration disabled, no faucet, accounts provisioned from an operator.

`mycrypto smoke provision` funds the two smoke accounts through the ledger (the operator pays, the books
stay balanced); the smoke run then passes every journey except the ones production cannot offer, which
are SKIPs with the reason, and registration's documented answer (403 registration_disabled) is a PASS.
"""
from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from mycrypto.ops.smoke import Account, run_smoke
from mycrypto.ops.smoke_accounts import ProvisionError, provision, read_env_file, write_env_file
from mycrypto.ops.verify import verify_books
from tests.conftest import LiveServer, make_settings
from tests.support.factories import create_user, fund

TARGETS = {"BTC": Decimal("0.01"), "USDT": Decimal("500")}


@pytest.fixture
def production_like(db_dsn):
    settings = make_settings(db_dsn, registration_enabled=False, faucet_enabled=False, argon2_time_cost=1,
                             argon2_memory_kib=1024, argon2_parallelism=1)
    server = LiveServer(settings).start()
    yield settings, server
    server.stop()


async def _balance(db, email: str, asset: str) -> Decimal:
    return await db.fetchval("SELECT a.available FROM wallet.account a JOIN auth.app_user u ON u.id = a.user_id "
                             "WHERE u.email = $1 AND a.asset = $2 AND a.kind = 'user'", email, asset)


async def test_provisioned_accounts_pass_the_smoke_test_without_dev_tools(production_like, db, tmp_path):
    settings, server = production_like
    operator = await create_user(db, email="treasury@example.com", role="admin")
    await fund(db, operator, "BTC", "1")
    await fund(db, operator, "USDT", "10000")
    async with db.acquire() as conn:
        done = await provision(conn, settings, emails=("smoke-a@example.com", "smoke-b@example.com"),
                               operator_email="treasury@example.com", targets=TARGETS)
    assert [e for e, _ in done.accounts] == ["smoke-a@example.com", "smoke-b@example.com"]
    assert all(secret for _, secret in done.accounts)
    assert await _balance(db, "treasury@example.com", "BTC") == Decimal("0.98")
    env = tmp_path / "smoke.env"
    write_env_file(env, done)
    assert oct(env.stat().st_mode & 0o777) == "0o600"
    values = read_env_file(env)

    steps = []
    report = await asyncio.to_thread(
        run_smoke, server.url, emit=steps.append,
        accounts=(Account(values["SMOKE_EMAIL_A"], values["SMOKE_PASSWORD_A"]),
                  Account(values["SMOKE_EMAIL_B"], values["SMOKE_PASSWORD_B"])))
    verdicts = {s.name: s.status for s in report.steps}
    assert report.ok, [s.line() for s in report.steps]
    assert verdicts == {"reachable": "PASS", "health": "PASS", "registration": "PASS", "email": "SKIP",
                        "login": "PASS", "deposit": "SKIP", "balance": "PASS", "order_cancel": "PASS",
                        "execution": "PASS", "trade_history": "PASS", "balance_after": "PASS"}
    assert "403 registration_disabled" in report.steps[2].detail
    assert [s.name for s in steps] == list(verdicts), "each step is reported as it ends"
    assert await db.fetchval("SELECT count(*) FROM trade.spot_order WHERE status IN ('new', 'partially_filled')") == 0
    async with db.acquire() as conn:
        assert (await verify_books(conn)).ok

    # provisioning again only tops up what the smoke run spent, and keeps the passwords
    async with db.acquire() as conn:
        again = await provision(conn, settings, emails=("smoke-a@example.com", "smoke-b@example.com"),
                                operator_email="treasury@example.com", targets=TARGETS)
    assert [secret for _, secret in again.accounts] == [None, None]
    assert {(e, a) for e, a, _ in again.funded} <= {("smoke-a@example.com", "BTC"), ("smoke-b@example.com", "USDT")}
    assert await _balance(db, "smoke-a@example.com", "BTC") == Decimal("0.01")


async def test_provisioning_that_the_operator_cannot_cover_moves_nothing(db, settings):
    operator = await create_user(db, email="poor@example.com")
    await fund(db, operator, "USDT", "10")
    async with db.acquire() as conn:
        with pytest.raises(ProvisionError, match="cannot fund"):
            await provision(conn, settings, emails=("smoke-a@example.com", "smoke-b@example.com"),
                            operator_email="poor@example.com", targets={"USDT": Decimal("500")})
        with pytest.raises(ProvisionError, match="no operator account"):
            await provision(conn, settings, emails=("smoke-a@example.com", "smoke-b@example.com"),
                            operator_email="nobody@example.com", targets={"USDT": Decimal("1")})
    assert await db.fetchval("SELECT count(*) FROM auth.app_user WHERE email LIKE 'smoke-%'") == 0
    assert await _balance(db, "poor@example.com", "USDT") == Decimal("10")


async def test_without_accounts_in_production_the_login_step_says_what_to_do(production_like):
    _, server = production_like
    report = await asyncio.to_thread(run_smoke, server.url)
    login = next(s for s in report.steps if s.name == "login")
    assert not report.ok and login.status == "FAIL" and "mycrypto smoke provision" in login.detail
    assert report.steps[-1].name == "login", "steps that need a signed-in account are not attempted"
