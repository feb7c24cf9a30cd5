"""Wallet HTTP API under /api/v1/wallet: assets, balances, deposits, withdrawals, history, faucet, admin.

Routers only translate HTTP to use cases: authentication via `auth.principal` dependencies,
ownership and rules in the services, amounts out as strings via `common.jsonresp`. `lifespan`
sets `container.wallet` (the services) and runs the deposit watcher and the withdrawal
processor in the background (`WALLET_WATCH_INTERVAL_SECONDS`; 0 = off).
"""
from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from starlette.responses import Response, StreamingResponse

from ..auth.principal import Principal, admin_principal, current_principal
from ..common.http import client_ip
from ..common.jsonresp import json_response
from ..container import Container, get_container
from .chain import ChainAdapter, build_adapter
from .domain.errors import RuleViolation
from .domain.history import CSV_COLUMNS, HistoryFilter, build_filter
from .errors import from_rule
from .processor import WithdrawalProcessor
from .schemas import FaucetRequest, WithdrawalCreate, WithdrawalReject, history_csv_row
from .service import WalletService
from .watcher import DepositWatcher, run_forever
from .withdrawal_service import WithdrawalService

SERVICE = "wallet"
router = APIRouter(prefix="/api/v1/wallet", tags=["wallet"])

MAX_ID = 2**63 - 1


def _id() -> Any:
    """A fresh Path() per parameter (FastAPI binds a FieldInfo to the first parameter using it)."""
    return Path(..., ge=1, le=MAX_ID)


# ---------------------------------------------------------------------------------------- wiring
@dataclass
class WalletComponents:
    wallet: WalletService
    withdrawals: WithdrawalService
    chain: ChainAdapter | None
    watcher: DepositWatcher | None
    processor: WithdrawalProcessor | None

    async def run_once(self) -> dict[str, Any]:
        """One round of background work (tests, `mycrypto wallet scan`): broadcast, then scan."""
        out: dict[str, Any] = {}
        if self.processor is not None:
            out["withdrawals"] = (await self.processor.process_once()).as_dict()
        if self.watcher is not None:
            out["deposits"] = (await self.watcher.scan_once()).as_dict()
        if self.chain is not None:
            custody = await self.chain.maintain()  # real chains: fee bumps, sweeps, network fees
            if custody:
                out["custody"] = custody
        return out


def build_components(db: Any, settings: Any, chain: ChainAdapter | None = None) -> WalletComponents:
    chain = chain if chain is not None else build_adapter(settings, db)
    wallet = WalletService(db, settings, chain)
    return WalletComponents(
        wallet=wallet, withdrawals=WithdrawalService(db, settings, wallet), chain=chain,
        watcher=DepositWatcher(db, chain) if chain else None,
        processor=WithdrawalProcessor(db, chain) if chain else None)


def components(container: Container) -> WalletComponents:
    found = container.wallet
    if found is None:
        found = container.wallet = build_components(container.db, container.settings)
    return found


@asynccontextmanager
async def lifespan(container: Container) -> AsyncIterator[None]:
    parts = components(container)
    task = None
    interval = container.settings.wallet_watch_interval_s
    if interval > 0 and parts.watcher is not None and parts.processor is not None:
        task = asyncio.create_task(
            run_forever(interval, parts.processor.process_once, parts.watcher.scan_once, parts.chain.maintain),
            name="wallet-background")
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if parts.chain is not None:
            await parts.chain.close()
        container.wallet = None


def _parts(request: Request) -> WalletComponents:
    return components(get_container(request))


def _who(request: Request) -> dict[str, Any]:
    settings = get_container(request).settings
    return {"ip": client_ip(request, settings.trust_proxy_headers), "user_agent": request.headers.get("user-agent")}


