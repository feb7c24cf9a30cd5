"""The trigger book: levels on one value series (a price, a % change, an indicator) crossed by a
deterministic sequence of values. Pure: no I/O, no clock (times come with the values).

Price alerts use it today (alerts/evaluator.py); stop-limit, stop-market and take-profit orders are
meant to use the same book inside a market's sequencer later (one book over the trade price in ticks,
`update(price_ticks, trade_id, trade_ms)` for each trade of a matched batch, in trade id order).

A trigger has a `level` and a direction:

- ABOVE fires when the series *crosses up to* the level: the previous value was below it
  (value < level) and the new one is at or above it (value >= level);
- BELOW fires when the series crosses down to it: previous value > level, new value <= level.

So a trigger fires once per crossing, never again while the series stays on the far side. After
firing, a one-shot trigger leaves the book; a repeating one waits to be re-armed, which happens when
the series goes back (ABOVE: value < level; BELOW: value > level), and fires again at the next
crossing unless it is still in its cooldown (`ms < last_fired_ms + cooldown_ms`): a crossing during
the cooldown is consumed without firing (it does not fire later either).

Where a trigger starts: it is placed against the series' value when it joins the book (its
"reference"): an ABOVE trigger whose level is already reached waits to be re-armed first (so a new
alert never fires on a condition that is already true; a stop order would be refused instead, see
`would_fire`). With no value known yet the trigger waits for the first value, which only places it.

Every trigger is in exactly one of two heaps, so a value costs O(log n) per trigger it touches
(fires or re-arms) plus O(1), never O(n):

- `up`: triggers that act when the value rises to their level: armed ABOVE triggers (act at
  value >= level) and waiting BELOW triggers (re-arm at value > level: strict);
- `down`: the mirror: armed BELOW triggers (value <= level) and waiting ABOVE ones (value < level).

Because an armed ABOVE trigger's level is always above the last value (and so on), the triggers a
new value acts on are exactly the tops of the heaps. Replays are idempotent: a trigger remembers the
sequence number (`seq`, e.g. the trade id) of its last firing, and a crossing at or before it never
fires again (after a restart the book is rebuilt from the last value before the replayed range).
"""
from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass
from typing import Any

ABOVE, BELOW = 1, -1


@dataclass(slots=True)
class Trigger:
    """One trigger. `key` is the caller's id (an alert id, an order id)."""

    key: int
    direction: int               # ABOVE or BELOW
    level: Any                   # comparable with the series' values (int ticks, Decimal, ...)
    repeating: bool = False
    cooldown_ms: int = 0
    last_fired_seq: int | None = None
    last_fired_ms: int | None = None
    armed: bool = False          # (maintained by the book)


@dataclass(frozen=True, slots=True)
class Fired:
    """A trigger fired at the value `value`, observed as element `seq` of the series at time `ms`."""

    key: int
    seq: int
    ms: int
    value: Any


def would_fire(direction: int, level: Any, value: Any) -> bool:
    """Is the condition already met at `value` (a stop order placed here would trigger at once)?"""
    return value >= level if direction == ABOVE else value <= level


