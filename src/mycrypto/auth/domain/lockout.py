"""Login lockout policy: increasing backoff after repeated failures, always bounded in time.

Two counters (docs/auth.md "Lockout"):
- per (account, client IP): after `IP_FREE_FAILURES` failures each further failure locks that pair
  for `IP_BASE_S * 2^k` seconds, capped at `MAX_LOCK_S`. An attacker guessing from one address only
  locks that address out, never the owner elsewhere.
- per account, all sources: after `ACCOUNT_FREE_FAILURES` failures (a distributed attack) the account
  locks for `ACCOUNT_BASE_S * 2^k`, capped at `MAX_LOCK_S`; the count decays after `DECAY_S` quiet.
A lock is never extended by attempts made while it holds (they are refused unseen), every lock
expires, and a successful login or a password reset by email clears both counters. So nobody can be
locked out for longer than MAX_LOCK_S after an attacker stops, and the reset link always works.
"""
from __future__ import annotations

from dataclasses import dataclass

IP_FREE_FAILURES = 5
IP_BASE_S = 30
ACCOUNT_FREE_FAILURES = 20
ACCOUNT_BASE_S = 60
MAX_LOCK_S = 15 * 60
DECAY_S = 60 * 60


def lock_seconds(failures: int, free: int, base: int, cap: int = MAX_LOCK_S) -> int:
    """Seconds to lock after the `failures`-th consecutive failure (0 = no lock yet)."""
    if failures < free:
        return 0
    exponent = min(failures - free, 20)  # bounded so the power never gets silly
    return min(cap, base * (2 ** exponent))


@dataclass(frozen=True, slots=True)
class FailureOutcome:
    failures: int
    lock_s: int


def after_failure(previous: int, seconds_since_last: float | None, *, free: int, base: int) -> FailureOutcome:
    """The new failure count (decayed if the last one was long ago) and the lock it earns."""
    if seconds_since_last is not None and seconds_since_last > DECAY_S:
        previous = 0
    failures = previous + 1
    return FailureOutcome(failures, lock_seconds(failures, free, base))
