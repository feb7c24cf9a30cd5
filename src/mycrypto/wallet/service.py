"""Wallet use cases: assets, balances, deposit addresses, deposits, history, the faucet, admin look-ups.

Each public method is one use case; writes run in one unit of work (transaction) and change
balances only through `ledger.apply_changes`. Withdrawals live in `withdrawal_service`, the
chain-driven background work in `watcher` and `processor`.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from ..auth import audit
from ..common.money import parse_amount
from ..db.database import Database
from . import history_repository, ledger, repository as repo
from .chain.adapter import ChainAdapter, ChainError
from .domain import faucet as faucet_rules
from .domain.assets import AssetRules
from .domain.errors import RuleViolation
from .domain.history import CursorKey, HistoryFilter, encode_cursor
from .errors import ChainUnavailable, DepositNotFound, FaucetDisabled, UnknownAsset, UserNotFound, from_rule
from .schemas import asset_out, balance_out, deposit_out, history_out

log = logging.getLogger("mycrypto.wallet")

CSV_PAGE = 500
CSV_MAX_ROWS = 100_000


class WalletService:
    def __init__(self, db: Database, settings: Any, chain: ChainAdapter | None) -> None:
        self.db = db
        self.settings = settings
        self.chain = chain

    # ------------------------------------------------------------------ assets & balances
    async def asset(self, code: str, conn: Any = None) -> AssetRules:
        """The asset's rules, or 404 unknown_asset (codes are matched case-insensitively)."""
        if not isinstance(code, str) or not 0 < len(code) <= 16:
            raise UnknownAsset()
        rules = await repo.get_asset(conn or self.db, code.upper())
        if rules is None:
            raise UnknownAsset(f"Unknown asset {code[:16]!r}.", details={"asset": code[:16]})
        return rules

    async def list_assets(self) -> list[dict[str, Any]]:
        return [asset_out(a) for a in await repo.list_assets(self.db)]

    async def balances(self, user_id: int) -> list[dict[str, Any]]:
        """Every asset (zero when the user has no account in it yet): available, locked, total."""
        return [balance_out(r) for r in await ledger.balances(self.db, user_id)]

    async def balance(self, user_id: int, asset: str) -> dict[str, Any]:
        rules = await self.asset(asset)
        return balance_out(await ledger.balance(self.db, user_id, rules.code))

    # ------------------------------------------------------------------ deposits
    async def deposit_address(self, user_id: int, asset: str) -> dict[str, Any]:
        """The user's address for `asset`, created through the chain adapter on first request."""
        rules = await self.asset(asset)
        if not rules.deposit_enabled:
            raise from_rule(RuleViolation("deposits_disabled", f"{rules.code} deposits are suspended.",
                                          details={"asset": rules.code}))
        row = await repo.deposit_address(self.db, user_id, rules.code)
        if row is None:
            if self.chain is None:
                raise ChainUnavailable()
            # One address per user and chain (asset family): ETH and USDT share the user's address.
            address = await self.db.fetchval(
                "SELECT address FROM wallet.deposit_address WHERE user_id = $1 AND chain = $2 ORDER BY id LIMIT 1",
                user_id, rules.chain)
            try:
                address = address or await self.chain.new_address(rules.chain, rules.code)
            except ChainError as exc:
                log.warning("new_address failed", extra={"asset": rules.code, "error": str(exc)})
                raise ChainUnavailable() from None
            if not rules.is_valid_address(address):  # a broken adapter must not hand out unusable addresses
                log.error("chain adapter returned an invalid address", extra={"asset": rules.code})
                raise ChainUnavailable("The chain adapter returned an invalid address.")
            async with self.db.unit_of_work() as uow:
                await repo.insert_deposit_address(uow.conn, user_id, rules.code, rules.chain, address)
                await uow.commit()
            row = await repo.deposit_address(self.db, user_id, rules.code)
        return {"asset": row["asset"], "chain": row["chain"], "address": row["address"],
                "confirmations_required": rules.confirmations_required, "created_at": row["created_at"]}

    async def list_deposits(self, user_id: int, *, asset: str | None, status: str | None,
                            before_id: int | None, limit: int) -> dict[str, Any]:
        code = (await self.asset(asset)).code if asset else None
        if status is not None and status not in ("pending", "confirmed", "credited"):
            raise from_rule(RuleViolation("invalid_filter", "status must be pending, confirmed or credited."))
        rows = await repo.list_deposits(self.db, user_id, asset=code, status=status, before_id=before_id,
                                        limit=limit + 1)
        return _page([deposit_out(r) for r in rows], limit)

    async def get_deposit(self, user_id: int | None, deposit_id: int) -> dict[str, Any]:
        """One deposit; `user_id` None is an admin look-up. Another user's deposit is 'not found'."""
        row = await repo.get_deposit(self.db, deposit_id)
        if row is None or (user_id is not None and row["user_id"] != user_id):
            raise DepositNotFound()
        return deposit_out(row)

    # ------------------------------------------------------------------ history
    async def history(self, user_id: int, f: HistoryFilter) -> dict[str, Any]:
        """One page of the merged history and the cursor of the next page (None at the end)."""
        if f.asset:
            f = replace(f, asset=(await self.asset(f.asset)).code)
        rows = await history_repository.history(self.db, user_id, f)
        next_cursor = None
        if len(rows) > f.limit:
            rows = rows[:f.limit]
            last = rows[-1]
            next_cursor = encode_cursor(CursorKey(last["ts"], last["src"], last["src_id"], last["sub"]))
        return {"items": [history_out(r) for r in rows], "next_cursor": next_cursor}

    async def history_rows(self, user_id: int, f: HistoryFilter) -> AsyncIterator[Any]:
        """Every matching entry (for CSV), page by page, up to CSV_MAX_ROWS."""
        if f.asset:
            f = replace(f, asset=(await self.asset(f.asset)).code)
        f = replace(f, limit=CSV_PAGE)
        sent = 0
        while True:
            rows = await history_repository.history(self.db, user_id, f)
            for row in rows[:CSV_PAGE]:
                yield row
                sent += 1
                if sent >= CSV_MAX_ROWS:
                    return
            if len(rows) <= CSV_PAGE:
                return
            last = rows[CSV_PAGE - 1]
            f = replace(f, cursor=CursorKey(last["ts"], last["src"], last["src_id"], last["sub"]))

    # ------------------------------------------------------------------ faucet (development only)
    async def faucet(self, user_id: int, asset: str, amount: Any) -> dict[str, Any]:
        """Test funds from chain_in (posting kind 'faucet'); refused in production or when disabled."""
        if self.settings.is_production or not self.settings.faucet_enabled:
            raise FaucetDisabled()
        rules = await self.asset(asset)
        if self.chain is not None and self.chain.real_chain(rules.chain):  # real coins are never minted
            raise FaucetDisabled(f"{rules.code} is on a real chain here: deposit coins to your address instead.")
        requested = None if amount is None else parse_amount(amount, max_decimals=rules.decimals)
        try:
            grant = faucet_rules.grant_amount(rules.code, requested)
        except RuleViolation as exc:
            raise from_rule(exc) from None
        async with self.db.unit_of_work() as uow:
            accounts = await ledger.ensure_user_accounts(uow.conn, user_id, [rules.code])
            system = await ledger.system_accounts(uow.conn)
            posting = faucet_rules.faucet_posting(f"{user_id}:{uuid.uuid4().hex}", rules.code, grant,
                                                  user_account=accounts[rules.code],
                                                  chain_in_account=system[("chain_in", rules.code)])
            [posting_id] = await ledger.apply_changes(uow.conn, [posting])
            await uow.commit()
        return {"asset": rules.code, "amount": grant, "posting_id": posting_id,
                "balance": await self.balance(user_id, rules.code)}

    # ------------------------------------------------------------------ admin look-ups
    async def admin_balances(self, admin_id: int, user_id: int, *, ip: str | None,
                             user_agent: str | None) -> dict[str, Any]:
        await self._require_user(user_id)
        await self._audit_view(admin_id, user_id, "admin_viewed_balances", {}, ip, user_agent)
        return {"user_id": user_id, "balances": await self.balances(user_id)}

    async def admin_history(self, admin_id: int, user_id: int, f: HistoryFilter, *, ip: str | None,
                            user_agent: str | None) -> dict[str, Any]:
        await self._require_user(user_id)
        await self._audit_view(admin_id, user_id, "admin_viewed_history",
                               {"asset": f.asset, "types": list(f.types)}, ip, user_agent)
        page = await self.history(user_id, f)
        return {"user_id": user_id, **page}

    async def _require_user(self, user_id: int) -> None:
        if not await repo.user_exists(self.db, user_id):
            raise UserNotFound()

    async def _audit_view(self, admin_id: int, user_id: int, event: str, details: dict[str, Any],
                          ip: str | None, user_agent: str | None) -> None:
        async with self.db.unit_of_work() as uow:
            await audit.record(uow.conn, event, user_id=user_id, actor_user_id=admin_id, ip=ip,
                               user_agent=user_agent, details=details)
            await uow.commit()


def _page(items: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    """Id-keyed pages (deposits, withdrawals): `next_cursor` is the last id shown."""
    more = len(items) > limit
    items = items[:limit]
    return {"items": items, "next_cursor": str(items[-1]["id"]) if more and items else None}
