"""Pipelined commit and acknowledgement (docs/adr/0004-trade-group-commit.md).

Pipelining (depth 2): while batch N commits on one of the engine's two connections, batch N+1 is read,
matched and sent on the other. The database commits N+1 only right after N (trade.commit_batch's
sequence fence), so acknowledgements stay "after the commit that contains the order": a batch is
acknowledged - its market data published, then its futures resolved - only once its commit returned.
If N fails, N+1 writes nothing and both are replayed sequentially from a rebuilt book; if N's
connection was lost, recovery.py finds out what committed first.
"""
from __future__ import annotations

import asyncio
import logging
import time

import asyncpg

from ...common.metrics import batch_committed
from ...db.database import DB_DOWN
from .. import repository as repo
from .commands import answer
from .state import EngineState, Prepared

log = logging.getLogger("mycrypto.trading.engine")

MAX_RESENDS = 5   # a batch that lost the race to the sequence fence is sent again at most this often


class CommitPipeline(EngineState):
    # ------------------------------------------------------------------ the two connections
    async def _connection(self, slot: int) -> asyncpg.Connection:
        conn = self._conns[slot]
        if conn is None or conn.is_closed():
            db = self.db
            # enable_seqscan off: every statement of the sequencer names rows by key, and a plan cached
            # while a table was small must not stay a full scan as it grows (migration 015)
            settings = {"application_name": "mycrypto-trade-engine", "enable_seqscan": "off"}
            if db.statement_timeout_ms:
                settings["statement_timeout"] = str(db.statement_timeout_ms)
            conn = self._conns[slot] = await asyncpg.connect(db.dsn, timeout=10, server_settings=settings)
        return conn

    def _conn_for_next(self) -> int:
        self._slot ^= 1
        return self._slot

    def _drop_connections(self) -> None:
        conns, self._conns = self._conns, [None, None]
        for conn in conns:
            if conn is not None and not conn.is_closed():
                conn.terminate()

    async def _close_connections(self) -> None:
        conns, self._conns = self._conns, [None, None]
        for conn in conns:
            if conn is not None and not conn.is_closed():
                try:
                    await asyncio.wait_for(conn.close(), 5)
                except Exception:
                    conn.terminate()

    # ------------------------------------------------------------------ commit
    async def _execute(self, prep: Prepared, started: float) -> None:
        """Commit a prepared batch. When its predecessor is already acknowledged, acknowledge it right
        here: the sequencer would only notice this task's end one more pass of the event loop later,
        which under load is milliseconds of every client's latency. Otherwise the sequencer does it."""
        conn = await self._connection(prep.slot)
        prep.sent = True
        await repo.execute_batch(conn, self.spec, prep.args)
        self.timings["write"] += time.perf_counter() - started
        if self.update_id == prep.update_id - 1 and not prep.acked:
            # clean: no later batch has been matched into the book yet
            self._acknowledge(prep, clean=self._prepared_update_id == prep.update_id)

    async def _await_commit(self, prep: Prepared) -> None:
        """Await a batch's commit. Two connections race to the database, so a successor can reach the
        sequence fence before its predecessor: it then writes nothing (SequenceGap) although the
        predecessor committed - send it again rather than replaying everything."""
        for _ in range(MAX_RESENDS):
            try:
                await prep.task
                return
            except repo.SequenceGap:
                if self.update_id != prep.update_id - 1:
                    raise   # the predecessor really did not commit
                self.stats["resends"] += 1
                prep.task = asyncio.create_task(self._execute(prep, time.perf_counter()))
        await prep.task

    async def _settle_or_replay(self, prep: Prepared, successor: Prepared | None) -> bool:
        """Wait for `prep`'s commit. Success: publish and acknowledge (True). Failure: nothing of it or
        of `successor` (whose commit then writes nothing) was committed - replay both, in order, on the
        sequential path (False)."""
        prep.settling = True
        try:
            if prep.task is not None:
                await self._await_commit(prep)
        except Exception as exc:
            self.dirty = True
            self.stats["retries"] += 1
            batches = [prep]
            lost = isinstance(exc, DB_DOWN)   # its commit may have landed (and then its successor's)
            if successor is not None:
                if successor.task is not None:
                    try:
                        await successor.task
                    except DB_DOWN:   # the successor's commit may still land (on a fence a replay reuses)
                        lost = True
                    except Exception:  # SequenceGap (or the same refusal): nothing was written
                        pass
                batches.append(successor)
            if lost:
                cmds = await self._resolve_lost(batches)
            else:   # the database refused it: rolled back, and the successor wrote nothing
                cmds = [cmd for b in batches for cmd in b.cmds]
            log.warning("pipelined batch failed; replaying what did not commit", extra={"market": self.spec.symbol,
                                                                          "reason": repr(exc), "replayed": len(cmds)})
            if cmds:
                await self._guarded_process(cmds)
            return False
        if not prep.acked:
            self._acknowledge(prep, clean=successor is None)
        return True

    # ------------------------------------------------------------------ acknowledgement
    def _acknowledge(self, prep: Prepared, *, clean: bool) -> None:
        """The batch is committed: publish its market data, then resolve its futures."""
        prep.acked = True
        self.stats["batches"] += 1
        self.stats["commands"] += len(prep.cmds)
        batch_committed(self.spec.symbol, prep.cmds, prep.outcomes, len(prep.batch.trades) if prep.batch else 0)
        if prep.batch is not None:
            self.update_id = prep.update_id
            self.feed.committed(prep.batch.trades, prep.update_id, prep.ms, self.book, prep.levels, clean=clean,
                                captured=prep.captured)
        elif clean:
            # every command was refused (or changed nothing): the book is as committed, so readers
            # waiting for a clean feed must not wait for the next batch (issue 6 fix)
            self.feed.set_clean(True)
        answer(prep.cmds, prep.outcomes)
