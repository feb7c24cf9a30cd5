"""The trigger book (trading.domain.triggers): crossing rules, re-arming, cooldowns, replays, and a
property test against a slow, obviously-correct model (every trigger checked at every value)."""
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from mycrypto.trading.domain.triggers import ABOVE, BELOW, Trigger, TriggerBook, would_fire


def keys(fired):
    return [f.key for f in fired]


def run(book, values, start_seq=1, step_ms=1000):
    """Feed values; {seq: [keys fired]} for the values that fired something."""
    out = {}
    for i, v in enumerate(values):
        seq = start_seq + i
        fired = book.update(v, seq, seq * step_ms)
        if fired:
            out[seq] = keys(fired)
    return out


def test_above_fires_once_per_crossing_and_not_while_staying_above():
    book = TriggerBook(last=95)
    book.add(Trigger(1, ABOVE, 100))
    assert run(book, [99, 100, 101, 150, 100]) == {2: [1]}
    assert 1 not in book          # one-shot: gone after firing


def test_exactly_at_the_level_counts_as_crossed_both_ways():
    book = TriggerBook(last=Decimal("100.5"))
    book.add(Trigger(1, BELOW, Decimal(100)))
    book.add(Trigger(2, ABOVE, Decimal(101)))
    assert run(book, [Decimal(100), Decimal(101)]) == {1: [1], 2: [2]}


def test_repeating_trigger_rearms_when_the_value_comes_back():
    book = TriggerBook(last=90)
    book.add(Trigger(7, ABOVE, 100, repeating=True))
    # up (fire), stays up, back under (re-arm), up again (fire), exactly at the level after dipping (fire)
    assert run(book, [101, 105, 99, 100, 120, 100, 99, 100]) == {1: [7], 4: [7], 8: [7]}


def test_below_mirror():
    book = TriggerBook(last=110)
    book.add(Trigger(3, BELOW, 100, repeating=True))
    assert run(book, [101, 100, 99, 100, 101, 95]) == {2: [3], 6: [3]}


def test_a_trigger_already_reached_when_placed_waits_for_the_next_crossing():
    book = TriggerBook(last=105)
    book.add(Trigger(1, ABOVE, 100))
    assert run(book, [106, 100, 120]) == {}      # never went below 100
    assert run(book, [99, 100], start_seq=10) == {11: [1]}


def test_no_value_yet_first_value_only_places():
    book = TriggerBook()
    book.add(Trigger(1, ABOVE, 100))
    book.add(Trigger(2, BELOW, 100))
    assert run(book, [150, 50]) == {2: [2]}       # 150 placed both; 50 crossed below


def test_cooldown_consumes_crossings_inside_it():
    book = TriggerBook(last=90)
    book.add(Trigger(1, ABOVE, 100, repeating=True, cooldown_ms=10_000))
    # times: seq * 1000 ms. Fires at seq 1 (t=1s); crossing at seq 3 (t=3s) is inside the 10 s cooldown:
    # consumed (and not fired later); crossing at seq 12 (t=12s) fires.
    values = [101, 90, 101, 101, 101, 90, 90, 90, 90, 90, 90, 101]
    assert run(book, values) == {1: [1], 12: [1]}


def test_replayed_seq_never_fires_twice():
    book = TriggerBook(last=90)
    book.add(Trigger(1, ABOVE, 100, repeating=True, last_fired_seq=5))
    assert run(book, [101, 90, 101, 90, 101, 90, 101]) == {7: [1]}   # seqs 1..5 were handled before


def test_many_triggers_fire_in_key_order_and_levels_at_the_top_only():
    book = TriggerBook(last=50)
    for k, level in enumerate([60, 55, 70, 52, 90], start=1):
        book.add(Trigger(k, ABOVE, level))
    assert keys(book.update(65, 1, 1)) == [1, 2, 4]
    assert keys(book.update(100, 2, 2)) == [3, 5]
    assert len(book) == 0


def test_remove_and_replace():
    book = TriggerBook(last=50)
    book.add(Trigger(1, ABOVE, 60))
    book.add(Trigger(2, ABOVE, 60))
    assert book.remove(1) is not None and book.remove(1) is None
    book.add(Trigger(2, ABOVE, 80))               # same key: replaces the first one
    assert keys(book.update(70, 1, 1)) == []
    assert keys(book.update(85, 2, 2)) == [2]


def test_removed_items_are_compacted():
    book = TriggerBook(last=0)
    for k in range(5000):
        book.add(Trigger(k, ABOVE, 10 + k))
        book.remove(k)
    assert len(book) == 0 and len(book._up) + len(book._down) < 200


def test_would_fire():
    assert would_fire(ABOVE, 100, 100) and not would_fire(ABOVE, 100, 99)
    assert would_fire(BELOW, 100, 100) and not would_fire(BELOW, 100, 101)


# ---------------------------------------------------------------------------- model
def model(triggers, reference, values):
    """Every trigger checked at every value: fires on prev < L <= v (ABOVE) / prev > L >= v (BELOW)."""
    out = {}
    state = {t.key: dict(alive=True, last_seq=t.last_fired_seq, last_ms=t.last_fired_ms) for t in triggers}
    prev = reference
    for i, v in enumerate(values):
        seq, ms = i + 1, (i + 1) * 1000
        for t in triggers:
            s = state[t.key]
            if not s["alive"] or prev is None:
                continue
            crossed = prev < t.level <= v if t.direction == ABOVE else prev > t.level >= v
            if not crossed:
                continue
            if s["last_seq"] is not None and seq <= s["last_seq"]:
                continue
            if s["last_ms"] is not None and t.cooldown_ms and ms < s["last_ms"] + t.cooldown_ms:
                continue
            s["last_seq"], s["last_ms"] = seq, ms
            out.setdefault(seq, []).append(t.key)
            if not t.repeating:
                s["alive"] = False
        prev = v
    return {seq: sorted(ks) for seq, ks in out.items()}


trigger_st = st.builds(
    lambda direction, level, repeating, cooldown: (direction, level, repeating, cooldown),
    st.sampled_from([ABOVE, BELOW]), st.integers(0, 20), st.booleans(), st.sampled_from([0, 0, 2000, 5000]))


@settings(max_examples=300, deadline=None)
@given(st.lists(trigger_st, min_size=1, max_size=25), st.one_of(st.none(), st.integers(0, 20)),
       st.lists(st.integers(0, 20), min_size=1, max_size=60))
def test_book_equals_the_model(specs, reference, values):
    def make():
        return [Trigger(k, d, level, repeating, cooldown) for k, (d, level, repeating, cooldown) in enumerate(specs)]

    book = TriggerBook(last=reference)
    for t in make():
        book.add(t)
    assert run(book, values) == model(make(), reference, values)