def _before(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.isdigit() or not 0 < int(cursor) <= MAX_ID:
        raise from_rule(RuleViolation("invalid_cursor", "The cursor is not valid; start again without it."))
    return int(cursor)


def _history_filter(asset: str | None, types: str | None, start: str | None, end: str | None,
                    limit: int | None, cursor: str | None) -> HistoryFilter:
    try:
        return build_filter(asset=asset, types=types, start=start, end=end, limit=limit, cursor=cursor)
    except RuleViolation as exc:
        raise from_rule(exc) from None


# ---------------------------------------------------------------------------------------- public
@router.get("/assets", summary="Assets with their precision, confirmations and withdrawal rules")
async def list_assets(request: Request) -> Response:
    return json_response({"assets": await _parts(request).wallet.list_assets()})


# ---------------------------------------------------------------------------------------- balances
@router.get("/balances", summary="My balances in every asset: available, locked, total")
async def balances(request: Request, principal: Principal = Depends(current_principal)) -> Response:
    principal.require("read")
    return json_response({"balances": await _parts(request).wallet.balances(principal.user_id)})


@router.get("/balances/{asset}", summary="My balance in one asset")
async def balance(request: Request, asset: str = Path(..., max_length=16),
                  principal: Principal = Depends(current_principal)) -> Response:
    principal.require("read")
    return json_response(await _parts(request).wallet.balance(principal.user_id, asset))


# ---------------------------------------------------------------------------------------- deposits
@router.get("/deposit-address/{asset}", summary="My deposit address for an asset (created on first use)")
async def deposit_address(request: Request, asset: str = Path(..., max_length=16),
                          principal: Principal = Depends(current_principal)) -> Response:
    principal.require("read")
    return json_response(await _parts(request).wallet.deposit_address(principal.user_id, asset))


@router.get("/deposits", summary="My deposits, newest first, with confirmations (pending ones too)")
async def list_deposits(request: Request, asset: str | None = Query(None, max_length=16),
                        status: str | None = Query(None, max_length=16),
                        limit: int = Query(50, ge=1, le=500), cursor: str | None = Query(None, max_length=20),
                        principal: Principal = Depends(current_principal)) -> Response:
    principal.require("read")
    page = await _parts(request).wallet.list_deposits(principal.user_id, asset=asset, status=status,
                                                      before_id=_before(cursor), limit=limit)
    return json_response(page)


@router.get("/deposits/{deposit_id}", summary="One of my deposits")
async def get_deposit(request: Request, deposit_id: int = _id(),
                      principal: Principal = Depends(current_principal)) -> Response:
    principal.require("read")
    return json_response(await _parts(request).wallet.get_deposit(principal.user_id, deposit_id))


# ---------------------------------------------------------------------------------------- withdrawals
@router.post("/withdrawals", status_code=201,
             summary="Request a withdrawal (verified email; 2FA code when enabled; Idempotency-Key honoured)")
async def request_withdrawal(request: Request, body: WithdrawalCreate,
                             idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
                             principal: Principal = Depends(current_principal)) -> Response:
    principal.require("withdraw")
    principal.require_verified()
    result, replayed = await _parts(request).withdrawals.request(principal.user_id, body, idempotency_key,
                                                                 **_who(request))
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return json_response(result, status_code=201, headers=headers)


@router.get("/withdrawals", summary="My withdrawals, newest first")
async def list_withdrawals(request: Request, asset: str | None = Query(None, max_length=16),
                           status: str | None = Query(None, max_length=16),
                           limit: int = Query(50, ge=1, le=500), cursor: str | None = Query(None, max_length=20),
                           principal: Principal = Depends(current_principal)) -> Response:
    principal.require("read")
    page = await _parts(request).withdrawals.list(principal.user_id, asset=asset, status=status,
                                                  before_id=_before(cursor), limit=limit)
    return json_response(page)


@router.get("/withdrawals/{withdrawal_id}", summary="One of my withdrawals")
async def get_withdrawal(request: Request, withdrawal_id: int = _id(),
                         principal: Principal = Depends(current_principal)) -> Response:
    principal.require("read")
    return json_response(await _parts(request).withdrawals.get(principal.user_id, withdrawal_id))


@router.post("/withdrawals/{withdrawal_id}/cancel", summary="Cancel my withdrawal (only before broadcast)")
async def cancel_withdrawal(request: Request, withdrawal_id: int = _id(),
                            principal: Principal = Depends(current_principal)) -> Response:
    principal.require("withdraw")
    return json_response(await _parts(request).withdrawals.cancel(principal.user_id, withdrawal_id,
                                                                  **_who(request)))


# ---------------------------------------------------------------------------------------- history
_TYPE_HELP = "Comma-separated: deposit, withdrawal, trade, fee, faucet, adjustment (default all)."
_TIME_HELP = "ISO 8601 time (no zone = UTC) or epoch milliseconds."


@router.get("/history", summary="My history of deposits, withdrawals, trades and fees (cursor-paginated)")
async def history(request: Request, asset: str | None = Query(None, max_length=16),
                  types: str | None = Query(None, alias="type", max_length=100, description=_TYPE_HELP),
                  start: str | None = Query(None, max_length=40, description=_TIME_HELP + " Inclusive."),
                  end: str | None = Query(None, max_length=40, description=_TIME_HELP + " Exclusive."),
                  limit: int | None = Query(None, ge=1, le=500), cursor: str | None = Query(None, max_length=200),
                  principal: Principal = Depends(current_principal)) -> Response:
    principal.require("read")
    f = _history_filter(asset, types, start, end, limit, cursor)
    return json_response(await _parts(request).wallet.history(principal.user_id, f))


@router.get("/history.csv", summary="My history as CSV (same filters; amounts as plain decimals)")
async def history_csv(request: Request, asset: str | None = Query(None, max_length=16),
                      types: str | None = Query(None, alias="type", max_length=100, description=_TYPE_HELP),
                      start: str | None = Query(None, max_length=40, description=_TIME_HELP),
                      end: str | None = Query(None, max_length=40, description=_TIME_HELP),
                      principal: Principal = Depends(current_principal)) -> Response:
    principal.require("read")
    f = _history_filter(asset, types, start, end, None, None)
    wallet = _parts(request).wallet
    if f.asset:  # resolve before streaming starts, so an unknown asset is a 404, not a broken download
        await wallet.asset(f.asset)
    return _csv_response(wallet, principal.user_id, f, "history.csv")


def _csv_response(wallet: WalletService, user_id: int, f: HistoryFilter, filename: str) -> Response:
    async def lines() -> AsyncIterator[str]:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        async for row in wallet.history_rows(user_id, f):
            writer.writerow(history_csv_row(row))
            if buf.tell() > 16384:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue()

    return StreamingResponse(lines(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"',
                                      "Cache-Control": "no-store"})


# ---------------------------------------------------------------------------------------- faucet
@router.post("/faucet", summary="Development only: credit test funds (refused in production)")
async def faucet(request: Request, body: FaucetRequest, principal: Principal = Depends(current_principal)) -> Response:
    return json_response(await _parts(request).wallet.faucet(principal.user_id, body.asset, body.amount))


# ---------------------------------------------------------------------------------------- admin
@router.get("/admin/withdrawals", summary="Admin: withdrawals (filter by status, asset, user)")
async def admin_withdrawals(request: Request, status: str | None = Query(None, max_length=16),
                            asset: str | None = Query(None, max_length=16),
                            user_id: int | None = Query(None, ge=1, le=MAX_ID),
                            limit: int = Query(50, ge=1, le=500), cursor: str | None = Query(None, max_length=20),
                            admin: Principal = Depends(admin_principal)) -> Response:
    page = await _parts(request).withdrawals.admin_list(admin.user_id, user_id=user_id, asset=asset, status=status,
                                                        before_id=_before(cursor), limit=limit, **_who(request))
    return json_response(page)


@router.post("/admin/withdrawals/{withdrawal_id}/approve", summary="Admin: approve a requested withdrawal")
async def admin_approve(request: Request, withdrawal_id: int = _id(),
                        admin: Principal = Depends(admin_principal)) -> Response:
    return json_response(await _parts(request).withdrawals.approve(admin.user_id, withdrawal_id, **_who(request)))


@router.post("/admin/withdrawals/{withdrawal_id}/reject", summary="Admin: reject a withdrawal before broadcast")
async def admin_reject(request: Request, body: WithdrawalReject, withdrawal_id: int = _id(),
                       admin: Principal = Depends(admin_principal)) -> Response:
    return json_response(await _parts(request).withdrawals.reject(admin.user_id, withdrawal_id, body.reason,
                                                                  **_who(request)))


@router.get("/admin/users/{user_id}/balances", summary="Admin: a user's balances")
async def admin_user_balances(request: Request, user_id: int = _id(),
                              admin: Principal = Depends(admin_principal)) -> Response:
    return json_response(await _parts(request).wallet.admin_balances(admin.user_id, user_id, **_who(request)))


@router.get("/admin/users/{user_id}/history", summary="Admin: a user's history (same filters as /history)")
async def admin_user_history(request: Request, user_id: int = _id(), asset: str | None = Query(None, max_length=16),
                             types: str | None = Query(None, alias="type", max_length=100, description=_TYPE_HELP),
                             start: str | None = Query(None, max_length=40), end: str | None = Query(None, max_length=40),
                             limit: int | None = Query(None, ge=1, le=500),
                             cursor: str | None = Query(None, max_length=200),
                             admin: Principal = Depends(admin_principal)) -> Response:
    f = _history_filter(asset, types, start, end, limit, cursor)
    return json_response(await _parts(request).wallet.admin_history(admin.user_id, user_id, f, **_who(request)))
