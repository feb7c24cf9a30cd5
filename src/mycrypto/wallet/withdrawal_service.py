"""Withdrawal use cases: request (validated, 2FA, idempotent, held), cancel, admin approve/reject, reads.

Every transition happens with the withdrawal row locked (`SELECT ... FOR UPDATE`) and is written as
a conditional update from the status that was checked, so two racing actors (user cancel, admin
reject, the broadcast processor) cannot both act: the second sees the new status and is refused.
A request locks the user's account in the asset, then the user's row: that serialises one user's
requests, so the daily limit and the Idempotency-Key check see every earlier request of that user.
"""
from __future__ import annotations

import time

import hashlib
import logging
import re
from typing import Any

import orjson

from ..auth import audit
from ..auth.totp import check_second_factor
from ..common.money import fmt, parse_amount
from ..db.database import Database
from ..notify.outbox import enqueue
from . import ledger, repository as repo
from .domain import withdrawals as rules
from .domain.errors import RuleViolation
from .errors import IdempotencyKeyReused, InvalidIdempotencyKey, SelfApproval, WithdrawalNotFound, from_rule
from .schemas import WithdrawalCreate, withdrawal_json, withdrawal_out
from .service import WalletService, _page

log = logging.getLogger("mycrypto.wallet.withdrawals")

