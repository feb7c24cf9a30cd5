"""`mycrypto user ...`: operator commands for accounts (create an admin, change a role, lift a lockout).

    mycrypto user create-admin ops@example.com            # prompts for the password (twice)
    mycrypto user create-admin ops@example.com --password 'long passphrase here'
    mycrypto user set-role someone@example.com admin      # or: user
    mycrypto user unlock someone@example.com              # clear failed-login lockouts

    mycrypto keys status                                  # key ids in use, stored secrets per key id
    mycrypto keys rotate [--batch-size 500]               # re-encrypt stored secrets with the active key

Admins created here are email-verified (the operator vouches for the address). Every change is in
the audit log with `details.via = "cli"`. A running server notices a role change within its
status-cache TTL (3 s).
"""
from __future__ import annotations

from typing import Any

import click

from ..common.cli import database, fail, get_settings, run_async, with_connection

ROLES = ("user", "admin")


def register(group: click.Group) -> None:
    @group.group("user")
    def user() -> None:
        """Manage user accounts (admins, roles, lockouts)."""

    @user.command("create-admin")
    @click.argument("email")
    @click.option("--password", default=None, help="Password (prompted for when omitted).")
    @click.pass_context
    def create_admin(ctx: click.Context, email: str, password: str | None) -> None:
        """Create a verified administrator account."""
        from .domain.rules import Rejected
        from .domain.emails import normalise_email
        from .passwords import validate_new_password

        settings = get_settings(ctx)
        try:
            email = normalise_email(email)
        except Rejected as exc:
            fail(f"{exc.code}: {exc.message}")
        if password is None:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        try:
            validate_new_password(password, email)
        except Rejected as exc:
            fail(f"{exc.code}: {exc.message}")

        async def go(conn: Any) -> int | None:
            from . import audit
            from .accounts import create_verified_user

            async with conn.transaction():
                user_id = await create_verified_user(conn, settings, email, password, role="admin")
                if user_id is not None:
                    await audit.record(conn, "admin_created", user_id=user_id, details={"via": "cli"})
            return user_id

        with database(settings) as settings:
            user_id = run_async(lambda: with_connection(settings, go))
        if user_id is None:
            fail(f"{email} already has an account; use `mycrypto user set-role {email} admin`")
        click.echo(f"created admin {email} (id {user_id})")

    @user.command("set-role")
    @click.argument("email")
    @click.argument("role", type=click.Choice(ROLES))
    @click.pass_context
    def set_role(ctx: click.Context, email: str, role: str) -> None:
        """Make an account an admin, or a plain user again."""
        settings = get_settings(ctx)
        email = _email_or_fail(email, fail)

        async def go(conn: Any) -> str | None:
            from . import audit
            from . import repository as repo

            async with conn.transaction():
                row = await repo.user_by_email(conn, email, for_update=True)
                if row is None:
                    return None
                if row["role"] != role:
                    await repo.set_role(conn, row["id"], role)
                    await audit.record(conn, "role_changed", user_id=row["id"],
                                       details={"via": "cli", "from": row["role"], "to": role})
                return str(row["role"])

        with database(settings) as settings:
            previous = run_async(lambda: with_connection(settings, go))
        if previous is None:
            fail(f"no account for {email}")
        click.echo(f"{email}: {previous} -> {role}" if previous != role else f"{email} is already {role}")

    @user.command("unlock")
    @click.argument("email")
    @click.pass_context
    def unlock(ctx: click.Context, email: str) -> None:
        """Clear failed-login counters and lockouts of an account."""
        settings = get_settings(ctx)
        email = _email_or_fail(email, fail)

        async def go(conn: Any) -> bool:
            from . import audit
            from . import repository as repo

            async with conn.transaction():
                row = await repo.user_by_email(conn, email)
                if row is None:
                    return False
                await repo.clear_login_failures(conn, row["id"])
                await audit.record(conn, "lockout_cleared", user_id=row["id"], details={"via": "cli"})
                return True

        with database(settings) as settings:
            found = run_async(lambda: with_connection(settings, go))
        if not found:
            fail(f"no account for {email}")
        click.echo(f"{email}: lockouts cleared")

    register_keys(group)


