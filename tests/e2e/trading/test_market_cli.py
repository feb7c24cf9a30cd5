"""`mycrypto market list|halt|resume` as an operator runs it, and the running engine following it."""
import asyncio
import os
import subprocess
import sys

from tests.conftest import make_settings
from tests.e2e.trading.kit import make_trader, place

MYCRYPTO = [sys.executable, "-m", "mycrypto.cli"]


def run_cli(*args, dsn):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "AMQP_URL", "SMTP_URL")}
    env["DATABASE_URL"] = dsn
    return subprocess.run(MYCRYPTO + list(args), capture_output=True, text=True, env=env, timeout=120)


async def test_cli_halt_and_resume_reach_the_running_engine(db_dsn, db):
    from asgi_lifespan import LifespanManager
    import httpx

    from mycrypto.apps import create_app

    settings = make_settings(db_dsn, trade_owner_poll_s=0.2)
    app = create_app(settings, access_log=False)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            u = await make_trader(db, settings, {"USDT": "10000"})
            r = await asyncio.to_thread(run_cli, "market", "halt", "btc-usdt", "--reason", "incident 42", dsn=db_dsn)
            assert r.returncode == 0 and "trading -> halted" in r.stdout, r.stderr
            await asyncio.sleep(0.6)
            body = {"side": "buy", "type": "limit", "price": "50000", "quantity": "0.01"}
            resp = await place(client, u, **body)
            assert resp.status_code == 409 and resp.json()["error"]["code"] == "market_halted"
            r = await asyncio.to_thread(run_cli, "market", "list", dsn=db_dsn)
            assert r.returncode == 0 and "BTC-USDT   halted" in r.stdout and "epoch" in r.stdout
            r = await asyncio.to_thread(run_cli, "market", "resume", "BTC-USDT", dsn=db_dsn)
            assert r.returncode == 0
            await asyncio.sleep(0.6)
            assert (await place(client, u, **body)).status_code == 201
    audit = await db.fetch("SELECT event, details FROM auth.audit_log ORDER BY id")
    assert [a["event"] for a in audit] == ["market_halted", "market_resumed"]
    assert audit[0]["details"]["reason"] == "incident 42" and audit[0]["details"]["via"] == "cli"
    r = await asyncio.to_thread(run_cli, "market", "halt", "NOPE-USDT", dsn=db_dsn)
    assert r.returncode == 1 and "unknown market" in r.stderr
