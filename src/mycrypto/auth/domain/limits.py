"""Rate-limit rules of the auth endpoints (token buckets: `rate` tokens per second, `burst` capacity).

Each protected action is limited twice: per client IP and per account (the normalised email or the
user id), so neither one address nor a botnet aimed at one account gets unlimited tries. The numbers
are documented in docs/auth.md; the limiter itself is `mycrypto.common.ratelimit`.
"""
from __future__ import annotations

from dataclasses import dataclass

MINUTE = 60.0
HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    burst: int
    per: float  # seconds to refill the whole bucket

    @property
    def rate(self) -> float:
        return self.burst / self.per


REGISTER_IP = Rule("register:ip", 10, HOUR)
REGISTER_ACCOUNT = Rule("register:acct", 3, HOUR)
LOGIN_IP = Rule("login:ip", 30, 5 * MINUTE)
LOGIN_ACCOUNT = Rule("login:acct", 10, 5 * MINUTE)
RESEND_IP = Rule("resend:ip", 5, HOUR)
RESEND_ACCOUNT = Rule("resend:acct", 3, HOUR)
FORGOT_IP = Rule("forgot:ip", 5, HOUR)
FORGOT_ACCOUNT = Rule("forgot:acct", 3, HOUR)
RESET_IP = Rule("reset:ip", 10, HOUR)
VERIFY_IP = Rule("verify:ip", 30, HOUR)
TOTP_IP = Rule("totp:ip", 60, 15 * MINUTE)
TOTP_ACCOUNT = Rule("totp:acct", 20, 15 * MINUTE)
REFRESH_IP = Rule("refresh:ip", 120, 5 * MINUTE)
