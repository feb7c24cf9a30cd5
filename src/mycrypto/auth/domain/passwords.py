"""Password policy: long enough, not common, not the email. Pure: the common list is passed in.

Length is counted in Unicode code points after NFC normalisation, so a passphrase in any language
counts what the person typed. A password is "common" when it, or its letters without a short run
of trailing digits/symbols ("monkey2024!"), or a repetition of a common word ("passwordpassword")
is in the shipped list (auth/data/common-passwords.txt, 30,000 entries).
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Container

from .rules import Rejected

MIN_LENGTH = 12
MAX_LENGTH = 256  # argon2 would hash more, but a bound keeps a request from burning CPU on megabytes
_TRAILING_JUNK = re.compile(r"[\d\W_]{1,8}$")


def normalise_password(password: str) -> str:
    return unicodedata.normalize("NFC", password)


def _variants(lowered: str) -> set[str]:
    out = {lowered, lowered.strip()}
    stripped = _TRAILING_JUNK.sub("", lowered)
    if stripped:
        out.add(stripped)
    for size in range(1, len(lowered) // 2 + 1):  # "abcabcabcabc", "passwordpassword"
        if len(lowered) % size == 0 and lowered[:size] * (len(lowered) // size) == lowered:
            out.add(lowered[:size])
            break
    return out


def check_password(password: str, *, email: str | None, common: Container[str]) -> None:
    """Raise Rejected (password_too_short / _too_long / _too_common / _contains_email) or return."""
    password = normalise_password(password)
    if len(password) < MIN_LENGTH:
        raise Rejected("password_too_short", f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise Rejected("password_too_long", f"Use at most {MAX_LENGTH} characters.")
    lowered = password.lower()
    if len(set(lowered)) < 4:
        raise Rejected("password_too_common", "This password is too easy to guess.")
    if any(v in common for v in _variants(lowered)):
        raise Rejected("password_too_common", "This password is too common; choose another one.")
    if email:
        local = email.split("@", 1)[0].lower()
        if len(local) >= 4 and local in lowered:
            raise Rejected("password_contains_email", "The password must not contain your email address.")