class TriggerBook:
    """The triggers on one value series, and the series' last value."""

    __slots__ = ("last", "_up", "_down", "_entries", "_pending", "_counter")

    def __init__(self, last: Any = None) -> None:
        self.last = last
        # heap items: (level in the heap's order, strict, token, trigger key); an item is current only
        # while its token is the trigger's entry token (lazy deletion: removed/moved items are skipped)
        self._up: list[tuple] = []
        self._down: list[tuple] = []
        self._entries: dict[int, tuple[Trigger, int]] = {}
        self._pending: dict[int, Trigger] = {}     # placed before any value was known
        self._counter = itertools.count()

    def __len__(self) -> int:
        return len(self._entries) + len(self._pending)

    def __contains__(self, key: int) -> bool:
        return key in self._entries or key in self._pending

    def get(self, key: int) -> Trigger | None:
        entry = self._entries.get(key)
        return entry[0] if entry is not None else self._pending.get(key)

    def triggers(self) -> list[Trigger]:
        return [e[0] for e in self._entries.values()] + list(self._pending.values())

    # ------------------------------------------------------------------ placement
    def add(self, trigger: Trigger) -> None:
        """Place a trigger against the current value (replacing one with the same key)."""
        self.remove(trigger.key)
        if self.last is None:
            trigger.armed = False
            self._pending[trigger.key] = trigger
            return
        self._place(trigger, self.last)

    def remove(self, key: int) -> Trigger | None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return self._pending.pop(key, None)
        if len(self._up) + len(self._down) > 2 * len(self._entries) + 64:
            self._compact()   # removed items linger in the heaps until reached: bound the garbage
        return entry[0]

    def _compact(self) -> None:
        live = {key: token for key, (_, token) in self._entries.items()}
        self._up = [item for item in self._up if live.get(item[3]) == item[2]]
        self._down = [item for item in self._down if live.get(item[3]) == item[2]]
        heapq.heapify(self._up)
        heapq.heapify(self._down)

    def _place(self, t: Trigger, value: Any) -> None:
        if t.direction == ABOVE:
            self._push(t, armed=value < t.level)
        else:
            self._push(t, armed=value > t.level)

    def _push(self, t: Trigger, *, armed: bool) -> None:
        t.armed = armed
        token = next(self._counter)
        self._entries[t.key] = (t, token)
        # armed ABOVE and waiting BELOW act on a rising value; the others on a falling one
        rising = armed == (t.direction == ABOVE)
        strict = 0 if armed else 1
        if rising:
            heapq.heappush(self._up, (t.level, strict, token, t.key))
        else:
            heapq.heappush(self._down, (_Neg(t.level), strict, token, t.key))

    # ------------------------------------------------------------------ values
    def update(self, value: Any, seq: int, ms: int) -> list[Fired]:
        """The series' next value (element `seq`, at `ms`): the triggers it fires, by key."""
        if value is None:
            return []
        fired: list[Fired] = []
        self._drain(self._up, value, value, seq, ms, fired)
        self._drain(self._down, _Neg(value), value, seq, ms, fired)
        if self._pending:
            pending, self._pending = self._pending, {}
            for t in pending.values():   # the first known value only places them
                self._place(t, value)
        self.last = value
        if len(fired) > 1:
            fired.sort(key=lambda f: f.key)
        return fired

    def _drain(self, heap: list, value: Any, raw: Any, seq: int, ms: int, fired: list[Fired]) -> None:
        """Act on the heap's top items the value reaches (`value` in the heap's order, `raw` as given)."""
        entries = self._entries
        while heap:
            level, strict, token, key = heap[0]
            entry = entries.get(key)
            if entry is None or entry[1] != token:
                heapq.heappop(heap)      # removed or moved since it was pushed
                continue
            if not (level < value or (level == value and not strict)):
                return
            heapq.heappop(heap)
            t = entry[0]
            if not t.armed:
                self._push(t, armed=True)  # back on the near side: armed for the next crossing
                continue
            if self._fires(t, seq, ms):
                t.last_fired_seq, t.last_fired_ms = seq, ms
                fired.append(Fired(t.key, seq, ms, raw))
                if not t.repeating:
                    del entries[key]
                    continue
            self._push(t, armed=False)   # crossed: wait on the far side until it comes back

    @staticmethod
    def _fires(t: Trigger, seq: int, ms: int) -> bool:
        if t.last_fired_seq is not None and seq <= t.last_fired_seq:
            return False   # a replay of a crossing already handled
        if t.last_fired_ms is not None and t.cooldown_ms and ms < t.last_fired_ms + t.cooldown_ms:
            return False   # in its cooldown: this crossing is consumed without firing
        return True


class _Neg:
    """Reverses the order of a value, so one min-heap serves a falling series (levels highest first)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Neg) -> bool:
        return other.value < self.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Neg) and other.value == self.value

    def __hash__(self) -> int:
        return hash(self.value)
