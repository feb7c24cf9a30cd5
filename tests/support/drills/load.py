"""A bounded load of keyed writes (orders, withdrawals) from several workers, labelled by drill phase.

The drill's controller moves `Load.phase` ("before" -> "down" -> "after") while the workers keep sending;
every answer is tallied under the phase current when it ARRIVED. Orders cross (buys and sells at one
price), so trades settle throughout; every fifth operation is a small BTC withdrawal.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

import httpx

from tests.support.drills.kit import Op, Tally, User, order_op, send, withdrawal_op


def mixed_ops(prefix: str, withdraw_every: int = 5) -> Callable[[User, int], Op]:
    def make(user: User, i: int) -> Op:
        key = f"{prefix}-{user.user_id}-{i}"
        if withdraw_every and i % withdraw_every == withdraw_every - 1:
            return withdrawal_op(user, key)
        side = "buy" if i % 2 else "sell"
        return order_op(user, key, side, "50000" if i % 3 else ("49000" if side == "buy" else "51000"))
    return make


class Load:
    def __init__(self, bases: Sequence[str], users: Sequence[User], make_op: Callable[[User, int], Op],
                 workers: int = 8, pause_s: float = 0.0, timeout: float = 10.0, max_ops: int = 100_000,
                 shared_keys: bool = False) -> None:
        """`shared_keys`: workers of the same user send the same keys (concurrent duplicates, which must be
        answered as replays of one operation); otherwise every worker has keys of its own."""
        self.bases = list(bases)
        self.users = list(users)
        self.make_op = make_op
        self.workers = workers
        self.pause_s = pause_s
        self.timeout = timeout
        self.max_ops = max_ops
        self.shared_keys = shared_keys
        self.phase = "before"
        self.tally = Tally()
        self.sent = 0
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self.client = httpx.AsyncClient(limits=httpx.Limits(max_connections=workers * 2))

    def start(self) -> Load:
        self._tasks = [asyncio.create_task(self._worker(w)) for w in range(self.workers)]
        return self

    async def _worker(self, w: int) -> None:
        user = self.users[w % len(self.users)]
        base = self.bases[w % len(self.bases)]
        i = 0 if self.shared_keys else w * 1_000_000
        while not self._stop.is_set() and self.sent < self.max_ops:
            i += 1
            self.sent += 1
            op = self.make_op(user, i)
            status = await send(self.client, base, op, self.tally, self.phase, self.timeout)
            if status is None or status >= 500:
                await asyncio.sleep(0.2)   # a client backs off while the platform is down
            elif self.pause_s:
                await asyncio.sleep(self.pause_s)

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        await self.stop()
        await self.client.aclose()


async def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.1) -> float | None:
    """Seconds until `await predicate()` (or predicate()) is truthy; None on timeout."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return time.monotonic() - started
        await asyncio.sleep(interval)
    return None
