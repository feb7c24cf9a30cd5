"""What a market's engine is asked to do, and the queue the requests wait in.

`TradeService` builds a command (`Place`, `Cancel`, `CancelAll`, `Amend`) and `MarketEngine.submit`s it;
the queue gives it a future, which the sequencer resolves once the batch containing the command has
committed (or fails with the reason it was not executed). `Duplicate` is a placement's outcome when its
client order id already names an order.
"""
from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ...common.errors import AppError
from ..domain.rules import OrderIntent
from ..errors import EngineOverloaded

MAX_QUEUE = 20_000
REQUEUE = object()   # outcome: short of funds on a projected balance; retried after the batch in flight (matcher.py)


@dataclass(slots=True)
class Place:
    user_id: int
    intent: OrderIntent
    base_acc: int
    quote_acc: int
    future: asyncio.Future = field(default=None)  # type: ignore[assignment]
    fresh: bool = False   # requeued after a projected balance looked short: decide on fresh reads
    cond: Any = None      # a conditional order's domain.conditional.ConditionalIntent


@dataclass(slots=True)
class PlaceOco:
    """Two linked placements of one user (engine/conditional.py): a limit leg and a conditional leg."""

    user_id: int
    limit: Place
    stop: Place
    future: asyncio.Future = field(default=None)  # type: ignore[assignment]
    fresh: bool = False


@dataclass(slots=True)
class Cancel:
    user_id: int
    order_id: int
    future: asyncio.Future = field(default=None)  # type: ignore[assignment]


@dataclass(slots=True)
class CancelAll:
    user_id: int
    future: asyncio.Future = field(default=None)  # type: ignore[assignment]


@dataclass(slots=True)
class Amend:
    user_id: int
    order_id: int
    new_qty_lots: int
    future: asyncio.Future = field(default=None)  # type: ignore[assignment]


Command = Place | PlaceOco | Cancel | CancelAll | Amend


@dataclass(frozen=True, slots=True)
class Duplicate:
    """The client order id already names order `order_id` of this user (the service loads it)."""

    order_id: int


def fail(cmds: list, exc: BaseException) -> None:
    """Answer every still unanswered command with `exc`."""
    for cmd in cmds:
        fut = cmd.future
        if fut is not None and not fut.done():
            fut.set_exception(exc)


def answer(cmds: list, outcomes: list) -> None:
    """Answer each still unanswered command with its outcome (an exception outcome is raised to it)."""
    for cmd, outcome in zip(cmds, outcomes):
        fut = cmd.future
        if fut is None or fut.done():
            continue
        if isinstance(outcome, BaseException):
            fut.set_exception(outcome)
        else:
            fut.set_result(outcome)


class CommandQueue:
    """First in, first out, bounded (`EngineOverloaded` beyond `max_len`), with a wake-up for the sequencer."""

    def __init__(self, max_len: int = MAX_QUEUE) -> None:
        self.max_len = max_len
        self._items: deque[Any] = deque()
        self._wake = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, cmd: Any) -> asyncio.Future:
        """Queue `cmd` and return the future its answer will arrive on."""
        if len(self._items) >= self.max_len:
            raise EngineOverloaded()
        fut = asyncio.get_running_loop().create_future()
        cmd.future = fut
        self._items.append(cmd)
        self._wake.set()
        return fut

    def take(self, n: int) -> list:
        """The oldest `n` commands (at most), removed from the queue."""
        items = self._items
        return [items.popleft() for _ in range(min(n, len(items)))]

    def put_front(self, cmds: list) -> None:
        """Put commands back at the head, in their order (they run before anything queued after them)."""
        for cmd in reversed(cmds):
            self._items.appendleft(cmd)

    def fail_all(self, exc: AppError) -> None:
        """Empty the queue, failing every command in it with `exc` (nothing of them was executed)."""
        cmds = list(self._items)
        self._items.clear()
        fail(cmds, exc)

    def wake(self) -> None:
        self._wake.set()

    async def wait(self) -> None:
        """Sleep until a command is queued (or `wake` is called)."""
        self._wake.clear()
        await self._wake.wait()
