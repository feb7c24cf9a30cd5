"""Binance-style signed requests: what exactly is signed, and the timestamp window.

The client sends `timestamp` (ms since the epoch), optionally `recvWindow` (ms, default 5000, max
60000) and `signature` = lowercase hex HMAC-SHA256(secret, totalParams), where totalParams is the
exact query string followed directly by the exact form body (Binance concatenates them with no
separator), with the `signature` parameter itself removed. Nothing is re-encoded or re-ordered:
we sign the bytes the client sent, so any client that signs what it sends verifies here.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

from .rules import Rejected

DEFAULT_RECV_WINDOW_MS = 5000
MAX_RECV_WINDOW_MS = 60000
FUTURE_TOLERANCE_MS = 1000  # a client clock slightly ahead is tolerated, as Binance does
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_DIGITS = re.compile(r"^\d{1,16}$")


@dataclass(frozen=True, slots=True)
class SignedParams:
    payload: str          # what the HMAC covers
    signature: str | None
    params: dict[str, str]


def _strip_signature(raw: str) -> tuple[str, list[str]]:
    if not raw:
        return "", []
    kept, signatures = [], []
    for part in raw.split("&"):
        name = part.split("=", 1)[0]
        if name == "signature":
            signatures.append(part.split("=", 1)[1] if "=" in part else "")
        else:
            kept.append(part)
    return "&".join(kept), signatures


def extract(query: str, body: str) -> SignedParams:
    """Split a request into the signed payload, the presented signature and the parsed parameters."""
    q, sig_q = _strip_signature(query)
    b, sig_b = _strip_signature(body)
    signatures = sig_q + sig_b
    if len(signatures) > 1:
        raise Rejected("signature_invalid", "Send exactly one signature parameter.")
    params: dict[str, str] = {}
    for raw in (q, b):
        for key, value in parse_qsl(raw, keep_blank_values=True):
            params[key] = value
    return SignedParams(payload=q + b, signature=signatures[0] if signatures else None, params=params)


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def verify_signature(secret: str, signed: SignedParams) -> None:
    if signed.signature is None or signed.signature == "":
        raise Rejected("signature_missing", "This request must be signed: add a 'signature' parameter.")
    if not _HEX64.fullmatch(signed.signature):
        raise Rejected("signature_invalid", "Signature for this request is not valid.")
    if not hmac.compare_digest(sign(secret, signed.payload), signed.signature.lower()):
        raise Rejected("signature_invalid", "Signature for this request is not valid.")


def check_timestamp(params: dict[str, str], now_ms: int) -> None:
    """Refuse a missing/garbled timestamp or one outside [now - recvWindow, now + 1s]."""
    raw_ts = params.get("timestamp")
    if raw_ts is None or raw_ts == "":
        raise Rejected("timestamp_missing", "Mandatory parameter 'timestamp' was not sent.")
    if not _DIGITS.fullmatch(raw_ts):
        raise Rejected("timestamp_invalid", "'timestamp' must be an integer number of milliseconds.")
    raw_window = params.get("recvWindow")
    if raw_window is None or raw_window == "":
        window = DEFAULT_RECV_WINDOW_MS
    else:
        if not _DIGITS.fullmatch(raw_window) or not 0 < int(raw_window) <= MAX_RECV_WINDOW_MS:
            raise Rejected("recv_window_invalid",
                           f"'recvWindow' must be an integer between 1 and {MAX_RECV_WINDOW_MS}.")
        window = int(raw_window)
    ts = int(raw_ts)
    if ts >= now_ms + FUTURE_TOLERANCE_MS or now_ms - ts > window:
        raise Rejected("timestamp_outside_recv_window",
                       "Timestamp for this request is outside of the recvWindow.")
