"""The withdrawal processor: broadcasts approved withdrawals through the chain adapter.

For each approved withdrawal (oldest first, row-locked with SKIP LOCKED so replicas share the work
and an admin's reject or a user's cancel waits for the outcome):
- the adapter broadcasts it with reference `withdrawal-<id>` (idempotent: a retry after a crash
  between broadcast and commit gets the same txid, never a second payment);
- success: one posting (user locked -(amount+fee), chain_out +amount, fees +fee) and status
  `broadcast` with the txid, committed together;
- `BroadcastRejected`: status `failed` and the hold released, together;
- anything else (node unreachable): nothing changes; it is retried on the next run.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from ..db.database import Database
from . import ledger, repository as repo
from .chain import BroadcastRejected, ChainAdapter
from .domain import withdrawals as rules
from .withdrawal_service import notify_withdrawal

log = logging.getLogger("mycrypto.wallet.processor")


@dataclass
class ProcessResult:
    broadcast: int = 0
    failed: int = 0
    retry_later: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"broadcast": self.broadcast, "failed": self.failed, "retry_later": self.retry_later}


def reference(withdrawal_id: int) -> str:
    return f"withdrawal-{withdrawal_id}"


class WithdrawalProcessor:
    def __init__(self, db: Database, chain: ChainAdapter) -> None:
        self.db = db
        self.chain = chain

    async def process_once(self, limit: int = 100) -> ProcessResult:
        result = ProcessResult()
        for _ in range(limit):
            async with self.db.unit_of_work() as uow:
                conn = uow.conn
                row = await repo.lock_next_approved(conn, result.retry_later)
                if row is None:
                    break
                try:
                    txid = await self.chain.broadcast(row["chain"], row["asset"], row["address"], row["amount"],
                                                      reference(row["id"]))
                except BroadcastRejected as exc:
                    updated = await repo.set_withdrawal_status(conn, row["id"], rules.APPROVED, rules.FAILED,
                                                               reason=f"broadcast refused: {exc}"[:500])
                    accounts = await ledger.ensure_user_accounts(conn, row["user_id"], [row["asset"]])
                    await ledger.apply_changes(conn, holds=[rules.release(accounts[row["asset"]], row["amount"],
                                                                        row["fee"])])
                    await notify_withdrawal(conn, updated)
                    await uow.commit()
                    result.failed += 1
                    log.warning("withdrawal broadcast refused", extra={"withdrawal_id": row["id"], "error": str(exc)})
                    continue
                except Exception as exc:  # transient: leave it approved, try the others, retry next run
                    log.warning("withdrawal broadcast failed; will retry",
                                extra={"withdrawal_id": row["id"], "error": repr(exc)})
                    result.retry_later.append(row["id"])
                    continue
                accounts = await ledger.ensure_user_accounts(conn, row["user_id"], [row["asset"]])
                system = await ledger.system_accounts(conn)
                posting = rules.broadcast_posting(
                    row["id"], row["asset"], row["amount"], row["fee"], user_account=accounts[row["asset"]],
                    chain_out_account=system[("chain_out", row["asset"])],
                    fees_account=system[("fees", row["asset"])])
                [posting_id] = await ledger.apply_changes(conn, [posting])
                updated = await repo.set_withdrawal_status(conn, row["id"], rules.APPROVED, rules.BROADCAST,
                                                           txid=txid, posting_id=posting_id)
                await notify_withdrawal(conn, updated)
                await uow.commit()
                result.broadcast += 1
                log.info("withdrawal broadcast", extra={"withdrawal_id": row["id"], "txid": txid})
        return result

