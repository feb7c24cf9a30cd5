"""The state one market's engine keeps, shared by its parts, and `Prepared`, a batch on its way to commit.

`MarketEngine` (sequencer.py) is assembled from one class per job, each in its own module and each
working on this state: `BookRebuild` (rebuild.py), `BatchPreparation` (prepare.py), `CommitPipeline`
(commit.py) and `CommitRecovery` (recovery.py). The operations one part calls on another are listed
here (the method bodies live in the part named beside them), so each module reads on its own.
"""
from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from ...common.markets import MarketSpec
from ...db.database import Database
from ...marketdata.feed import MarketFeed
from ..domain.conditional import ConditionalBook
from ..domain.matching import OrderBook
from ..domain.settlement import Batch, OrderState
from .commands import CommandQueue, fail


@dataclass(slots=True)
class Prepared:
    """A matched batch: its commands and outcomes, its commit in flight (None: nothing to write)."""

    cmds: list
    outcomes: list
    batch: Batch | None
    update_id: int
    ms: int
    task: asyncio.Task | None
    args: tuple | None               # the encoded commit (kept to resend after a fence race)
    slot: int                        # which of the engine's two connections it commits on
    levels: tuple | None             # depth captured right after this batch (published at its commit)
    coids: dict[tuple[int, str], int]  # client order ids this batch places -> order id
    captured: Any = None             # its changed levels and orders (marketdata.events.Captured)
    acked: bool = False              # acknowledged already (by its commit task, see commit.py)
    sent: bool = False               # its commit reached a connection (it may have landed)
    settling: bool = False           # its settlement has started (_settle_or_replay)


class EngineState:
    """Owns one market's book while this process holds the market (see trading.registry)."""

    def __init__(self, spec: MarketSpec, db: Database, *, fee_account: int, epoch: int, batch_max: int = 500,
                 on_lost: Callable[[int], None] | None = None) -> None:
        self.spec = spec
        self.db = db
        self.fee_account = fee_account
        self.epoch = epoch
        self.batch_max = batch_max
        self.on_lost = on_lost
        self.book = OrderBook()
        self.orders: dict[int, OrderState] = {}
        self.conds = ConditionalBook()   # untriggered stop/take-profit orders, OCO links (engine/conditional.py)
        self.update_id = 0
        self.feed = MarketFeed(spec)
        self.dirty = True             # the book must be rebuilt from the database before the next batch
        self.accepting = False
        self.stats = {"batches": 0, "commands": 0, "retries": 0, "failed_batches": 0, "resends": 0}
        # seconds per phase: reads, matching+encoding, write (send to commit, including the wait for
        # the previous pipelined batch)
        self.timings = {"read": 0.0, "match": 0.0, "write": 0.0}
        self._queue = CommandQueue()
        self._ids: deque[int] = deque()
        self._task: asyncio.Task | None = None
        # The sequencer's own two connections (batches alternate between them so one can commit while
        # the next is read and sent), without the pool's acquire/reset round trips; re-opened after a failure.
        self._conns: list[asyncpg.Connection | None] = [None, None]
        self._slot = 0
        self._prepared_update_id = 0   # update id of the last batch sent (committed or in flight)
        # a commit whose connection was lost may still land: the epoch must be bumped (refencing it
        # out) before the database's state is read again
        self._unfenced = False
        # rebuilds (the sequencer's and the registry's) and refences run one at a time
        self._state_lock = asyncio.Lock()

    def _fail(self, cmds: list, exc: BaseException) -> None:
        fail(cmds, exc)

    # ------------------------------------------------------------------ what the parts call on each other
    async def try_rebuild(self) -> bool:                                                   # rebuild.py
        raise NotImplementedError

    async def _connection(self, slot: int) -> asyncpg.Connection:                          # commit.py
        raise NotImplementedError

    async def _execute(self, prep: Prepared, started: float) -> None:                      # commit.py
        raise NotImplementedError

    def _acknowledge(self, prep: Prepared, *, clean: bool) -> None:                        # commit.py
        raise NotImplementedError

    async def _resolve_lost(self, batches: list[Prepared]) -> list:                        # recovery.py
        raise NotImplementedError

    async def _refence(self, conn: Any) -> int | None:                                     # recovery.py
        raise NotImplementedError

    async def _guarded_process(self, cmds: list) -> None:                                  # sequencer.py
        raise NotImplementedError

    def _fenced_out(self) -> None:                                                         # sequencer.py
        raise NotImplementedError
