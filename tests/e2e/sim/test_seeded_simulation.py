"""The seeded simulation in the suite: 1,000 users, 10^4 operations of every kind against the real
services and a real PostgreSQL database, with dropped connections, lost answers and trade-service
restarts injected; every invariant is checked every 2,500 operations and at the end (docs/simulation.md).

A failure message names the seed and the step: `mycrypto simulate --seed S --ops 10000 --users 1000
--check-every 2500` replays the same operation sequence.
"""
from __future__ import annotations

import os
import time

from mycrypto.sim.driver import Simulation, SimulationFailed, digest_only

# a seed whose 10^4 operations include dropped connections (6 rounds) and restarts (2)
# a seed whose 10^4 operations include dropped connections (6 rounds) and restarts (2)
SEED = int(os.environ.get("SIM_SEED", "20261214"))
OPS = 10_000
USERS = 1000


async def test_ten_thousand_seeded_operations_keep_every_invariant(db_dsn: str) -> None:
    started = time.perf_counter()
    sim = Simulation(db_dsn, seed=SEED, ops=OPS, users=USERS, check_every=2500, round_size=96)
    try:
        result = await sim.run()
    except SimulationFailed as exc:
        raise AssertionError(f"{exc}\nreplay: mycrypto simulate --seed {exc.seed} --ops {OPS} --users {USERS} "
                             f"--check-every 2500 --round-size 96") from None
    print(result.summary(), f"(test wall time {time.perf_counter() - started:.0f} s)")
    assert result.ops == OPS and result.checks == 4
    # the run executed exactly the operation sequence the seed names
    assert result.digest == digest_only(SEED, OPS, USERS, 96)
    # it really exercised the platform: trades, refusals, every kind of operation and every fault
    outcomes = result.outcomes
    for kind in ("place", "cancel", "amend", "cancel_all", "deposit", "withdraw", "review", "get_order"):
        assert outcomes[f"{kind}:ok"] > 0, (kind, outcomes)
    assert outcomes["engines_compared"] >= 3 and outcomes["trades"] > 1000
    assert result.faults["lost_after"] > 0 and result.faults["lost_during"] > 0
    if SEED == 20261214:
        assert result.faults["kill"] == 6 and result.faults["restart"] + result.faults["crash"] == 2, result.faults
