"""What a real chain's adapter reports to operators: its node's state and the alerts to act on.

- `report_status` writes one row per chain (wallet.chain_status): ok, or degraded with why (node
  unreachable or answering garbage, hot wallet short, open alerts). `/health` reads it back
  (`chain_health`): a degraded chain is shown, but does not make the service unhealthy (deposits wait
  and withdrawals stay queued; nothing is lost).
- `raise_alert` records an alert (wallet.chain_alert), logs it at ERROR and tells the operations
  outbox (`ops.chain_alert`), in the caller's transaction. Open alerts keep the chain degraded until
  `mycrypto chain alerts --resolve ID`.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from ...notify.outbox import enqueue

log = logging.getLogger("mycrypto.wallet.chain")

OK, DEGRADED = "ok", "degraded"
STALE_AFTER = timedelta(minutes=5)  # no report for this long: the background loop is not running


async def report_status(db: Any, chain: str, adapter: str, problems: list[str], *, head: int | None = None,
                        scanned: int | None = None) -> None:
    status = DEGRADED if problems else OK
    await db.execute(
        "INSERT INTO wallet.chain_status (chain, adapter, status, detail, head, scanned, updated_at, last_ok_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, now(), CASE WHEN $3 = 'ok' THEN now() END) "
        "ON CONFLICT (chain) DO UPDATE SET adapter = EXCLUDED.adapter, status = EXCLUDED.status, "
        "  detail = EXCLUDED.detail, head = coalesce(EXCLUDED.head, wallet.chain_status.head), "
        "  scanned = coalesce(EXCLUDED.scanned, wallet.chain_status.scanned), updated_at = now(), "
        "  last_ok_at = CASE WHEN EXCLUDED.status = 'ok' THEN now() ELSE wallet.chain_status.last_ok_at END",
        chain, adapter, status, "; ".join(problems)[:2000] or None, head, scanned)


async def raise_alert(conn: Any, chain: str, kind: str, message: str, details: dict[str, Any]) -> int:
    alert_id = await conn.fetchval(
        "INSERT INTO wallet.chain_alert (chain, kind, message, details) VALUES ($1, $2, $3, $4) RETURNING id",
        chain, kind, message, details)
    await enqueue(conn, "ops.chain_alert", {"alert_id": alert_id, "chain": chain, "kind": kind, "message": message,
                                            "details": details})
    log.error("chain alert: %s", message, extra={"chain": chain, "alert": kind, "alert_id": alert_id})
    return alert_id


async def open_alerts(conn: Any, chain: str | None = None) -> list[Any]:
    return await conn.fetch(
        "SELECT id, chain, kind, message, details, created_at FROM wallet.chain_alert "
        "WHERE resolved_at IS NULL AND ($1::text IS NULL OR chain = $1) ORDER BY id", chain)


async def resolve_alert(conn: Any, alert_id: int, who: str) -> bool:
    done = await conn.execute("UPDATE wallet.chain_alert SET resolved_at = now(), resolved_by = $2 "
                              "WHERE id = $1 AND resolved_at IS NULL", alert_id, who)
    return done.endswith(" 1")


async def chain_health(conn: Any) -> dict[str, Any]:
    """{chain: {"status", "detail", "open_alerts"}} of every chain an adapter reported on."""
    rows = await conn.fetch(
        "SELECT s.chain, s.status, s.detail, s.updated_at, "
        "(SELECT count(*) FROM wallet.chain_alert a WHERE a.chain = s.chain AND a.resolved_at IS NULL) AS alerts "
        "FROM wallet.chain_status s ORDER BY s.chain")
    now = datetime.now(UTC)
    out: dict[str, Any] = {}
    for r in rows:
        status, detail = r["status"], r["detail"]
        if now - r["updated_at"] > STALE_AFTER:
            status, detail = DEGRADED, f"no report since {r['updated_at']:%Y-%m-%d %H:%M:%S} UTC"
        if r["alerts"]:
            status = DEGRADED
        out[r["chain"]] = {"status": status, "detail": detail, "open_alerts": r["alerts"]}
    return out
