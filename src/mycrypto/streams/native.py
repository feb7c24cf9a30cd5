"""The native protocol (docs/streams.md): `{"op": ...}` frames in, `{"type": ...}` frames out."""
from __future__ import annotations

from typing import Any

import orjson

from .model import PRIVATE_STREAMS, UnknownStream, parse_key


def _dump(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def data_frame(stream: str, data: Any) -> str:
    return _dump({"type": "data", "stream": stream, "data": data})


def resync_frame(stream: str, data: dict) -> str:
    return _dump({"type": "resync", "stream": stream, "seq": data.get("seq"), "reason": data.get("reason")})


def error_frame(req_id: Any, code: str, message: str) -> str:
    return _dump({"type": "error", "id": req_id, "code": code, "message": message})


async def handle(session: Any, msg: dict) -> None:
    """One native request frame (session: api.Session)."""
    op = msg.get("op")
    req_id = msg.get("id")
    if req_id is not None and not isinstance(req_id, (int, str)) or isinstance(req_id, str) and len(req_id) > 64:
        session.reply(error_frame(None, "invalid_id", "id must be an integer or a short string."))
        return
    if op == "ping":
        session.reply(_dump({"type": "pong", "id": req_id}))
    elif op == "auth":
        await session.authenticate_token(req_id, msg.get("token"))
    elif op in ("subscribe", "unsubscribe"):
        streams = msg.get("streams")
        if not isinstance(streams, list) or not streams or not all(isinstance(s, str) for s in streams):
            session.reply(error_frame(req_id, "invalid_streams", "streams must be a non-empty list of names."))
            return
        if op == "subscribe":
            await _subscribe(session, req_id, streams)
        else:
            for key in streams:
                if key in PRIVATE_STREAMS:
                    session.conn.user_streams.discard(key)
                else:
                    session.hub.unsubscribe(session.conn, key)
            session.reply(_dump({"type": "unsubscribed", "id": req_id, "streams": streams}))
    else:
        session.reply(error_frame(req_id, "unknown_op", "op must be subscribe, unsubscribe, ping or auth."))


async def _subscribe(session: Any, req_id: Any, streams: list[str]) -> None:
    conn, hub = session.conn, session.hub
    parsed = []
    for key in streams:
        try:
            parsed.append((key, parse_key(key, hub.symbols(), session.interval_ok)))
        except UnknownStream:
            session.reply(error_frame(req_id, "unknown_stream", f"Unknown stream {key[:64]!r}."))
            return
    if any(kind in PRIVATE_STREAMS for _, (kind, _, _) in parsed) and conn.user_id is None:
        session.reply(error_frame(req_id, "unauthenticated",
                                  "Private streams need authentication: the session cookie, op auth or a listenKey."))
        return
    if not session.room_for(len(parsed)):
        return
    for key, (kind, _, _) in parsed:
        if kind in PRIVATE_STREAMS:
            conn.user_streams.add(kind)
        else:
            hub.subscribe(conn, key)
    session.reply(_dump({"type": "subscribed", "id": req_id, "streams": streams}))
