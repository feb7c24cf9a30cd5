"""The matching engine of one market: its sequencer, split by job (docs/adr/0004-trade-group-commit.md).

    commands.py   the commands (Place, Cancel, CancelAll, Amend) and the queue they wait in
    sequencer.py  MarketEngine: lifecycle, the loop that takes batches, the sequential replay path
    prepare.py    batch preparation: reads, matching (matcher.py, pure), encoding, starting the commit
    commit.py     pipelined commit and acknowledgement (acknowledged = committed)
    recovery.py   a commit whose connection was lost: refence the epoch, acknowledge what committed
    rebuild.py    the book reloaded from the database's open orders
    state.py      the state those parts share, and `Prepared` (a batch on its way to commit)

`TradeService` submits commands; `EngineRegistry` starts and stops one engine per owned market.
"""
from .commands import Amend, Cancel, CancelAll, Duplicate, Place
from .sequencer import MarketEngine

__all__ = ["Amend", "Cancel", "CancelAll", "Duplicate", "MarketEngine", "Place"]