_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def request_fingerprint(body: WithdrawalCreate) -> str:
    """What "the same request" means for Idempotency-Key: asset, address and amount as sent.

    The TOTP code is left out on purpose: a client retrying after a timeout sends a fresh code.
    """
    amount = body.amount if isinstance(body.amount, str) else repr(body.amount)   # never a big int to orjson
    canonical = orjson.dumps({"asset": body.asset.upper(), "address": body.address, "amount": amount},
                             option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def check_idempotency_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise InvalidIdempotencyKey()
    return key


class WithdrawalService:
    def __init__(self, db: Database, settings: Any, wallet: WalletService) -> None:
        self.db = db
        self.settings = settings
        self.wallet = wallet

    async def request(self, user_id: int, body: WithdrawalCreate, idempotency_key: str | None, *,
                      ip: str | None = None, user_agent: str | None = None) -> tuple[dict[str, Any], bool]:
        """Validate, check 2FA, hold amount + fee and record the withdrawal. Returns (body, replayed)."""
        key = check_idempotency_key(idempotency_key)
        asset = await self.wallet.asset(body.asset)
        # The amount's shape is checked first: only a plain decimal string reaches the fingerprint (a
        # JSON integer >= 2**64 used to overflow its serialiser: a 500 instead of a 422).
        amount = parse_amount(body.amount, max_decimals=asset.decimals)
        fingerprint = request_fingerprint(body)
        async with self.db.unit_of_work() as uow:
            conn = uow.conn
            # Lock order: the account first, then the user row. The trade engine locks accounts and
            # then inserts rows referencing the user (a KEY SHARE lock on it); taking the user row
            # first here, with the FOR UPDATE of check_second_factor, would deadlock with it.
            accounts = await ledger.ensure_user_accounts(conn, user_id, [asset.code])
            await repo.lock_accounts(conn, [accounts[asset.code]])
            await repo.lock_user(conn, user_id)
            if key is not None:
                previous = await repo.withdrawal_by_key(conn, user_id, key)
                if previous is not None:
                    if previous["request_hash"] != fingerprint:
                        raise IdempotencyKeyReused(details={"withdrawal_id": previous["id"]})
                    return previous["response"], True
            used = await repo.withdrawn_since(conn, user_id, asset.code)
            try:
                plan = rules.plan_withdrawal(asset, body.address, amount, used)
                if self.wallet.chain is not None:  # what only the chain knows (checksum, our own addresses...)
                    await self.wallet.chain.check_withdrawal(asset.chain, asset.code, plan.address, plan.amount)
            except RuleViolation as exc:
                raise from_rule(exc) from None
            # Inside this transaction: a spent code stays spent only if the withdrawal commits.
            await check_second_factor(conn, self.settings, user_id, body.totp_code)
            await ledger.apply_changes(conn, holds=[rules.hold(accounts[asset.code], plan.amount, plan.fee)])
            row = await repo.insert_withdrawal(
                conn, user_id=user_id, asset=asset.code, address=plan.address, amount=plan.amount, fee=plan.fee,
                status=plan.initial_status, idempotency_key=key, request_hash=fingerprint if key else None)
            response = withdrawal_json(row)
            await repo.store_withdrawal_response(conn, row["id"], response)
            await audit.record(conn, "withdrawal_requested", user_id=user_id, actor_user_id=user_id, ip=ip,
                               user_agent=user_agent,
                               details={"withdrawal_id": row["id"], "asset": asset.code, "amount": fmt(plan.amount),
                                        "address": plan.address, "status": plan.initial_status})
            await notify_withdrawal(conn, row)
            await uow.commit()
        log.info("withdrawal requested", extra={"withdrawal_id": row["id"], "status": row["status"]})
        return response, False

    async def cancel(self, user_id: int, withdrawal_id: int, *, ip: str | None = None,
                     user_agent: str | None = None) -> dict[str, Any]:
        """The owner cancels before broadcast; the hold is released once."""
        async with self.db.unit_of_work() as uow:
            row = await repo.get_withdrawal(uow.conn, withdrawal_id, for_update=True)
            if row is None or row["user_id"] != user_id:
                raise WithdrawalNotFound()
            updated = await self._release(uow.conn, row, rules.CANCELLED, reason="cancelled by user")
            await audit.record(uow.conn, "withdrawal_cancelled", user_id=user_id, actor_user_id=user_id, ip=ip,
                               user_agent=user_agent, details={"withdrawal_id": withdrawal_id})
            await uow.commit()
        return withdrawal_out(updated)

    async def approve(self, admin_id: int, withdrawal_id: int, *, ip: str | None = None,
                      user_agent: str | None = None) -> dict[str, Any]:
        """An administrator approves a withdrawal above the auto-approve threshold (not their own)."""
        async with self.db.unit_of_work() as uow:
            row = await repo.get_withdrawal(uow.conn, withdrawal_id, for_update=True)
            if row is None:
                raise WithdrawalNotFound()
            if row["user_id"] == admin_id:
                raise SelfApproval()
            _check(row["status"], rules.APPROVED)
            updated = await repo.set_withdrawal_status(uow.conn, withdrawal_id, row["status"], rules.APPROVED,
                                                       approved_by=admin_id)
            await audit.record(uow.conn, "withdrawal_approved", user_id=row["user_id"], actor_user_id=admin_id,
                               ip=ip, user_agent=user_agent,
                               details={"withdrawal_id": withdrawal_id, "asset": row["asset"],
                                        "amount": fmt(row["amount"])})
            await notify_withdrawal(uow.conn, updated)
            await uow.commit()
        return withdrawal_out(updated, admin=True) | {"email": row["email"]}

    async def reject(self, admin_id: int, withdrawal_id: int, reason: str, *, ip: str | None = None,
                     user_agent: str | None = None) -> dict[str, Any]:
        """An administrator rejects a withdrawal before broadcast; the hold is released once."""
        async with self.db.unit_of_work() as uow:
            row = await repo.get_withdrawal(uow.conn, withdrawal_id, for_update=True)
            if row is None:
                raise WithdrawalNotFound()
            updated = await self._release(uow.conn, row, rules.REJECTED, reason=reason)
            await audit.record(uow.conn, "withdrawal_rejected", user_id=row["user_id"], actor_user_id=admin_id,
                               ip=ip, user_agent=user_agent,
                               details={"withdrawal_id": withdrawal_id, "reason": reason})
            await uow.commit()
        return withdrawal_out(updated, admin=True) | {"email": row["email"]}

    async def _release(self, conn: Any, row: Any, target: str, *, reason: str) -> Any:
        """Move a locked, holding withdrawal to a releasing end state and give the hold back."""
        _check(row["status"], target)
        updated = await repo.set_withdrawal_status(conn, row["id"], row["status"], target, reason=reason)
        if updated is None:  # impossible while we hold the row lock; refuse rather than release twice
            raise from_rule(RuleViolation("invalid_withdrawal_state", "The withdrawal changed meanwhile."))
        accounts = await ledger.ensure_user_accounts(conn, row["user_id"], [row["asset"]])
        await ledger.apply_changes(conn, holds=[rules.release(accounts[row["asset"]], row["amount"], row["fee"])])
        await notify_withdrawal(conn, updated)
        return updated

    async def get(self, user_id: int, withdrawal_id: int) -> dict[str, Any]:
        row = await repo.get_withdrawal(self.db, withdrawal_id)
        if row is None or row["user_id"] != user_id:
            raise WithdrawalNotFound()
        return withdrawal_out(row)

    async def list(self, user_id: int | None, *, asset: str | None, status: str | None, before_id: int | None,
                   limit: int, admin: bool = False) -> dict[str, Any]:
        code = (await self.wallet.asset(asset)).code if asset else None
        if status is not None and status not in rules.STATUSES:
            raise from_rule(RuleViolation("invalid_filter", f"status must be one of {', '.join(rules.STATUSES)}."))
        rows = await repo.list_withdrawals(self.db, user_id=user_id, asset=code, status=status,
                                           before_id=before_id, limit=limit + 1)
        return _page([withdrawal_out(r, admin=admin) for r in rows], limit)

    async def admin_list(self, admin_id: int, *, user_id: int | None, asset: str | None, status: str | None,
                         before_id: int | None, limit: int, ip: str | None = None,
                         user_agent: str | None = None) -> dict[str, Any]:
        page = await self.list(user_id, asset=asset, status=status, before_id=before_id, limit=limit, admin=True)
        async with self.db.unit_of_work() as uow:
            await audit.record(uow.conn, "admin_listed_withdrawals", user_id=user_id, actor_user_id=admin_id,
                               ip=ip, user_agent=user_agent, details={"status": status, "asset": asset})
            await uow.commit()
        return page


def _check(current: str, target: str) -> None:
    try:
        rules.check_transition(current, target)
    except RuleViolation as exc:
        raise from_rule(exc) from None


async def notify_withdrawal(conn: Any, row: Any) -> None:
    """Tell the user (email/push via the outbox relay) that their withdrawal changed."""
    await enqueue(conn, "wallet.withdrawal_updated", {
        "user_id": row["user_id"], "withdrawal_id": row["id"], "asset": row["asset"], "amount": fmt(row["amount"]),
        "fee": fmt(row["fee"]), "status": row["status"], "txid": row["txid"]})
    # the owner's private stream (docs/streams.md: transfers, and a balance update)
    await enqueue(conn, "stream.user.transfer", {
        "user_id": row["user_id"], "kind": "withdrawal", "id": row["id"], "asset": row["asset"],
        "amount": fmt(row["amount"]), "fee": fmt(row["fee"]), "status": row["status"], "txid": row["txid"],
        "time": time.time_ns() // 1_000_000})
