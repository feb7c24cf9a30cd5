"""Small endpoints the web app needs that belong to no other service.

- `GET /web/config`: what the app may offer (development helpers, registration) - public, no secrets.
- `POST /web/qr`: an SVG QR code (as a data: URI) of an `otpauth://` URI or of a deposit address,
  rendered server-side with `segno`, so 2FA enrolment and deposits show a scannable code without
  third-party JavaScript. POST keeps the TOTP secret out of URLs and logs; signed-in callers only.
- `POST /web/dev/deposit`: development only - makes the built-in chain simulator send coins to an
  address and mines enough blocks to confirm them; the wallet's deposit watcher then credits them like
  any deposit. 404 in production, when the simulator is off, or when a real chain adapter is set.
"""
from __future__ import annotations

import base64
import io
import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from ..auth.principal import Principal, current_principal, verified_principal
from ..common.errors import NotFound, ValidationFailed
from ..common.jsonresp import json_response
from ..common.money import parse_amount
from ..container import get_container

router = APIRouter(prefix="/web", include_in_schema=False)
MAX_QR_TEXT = 512
# What a deposit address QR may encode: an Ethereum address (0x + 40 hex) or a Bitcoin one (bech32/base58)
_ADDRESS_QR = re.compile(r"^(0x[0-9a-fA-F]{40}|(bc1|tb1|bcrt1)[02-9ac-hj-np-z]{11,71}|[13mn2][1-9A-HJ-NP-Za-km-z]{25,34})$")


class QrRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    text: str = Field(min_length=1, max_length=MAX_QR_TEXT)


class DevDepositRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    asset: str = Field(min_length=1, max_length=16)
    address: str = Field(min_length=1, max_length=256)
    amount: Any = None


def _simulator_enabled(settings: Any) -> bool:
    return bool(settings.dev_tools_enabled and settings.chain_simulator and not settings.chain_adapter)


def _real_chains(settings: Any) -> list[str]:
    from ..wallet.chain import real_chains

    return sorted(real_chains(settings))


@router.get("/config")
async def config(request: Request) -> Response:
    settings = get_container(request).settings
    dev = settings.dev_tools_enabled
    return json_response({
        "env": settings.env,
        "dev_tools": dev,
        "faucet": bool(dev and settings.faucet_enabled),
        "chain_simulator": _simulator_enabled(settings),
        "real_chains": _real_chains(settings),  # chains on a real node: no simulated deposits there
        "mailbox_url": "/dev/mailbox" if dev else None,
        "registration_enabled": settings.registration_enabled,
        "live": settings.web_live_updates,   # use the /ws streams (docs/frontend.md "Live updates")
    }, headers={"Cache-Control": "no-cache"})


@router.post("/qr")
async def qr(body: QrRequest, principal: Principal = Depends(current_principal)) -> Response:
    import segno

    if not body.text.startswith("otpauth://") and not _ADDRESS_QR.fullmatch(body.text):
        raise ValidationFailed("Only otpauth:// URIs and deposit addresses are rendered.", code="qr_unsupported")
    code = segno.make(body.text, error="m")
    buf = io.BytesIO()
    code.save(buf, kind="svg", scale=5, border=4, dark="#000", light="#fff", xmldecl=False)
    data_uri = "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode()
    return json_response({"data_uri": data_uri, "modules": code.symbol_size(scale=1, border=4)[0]},
                         headers={"Cache-Control": "no-store"})


@router.post("/dev/deposit")
async def dev_deposit(body: DevDepositRequest, request: Request,
                      principal: Principal = Depends(verified_principal)) -> Response:
    container = get_container(request)
    if not _simulator_enabled(container.settings):
        raise NotFound("No such endpoint.")
    from ..wallet.chain.adapter import ChainError
    from ..wallet.chain.simulator import SimulatedTransferTooLarge, SimulatorChain

    asset = body.asset.upper()
    row = await container.db.fetchrow(
        "SELECT decimals, chain, confirmations_required FROM wallet.asset WHERE code = $1", asset)
    if row is None:
        raise NotFound(f"Unknown asset {asset}.", code="asset_not_found")
    if row["chain"] in _real_chains(container.settings):
        raise ValidationFailed(f"{asset} is on a real node here: send real coins to the address.",
                               code="simulated_deposit_refused")
    amount = parse_amount(body.amount, max_decimals=row["decimals"])
    chain = SimulatorChain(container.db)
    try:
        sent = await chain.send(asset, body.address, amount)
        await chain.mine(max(1, int(row["confirmations_required"])), sent.chain)
    except SimulatedTransferTooLarge as exc:   # the bound a real deposit has (issue 11)
        raise ValidationFailed(str(exc), code="simulated_deposit_too_large") from None
    except ChainError as exc:
        raise ValidationFailed(str(exc), code="simulated_deposit_refused") from None
    return json_response({"asset": asset, "amount": amount, "address": sent.address, "txid": sent.txid,
                          "confirmations": int(row["confirmations_required"])}, status_code=201)
