"""Private stream sources: the outbox's `stream.user.*` rows, listen keys, and the market-data reader.

Outbox rows (written in the transaction of what they report: alerts/firing.py, wallet deposits and
withdrawals, auth security events) are relayed by notify/relay.py: published on Redis (`<channel>:user`)
when REDIS_URL is set, else handed to this process's hub (`UserRoute`). Either way they arrive as
`{"k": "o", "topic", "payload"}` and `outbox_message` turns them into user messages.
"""
from __future__ import annotations

import logging
from typing import Any

import orjson

from .model import BALANCE_HINT

log = logging.getLogger("mycrypto.streams")

# topic suffix (after "stream.user.") -> native private stream
TOPIC_STREAMS = {"alert_triggered": "alerts", "transfer": "transfers", "security": "security",
                 "order": "orders", "balances": "balances"}


def outbox_messages(body: dict) -> list[dict]:
    """User messages for one relayed outbox row (unknown topics are ignored, logged)."""
    topic, payload = body.get("topic"), body.get("payload")
    if not isinstance(topic, str) or not isinstance(payload, dict) or not isinstance(payload.get("user_id"), int):
        return []
    stream = TOPIC_STREAMS.get(topic.removeprefix("stream.user."))
    if stream is None:
        log.warning("outbox stream topic without a stream", extra={"topic": topic})
        return []
    data = {k: v for k, v in payload.items() if k != "user_id"}
    out = [{"k": "u", "user_id": payload["user_id"], "stream": stream, "data": data}]
    if stream == "transfers":   # a credited deposit or a withdrawal changes balances
        out.append({"k": "u", "user_id": payload["user_id"], "stream": BALANCE_HINT,
                    "data": {"assets": [data.get("asset")] if data.get("asset") else None, "time": data.get("time")}})
    return out


class UserRoute:
    """Outbox relay handler (notify.relay.Handler) delivering `stream.user.*` rows in this process."""

    def __init__(self, sink: Any) -> None:
        self.sink = sink

    async def __call__(self, rows: list) -> dict[int, str | None]:
        for row in rows:
            try:
                self.sink({"k": "o", "topic": row.topic, "payload": row.payload})
            except Exception:   # a stream is best effort: never retry a row forever over a bad payload
                log.exception("stream outbox row not delivered", extra={"outbox_id": row.id})
        return {row.id: None for row in rows}


async def listen_key_user(container: Any, key: Any) -> int | None:
    if not isinstance(key, str) or len(key) != 60:
        return None
    async with container.db.acquire() as conn:
        return await conn.fetchval("SELECT user_id FROM streams.listen_key WHERE listen_key = $1 AND expires_at > now()",
                                   key)


class pull_source:
    """What the hub pulls for tickers, candles and partial books: the market-data service (memory on the
    owner, a short-TTL database cache elsewhere), as JSON-ready dicts."""

    def __init__(self, container: Any) -> None:
        self.container = container

    @property
    def md(self) -> Any:
        return self.container.trade.marketdata

    async def ticker(self, spec: Any) -> dict:
        return orjson.loads(await self.md.ticker_json(spec))

    async def tickers(self, specs: list) -> list:
        return orjson.loads(await self.md.tickers_json(specs))

    async def depth(self, spec: Any, limit: int) -> dict:
        return orjson.loads(await self.md.depth_json(spec, limit))

    async def candle(self, spec: Any, interval: str) -> dict | None:
        rows = await self.md.candles(spec, interval, limit=1)
        if not rows:
            return None
        import time
        out = rows[-1].to_dict()
        out["closed"] = out["close_time"] < int(time.time() * 1000)
        return out
