"""`mycrypto user create-admin / set-role / unlock` against a real database."""
from __future__ import annotations

import asyncio

import asyncpg
from click.testing import CliRunner

from mycrypto.cli import main


def q(dsn: str, sql: str, *args):  # noqa: ANN002, ANN201 - the CLI owns the event loop, so this test is sync
    async def go():  # noqa: ANN202
        conn = await asyncpg.connect(dsn)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()
    return asyncio.run(go())


def _run(db_dsn: str, *args: str, input: str | None = None):  # noqa: A002, ANN202
    env = {"DATABASE_URL": db_dsn, "ARGON2_TIME_COST": "1", "ARGON2_MEMORY_KIB": "1024", "ARGON2_PARALLELISM": "1",
           "MYCRYPTO_ENV": "test", "LOG_JSON": "false"}
    return CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)


def test_create_admin_set_role_and_unlock(db_dsn):
    r = _run(db_dsn, "user", "create-admin", "Ops@Example.com", "--password", "operator-long-passphrase-1")
    assert r.exit_code == 0, r.output
    [row] = q(db_dsn, "SELECT email, role::text AS role, email_verified_at FROM auth.app_user")
    assert row["email"] == "ops@example.com" and row["role"] == "admin" and row["email_verified_at"] is not None

    r = _run(db_dsn, "user", "create-admin", "ops@example.com", "--password", "operator-long-passphrase-1")
    assert r.exit_code == 1 and "already has an account" in r.output
    r = _run(db_dsn, "user", "create-admin", "weak@example.com", "--password", "short")
    assert r.exit_code == 1 and "password_too_short" in r.output
    r = _run(db_dsn, "user", "create-admin", "prompted@example.com",
             input="another-long-passphrase-2\nanother-long-passphrase-2\n")
    assert r.exit_code == 0, r.output

    r = _run(db_dsn, "user", "set-role", "ops@example.com", "user")
    assert r.exit_code == 0 and "admin -> user" in r.output
    assert q(db_dsn, "SELECT role::text AS r FROM auth.app_user WHERE email = 'ops@example.com'")[0]["r"] == "user"
    r = _run(db_dsn, "user", "set-role", "nobody@example.com", "admin")
    assert r.exit_code == 1 and "no account" in r.output
    r = _run(db_dsn, "user", "set-role", "ops@example.com", "root")
    assert r.exit_code == 2

    uid = q(db_dsn, "SELECT id FROM auth.app_user WHERE email = 'ops@example.com'")[0]["id"]
    q(db_dsn, "INSERT INTO auth.login_failure (user_id, ip, failures, locked_until) "
                     "VALUES ($1, '1.2.3.4', 9, now() + interval '10 minutes')", uid)
    r = _run(db_dsn, "user", "unlock", "ops@example.com")
    assert r.exit_code == 0 and q(db_dsn, "SELECT count(*) AS n FROM auth.login_failure")[0]["n"] == 0
    events = [r["event"] for r in q(db_dsn, "SELECT event FROM auth.audit_log ORDER BY id")]
    assert events == ["admin_created", "admin_created", "role_changed", "lockout_cleared"]