def register_keys(group: click.Group) -> None:
    """`mycrypto keys`: data-encryption and JWT key sets (docs/key-rotation.md)."""

    @group.group("keys")
    def keys() -> None:
        """Key sets: which key ids exist, and re-encrypting stored secrets after a rotation."""

    @keys.command("status")
    @click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
    @click.pass_context
    def status(ctx: click.Context, as_json: bool) -> None:
        """Configured key ids (active first) and how many stored secrets each data key id holds."""
        import json

        from .keyrotation import key_status

        settings = get_settings(ctx)
        with database(settings) as settings:
            report = run_async(lambda: with_connection(settings, lambda c: key_status(c, settings.data_keys)))
        report = {"jwt": {"active": settings.jwt_keys.active_id, "configured": list(settings.jwt_keys.ids)},
                  "data": report}
        if as_json:
            click.echo(json.dumps(report, indent=2))
            return
        data = report["data"]
        click.echo(f"JWT keys:  {', '.join(settings.jwt_keys.ids)}  (active: {settings.jwt_keys.active_id})")
        click.echo(f"data keys: {', '.join(data['configured'])}  (active: {data['active']})")
        for store, counts in data["stores"].items():
            shown = ", ".join(f"{kid}: {n}" for kid, n in counts.items()) or "none stored"
            click.echo(f"  {store}: {shown}")
        click.echo(f"not under the active data key: {data['pending_reencryption']}"
                   + ("  (run `mycrypto keys rotate`)" if data["pending_reencryption"] else ""))
        if data["unknown_key_ids"]:
            fail("stored secrets use key ids that are not configured (they cannot be decrypted): "
                 + ", ".join(data["unknown_key_ids"]) + "; put those keys back in DATA_ENCRYPTION_KEYS")

    @keys.command("rotate")
    @click.option("--batch-size", type=click.IntRange(1, 10000), default=500, show_default=True,
                  help="Rows re-encrypted per (short) transaction.")
    @click.pass_context
    def rotate(ctx: click.Context, batch_size: int) -> None:
        """Re-encrypt stored secrets (API-key secrets, TOTP seeds) with the active data key.

        Safe while the platform runs; idempotent: run it again after an interruption. Once it reports
        nothing remaining, the old key can be removed from DATA_ENCRYPTION_KEYS.
        """
        from .keyrotation import rotate as rotate_all

        settings = get_settings(ctx)
        shown: dict[str, int] = {}

        def progress(store: str, done: int) -> None:  # a line every ~10,000 rows on big tables
            if done - shown.get(store, 0) >= 10_000:
                shown[store] = done
                click.echo(f"  {store}: {done} re-encrypted so far", err=True)

        with database(settings) as settings:
            result = run_async(lambda: with_connection(
                settings, lambda c: rotate_all(c, settings.data_keys, batch_size=batch_size, progress=progress)))
        for store, n in result.reencrypted.items():
            click.echo(f"{store}: re-encrypted {n}, remaining {result.remaining[store]}"
                       + (f", undecryptable ids {result.undecryptable[store][:20]}"
                          if result.undecryptable.get(store) else ""))
        click.echo(f"active data key: {result.active_key_id}; {result.total} re-encrypted in "
                   f"{result.batches} batches")
        if not result.complete:
            fail("some stored secrets are not under the active key yet (busy rows: run again; undecryptable "
                 "rows: their key is missing from DATA_ENCRYPTION_KEYS)")
        click.echo("done: every stored secret is under the active key; older data keys can be retired")


def _email_or_fail(email: str, fail: Any) -> str:
    from .domain.emails import normalise_email
    from .domain.rules import Rejected

    try:
        return normalise_email(email)
    except Rejected as exc:
        fail(f"{exc.code}: {exc.message}")
        raise AssertionError("unreachable") from None
