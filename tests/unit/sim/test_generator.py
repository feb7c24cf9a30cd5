"""The seeded generator: the same seed always yields the same operation sequence (the digest), another
seed another one, and the sequence covers every operation kind, order shape and fault."""
from __future__ import annotations

from collections import Counter

from mycrypto.sim.driver import SimulationFailed, digest_only
from mycrypto.sim.ops import KINDS, SHAPE_KINDS, Generator


def test_same_seed_same_operation_digest() -> None:
    assert digest_only(7, 5000, 1000) == digest_only(7, 5000, 1000)
    assert digest_only(7, 5000, 1000) != digest_only(8, 5000, 1000)
    assert digest_only(7, 5000, 1000) != digest_only(7, 5000, 999)


def test_same_seed_same_operations() -> None:
    def ops(seed: int) -> list[str]:
        gen = Generator(seed, 50)
        out = []
        for _ in range(30):
            rnd = gen.round(1000)
            out.append(f"{rnd.fault}{rnd.kill_after}")
            out.extend(op.canonical() for op in rnd.ops)
        return out

    assert ops(3) == ops(3)
    assert ops(3) != ops(4)


def test_the_sequence_covers_every_kind_shape_and_fault() -> None:
    gen = Generator(11, 1000)
    kinds, shapes, faults, lost = Counter(), Counter(), Counter(), Counter()
    for _ in range(300):
        rnd = gen.round(96)
        faults[rnd.fault] += 1
        for op in rnd.ops:
            kinds[op.kind] += 1
            lost[op.lost] += 1
            if op.kind == "place":
                market, side, kind, price, qty, quote, tif, post_only, stp, cid = op.args
                shapes[(kind, tif, bool(post_only), bool(quote), bool(stp))] += 1
    assert set(kinds) == set(KINDS)
    assert {"kill", "restart", ""} <= set(faults)
    assert {"after", "during", ""} <= set(lost)
    assert ("limit", "IOC", False, False, False) in shapes and ("limit", "FOK", False, False, False) in shapes
    assert ("limit", "GTC", True, False, False) in shapes                  # post-only
    assert ("market", "", False, True, False) in shapes                    # market buy by quote budget
    assert any(k[0] == "market" and not k[3] for k in shapes)               # market by quantity
    assert any(k[4] for k in shapes)                                        # explicit self-trade prevention
    assert len(SHAPE_KINDS) == 7


def test_a_failure_names_the_seed_and_the_step() -> None:
    err = SimulationFailed(42, 1234, ["fees BTC: account 1 != trade fees 0"])
    assert "seed=42" in str(err) and "step=1234" in str(err) and "fees BTC" in str(err)
