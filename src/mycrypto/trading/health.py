"""What `/api/v1/trade/health` says about the matching engines of this replica, and when it is not ready.

Per owned market: sequencer alive, queued commands, seconds since its last committed batch, epoch.
Also the markets no replica owns (a live owner is advertised in trade.market_engine). A replica is
NOT ready (503) when one of its own engines cannot do its job: the sequencer task has died, or
commands have been waiting longer than STUCK_AFTER_S without a commit. Markets owned by nobody are
reported but do not fail this replica: another replica's poll (or this one's) takes them over.
"""
from __future__ import annotations

import time
from typing import Any

from ..common.metrics import last_commit_age

STUCK_AFTER_S = 10.0
_waiting_since: dict[str, float] = {}   # symbol -> when a health check first saw commands queued


def engine_health(container: Any) -> tuple[bool, dict[str, Any]]:
    """(ok, report) for the trade service's health body."""
    registry = container.trade_registry
    if registry is None:
        return False, {"status": "down", "reason": "the trade engine registry is not running"}
    markets: dict[str, Any] = {}
    problems: list[str] = []
    for engine in list(registry.engines.values()):
        symbol = engine.spec.symbol
        alive = bool(getattr(engine, "sequencer_alive", False))
        queued = len(getattr(engine, "_queue", ()))
        age = last_commit_age(symbol)
        # stuck: commands have been seen waiting for STUCK_AFTER_S and nothing committed meanwhile (an idle
        # market's first command after a quiet hour is not "stuck" just because the last commit is old)
        now = time.monotonic()
        since = _waiting_since.setdefault(symbol, now) if queued else _waiting_since.pop(symbol, None)
        stuck = (alive and since is not None and now - since > STUCK_AFTER_S
                 and (age is None or age > STUCK_AFTER_S))
        markets[symbol] = {"sequencer_alive": alive, "accepting": bool(engine.accepting), "queued": queued,
                           "last_commit_age_s": None if age is None else round(age, 3), "epoch": engine.epoch,
                           "open_orders": len(engine.orders)}
        if not alive:
            problems.append(f"{symbol}: sequencer stopped")
        elif stuck:
            problems.append(f"{symbol}: {queued} commands waiting, no commit for {STUCK_AFTER_S:.0f}s")
    owned_ids = set(registry.engines)
    unowned = sorted(spec.symbol for spec in registry.specs.values()
                     if spec.id not in owned_ids and registry.owner_url(spec.id) is None)
    report = {"status": "ok" if not problems else "down", "instance": registry.instance,
              "engines_enabled": bool(registry.enabled), "markets_owned": sorted(markets), "markets": markets,
              "markets_without_owner": unowned, "markets_refused": dict(registry.invalid)}
    if problems:
        report["problems"] = problems
    return not problems, report
