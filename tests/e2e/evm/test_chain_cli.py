"""The operator commands of `mycrypto chain` that need no node: keys, alerts, frozen credits."""
from __future__ import annotations

import subprocess

from mycrypto.common.crypto import decrypt
from mycrypto.config import DEV_DATA_KEY
from mycrypto.wallet.chain.evm.addresses import DepositAddresses
from tests.e2e.wallet.helpers import MYCRYPTO, run_cli

MNEMONIC = "test test test test test test test test test test test junk"


def test_new_keys_prints_ciphertexts_and_the_public_parts_only(db_dsn):
    r = run_cli("chain", "new-keys", dsn=db_dsn)
    assert r.returncode == 0, r.stderr
    lines = dict(line.split("=", 1) for line in r.stdout.splitlines() if not line.startswith("#"))
    assert set(lines) == {"CHAIN_ETH_HOT_KEY", "CHAIN_ETH_DEPOSIT_SEED", "CHAIN_ETH_DEPOSIT_XPUB"}
    assert lines["CHAIN_ETH_HOT_KEY"].startswith("v2.default.") and lines["CHAIN_ETH_DEPOSIT_SEED"].startswith("v2.default.")
    words = decrypt(DEV_DATA_KEY, "evm-deposit-seed", lines["CHAIN_ETH_DEPOSIT_SEED"]).split()
    assert len(words) == 24 and not any(w in r.stdout for w in words[:3] if len(w) > 5)
    DepositAddresses(lines["CHAIN_ETH_DEPOSIT_XPUB"]).address(0)  # a valid account-level xpub


def test_encrypt_secret_reads_stdin_and_refuses_what_is_not_a_key(db_dsn):
    env = {"DATABASE_URL": db_dsn, "LOG_LEVEL": "WARNING"}
    ok = subprocess.run(MYCRYPTO + ["chain", "encrypt-secret", "deposit-seed"], input=MNEMONIC + "\n",
                        capture_output=True, text=True, env={**_base_env(), **env}, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert decrypt(DEV_DATA_KEY, "evm-deposit-seed", ok.stdout.strip()) == MNEMONIC
    bad = subprocess.run(MYCRYPTO + ["chain", "encrypt-secret", "hot-key"], input="0xnot-a-key\n",
                         capture_output=True, text=True, env={**_base_env(), **env}, timeout=60)
    assert bad.returncode == 1 and "32 bytes" in bad.stderr and "not-a-key" not in bad.stderr


def test_reencrypt_secret_moves_a_chain_ciphertext_to_the_active_data_key(db_dsn):
    """Key rotation (docs/key-rotation.md): the env-held chain secrets are re-encrypted by hand, not by
    `mycrypto keys rotate`; the old ciphertext decrypts while its key is in the set, the new one after."""
    from mycrypto.common.crypto import encrypt
    from mycrypto.config import KeyRing

    old = encrypt(DEV_DATA_KEY, "evm-deposit-seed", MNEMONIC)
    new_key = "a-new-data-key-for-rotation-" + "n" * 20
    env = {**_base_env(), "DATABASE_URL": db_dsn, "LOG_LEVEL": "WARNING",
           "DATA_ENCRYPTION_KEYS": f"d2:{new_key},default:{DEV_DATA_KEY}"}
    r = subprocess.run(MYCRYPTO + ["chain", "reencrypt-secret", "deposit-seed"], input=old + "\n",
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("v2.d2.")
    assert decrypt(KeyRing((("d2", new_key),)), "evm-deposit-seed", r.stdout.strip()) == MNEMONIC
    r2 = subprocess.run(MYCRYPTO + ["chain", "reencrypt-secret", "deposit-seed"], input=old + "\n",
                        capture_output=True, text=True, env={**env, "DATA_ENCRYPTION_KEYS": f"d2:{new_key}"},
                        timeout=60)
    assert r2.returncode == 1 and "CHAIN_ETH_DEPOSIT_SEED" in r2.stderr and MNEMONIC not in r2.stderr


async def test_alerts_are_listed_and_resolved_once(db_dsn, db):
    alert_id = await db.fetchval("INSERT INTO wallet.chain_alert (chain, kind, message) "
                                 "VALUES ('ethereum', 'deep_reorg', 'a test alert') RETURNING id")
    listed = run_cli("chain", "alerts", dsn=db_dsn)
    assert listed.returncode == 0 and f"#{alert_id}" in listed.stdout and "1 open alert(s)" in listed.stdout
    assert run_cli("chain", "alerts", "--resolve", str(alert_id), dsn=db_dsn).returncode == 0
    again = run_cli("chain", "alerts", "--resolve", str(alert_id), dsn=db_dsn)
    assert again.returncode == 1 and "no open alert" in again.stderr
    assert "0 open alert(s)" in run_cli("chain", "alerts", dsn=db_dsn).stdout
    assert "0 frozen credit(s)" in run_cli("chain", "frozen", dsn=db_dsn).stdout
    none = run_cli("chain", "release-deposit", "12345", dsn=db_dsn)
    assert none.returncode == 1 and "not frozen" in none.stderr and "Traceback" not in none.stderr


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "AMQP_URL", "SMTP_URL")}


def test_unusable_chain_settings_stop_the_server_with_one_error_line(db_dsn):
    r = run_cli("serve", "wallet", dsn=db_dsn, CHAIN_ETH_RPC_URL="http://127.0.0.1:9",
                CHAIN_ETH_HOT_KEY="0x" + "11" * 32, CHAIN_ETH_DEPOSIT_XPUB="xpub-nope", MYCRYPTO_PORT="1")
    assert r.returncode == 2 and r.stderr.startswith("error: CHAIN_ETH_HOT_KEY is not a ciphertext")
    assert "Traceback" not in r.stderr and "11" * 32 not in r.stderr
