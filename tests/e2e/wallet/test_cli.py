"""The wallet commands as an operator runs them: real processes, real PostgreSQL."""
import json

from tests.e2e.wallet.helpers import run_cli
from tests.support.factories import create_user, fund


def test_chain_commands_and_their_errors(db_dsn):
    r = run_cli("chain", "send", "--to", "0x52908400098527886E0F7030069857D2E4169EE7", "--asset", "eth",
                "--amount", "1.25", dsn=db_dsn)
    assert r.returncode == 0 and "sent 1.25 ETH" in r.stdout and "txid 0x" in r.stdout
    r = run_cli("chain", "status", dsn=db_dsn)
    assert r.returncode == 0 and "ethereum: height 0, 1 in mempool" in r.stdout
    r = run_cli("chain", "mine", "3", "--chain", "ethereum", dsn=db_dsn)
    assert r.returncode == 0 and "ethereum: height 3 (+3), 1 transfer(s) mined" in r.stdout
    for args, message in ((("--to", "bc1q", "--asset", "BTC", "--amount", "1"), "not a valid BTC address"),
                          (("--to", "0x52908400098527886E0F7030069857D2E4169EE7", "--asset", "DOGE", "--amount", "1"),
                           "unknown asset"),
                          (("--to", "0x52908400098527886E0F7030069857D2E4169EE7", "--asset", "ETH", "--amount", "1e3"),
                           "plain positive decimal"),
                          (("--to", "0x52908400098527886E0F7030069857D2E4169EE7", "--asset", "ETH",
                            "--amount", "0.000000001"), "decimal places")):
        r = run_cli("chain", "send", *args, dsn=db_dsn)
        assert r.returncode == 1 and message in r.stderr and "Traceback" not in r.stderr, r.stderr
    r = run_cli("chain", "mine", "0", dsn=db_dsn)
    assert r.returncode == 2
    r = run_cli("chain", "refuse-broadcasts", "bitcoin", "--reason", "halted", dsn=db_dsn)
    assert r.returncode == 0
    assert "refusing broadcasts: halted" in run_cli("chain", "status", dsn=db_dsn).stdout
    assert run_cli("chain", "accept-broadcasts", "bitcoin", dsn=db_dsn).returncode == 0


def test_the_simulator_is_refused_in_production(db_dsn):
    # a production-grade configuration (the local server trusts the connection; the password is for the check)
    dsn = db_dsn.replace("postgresql://postgres@", "postgresql://postgres:S3cure-Example-Passw0rd@")
    for args in (("mine", "1"), ("send", "--to", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "--asset", "BTC",
                                 "--amount", "1")):
        r = run_cli("chain", *args, dsn=dsn, MYCRYPTO_ENV="production", JWT_SECRET="j" * 40,
                    DATA_ENCRYPTION_KEY="k" * 40)
        assert r.returncode == 1 and "not available in production" in r.stderr, r.stderr


def test_wallet_scan_runs_one_round(db_dsn):
    r = run_cli("wallet", "scan", dsn=db_dsn)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["deposits"]["errors"] == [] and out["withdrawals"]["broadcast"] == 0


async def test_verify_exits_non_zero_on_a_discrepancy(db_dsn, db):
    user = await create_user(db)
    await fund(db, user, "BTC", "1")
    r = run_cli("verify", dsn=db_dsn)
    assert r.returncode == 0 and "RESULT: OK" in r.stdout
    await db.execute("UPDATE wallet.account SET available = available - 0.5, locked = locked + 0.5 "
                     "WHERE user_id = $1", user)
    r = run_cli("verify", dsn=db_dsn)
    assert r.returncode == 1 and "[FAIL] locked_matches_holds" in r.stdout and f"user_id={user}" in r.stdout
    r = run_cli("verify", "--json", dsn=db_dsn)
    report = json.loads(r.stdout)
    assert r.returncode == 1 and report["ok"] is False
    failed = [c for c in report["checks"] if not c["ok"]]
    assert [c["name"] for c in failed] == ["locked_matches_holds"]
    assert failed[0]["problems"][0] == {"user_id": user, "asset": "BTC", "locked": "0.5", "expected": "0"}
