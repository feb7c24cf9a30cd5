"""Operator actions on credits frozen by a deep chain reorganisation (wallet.deposit_freeze).

A freeze holds (available -> locked) what was still available of a credited deposit whose block
left the chain. The operator checks the transaction on the chain and then either
- `release`: the transfer is in the chain after all (re-included): the hold goes back to available;
- `reverse`: the coins never arrived: the held amount goes back to chain_in (a posting, kind
  `adjustment`, ref `deposit_reversal:<id>`). If the user had already spent part of the deposit, only
  the held part is reversed and the shortfall is reported for a manual adjustment.
Both are one transaction with the freeze row locked, so a freeze is resolved exactly once.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from .. import ledger
from ..domain.ledger import LOCKED, Hold, Leg, Posting


class FreezeError(Exception):
    """The freeze does not exist or was already resolved."""


async def list_freezes(conn: Any, *, open_only: bool = True) -> list[Any]:
    return await conn.fetch(
        "SELECT f.*, d.txid, d.vout, d.chain, d.address FROM wallet.deposit_freeze f "
        "JOIN wallet.deposit d ON d.id = f.deposit_id WHERE ($1::boolean IS false OR f.resolved_at IS NULL) "
        "ORDER BY f.created_at", open_only)


async def resolve(db: Any, deposit_id: int, action: str, who: str) -> dict[str, Any]:
    if action not in ("release", "reverse"):
        raise FreezeError("action must be release or reverse")
    async with db.unit_of_work() as uow:
        conn = uow.conn
        freeze = await conn.fetchrow("SELECT * FROM wallet.deposit_freeze WHERE deposit_id = $1 FOR UPDATE",
                                     deposit_id)
        if freeze is None:
            raise FreezeError(f"deposit {deposit_id} is not frozen")
        if freeze["resolved_at"] is not None:
            raise FreezeError(f"deposit {deposit_id} was already {freeze['resolution']}")
        accounts = await ledger.ensure_user_accounts(conn, freeze["user_id"], [freeze["asset"]])
        account = accounts[freeze["asset"]]
        held: Decimal = freeze["held"]
        posting_id = None
        if action == "release":
            if held > 0:
                await ledger.apply_changes(conn, holds=[Hold(account, -held)])
            resolution = "released"
        else:
            if held > 0:
                system = await ledger.system_accounts(conn)
                [posting_id] = await ledger.apply_changes(conn, [Posting(
                    "adjustment", "deposit_reversal", str(deposit_id), (
                        Leg(account, freeze["asset"], -held, LOCKED),
                        Leg(system[("chain_in", freeze["asset"])], freeze["asset"], held)),
                    memo="credit reversed: its transaction left the chain")])
            resolution = "reversed"
        await conn.execute("UPDATE wallet.deposit_freeze SET resolved_at = now(), resolution = $2, resolved_by = $3, "
                           "posting_id = $4 WHERE deposit_id = $1", deposit_id, resolution, who, posting_id)
        await uow.commit()
    shortfall = freeze["amount"] - held
    return {"deposit_id": deposit_id, "resolution": resolution, "amount": freeze["amount"], "held": held,
            "posting_id": posting_id, "shortfall": shortfall if action == "reverse" else Decimal(0)}
