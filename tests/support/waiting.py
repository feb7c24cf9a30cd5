"""Polling for background work (relays, notifiers, consumers) in tests: wait for a condition, fail
with what was last seen instead of hanging."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any


async def eventually(fn: Callable[[], Awaitable[Any]], timeout: float = 10.0, what: str = "condition") -> Any:
    """Await `fn()` until it returns something truthy, then return it; AssertionError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = await fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s (last value {value!r})")
        await asyncio.sleep(0.05)
