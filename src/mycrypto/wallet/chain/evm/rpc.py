"""Ethereum JSON-RPC over httpx, with every answer checked before anything trusts it.

A node that is down, times out, or answers something that is not the JSON-RPC we asked for
("garbage") raises `ChainUnavailable`: callers treat it as transient (deposits wait, withdrawals stay
queued). A well-formed JSON-RPC error object raises `RpcError` (the node understood and said no:
"nonce too low", "insufficient funds", a revert...), which callers interpret.

The parse helpers turn the node's hex quantities and hashes into Python values and refuse anything
malformed, so a confused node cannot make us credit a garbled amount.
"""
from __future__ import annotations

import itertools
import re
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from ..adapter import ChainError, ChainUnavailable

_HEX_QUANTITY = re.compile(r"^0x(0|[1-9a-f][0-9a-f]*)$")
_HASH = re.compile(r"^0x[0-9a-f]{64}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_DATA = re.compile(r"^0x([0-9a-f]{2})*$")
MAX_BATCH = 100


class RpcError(ChainError):
    """The node answered with a JSON-RPC error object."""

    def __init__(self, method: str, code: Any, message: str) -> None:
        self.method, self.code, self.rpc_message = method, code, message
        super().__init__(f"{method}: {message} (code {code})")


class Garbage(ChainUnavailable):
    """The node's answer is not what the protocol says it must be."""

    def __init__(self, message: str) -> None:
        super().__init__(message if "garbage" in message else f"node answered garbage: {message}")


def redacted(url: str) -> str:
    """scheme://host[:port] only: a provider URL often carries an API key in its path or query."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}{':' + str(parts.port) if parts.port else ''}"


class RpcClient:
    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url = url
        self.shown_url = redacted(url)  # what messages, logs and /health may show
        self._client = httpx.AsyncClient(timeout=timeout_s, limits=httpx.Limits(max_connections=8))
        self._ids = itertools.count(1)
        self.last_error: str | None = None
        self.last_ok_at: float | None = None
        self.calls = 0  # requests sent (tests and the benchmark read it)

    async def close(self) -> None:
        await self._client.aclose()

    async def call(self, method: str, *params: Any) -> Any:
        [result] = await self._send([(method, list(params))])
        if isinstance(result, RpcError):
            raise result
        return result

    async def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Results in order; an element the node refused is an `RpcError` instance (not raised)."""
        out: list[Any] = []
        for start in range(0, len(calls), MAX_BATCH):
            out += await self._send([(m, list(p)) for m, p in calls[start:start + MAX_BATCH]])
        return out

    async def _send(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        if not calls:
            return []
        ids = [next(self._ids) for _ in calls]
        payload = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in zip(ids, calls)]
        body = payload[0] if len(payload) == 1 else payload
        self.calls += 1
        try:
            response = await self._client.post(self.url, content=orjson.dumps(body),
                                               headers={"content-type": "application/json"})
        except httpx.HTTPError as exc:
            self._failed(f"node unreachable: {type(exc).__name__}")
            raise ChainUnavailable(f"node unreachable at {self.shown_url}: {type(exc).__name__}") from None
        try:
            if response.status_code != 200:
                raise Garbage(f"HTTP {response.status_code}")
            data = orjson.loads(response.content)
            answers = [data] if isinstance(data, dict) else data
            if not isinstance(answers, list):
                raise Garbage("not a JSON-RPC response")
            by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
            results = []
            for i, (method, _) in zip(ids, calls):
                answer = by_id.get(i)
                if answer is None or answer.get("jsonrpc") != "2.0":
                    raise Garbage(f"no JSON-RPC answer to {method}")
                if "error" in answer:
                    err = answer["error"]
                    if not isinstance(err, dict):
                        raise Garbage(f"malformed error for {method}")
                    results.append(RpcError(method, err.get("code"), str(err.get("message", ""))[:500]))
                elif "result" in answer:
                    results.append(answer["result"])
                else:
                    raise Garbage(f"neither result nor error for {method}")
        except (Garbage, orjson.JSONDecodeError, ValueError) as exc:
            self._failed(f"node answered garbage: {exc}")
            raise Garbage(f"node at {self.shown_url} answered garbage: {exc}") from None
        self.last_error, self.last_ok_at = None, time.monotonic()
        return results

    def _failed(self, reason: str) -> None:
        self.last_error = reason


# ------------------------------------------------------------------------------------------ parsing
def quantity(value: Any, what: str = "quantity") -> int:
    if not isinstance(value, str) or not _HEX_QUANTITY.fullmatch(value.lower()) or len(value) > 66:
        raise Garbage(f"bad {what}: {str(value)[:80]!r}")
    return int(value, 16)


def tx_hash(value: Any, what: str = "hash") -> str:
    if not isinstance(value, str) or not _HASH.fullmatch(value.lower()):
        raise Garbage(f"bad {what}: {str(value)[:80]!r}")
    return value.lower()


def address(value: Any, what: str = "address") -> str:
    if not isinstance(value, str) or not _ADDRESS.fullmatch(value):
        raise Garbage(f"bad {what}: {str(value)[:80]!r}")
    return value.lower()


def data(value: Any, what: str = "data") -> str:
    if not isinstance(value, str) or not _DATA.fullmatch(value.lower()):
        raise Garbage(f"bad {what}: {str(value)[:80]!r}")
    return value.lower()


def mapping(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Garbage(f"bad {what}: expected an object")
    return value
